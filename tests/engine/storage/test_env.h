// Test doubles for storage tests: a leveldb::Env that counts and fails writes on demand (after the
// manner of LevelDB's fault_injection_test.cc and SQLite's "fail the Nth I/O" tests), and a
// helper that gives each test a fresh directory under $TEST_TMPDIR.
#ifndef SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_
#define SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "leveldb/env.h"

namespace sochdb::storage::testing {

// Wraps another Env. Appends and Syncs on the files it watches (by default LevelDB's write-ahead
// logs, "*.log") are counted, and can be made to fail: after `n` more successful calls, every
// later call fails with an IO error until ClearFaults() (persistent), or only the next one
// (transient). A failed Sync never reaches the wrapped file; a failed Append writes nothing, or
// (AppendFailure::kTorn) the first half of its data, as a short write or a crash mid-write
// leaves it. Creating writable files can be made to fail too. Thread-safe.
class FaultInjectionEnv : public leveldb::EnvWrapper {
 public:
  enum class Persistence { kPersistent, kTransient };
  enum class AppendFailure { kNothingWritten, kTorn };
  // kOutOfDescriptors fails as PosixEnv does when open(2) finds no file descriptor (EMFILE).
  enum class CreateFailure { kIoError, kOutOfDescriptors };

  // Runs on the thread of every watched Append, after its fate is decided (and a torn append's
  // half is written), before it returns; `failed` says whether it will fail. It may block, to
  // hold a writer inside its I/O; no lock of this Env is held while it runs.
  using AppendHook = std::function<void(bool failed)>;

  explicit FaultInjectionEnv(leveldb::Env* base) : leveldb::EnvWrapper(base) {}

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** file) override;

  // Watch every writable file instead of only the logs.
  void WatchAllFiles(bool all);
  void FailAppendsAfter(int64_t n, Persistence persistence = Persistence::kPersistent,
                        AppendFailure failure = AppendFailure::kNothingWritten);
  void FailSyncsAfter(int64_t n, Persistence persistence = Persistence::kPersistent);
  // NewWritableFile fails (IO error, nothing created) for names ending with `suffix` ("" =
  // none), watched or not, until ClearFaults().
  void FailNewWritableFilesEndingWith(std::string suffix,
                                      CreateFailure failure = CreateFailure::kIoError);
  void ClearFaults();
  // nullptr removes the hook.
  void SetAppendHook(AppendHook hook);

  // Calls on watched files since construction, failed ones included.
  int64_t appends() const;
  int64_t syncs() const;
  // Injected failures of every kind.
  int64_t failures() const;

  // Called by the file wrappers: performs (or fails) the call on `base`.
  leveldb::Status Append(const std::string& name, const leveldb::Slice& data,
                         leveldb::WritableFile* base);
  leveldb::Status Sync(const std::string& name, leveldb::WritableFile* base);

 private:
  struct FaultPlan {
    int64_t successes_left = -1;  // < 0: no fault armed
    Persistence persistence = Persistence::kPersistent;
  };

  bool Watched(const std::string& name) const;
  leveldb::Status Check(FaultPlan* plan, const char* operation, const std::string& name);
  leveldb::Status Wrap(const std::string& name, leveldb::Status status,
                       leveldb::WritableFile** file);

  mutable std::mutex mu_;
  bool watch_all_ = false;
  FaultPlan append_plan_;
  AppendFailure append_failure_ = AppendFailure::kNothingWritten;
  FaultPlan sync_plan_;
  std::string failing_create_suffix_;
  CreateFailure create_failure_ = CreateFailure::kIoError;
  std::shared_ptr<const AppendHook> append_hook_;
  int64_t appends_ = 0;
  int64_t syncs_ = 0;
  int64_t failures_ = 0;
};

// A fresh, empty directory for one test: $TEST_TMPDIR/<name> (or /tmp/... outside Bazel).
std::string FreshTestDir(std::string_view name);

// While alive, no file of this process can grow past `bytes`: a write beyond it fails with EFBIG
// ("File too large"), as a full disk fails it, without filling one. (RLIMIT_FSIZE; SIGXFSZ, which
// would kill the process, is ignored meanwhile.) Both are restored on destruction. Process-wide:
// only for moments when nothing else in the test writes files.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes);
  ~FileSizeLimit();
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  uint64_t previous_soft_limit_;
  void (*previous_handler_)(int);
};

// Runs `write` on a thread of its own and holds it inside its first watched append (a synced
// definition write, say) until `others`, run on a second thread, has returned (20 s at most);
// then lets it finish and joins both. True when `others` returned while the write was held:
// nothing it did waited for that write. Results are for the caller to check after the return
// (Catch2's assertions are not thread-safe).
bool OthersRunWhileFirstAppendHeld(FaultInjectionEnv& env, const std::function<void()>& write,
                                   const std::function<void()>& others);

}  // namespace sochdb::storage::testing

#endif  // SOCHDB_TESTS_ENGINE_STORAGE_TEST_ENV_H_
