"""Our TOON, read back by the reference decoder, is the JSON we encoded.

Every encode-fixture input of the spec and several thousand seeded random values (strings that
look like numbers, literals or list markers, quotes, colons, delimiters, edge and Unicode white
space, controls, emoji, keys needing quotes, empty keys, big and tiny numbers, deep nesting, long
and uniform arrays) are encoded by //tools/toon:toon_encode with each delimiter, decoded by
@toon-format/toon (tests/e2e/toon_reference.py), and compared with the input as TOON §2 compares
values. Passes with 0 mismatches; prints the counts. Also:
  - the same against the newest reference release (a later spec draft): our output must stay
    readable by it;
  - byte equality with the reference encoder of our spec version, for every value where the
    spec leaves no choice (toon.h lists where we quote more, and integers past 2^53 are exact
    here but rounded by JavaScript);
  - key folding, decoded with path expansion.
Skips, saying why, when node/npm or the registry is unavailable.
"""

import json
import os
import random
import subprocess
import sys

RUNFILES = os.environ.get("TEST_SRCDIR")
ROOT = os.path.join(RUNFILES, "sochdb_grpc") if RUNFILES else os.getcwd()
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import toon_reference  # noqa: E402

ENCODER = os.path.join(ROOT, "tools", "toon", "toon_encode")
FIXTURES = os.path.join(ROOT, "tests", "engine", "context", "toon_fixtures")
DELIMITERS = {"comma": ",", "tab": "\t", "pipe": "|"}
RANDOM_VALUES = 3000
SEED = 19

ATOMS = [
    "", " ", "  ", " a", "a ", "true", "false", "null", "True", "1.0", "1", "-1", "0", "-0", "05",
    "1e5", "1E+5", "-1e-7", "+5", ".5", "1.", "-", "--", "- item", "-x", "#", "#x", "a#b", "a,b",
    ",", "a|b", "|", "a\tb", "\t", "a:b", ":", "http://x:1", "[x]", "[]", "{x}", "{}", "\"q\"",
    "back\\slash", "line\nbreak", "\r\n", "\x00", "\x01", "\x1f", "\x7f", "é", "世界", "👋",
    "\u00a0x", "x\u00a0", "x\u3000", "\ufeffx", "\u2028", "a b", "ok", "null ", "[2]: x",
    "k: v", "x" * 300,
]
KEYS = ["id", "name", "a", "a.b", "a_b", "_", "A9", "", " ", "1", "-k", "k:v", "a b", "é", "👋",
        "\"", "[x]", "{x}", "a|b", "a,b", "a\tb", "#", "true", "x.y.z"]


def random_string(rng):
    if rng.random() < 0.15:  # random code points from every plane (no surrogates)
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0xd7ff),
                                       rng.randint(0xe000, 0xfffd),
                                       rng.randint(0x10000, 0x10ffff)]))
                       for _ in range(rng.randint(0, 8)))
    return "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 3)))


def random_number(rng):
    choice = rng.randrange(9)
    if choice == 0:
        return rng.randint(-1000, 1000)
    if choice == 1:
        return rng.choice([2 ** 53, -(2 ** 53), 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 10 ** 15])
    if choice == 2:
        return rng.uniform(-1e6, 1e6)
    if choice == 3:
        return rng.choice([0.1, 0.5, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.5e300, 5e-324,
                           1.7976931348623157e308, -0.0, 0.0, 1.0, 100.0, 123456789.125])
    if choice == 4:
        return rng.random() * 10 ** rng.randint(-12, 25)
    return rng.randint(-10 ** 6, 10 ** 6) / rng.choice([1, 10, 100, 1000, 3])


def random_primitive(rng):
    roll = rng.random()
    if roll < 0.55:
        return random_string(rng)
    if roll < 0.85:
        return random_number(rng)
    return rng.choice([True, False, None])


def random_key(rng, taken):
    while True:
        key = rng.choice(KEYS) if rng.random() < 0.5 else random_string(rng)[:20]
        if key not in taken:
            return key


def random_object(rng, depth, size=None):
    out = {}
    for _ in range(rng.randint(0, 5) if size is None else size):
        out[random_key(rng, out)] = random_value(rng, depth + 1)
    return out


def uniform_rows(rng, depth):
    keys = []
    for _ in range(rng.randint(1, 4)):
        keys.append(random_key(rng, keys))
    rows = []
    for _ in range(rng.randint(1, 6)):
        order = keys[:] if rng.random() < 0.7 else rng.sample(keys, len(keys))
        rows.append({k: random_primitive(rng) for k in order})
    if rng.random() < 0.3:  # one nested value: no longer tabular
        rows[rng.randrange(len(rows))][keys[0]] = random_value(rng, depth + 1)
    return rows


