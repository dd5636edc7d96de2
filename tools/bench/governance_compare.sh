#!/usr/bin/env bash
# The governance step's cost on KV (docs/benchmarks.md, "Governance"):
#   tools/bench/governance_compare.sh ROUNDS MIX SYNC LABEL:BINDIR:POLICIES:MATCHING ...
# e.g. governance_compare.sh 3 100:0 full before:/tmp/old:0:0 after:bazel-bin/server:1000:0
# Each variant starts BINDIR/sochdb-grpc pinned to core 1 (sochdb-bench on core 0), registers
# POLICIES rules that never match the benchmark's keys and MATCHING ALLOW rules that match every
# key (sochdb-bench --policies / --matching-policies), warms up, then runs 8 s; variants
# alternate within each round. Prints ops/s and the server's CPU microseconds per operation.
# SOCHDB_BENCH: the sochdb-bench binary (default bazel-bin/tools/bench/sochdb-bench).
set -u
rounds=$1 mix=$2 sync=$3; shift 3
bench=${SOCHDB_BENCH:-bazel-bin/tools/bench/sochdb-bench}
for r in $(seq $rounds); do
  for spec in "$@"; do
    IFS=: read -r label dir policies matching <<<"$spec"
    d=$(mktemp -d); pf=$d/port
    taskset -c 1 "$dir/sochdb-grpc" --port 0 --port-file $pf --data-dir $d/data --metrics-port 0 --sync $sync --log-level warn 2>$d/log &
    pid=$!
    for i in $(seq 200); do [ -s $pf ] && break; sleep 0.05; done
    port=$(cat $pf)
    extra=""
    [ "$policies" != "0" ] && extra="$extra --policies $policies"
    [ "$matching" != "0" ] && extra="$extra --matching-policies $matching"
    # registers the rules (new binaries only), preloads, warms up
    taskset -c 0 "$bench" kv --target 127.0.0.1:$port --clients 32 --duration 2 --mix $mix --keys 10000 $extra >/dev/null 2>&1
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$(taskset -c 0 "$bench" kv --target 127.0.0.1:$port --clients 32 --duration 8 --mix $mix --keys 10000 2>&1 | grep -E '^  all')
    t1=$(awk '{print $14+$15}' /proc/$pid/stat)
    ops=$(echo "$out" | grep -o 'ops=[0-9]*' | head -1 | cut -d= -f2)
    rate=$(echo "$out" | grep -o 'ops/s=[0-9]*' | cut -d= -f2)
    echo "$label ops/s=$rate cpu_us_per_op=$(echo "($t1-$t0)*10000/$ops" | bc -l | cut -c1-5)"
    kill $pid; wait $pid 2>/dev/null; rm -rf $d
  done
done
