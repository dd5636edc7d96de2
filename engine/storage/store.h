// Store: the project's one LevelDB adapter. It opens the database under --data-dir, commits
// atomic write batches under the configured durability mode, serves point reads, snapshots and
// ordered iteration, and latches a fault state after the first write error. This directory is
// the only code that includes LevelDB headers; leveldb::Status becomes absl::Status here and
// nowhere else.
//
// Durability (--sync):
//   kFull   every committed batch is fsynced before Write returns. Concurrent writers are
//           grouped by LevelDB into one log write + one fsync (group commit).
//   kNormal batches are written to the log (the OS has them: they survive kill -9) and a
//           background thread fsyncs the log at most every `sync_interval`.
//   kOff    never fsync; the OS flushes when it likes. Still survives kill -9, not a power cut.
//
// Fault state: LevelDB 1.23 can acknowledge a write on a handle that has already failed one
// (ENOSPC, a torn log append) and then lose it at recovery. So after the first failed write,
// sync, or write-side file operation (append, flush, sync, close, create, rename: the Store
// wraps the Env to see them, including the background compaction's), every later Write answers
// UNAVAILABLE until the Store is reopened; reads keep working. The failure is latched inside the
// failing I/O call, before LevelDB lets the next writer log anything, so no write logged after a
// failure is ever acknowledged. The full LevelDB error (with file paths) is logged once with
// spdlog::error when the fault latches (and repeated as a warning at close); statuses returned
// to callers name only its kind, e.g.
// "storage write failed (I/O error); writes are refused until the server restarts; see the
// server log". Running out of file descriptors is not a fault (see Write).
//
// Damage: reads verify block checksums and iterators stop at the first unreadable block, so
// damaged data answers DATA_LOSS, never a wrong value or a silent gap; LevelDB checks with
// paranoid_checks, so compactions never copy a damaged block into a fresh, valid-looking table
// (a compaction that meets one fails, which latches the fault state at the next write). Open
// refuses what it cannot read rather than repair it by deleting (see Open).
//
// Thread safety: every method may be called concurrently from any thread.
#ifndef SOCHDB_ENGINE_STORAGE_STORE_H_
#define SOCHDB_ENGINE_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace sochdb::storage {

enum class SyncMode { kFull, kNormal, kOff };

// "full" | "normal" | "off" -> SyncMode; anything else is INVALID_ARGUMENT.
absl::StatusOr<SyncMode> ParseSyncMode(std::string_view text);
std::string_view SyncModeName(SyncMode mode);

// The schema version this build writes and accepts. An existing database with another version is
// refused at open (FAILED_PRECONDITION) rather than misread.
inline constexpr int kSchemaVersion = 1;

// Keys one batch of Store::DeleteRange deletes: large enough that dropping a million vectors is
// a hundred synced writes, small enough that one batch stays well under the memtable.
inline constexpr int kDeleteBatchKeys = 10'000;

struct StoreOptions {
  // Default kFull: an acknowledged write survives a power cut.
  SyncMode sync_mode = SyncMode::kFull;
  // kNormal only: the longest time a written batch stays unsynced. Must be > 0.
  absl::Duration sync_interval = absl::Milliseconds(100);
  // Filesystem access. nullptr = leveldb::Env::Default(). Not owned; must outlive the Store.
  // Tests pass an in-memory or fault-injecting Env. The Store wraps it to latch write faults.
  leveldb::Env* env = nullptr;
  // LevelDB block cache (default 64 MiB) and memtable size (default 32 MiB).
  size_t block_cache_bytes = 64u << 20;
  size_t write_buffer_bytes = 32u << 20;
  // Create the database when `path` holds none (default true). A directory that holds store
  // files but no CURRENT is never taken for "none": Open refuses it, untouched.
  bool create_if_missing = true;
  // A write-ahead log that recovery cannot read in full makes Open fail with DATA_LOSS naming
  // the loss, changing nothing (default false). True accepts the loss: a copy of each damaged
  // log is kept (<log>.damaged), the unreadable stretches are dropped, and each is logged.
  // The server's --accept-log-loss; meant for one start, after a look at what is lost.
  bool accept_log_loss = false;
  // With accept_log_loss: called once when the open is about to drop write-ahead log data,
  // before it changes anything; an error fails the open, every file as it was. What is derived
  // from the store and may cover the dropped writes goes here (the engine removes the vector
  // snapshots: a batch lost from the middle of a log leaves later ones, so a snapshot covering
  // it would not look newer than the store). A crash after the call repeats it at the next
  // start, which meets the same damage.
  std::function<absl::Status()> before_dropping_log_data;
};

// A set of updates applied atomically by Store::Write. Not thread-safe; movable.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  void Clear();
  // Number of Put/Delete operations recorded.
  int Count() const;
  // Bytes of the encoded batch (keys + values + framing).
  size_t ApproximateSize() const;

 private:
  friend class Store;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// A consistent point-in-time view. Release by destroying it; it must not outlive its Store.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
};

// Ordered iteration over keys (bytewise order). Not thread-safe. Must not outlive its Store.
// key()/value() stay valid until the next move of the iterator.
class Iterator {
 public:
  virtual ~Iterator() = default;
  // Positions at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  // Positions at the last key of the database.
  virtual void SeekToLast() = 0;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  // Moves to the previous key (invalid before the first).
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Non-OK when iteration stopped because of an error, not the end: DATA_LOSS for a block whose
  // checksum fails or a missing store file ("stored data is damaged (reading keys from \"<seek
  // target>\" on); see the server log"), UNAVAILABLE when out of file descriptors, INTERNAL for
  // other I/O errors. The iterator turns invalid at the first error and stays so: it never
  // yields a key that lies past unreadable data.
  virtual absl::Status status() const = 0;
};

