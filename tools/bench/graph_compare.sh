#!/usr/bin/env bash
# The graph benchmark end to end (docs/benchmarks.md "Graph"): bulk-loads the generated
# power-law graph through sochdb-grpc with --sync full and with --sync normal (AddNodes, then
# AddEdges in batches from several clients), loads it once more in process (the engine's
# ceiling), then runs ROUNDS rounds on the --sync normal graph, each: restart the server (timed
# from exec to its port file, which it writes once it serves), Traverse depth 2 and depth 3 and
# ShortestPath through it with 1 and 4 clients, stop it, and the same queries in process on
# graph::GraphStore over the same directory. The two sides alternate because on a shared VM
# whose speed drifts only runs close in time compare. Prints every measurement, then a table of
# medians with the server / in-process ratios of throughput and of CPU time per query (the
# server's process against the in-process one's: steadier than throughput on a busy VM).
#
#   tools/bench/graph_compare.sh [--nodes 100000] [--edges 1000000] [--rounds 2] [--duration 8]
#       [--clients 1,4] [--load-clients 4] [--batch 5000] [--max-edges 0]
#       [--skip-frontier-edges] [--no-pin] [--skip-full]
#
# Queries are pinned (unless --no-pin): the server, and the in-process queries, on core 0; the
# bench's clients on core 1; so both sides compute on one core and the clients cost the server
# nothing. Loads are not pinned (the server gets both cores, as in production).
# Raw lines go to $GRAPH_BENCH_LOG (default ./graph_compare.log).
set -euo pipefail
cd "$(dirname "$0")/../.."

nodes=100000 edges=1000000 rounds=2 duration=8 clients=1,4 load_clients=4 batch=5000
max_edges=0 pin=1 skip_full=0 frontier=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --edges) edges=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --load-clients) load_clients=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --max-edges) max_edges=$2; shift 2 ;;
    --skip-frontier-edges) frontier=(--skip-frontier-edges); shift ;;
    --no-pin) pin=0; shift ;;
    --skip-full) skip_full=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
log="${GRAPH_BENCH_LOG:-graph_compare.log}"

# $GRAPH_BENCH_BIN: a directory holding sochdb-grpc and sochdb-bench built earlier (so that
# edits meanwhile do not change what runs); else both are built here.
if [ -n "${GRAPH_BENCH_BIN:-}" ]; then
  server_bin=$GRAPH_BENCH_BIN/sochdb-grpc bench_bin=$GRAPH_BENCH_BIN/sochdb-bench
else
  bazel build -c opt --noshow_progress //server:sochdb-grpc //tools/bench:sochdb-bench >&2
  server_bin=bazel-bin/server/sochdb-grpc bench_bin=bazel-bin/tools/bench/sochdb-bench
fi
work=$(mktemp -d)
server_pid=""
trap '[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null; wait; rm -rf "$work"' EXIT

core0=() core1=()
if [ "$pin" = 1 ]; then core0=(taskset -c 0) core1=(taskset -c 1); fi

now_ms() { date +%s%3N; }

# start_server DIR SYNC WHY [PIN...]: starts it, waits for its port file (sets $port), and logs
# the time that took.
start_server() {
  local dir=$1 sync=$2 why=$3 start
  shift 3
  rm -f "$work/port"
  start=$(now_ms)
  "$@" "$server_bin" --port 0 --port-file "$work/port" --data-dir "$dir" --metrics-port 0 \
    --sync "$sync" --log-level warn 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 6000); do
    [ -s "$work/port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  [ -s "$work/port" ] || { echo "the server wrote no port file in 60 s" >&2; exit 1; }
  port=$(cat "$work/port")
  echo "graph server start $why sync=$sync ms=$(($(now_ms) - start))" | tee -a "$log"
}

stop_server() {
  local start
  start=$(now_ms)
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  echo "graph server stop ms=$(($(now_ms) - start))" | tee -a "$log"
}

# graph_bench [PIN...] -- FLAGS: one sochdb-bench graph run on the generated graph.
graph_bench() {
  local pin=()
  while [ "$1" != -- ]; do pin+=("$1"); shift; done
  shift
  "${pin[@]}" "$bench_bin" graph --nodes "$nodes" --edges "$edges" "$@"
}

: >"$log"  # the table below is of this run only
syncs=(full normal)
[ "$skip_full" = 0 ] || syncs=(normal)
load=(--phase load --load-clients "$load_clients" --batch "$batch")
for sync in "${syncs[@]}"; do
  start_server "$work/$sync" "$sync" empty
  graph_bench -- "${load[@]}" --target "127.0.0.1:$port" |
    sed "s/ load / load sync=$sync /" | tee -a "$log"
  stop_server
  [ "$sync" = normal ] || rm -rf "${work:?}/$sync"
done
graph_bench -- "${load[@]}" --mode inprocess --data-dir "$work/inprocess" --sync normal |
  sed "s/ load / load sync=normal /" | tee -a "$log"
rm -rf "${work:?}/inprocess"

queries=(--phase query --clients "$clients" --duration "$duration" --max-edges "$max_edges"
         "${frontier[@]}")
for ((round = 1; round <= rounds; round++)); do
  start_server "$work/normal" normal restart "${core0[@]}"
  graph_bench "${core1[@]}" -- "${queries[@]}" --target "127.0.0.1:$port" \
    --server-pid "$server_pid" |
    sed "s/^graph server /graph server round=$round /" | tee -a "$log"
  stop_server
  graph_bench "${core0[@]}" -- "${queries[@]}" --mode inprocess --data-dir "$work/normal" |
    sed "s/^graph inprocess /graph inprocess round=$round /" | tee -a "$log"
done
du -sh "$work/normal/store" | sed 's/^/graph store size /' | tee -a "$log"

/usr/bin/python3 tools/bench/graph_table.py "$log"
