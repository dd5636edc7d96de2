#!/bin/bash
# End-to-end test of sochdb-keytool: the entry it prints for a piped or generated key matches the
# key's SHA-256 (checked with coreutils' sha256sum, not with our own code), the generated key
# appears only on stderr, and every error exits 2 without echoing the key.
set -u

KEYTOOL="$1"
OUT="${TEST_TMPDIR:-/tmp}/keytool.out"
ERR="${TEST_TMPDIR:-/tmp}/keytool.err"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# A piped key: the entry is exact, and the key never reaches stdout.
printf 'abc\n' | "$KEYTOOL" --tenant acme --role editor --id ci >"$OUT" 2>"$ERR" || fail "piped key rc=$?"
want="sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad tenant=acme role=editor id=ci"
[[ "$(cat "$OUT")" == "$want" ]] || fail "piped key entry: $(cat "$OUT")"

# CRLF input and a missing trailing newline give the same digest.
printf 'abc\r\n' | "$KEYTOOL" --tenant acme --role EDITOR --id ci >"$OUT" 2>"$ERR" || fail "crlf rc=$?"
[[ "$(cat "$OUT")" == "$want" ]] || fail "crlf entry: $(cat "$OUT")"

# --generate: the key is on stderr only, once, and the entry's digest is its SHA-256.
"$KEYTOOL" --generate --tenant globex --role viewer >"$OUT" 2>"$ERR" || fail "generate rc=$?"
key="$(grep -E '^sk_[0-9a-f]{64}$' "$ERR")"
[[ -n "$key" && "$(grep -c '^sk_' "$ERR")" == 1 ]] || fail "generated key not on stderr once"
grep -q 'will not be shown again' "$ERR" || fail "no 'will not be shown again' note"
digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
[[ "$(cat "$OUT")" == "sha256:$digest tenant=globex role=viewer" ]] || fail "generated entry: $(cat "$OUT")"
grep -q "$key" "$OUT" && fail "generated key on stdout"
"$KEYTOOL" --generate --tenant globex --role viewer >/dev/null 2>"$ERR.2"
[[ "$(grep '^sk_' "$ERR.2")" != "$key" ]] || fail "two generated keys are equal"

# Errors: exit 2, a message, and no key material.
expect_error() {  # stdin-text, args...
  local input="$1"; shift
  printf '%s' "$input" | "$KEYTOOL" "$@" >"$OUT" 2>"$ERR"
  local rc=$?
  [[ $rc == 2 ]] || fail "'$*' exited $rc, want 2"
  [[ -s "$ERR" ]] || fail "'$*' printed no error"
  [[ -s "$OUT" ]] && fail "'$*' printed an entry"
  grep -q 'sk_secret' "$ERR" && fail "'$*' echoed the key"
  return 0
}
expect_error $'sk_secret_1234567890123\n' --role viewer
expect_error $'sk_secret_1234567890123\n' --tenant acme
expect_error $'sk_secret_1234567890123\n' --tenant acme --role root
expect_error $'sk_secret_1234567890123\n' --tenant a/b --role viewer
expect_error $'sk_secret_1234567890123\n' --tenant acme --role viewer --id 'has space'
expect_error $'sk_secret_1234567890123\n' --tenant acme --role viewer --bogus
expect_error $'sk_secret with space\n' --tenant acme --role viewer
expect_error '' --tenant acme --role viewer
expect_error $'\n' --tenant acme --role viewer

"$KEYTOOL" --help >"$OUT" 2>&1 || fail "--help rc=$?"
grep -q -- '--generate' "$OUT" || fail "--help does not mention --generate"

if [[ $failures != 0 ]]; then
  echo "keytool_test: $failures failure(s)" >&2
  exit 1
fi
echo "keytool_test: all checks passed"