def random_array(rng, depth):
    kind = rng.randrange(6)
    if kind == 0:
        return [random_primitive(rng) for _ in range(rng.randint(0, 6))]
    if kind == 1:
        return uniform_rows(rng, depth)
    if kind == 2:
        return [[random_primitive(rng) for _ in range(rng.randint(0, 3))]
                for _ in range(rng.randint(1, 4))]
    if kind == 3:
        return [{} if rng.random() < 0.2 else random_object(rng, depth + 1)
                for _ in range(rng.randint(1, 4))]
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def random_value(rng, depth=0):
    if depth >= 6 or rng.random() < 0.3:
        return random_primitive(rng)
    return random_object(rng, depth) if rng.random() < 0.5 else random_array(rng, depth)


def special_values(rng):
    chain = 0
    for i in range(200):  # deep nesting, alternating forms
        chain = {"k": chain} if i % 3 else [chain, "x"]
    long_rows = [{"id": i, "score": i / 7, "text": random_string(rng)} for i in range(2000)]
    return [
        chain,
        {"long": list(range(5000))},
        {"rows": long_rows},
        [[[[]]]],
        {"": {"": []}},
        {"a": {}},
        [{}, {}],
        [{"a": []}],
        "",
        0,
        [],
        {},
    ]


def fixture_cases():
    """(input, options, fixture name) for every encode fixture; options as toon_encode flags."""
    cases = []
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(FIXTURES, name)) as f:
            fixture = json.load(f)
        for test in fixture["tests"]:
            cases.append((test["input"], test.get("options", {}), name + ": " + test["name"]))
    return cases


def encoder_flags(options):
    flags = []
    delimiter = options.get("delimiter", ",")
    flags += ["--delimiter", {v: k for k, v in DELIMITERS.items()}[delimiter]]
    flags += ["--indent", str(options.get("indent", 2))]
    if options.get("keyFolding") == "safe":
        flags.append("--fold-keys")
        if "flattenDepth" in options:
            flags += ["--flatten-depth", str(options["flattenDepth"])]
    return flags


def encode_ours(values, flags):
    stdin = "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in values)
    done = subprocess.run([ENCODER, "--lines"] + flags, input=stdin, capture_output=True,
                          text=True, check=True)
    answers = [json.loads(line) for line in done.stdout.split("\n") if line]
    assert len(answers) == len(values), "toon_encode answered %d of %d" % (len(answers),
                                                                            len(values))
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, "toon_encode refused values: %s" % errors[:3]
    return [a["toon"] for a in answers]


def has_dotted_key(value):
    if isinstance(value, dict):
        return any("." in k or has_dotted_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_dotted_key(v) for v in value)
    return False


def spec_leaves_no_choice(value):
    """False where toon.h quotes more than the spec requires (a leading '#'; edge white space is
    quoted by the reference too), or where JavaScript changes the value before encoding it:
    integers past 2^53 are rounded, array-index keys ("1") moved first."""
    if isinstance(value, str):
        return not value.startswith("#")
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2 ** 53
    if isinstance(value, dict):
        return all(not is_array_index(k) and spec_leaves_no_choice(k) and
                   spec_leaves_no_choice(v) for k, v in value.items())
    if isinstance(value, list):
        return all(spec_leaves_no_choice(v) for v in value)
    return True


def is_array_index(key):
    return key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2 ** 32 - 1


def expected_decode(value, list_item=False):
    """`value` as a decoder gives it back, where the key order cannot survive: rows of a tabular
    array take the first row's field order (spec §9.3; an array that is itself a list item is
    never tabular, §9.4), and a JavaScript object lists array-index keys ("1", "42") first, in
    numeric order, whatever the document's order."""
    if isinstance(value, list):
        items = [expected_decode(v, list_item=True) for v in value]
        if (not list_item and items and all(isinstance(v, dict) and v for v in items) and
                all(set(v) == set(items[0]) for v in items) and
                all(not isinstance(x, (dict, list)) for v in items for x in v.values())):
            items = [{k: v[k] for k in items[0]} for v in items]
        return items
    if isinstance(value, dict):
        keys = sorted((k for k in value if is_array_index(k)), key=int)
        keys += [k for k in value if not is_array_index(k)]
        return {k: expected_decode(value[k]) for k in keys}
    return value


class Mismatches:
    def __init__(self):
        self.count = 0

    def report(self, what, label, value, toon, got):
        self.count += 1
        if self.count <= 10:
            print("MISMATCH (%s) %s\n  input: %s\n  toon:\n%s\n  got: %s" % (
                what, label, json.dumps(value, ensure_ascii=False), toon,
                json.dumps(got, ensure_ascii=False)))


