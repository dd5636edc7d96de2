#!/usr/bin/env bash
# Token counting speed, ours against the npm tokenizers on the same bytes (docs/benchmarks.md):
# runs sochdb-token-bench (Count over a ~4 MB "corpus" text: code, prose, scripts, emoji; and a
# "mixed" one with seeded random multi-script strings), then the pinned npm packages tiktoken
# (OpenAI's Rust tokenizer as WebAssembly), js-tiktoken and gpt-tokenizer (pure JavaScript) on
# the same texts (tools/bench/token_bench.js). MB/s by CPU time of the counting thread/process.
#
#   tools/bench/token_bench.sh [MB]      (default 4; the npm side gets the first MB only: it is
#                                         slow, and MB/s does not depend on the length)
set -euo pipefail
cd "$(dirname "$0")/../.."
mb="${1:-4}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tools/tokenizer/fetch_ranks.sh tools/tokenizer/ranks
bazel build --noshow_progress //tools/bench:sochdb-token-bench
runfiles="bazel-bin/tools/bench/sochdb-token-bench.runfiles/sochdb_grpc"
echo "== sochdb (engine/context/tokenizer)"
(cd "$runfiles" && ../../sochdb-token-bench --mb "$mb" --write-dir "$work")

echo "== npm"
npm install --silent --no-audit --no-fund --no-save --prefer-offline --prefix "$work/npm" \
  tiktoken@1.0.22 js-tiktoken@1.0.21 gpt-tokenizer@3.0.1 >&2
for f in corpus mixed; do head -c 1000000 "$work/$f.txt" >"$work/$f-1mb.txt"; done
node tools/bench/token_bench.js "$work/npm/node_modules" 2 "$work/corpus-1mb.txt" \
  "$work/mixed-1mb.txt"
