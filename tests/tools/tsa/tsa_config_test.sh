#!/bin/bash
# The thread-safety build (--config=tsa in .bazelrc) turns a lock mistake into a compile error:
# a snippet that reads an ABSL_GUARDED_BY member without its lock must fail to compile with the
# config's compiler and copts, and the same snippet taking the lock must compile. The flags come
# from .bazelrc itself, so a config that stops checking (a dropped -Werror=thread-safety, gcc
# instead of clang) fails here.
set -u

BAZELRC="$1"
DIR="${TEST_TMPDIR:-/tmp}"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

cc="$(sed -n 's/^build:tsa --repo_env=CC=//p' "$BAZELRC")"
read -r -a copts <<<"$(sed -n 's/^build:tsa //p' "$BAZELRC" | tr ' ' '\n' | sed -n 's/^--copt=//p' |
                       tr '\n' ' ')"
[[ -n "$cc" ]] || fail "no build:tsa --repo_env=CC= line in .bazelrc"
[[ ${#copts[@]} -gt 0 ]] || fail "no build:tsa --copt lines in .bazelrc"

snippet() {  # $1: the body of Read()
  cat <<SNIPPET
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
class Counter {
 public:
  int Read() { $1 }
 private:
  absl::Mutex mu_;
  int value_ ABSL_GUARDED_BY(mu_) = 0;
};
int main() { return Counter().Read(); }
SNIPPET
}

snippet 'return value_;' >"$DIR/unlocked.cc"
snippet 'absl::MutexLock lock(&mu_); return value_;' >"$DIR/locked.cc"
compile() { "$cc" -std=c++17 -fsyntax-only "${copts[@]}" "$1" 2>&1; }

if out="$(compile "$DIR/unlocked.cc")"; then
  fail "reading a guarded member without its lock compiled"
elif ! grep -q "requires holding mutex 'mu_'" <<<"$out"; then
  fail "unlocked read failed, but not with the thread-safety error: $out"
fi
out="$(compile "$DIR/locked.cc")" || fail "the locked read did not compile: $out"

[[ $failures -eq 0 ]] && echo "PASS: --config=tsa ($cc ${copts[*]}) rejects an unlocked read"
exit $((failures > 0))
