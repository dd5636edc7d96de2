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
#ifndef SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_
#define SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_

#include <atomic>
#include <string>
#include <string_view>
#include <utility>

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

// Wraps the Env the Store opens LevelDB with. Files it creates latch the FaultLatch on any failed
// Append, Flush, Sync or Close before returning the status, and refuse every later Append, Flush
// and Sync with that first error (sealed; Close still releases the file); failing to create a
// writable file or to rename one (except the info-log rotation, whose status LevelDB ignores)
// latches too.
// Everything else forwards unchanged. Neither pointer is owned; both must outlive the DB that
// uses this Env.
class LatchingEnv final : public leveldb::EnvWrapper {
 public:
  LatchingEnv(leveldb::Env* base, FaultLatch* latch) : leveldb::EnvWrapper(base), latch_(latch) {}

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** file) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;

 private:
  leveldb::Status Wrap(const std::string& name, const leveldb::Status& status,
                       leveldb::WritableFile** file);

  FaultLatch* const latch_;
};

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_FAULT_LATCH_H_