struct StoreStats {
  uint64_t disk_bytes = 0;         // sum of the database directory's file sizes
  uint64_t memtable_bytes = 0;     // LevelDB approximate memory usage
  uint64_t batches_written = 0;    // successful Write calls since open
  uint64_t bytes_written = 0;      // encoded batch bytes of those writes
  uint64_t syncs = 0;              // fsyncs requested (full: one per write; normal: per interval)
  uint64_t write_errors = 0;       // failed writes and syncs since open
  uint64_t corruption_errors = 0;  // reads answered DATA_LOSS (damaged or missing data) since open
  bool faulted = false;            // the fault state is latched
};

// The LevelDB files in `path` that hold or describe data (CURRENT, MANIFEST-*, *.log, *.ldb,
// *.sst, *.dbtmp; not LOCK or the info logs), unordered; empty when there are none or no such
// directory. `env` nullptr = leveldb::Env::Default().
std::vector<std::string> ListStoreFiles(const std::string& path, leveldb::Env* env = nullptr);

class Store {
 public:
  // Opens (or creates) the database at `path`. Start-up never changes a store it cannot read:
  // every refusal below leaves the files as they were. Fails with:
  //   INVALID_ARGUMENT     bad options (sync_interval <= 0);
  //   FAILED_PRECONDITION  the database holds another schema version, or no schema version but
  //                        data; it does not exist and create_if_missing is false; or `path`
  //                        holds store files but no CURRENT (the message says how to repair);
  //   UNAVAILABLE          the directory is locked by another process;
  //   DATA_LOSS            LevelDB reports corruption (a damaged MANIFEST, a missing table
  //                        file, ...), or a write-ahead log is damaged and accept_log_loss is
  //                        false (the message names the log and the bytes that cannot be read);
  //   INTERNAL / UNKNOWN   other I/O errors.
  // LevelDB's own text, which names files, is logged (spdlog::error), not returned.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const StoreOptions& options);

  // Stops the background syncer, fsyncs the log once more (in kNormal and kOff too, so a clean
  // shutdown loses nothing even on power loss afterwards), and closes the database.
  ~Store();

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The value stored under `key`, or std::nullopt when absent. Reads `snapshot` when given.
  // Every block read from disk has its checksum verified: DATA_LOSS ("stored data is damaged
  // (reading key \"<key>\"); see the server log") for a damaged block or a missing table file,
  // never a wrong value or a false absence; UNAVAILABLE when out of file descriptors.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key,
                                                 const Snapshot* snapshot = nullptr) const;

  // Applies `*batch` atomically under the store's sync mode. OK means durable per the mode's
  // promise. UNAVAILABLE when the fault state was latched before the call (the batch is not
  // applied). Any storage error latches the fault state and answers UNAVAILABLE; so does a
  // write that LevelDB logged alongside or after another write's failure (it may or may not
  // survive a restart). The one exception: a write that could not open a file for want of a
  // descriptor (EMFILE/ENFILE) answers UNAVAILABLE "storage is out of file descriptors (too
  // many open files); ..." without latching: it was not applied and may be retried. (LevelDB's
  // background work waits for a descriptor rather than fail.) UNAVAILABLE messages are generic (no
  // paths, no LevelDB text; see "Fault state" above). The caller keeps `batch` (LevelDB stamps a
  // sequence number into it; its operations are unchanged, so it may be inspected, cleared or
  // reused afterwards). An empty batch is a no-op that returns OK (UNAVAILABLE in the fault state).
  absl::Status Write(WriteBatch* batch);

  // Forces the log to stable storage now (all modes). Errors latch the fault state; statuses
  // are UNAVAILABLE with the same generic messages as Write's. As with Write, a sync that could
  // not open a file for want of a descriptor (it may switch to a new log first) latches nothing:
  // UNAVAILABLE "storage is out of file descriptors (too many open files); the sync did not
  // happen and may be retried" (kNormal's syncer retries at its next round).
  absl::Status Sync();

  std::unique_ptr<Snapshot> GetSnapshot() const;

  // An iterator, unpositioned (call Seek). Reads `snapshot` when given, otherwise an implicit
  // snapshot taken now, so one iterator never sees a half of a later batch. Verifies checksums
  // as Get does; see Iterator::status for how errors end the iteration.
  std::unique_ptr<Iterator> NewIterator(const Snapshot* snapshot = nullptr) const;

  // Deletes every key in [begin, end) (an empty `end`: to the last key), `keys_per_batch` keys
  // per Write. Not atomic as a whole: a crash or an error leaves a part deleted, so callers
  // arrange for a partial delete to be recognised and finished (a definition deleted first, a
  // log trimmed again). Keys written into the range while it runs may survive it. Errors are the
  // iterator's (DATA_LOSS at damaged data: nothing past it is deleted) and Write's.
  absl::Status DeleteRange(std::string_view begin, std::string_view end,
                           int keys_per_batch = kDeleteBatchKeys);
  // DeleteRange over every key that starts with `prefix`. An empty prefix is every key.
  absl::Status DeletePrefix(std::string_view prefix, int keys_per_batch = kDeleteBatchKeys);

  bool faulted() const;
  SyncMode sync_mode() const;
  StoreStats Stats() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_STORE_H_