def round_trip(groups, version, mismatches, expand):
    """Decodes each group's TOON with `version`; returns how many values were checked."""
    checked = 0
    for flags, values, labels, texts in groups:
        indent = int(flags[flags.index("--indent") + 1])
        answers, reason = toon_reference.decode_many(texts, indent=indent, expand_paths=expand,
                                                     version=version)
        if reason:
            return None, reason
        for value, label, text, answer in zip(values, labels, texts, answers):
            checked += 1
            got = answer.get("value", answer)
            if "error" in answer or not toon_reference.json_equal(expected_decode(value), got):
                mismatches.report("decoder %s" % version, label, value, text, got)
    return checked, None


def byte_compare(groups, mismatches):
    compared = identical = 0
    for flags, values, labels, texts in groups:
        if "--fold-keys" in flags:
            continue
        delimiter = DELIMITERS[flags[flags.index("--delimiter") + 1]]
        indent = int(flags[flags.index("--indent") + 1])
        keep = [i for i, v in enumerate(values) if spec_leaves_no_choice(v)]
        answers, reason = toon_reference.encode_many([values[i] for i in keep], indent=indent,
                                                     delimiter=delimiter)
        if reason:
            return None, None, reason
        for i, answer in zip(keep, answers):
            compared += 1
            if answer.get("toon") == texts[i]:
                identical += 1
            else:
                mismatches.report("reference encoder", labels[i], values[i], texts[i], answer)
    return compared, identical, None


def build_groups():
    """[(toon_encode flags, values, labels, our TOON texts)], one group per option set."""
    rng = random.Random(SEED)
    by_flags = {}
    for value, options, label in fixture_cases():
        by_flags.setdefault(tuple(encoder_flags(options)), []).append((value, label))
    generated = [random_value(rng) for _ in range(RANDOM_VALUES)] + special_values(rng)
    for name in DELIMITERS:
        for indent in (2, 4) if name == "comma" else (2,):
            flags = ("--delimiter", name, "--indent", str(indent))
            by_flags.setdefault(flags, []).extend(
                (v, "random #%d (%s, indent %d)" % (i, name, indent))
                for i, v in enumerate(generated))
    folding = [v for v in generated if not has_dotted_key(v)]
    by_flags.setdefault(("--delimiter", "comma", "--indent", "2", "--fold-keys"), []).extend(
        (v, "random #%d (folded)" % i) for i, v in enumerate(folding))
    groups = []
    for flags, items in sorted(by_flags.items()):
        values = [v for v, _ in items]
        groups.append((list(flags), values, [label for _, label in items],
                       encode_ours(values, list(flags))))
    return groups


def check_reason_without_npm():
    """Without node/npm the harness gives a reason to print instead of failing."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = "/nonexistent"
    try:
        value, reason = toon_reference.decode_toon("a: 1")
    finally:
        os.environ["PATH"] = saved
    assert value is None and reason == "node/npm not found on PATH", (value, reason)


def main():
    check_reason_without_npm()
    _, reason = toon_reference.install(toon_reference.PACKAGE, toon_reference.VERSION,
                                       toon_reference.INTEGRITY[toon_reference.VERSION])
    if reason:
        print("SKIP: the reference TOON decoder is unavailable: " + reason)
        return 0
    groups = build_groups()
    plain = [g for g in groups if "--fold-keys" not in g[0]]
    folded = [g for g in groups if "--fold-keys" in g[0]
              and not any(has_dotted_key(v) for v in g[1])]
    folded += [(g[0], [v for v in g[1] if not has_dotted_key(v)],
                [label for v, label in zip(g[1], g[2]) if not has_dotted_key(v)],
                [t for v, t in zip(g[1], g[3]) if not has_dotted_key(v)])
               for g in groups if "--fold-keys" in g[0] and any(has_dotted_key(v) for v in g[1])]
    mismatches = Mismatches()
    lines = []
    for version in (toon_reference.VERSION, toon_reference.LATEST):
        checked, reason = round_trip(plain, version, mismatches, expand=False)
        if reason:
            print("SKIP: " + reason)
            return 0
        line = "decoded by %s@%s: %d values" % (toon_reference.PACKAGE, version, checked)
        if version == toon_reference.VERSION:  # later drafts dropped folding and expansion
            folded_checked, _ = round_trip(folded, version, mismatches, expand=True)
            line += ", and %d more with key folding (decoded with path expansion)" % (
                folded_checked)
        lines.append(line)
    compared, identical, reason = byte_compare(plain, mismatches)
    if reason:
        print("SKIP: " + reason)
        return 0
    for line in lines:
        print(line)
    print("byte-identical to the reference encoder %s: %d of %d where the spec leaves no choice"
          % (toon_reference.VERSION, identical, compared))
    print("mismatches: %d" % mismatches.count)
    return 1 if mismatches.count else 0


if __name__ == "__main__":
    sys.exit(main())
