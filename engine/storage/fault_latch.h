// The Store's write fault latch and the Env wrapper that sets it from inside LevelDB's I/O.
// Private to engine/storage (listed in the library's srcs, not its hdrs).
//
// Why inside the I/O: LevelDB 1.23 remembers an error (and refuses later writes) only when a log
// *sync* fails. When an Append or Flush of the log fails, the failing writer gets the error, but
// the next queued writer appends its record after the torn one, and LevelDB acknowledges it; at
// recovery the reader drops the rest of the damaged block, that record with it. If the Store
// latched only after db->Write returned, that next writer could check the latch first and be
// acknowledged. LatchingEnv latches before the failed call returns to LevelDB, and LevelDB's own
// mutex orders the next writer's append after that return, so the Store's check after db->Write
// sees the latch for every write that could sit behind a damaged record.
//
// Why a failed file is sealed: a file whose Append, Flush or Sync failed may end in a torn
// record (PosixWritableFile writes part of its buffer, then drops the rest). LevelDB would go on
// appending to it (the next writer's log record, the next MANIFEST edit), leaving the tear in the
// middle of the file, where recovery reports it as corruption, and the Store refuses a damaged
// log at open. Sealed, the file ends at the tear, which recovery reads as the cut-short tail a
// crash leaves: nothing acknowledged was in it (the latch saw to that), so it is dropped quietly.
//
// File descriptors (EMFILE/ENFILE) are not faults. Creating or opening a file that fails for want
// of a descriptor provably wrote nothing (open(2) fails before creating anything), so no record
// can be torn and nothing acknowledged can be lost; LevelDB returns the error to the one writer
// that tried to switch to a new log (it retries the switch on the next write). But a background
// compaction that fails to create its table makes LevelDB 1.23 refuse every later write until
// the database is reopened; so on LevelDB's background thread these opens wait for a descriptor
// (backing off up to a second) instead of failing, until one frees up or the Store closes.
// Failures of Append, Flush, Sync and Close latch whatever their errno: they may have written
// part of a record.
#ifndef SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_
#define SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"
#include "leveldb/status.h"

namespace sochdb::storage {

// Goes from clear to latched once and stays latched for the life of the Store. Thread-safe.
class FaultLatch {
 public:
  // `path` names the database in the log line; it never reaches a client.
  explicit FaultLatch(std::string path) : path_(std::move(path)) {}

  // Latches on the first call, recording `status` and logging its full text (paths included)
  // once with spdlog::error; later calls change nothing. `operation` says what failed
  // ("append to <file>", "write", "sync").
  void Latch(std::string_view operation, const leveldb::Status& status);

  bool latched() const { return latched_.load(std::memory_order_acquire); }

  // A client-safe description of the first failure's kind ("I/O error", "corruption", ...),
  // without LevelDB's text, which holds file paths. Empty while not latched.
  std::string kind() const;
  // The full first error, for the server log only. Empty while not latched.
  std::string first_error() const;

 private:
  const std::string path_;
  // Read lock-free on every write; set only under mu_, together with the texts.
  std::atomic<bool> latched_{false};
  mutable absl::Mutex mu_;
  std::string kind_ ABSL_GUARDED_BY(mu_);
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

// Makes LevelDB's background work wait out a lack of file descriptors (see the file comment).
// Thread-safe.
class DescriptorWait {
 public:
  // Returns `call()`, calling it again while it fails for want of a file descriptor, with a
  // backoff from 10 ms to 1 s, until it succeeds, fails otherwise, or Stop(). Only on a thread
  // running LatchingEnv::Schedule's work; elsewhere it calls once. `call` must be safe to
  // repeat after such a failure (an open, or a call that failed opening a file). A first call
  // that succeeds costs nothing more: this sits on the read path of table files.
  template <typename Call>
  leveldb::Status Retry(std::string_view what, Call call) {
    leveldb::Status status = call();
    if (status.ok()) return status;
    return RetryAfter(what, std::move(status), std::function<leveldb::Status()>(std::move(call)));
  }

  // Retry stops waiting (and returns the failure) from now on. Called before closing the DB,
  // whose destructor waits for the background work.
  void Stop();

 private:
  leveldb::Status RetryAfter(std::string_view what, leveldb::Status status,
                             const std::function<leveldb::Status()>& call);

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Wraps the Env the Store opens LevelDB with. Files it creates latch the FaultLatch on any failed
// Append, Flush, Sync or Close before returning the status, and refuse every later Append, Flush
// and Sync with that first error (sealed; Close still releases the file); failing to create a
// writable file for any reason but a lack of descriptors, or to rename one (except the info-log
// rotation, whose status LevelDB ignores), latches too. On LevelDB's background thread, opening
// a file, reading a table file (which PosixEnv may reopen per read) and syncing a MANIFEST
// (which opens its directory first) wait for a descriptor. Everything else forwards unchanged.
// Neither pointer is owned; both must outlive the DB that uses this Env.
class LatchingEnv final : public leveldb::EnvWrapper {
 public:
  LatchingEnv(leveldb::Env* base, FaultLatch* latch) : leveldb::EnvWrapper(base), latch_(latch) {}

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewSequentialFile(const std::string& name,
                                    leveldb::SequentialFile** file) override;
  leveldb::Status NewRandomAccessFile(const std::string& name,
                                      leveldb::RandomAccessFile** file) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;
  // Runs `function` on the base Env's background thread, marked as background work.
  void Schedule(void (*function)(void*), void* arg) override;

  // See DescriptorWait::Stop.
  void StopWaiting() { wait_.Stop(); }

  // While recording, the name of every file NewWritableFile creates is kept; StopRecording
  // returns them (in creation order) and clears the list. The Store records its open, so that
  // a failed open can remove exactly what it wrote, whatever other processes do meanwhile.
  void StartRecording();
  std::vector<std::string> StopRecording();

 private:
  leveldb::Status Wrap(const std::string& name, const leveldb::Status& status,
                       leveldb::WritableFile** file);

  FaultLatch* const latch_;
  DescriptorWait wait_;
  absl::Mutex created_mu_;
  bool recording_ ABSL_GUARDED_BY(created_mu_) = false;
  std::vector<std::string> created_ ABSL_GUARDED_BY(created_mu_);
};

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_
