#!/usr/bin/env bash
# Writes OpenAI's BPE rank tables, cl100k_base.tiktoken and o200k_base.tiktoken, into DIR (the
# server's --tokenizer-dir). They are public data, taken from the npm package `tiktoken` (pinned
# below; npm checks the tarball against the registry's integrity hash, and so does this script)
# and converted to tiktoken's own file format; each file written must then have the SHA-256 and
# the line count of the file OpenAI publishes (tiktoken_ext/openai_public.py), which the server
# checks again when it loads them. Files already there with the right digest are left alone, so
# a second run downloads nothing. Needs node and npm.
#
#   tools/tokenizer/fetch_ranks.sh DIR
set -euo pipefail

PACKAGE=tiktoken@1.0.22
INTEGRITY='sha512-PKvy1rVF1RibfF3JlXBSP0Jrcw2uq3yXdgcEXtKTYn3QJ/cBRBHDnrJ5jHky+MENZ6DIPwNUGWpkVx+7joCpNA=='
# name  sha256  tokens (lines)
TABLES=(
  "cl100k_base 223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7 100256"
  "o200k_base 446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d 199998"
)

dir="${1:?usage: $0 DIR}"
here="$(cd "$(dirname "$0")" && pwd)"

# True when $1 exists with digest $2 and $3 lines.
valid() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] &&
    [ "$(wc -l <"$1")" -eq "$3" ]
}

all_valid() {
  local name sha lines
  for t in "${TABLES[@]}"; do
    read -r name sha lines <<<"$t"
    valid "$dir/$name.tiktoken" "$sha" "$lines" || return 1
  done
}

mkdir -p "$dir"
if all_valid; then exit 0; fi
for tool in npm node; do
  command -v "$tool" >/dev/null || { echo "fetch_ranks: $tool is needed (apt-get install nodejs npm)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# `npm pack` only downloads the tarball (through npm's cache): nothing of the package runs.
npm pack "$PACKAGE" --pack-destination "$work" --json --silent >"$work/pack.json"
grep -qF "\"integrity\": \"$INTEGRITY\"" "$work/pack.json" || {
  echo "fetch_ranks: $PACKAGE does not have the pinned integrity $INTEGRITY" >&2
  exit 1
}
tar -xzf "$work"/*.tgz -C "$work" package/encoders
for t in "${TABLES[@]}"; do
  read -r name sha lines <<<"$t"
  node "$here/ranks_to_tiktoken.js" "$work/package/encoders/$name.json" "$work/$name.tiktoken"
  if ! valid "$work/$name.tiktoken" "$sha" "$lines"; then
    echo "fetch_ranks: $name from $PACKAGE is not the published table" \
         "(want sha256 $sha, $lines lines)" >&2
    exit 1
  fi
  # Rename into place: a reader never sees half a file.
  cp "$work/$name.tiktoken" "$dir/.$name.tiktoken.tmp"
  mv "$dir/.$name.tiktoken.tmp" "$dir/$name.tiktoken"
done
echo "fetch_ranks: cl100k_base and o200k_base in $dir (from $PACKAGE)" >&2
