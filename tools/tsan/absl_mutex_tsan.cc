// absl::Mutex made visible to ThreadSanitizer (and LevelDB kept out of its reports), for the
// --config=tsan test build only.
//
// Debian's libabsl_synchronization is compiled without -fsanitize=thread, so its Mutex (atomics
// and futexes inside the shared library) gives TSan no happens-before edges: every access under
// an absl::Mutex would be reported as a race. Abseil built with TSan annotates its Mutex with
// TSan's mutex API (__tsan_mutex_pre_lock ...); this file does the same from outside. It defines
// the Mutex and CondVar entry points the project's code calls; the test binary's own definitions
// come before the shared library's, so every call lands here, is annotated, and is forwarded to
// the library's function (found with dlsym(RTLD_NEXT)).
//
// Between pre_* and post_* TSan ignores memory accesses: that covers the conditions the library
// evaluates while it locks, unlocks or waits (an absl::Condition may run on the unlocking
// thread). Await and CondVar waits are announced as an unlock before and a lock after, in
// writer mode: every Await in the project holds the lock exclusively (TSan reports a mismatched
// unlock loudly, should that change).
//
// The mangled names are those of Debian bookworm's Abseil (20220623, inline namespace debian3);
// with another Abseil dlsym finds nothing and the test aborts at its first lock, saying which.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace {

template <class Fn>
Fn Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found in libabsl_synchronization\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

#define SOCHDB_REAL(type, mangled)                     \
  static const auto real = Real<type>(mangled);

using Plain = void (*)(absl::Mutex*);
using Try = bool (*)(absl::Mutex*);
using When = void (*)(absl::Mutex*, const absl::Condition&);
using WhenFor = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using WhenUntil = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);

constexpr unsigned kRead = __tsan_mutex_read_lock;

// The library calls its own entry points (AwaitWithTimeout calls AwaitWithDeadline), and those
// calls land here too: only the outermost one is announced to TSan.
thread_local int library_depth = 0;

template <class Call>
auto InLibrary(Call call) {
  ++library_depth;
  auto result = call();
  --library_depth;
  return result;
}

// A lock: the library call runs between TSan's pre- and post-lock.
template <class Call>
auto Locked(absl::Mutex* mu, unsigned flags, Call call) {
  if (library_depth > 0) return call();
  __tsan_mutex_pre_lock(mu, flags);
  auto result = InLibrary(call);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// A wait that releases the lock and takes it again before it returns.
template <class Call>
auto Waited(absl::Mutex* mu, Call call) {
  if (library_depth > 0) return call();
  __tsan_mutex_pre_unlock(mu, 0);
  auto result = InLibrary(call);
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

void Unlocked(absl::Mutex* mu, unsigned flags, Plain real) {
  if (library_depth > 0) return real(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  InLibrary([&] { return real(mu), 0; });
  __tsan_mutex_post_unlock(mu, flags);
}

bool Tried(absl::Mutex* mu, unsigned flags, Try real) {
  if (library_depth > 0) return real(mu);
  __tsan_mutex_pre_lock(mu, flags | __tsan_mutex_try_lock);
  const bool locked = InLibrary([&] { return real(mu); });
  __tsan_mutex_post_lock(
      mu, flags | __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

}  // namespace

// LevelDB's memtable is a skip list published with atomics compiled without TSan: its reads
// (memcmp) and writes (memcpy) look unordered. A race with LevelDB's code in either stack is not
// reported; LevelDB's mutexes (pthread) still order, and races in the project's own code between
// LevelDB calls are still reported. (called_from_lib would also hide LevelDB's lock calls but not
// every unlock, and TSan then reports unlocks of unlocked mutexes.) Likewise Abseil's random
// seed pool (absl::BitGen's first use in a thread, as in two concurrent CreateCollections), which
// orders its buffer with Abseil's own SpinLock, uninstrumented in Debian's build.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libleveldb.so\nrace:libabsl_random_internal_pool_urbg.so\n";
}

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  SOCHDB_REAL(Plain, "_ZN4absl7debian35MutexD2Ev");
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  SOCHDB_REAL(Plain, "_ZN4absl7debian35Mutex4LockEv");
  Locked(this, 0, [this] { return real(this), 0; });
}

void Mutex::ReaderLock() {
  SOCHDB_REAL(Plain, "_ZN4absl7debian35Mutex10ReaderLockEv");
  Locked(this, kRead, [this] { return real(this), 0; });
}

void Mutex::Unlock() {
  SOCHDB_REAL(Plain, "_ZN4absl7debian35Mutex6UnlockEv");
  Unlocked(this, 0, real);
}

void Mutex::ReaderUnlock() {
  SOCHDB_REAL(Plain, "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Unlocked(this, kRead, real);
}

bool Mutex::TryLock() {
  SOCHDB_REAL(Try, "_ZN4absl7debian35Mutex7TryLockEv");
  return Tried(this, 0, real);
}

bool Mutex::ReaderTryLock() {
  SOCHDB_REAL(Try, "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  return Tried(this, kRead, real);
}

void Mutex::LockWhen(const Condition& cond) {
  SOCHDB_REAL(When, "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Locked(this, 0, [&] { return real(this, cond), 0; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  SOCHDB_REAL(When, "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Locked(this, kRead, [&] { return real(this, cond), 0; });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  SOCHDB_REAL(WhenFor,
              "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Locked(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  SOCHDB_REAL(WhenUntil,
              "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locked(this, 0, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  SOCHDB_REAL(When, "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Waited(this, [&] { return real(this, cond), 0; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  SOCHDB_REAL(WhenFor, "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Waited(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  SOCHDB_REAL(WhenUntil, "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Waited(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  using Fn = void (*)(CondVar*, Mutex*);
  SOCHDB_REAL(Fn, "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Waited(mu, [&] { return real(this, mu), 0; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  using Fn = bool (*)(CondVar*, Mutex*, Duration);
  SOCHDB_REAL(Fn, "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Waited(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  using Fn = bool (*)(CondVar*, Mutex*, Time);
  SOCHDB_REAL(Fn, "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Waited(mu, [&] { return real(this, mu, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl
