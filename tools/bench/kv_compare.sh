#!/usr/bin/env bash
# Runs the same KV load against the no-op echo server and against sochdb-grpc, and prints the
# throughput ratios docs/benchmarks.md reports (targets: Get >= 0.8x echo; Put with
# --sync normal >= 0.6x echo).
#
#   tools/bench/kv_compare.sh [--clients 32] [--duration 10] [--value-size 100] [--sync normal]
set -euo pipefail
cd "$(dirname "$0")/../.."

clients=32 duration=10 value_size=100 sync=normal threads=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --value-size) value_size=$2; shift 2 ;;
    --sync) sync=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

bazel build -c opt //server:sochdb-grpc //tools/bench:sochdb-bench //tools/bench:sochdb-echo-server >/dev/null 2>&1
bin=bazel-bin
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

wait_port() { for _ in $(seq 200); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.05; done; echo "no port" >&2; exit 1; }

"$bin/tools/bench/sochdb-echo-server" --port 0 --threads "$threads" --port-file "$work/echo.port" 2>"$work/echo.log" &
"$bin/server/sochdb-grpc" --port 0 --port-file "$work/db.port" --data-dir "$work/data" \
  --metrics-port 0 --sync "$sync" --threads "$threads" --log-level warn 2>"$work/db.log" &
echo_port=$(wait_port "$work/echo.port")
db_port=$(wait_port "$work/db.port")

run() {  # target mix -> ops/s
  "$bin/tools/bench/sochdb-bench" kv --target "127.0.0.1:$1" --clients "$clients" \
    --duration "$duration" --value-size "$value_size" --mix "$2" | tee -a "$work/report" |
    awk '/^  all/ { for (i = 1; i <= NF; i++) if ($i ~ /^ops\/s=/) { sub("ops/s=", "", $i); print $i } }'
}

echo_get=$(run "$echo_port" 100:0)
db_get=$(run "$db_port" 100:0)
echo_put=$(run "$echo_port" 0:100)
db_put=$(run "$db_port" 0:100)
cat "$work/report"
awk -v eg="$echo_get" -v dg="$db_get" -v ep="$echo_put" -v dp="$db_put" -v s="$sync" 'BEGIN {
  printf "\nGet: sochdb-grpc %.0f ops/s vs echo %.0f ops/s = %.2fx (target >= 0.80x)\n", dg, eg, dg / eg
  printf "Put (--sync %s): sochdb-grpc %.0f ops/s vs echo %.0f ops/s = %.2fx (target >= 0.60x)\n", s, dp, ep, dp / ep
}'
