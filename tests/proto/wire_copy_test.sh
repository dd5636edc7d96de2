#!/usr/bin/env bash
# Checks that the project's copy of the wire contract (proto/wire/sochdb_v1_wire.tsv) is identical
# to the shared one (../shared/wire/sochdb_v1_wire.tsv), which @shared_wire brings into the
# runfiles when it is beside the checkout. Without it there is nothing to compare: the test says
# so and passes, since a clone alone must test green.
set -euo pipefail
runfiles="${TEST_SRCDIR:?run me with bazel test}"
copy="$runfiles/sochdb_grpc/proto/wire/sochdb_v1_wire.tsv"
shared="$runfiles/shared_wire/sochdb_v1_wire.tsv"
[ -f "$copy" ] || { echo "FAIL: the project's copy is missing: $copy"; exit 1; }
if [ ! -e "$shared" ]; then
  echo "SKIP: ../shared/wire/sochdb_v1_wire.tsv is not beside this checkout; nothing to compare"
  exit 0
fi
if ! cmp -s "$copy" "$shared"; then
  echo "FAIL: proto/wire/sochdb_v1_wire.tsv differs from ../shared/wire/sochdb_v1_wire.tsv:"
  diff "$shared" "$copy" | head -40 || true
  echo "copy the shared file over the project's copy, then make wire_test pass"
  exit 1
fi
echo "OK: proto/wire/sochdb_v1_wire.tsv is identical to ../shared/wire/sochdb_v1_wire.tsv ($(wc -l <"$copy") lines)"
