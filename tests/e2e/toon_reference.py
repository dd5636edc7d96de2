"""The reference TOON codec (@toon-format/toon, pinned) for tests that check sochdb's TOON.

    value, reason = decode_toon(text)
    if reason: print("SKIP:", reason)          # npm or the registry unavailable
    # else value is the decoded Python value (dict / list / str / int / float / bool / None)

decode_toon raises ToonDecodeError when the reference decoder rejects the text (strict mode:
counts, widths and indentation must match). decode_many and encode_many do many values in one
node process. json_equal compares decoded values the way the TOON spec does (§2: ordered keys,
numbers by value, bool never equal to a number).

The package is installed once with npm into a cache directory shared by every test and run
(SOCHDB_NPM_CACHE, else ~/.cache/sochdb-grpc/npm), under a file lock, and its tarball integrity is
checked against the pinned hash below. Tests that use it need, in their runfiles,
tests/tools/toon_reference/decode.mjs and this file.
"""

import fcntl
import json
import os
import pwd
import shutil
import subprocess
import tempfile

PACKAGE = "@toon-format/toon"
# 2.3.1 implements TOON spec v3.3, the version sochdb's encoder follows (engine/context/toon.h).
VERSION = "2.3.1"
# The newest release (spec v4.4 draft) is checked too: our output must stay readable by it.
LATEST = "4.4.0"
INTEGRITY = {
    "2.3.1": ("sha512-sWqEMeAJGMda9qRrfPKrX3C4c33CO9SJuvJzzrcBEn5sbDB+k6pSLkDsfN0rVnLQwR97MV3sDg"
              "VbcxQNsq8xVw=="),
    "4.4.0": ("sha512-A6UcsVoWbNdhdLNhJbe6JpRlocmf/DZGG57fur3bd8oQtsjBaKWo2hHbOU2zTuy+byUmLIOyP1"
              "xJeitopCZzpQ=="),
}
_INSTALL_TIMEOUT_S = 300
_RUN_TIMEOUT_S = 300

_RUNFILES = os.environ.get("TEST_SRCDIR")
_ROOT = os.path.join(_RUNFILES, "sochdb_grpc") if _RUNFILES else os.getcwd()
DECODE_SCRIPT = os.path.join(_ROOT, "tests", "tools", "toon_reference", "decode.mjs")


class ToonDecodeError(Exception):
    """The reference decoder rejected a TOON document."""


def cache_dir():
    configured = os.environ.get("SOCHDB_NPM_CACHE")
    if configured:
        return configured
    # Bazel may point HOME at the test's temporary directory: use the account's real home, so
    # the package is downloaded once per machine, not once per test run.
    home = pwd.getpwuid(os.getuid()).pw_dir
    return os.path.join(home, ".cache", "sochdb-grpc", "npm")


def _installed_integrity(prefix, package):
    try:
        with open(os.path.join(prefix, "node_modules", ".package-lock.json")) as f:
            lock = json.load(f)
        return lock["packages"]["node_modules/" + package]["integrity"]
    except (OSError, KeyError, ValueError):
        return None


def install(package, version, integrity):
    """(npm prefix holding package@version, None), or (None, why it cannot be had)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None, "node/npm not found on PATH"
    root = cache_dir()
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        return None, "cannot create the npm cache %s: %s" % (root, e)
    prefix = os.path.join(root, "%s@%s" % (package.replace("/", "+"), version))
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time across test processes
        if _installed_integrity(prefix, package) == integrity:
            return prefix, None
        staging = tempfile.mkdtemp(prefix=".install-", dir=root)
        try:
            done = subprocess.run(
                ["npm", "install", "--prefix", staging, "--no-save", "--no-audit", "--no-fund",
                 "--cache", os.path.join(root, "_npm"), "%s@%s" % (package, version)],
                capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            return None, "npm install %s@%s timed out" % (package, version)
        got = _installed_integrity(staging, package)
        if done.returncode != 0 or got is None:
            shutil.rmtree(staging, ignore_errors=True)
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, "npm install %s@%s failed: %s" % (package, version, " | ".join(tail))
        if got != integrity:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError("%s@%s integrity %s, pinned %s" % (package, version, got, integrity))
        shutil.rmtree(prefix, ignore_errors=True)
        os.rename(staging, prefix)
        return prefix, None


def _run(args, stdin, version):
    prefix, reason = install(PACKAGE, version, INTEGRITY[version])
    if reason:
        return None, reason
    done = subprocess.run(["node", DECODE_SCRIPT, "--package-dir", prefix] + args, input=stdin,
                          capture_output=True, text=True, timeout=_RUN_TIMEOUT_S)
    return done, None


def _decode_args(indent, expand_paths):
    return ["--indent", str(indent)] + (["--expand-paths"] if expand_paths else [])


def decode_toon(text, indent=2, expand_paths=False, version=VERSION):
    """(decoded value, None), or (None, reason) when the reference cannot be run. With
    expand_paths, dotted keys are expanded (the inverse of the encoder's key folding)."""
    done, reason = _run(_decode_args(indent, expand_paths), text, version)
    if reason:
        return None, reason
    if done.returncode != 0:
        raise ToonDecodeError(done.stderr.strip())
    return json.loads(done.stdout), None


def _lines(args, items, version):
    stdin = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    done, reason = _run(args + ["--lines"], stdin, version)
    if reason:
        return None, reason
    if done.returncode != 0:
        raise RuntimeError("decode.mjs failed: " + done.stderr.strip())
    answers = [json.loads(line) for line in done.stdout.split("\n") if line]
    if len(answers) != len(items):
        raise RuntimeError("decode.mjs answered %d of %d" % (len(answers), len(items)))
    return answers, None


def decode_many(texts, indent=2, expand_paths=False, version=VERSION):
    """([{"value": v} or {"error": message}, ...], None), or (None, reason)."""
    return _lines(_decode_args(indent, expand_paths), texts, version)


def encode_many(values, indent=2, delimiter=",", version=VERSION):
    """The reference encoder's text per value: ([{"toon": text}, ...], None), or (None, reason)."""
    return _lines(["--encode", "--indent", str(indent), "--delimiter", delimiter], values,
                  version)


def json_equal(a, b):
    """Equality of JSON values as TOON §2 defines it: objects by ordered key sequence, numbers
    by value (so 1 == 1.0 and -0 == 0), bools distinct from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return (list(a.keys()) == list(b.keys()) and
                all(json_equal(a[k], b[k]) for k in a))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
