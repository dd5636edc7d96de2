#!/usr/bin/env bash
# Compares HNSW graph constructions (FAISS's IndexHNSWFlat::add against the engine's, see
# ann_build_bench.cc): for each configuration, runs every construction once per round, in an
# order reversed every other round (on a shared machine whose speed drifts, only runs close in
# time compare), then prints per configuration and construction the median build time with its
# range, recall@10 and peak RSS. Figures and method: docs/benchmarks.md.
#
#   tools/bench/ann_build_compare.sh [ROUNDS] [CONSTRUCTIONS] [CONFIG...]
#   tools/bench/ann_build_compare.sh 3 "faiss engine" "--n 20000 --ef-construction 40 --threads 1"
#
# A CONFIG is the sochdb-ann-build-bench flags of one configuration (its defaults otherwise:
# M 16, d 128, 200 queries). Raw lines go to $ANN_BUILD_LOG (default ./ann_build_compare.log).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds="${1:-3}"
constructions="${2:-faiss faiss-kernels engine-full engine}"
shift $(($# < 2 ? $# : 2))
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=("--n 20000 --ef-construction 40 --threads 1" "--n 20000 --ef-construction 40 --threads 2")
fi
log="${ANN_BUILD_LOG:-ann_build_compare.log}"

# $ANN_BUILD_BENCH: a binary built earlier (so that edits meanwhile do not change what runs).
bench="${ANN_BUILD_BENCH:-}"
if [ -z "$bench" ]; then
  bazel build --noshow_progress //tools/bench:sochdb-ann-build-bench >&2
  bench=bazel-bin/tools/bench/sochdb-ann-build-bench
fi

: >"$log"  # the medians below are of this run only
read -r -a order <<<"$constructions"
for ((round = 1; round <= rounds; round++)); do
  for config in "${configs[@]}"; do
    for c in "${order[@]}"; do
      # shellcheck disable=SC2086  # a config is several flags
      "$bench" --construction "$c" $config | tee -a "$log"
    done
  done
  reversed=()
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
  order=("${reversed[@]}")
done

/usr/bin/python3 - "$log" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if not line.startswith("build "):
        continue
    head, figures = line.split(":", 1)
    fields = dict(f.split("=") for f in head.split()[1:])
    values = dict((k, float(v)) for k, v in (f.split("=") for f in figures.split()))
    config = "n={n} efc={efc} threads={threads} clusters={clusters} batch={batch}".format(**fields)
    runs.setdefault(config, {}).setdefault(fields["construction"], []).append(values)
for config, by_construction in runs.items():
    print(config)
    for construction, values in by_construction.items():
        seconds = [v["seconds"] for v in values]
        recalls = [k for k in values[0] if k.startswith("recall")]
        print("  %-13s runs=%d build %.2f s (%.2f-%.2f) %s peak_rss %.0f MB" % (
            construction, len(values), statistics.median(seconds), min(seconds), max(seconds),
            " ".join("%s %.4f" % (k, statistics.median(v[k] for v in values)) for k in recalls),
            statistics.median(v["peak_rss_mb"] for v in values)))
EOF
