// Test doubles for storage tests: a leveldb::Env that counts and fails writes on demand (after the
// manner of LevelDB's fault_injection_test.cc and SQLite's "fail the Nth I/O" tests), and a
// helper that gives each test a fresh directory under $TEST_TMPDIR.
#ifndef SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_
#define SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "leveldb/env.h"

namespace sochdb::storage::testing {

// Wraps another Env. Appends and Syncs on the files it watches (by default LevelDB's write-ahead
// logs, "*.log") are counted, and can be made to fail: after `n` more successful calls, every
// later call fails with an IO error until ClearFaults() (persistent), or only the next one
// (transient). Failed calls never reach the wrapped file. Thread-safe.
class FaultInjectionEnv : public leveldb::EnvWrapper {
 public:
  enum class Persistence { kPersistent, kTransient };

  explicit FaultInjectionEnv(leveldb::Env* base) : leveldb::EnvWrapper(base) {}

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** file) override;

  // Watch every writable file instead of only the logs.
  void WatchAllFiles(bool all);
  void FailAppendsAfter(int64_t n, Persistence persistence = Persistence::kPersistent);
  void FailSyncsAfter(int64_t n, Persistence persistence = Persistence::kPersistent);
  void ClearFaults();

  // Calls on watched files since construction, failed ones included.
  int64_t appends() const;
  int64_t syncs() const;
  int64_t failures() const;

  // Called by the file wrappers: OK, or the injected failure for this call.
  leveldb::Status BeforeAppend(const std::string& name);
  leveldb::Status BeforeSync(const std::string& name);

 private:
  struct FaultPlan {
    int64_t successes_left = -1;  // < 0: no fault armed
    Persistence persistence = Persistence::kPersistent;
  };

  bool Watched(const std::string& name) const;
  leveldb::Status Check(FaultPlan* plan, const char* operation, const std::string& name);

  mutable std::mutex mu_;
  bool watch_all_ = false;
  FaultPlan append_plan_;
  FaultPlan sync_plan_;
  int64_t appends_ = 0;
  int64_t syncs_ = 0;
  int64_t failures_ = 0;
};

// A fresh, empty directory for one test: $TEST_TMPDIR/<name> (or /tmp/... outside Bazel).
std::string FreshTestDir(std::string_view name);

}  // namespace sochdb::storage::testing

#endif  // SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_
