// Opening the LevelDB database without ever damaging what is there. LevelDB 1.23's DB::Open is
// eager to "repair": without a CURRENT file it creates an empty database over the old files and
// deletes them as obsolete; with paranoid_checks off it drops whatever it cannot read of the
// write-ahead logs, writes the rest into a table and deletes the logs; and it replays whatever
// logs it finds without noticing that the one its MANIFEST names is gone (or that a table is
// cut short, which surfaces only as I/O errors once it has recovered). So before LevelDB is let
// loose, these functions refuse a directory that holds store files but no CURRENT, one whose
// named log is missing, and one whose tables' sizes differ from the MANIFEST's; then they open with
// paranoid_checks on, so a damaged log fails the open instead, and remove the tables a failed open
// wrote, leaving the directory as it was. Accepting a log's loss takes an explicit option, and what
// is dropped is logged piece by piece (LevelDB reports every dropped stretch to its info Logger,
// "<log>: dropping <n> bytes; <reason>", and on the paranoid path stops at the first; the Logger
// here records those lines, and leveldb::DumpFile, which reads a log with the same reader, counts
// every damaged stretch of a refused log without changing it; DumpFile also prints the MANIFEST's
// edits, from which the log number and the live tables' sizes are read). Private to engine/storage
// (listed in the library's srcs, not its hdrs).
#ifndef SOCHDB_ENGINE_STORAGE_STORE_OPEN_H_
#define SOCHDB_ENGINE_STORAGE_STORE_OPEN_H_

#include <cstdarg>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/storage/errors.h"
#include "engine/storage/fault_latch.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/options.h"

namespace sochdb::storage {

// One stretch of a write-ahead log that recovery could not read.
struct LogDrop {
  std::string file;    // the log's path
  uint64_t bytes = 0;  // bytes dropped
  std::string reason;  // LevelDB's status text ("Corruption: checksum mismatch")
};

// LevelDB's info log: forwards every line to spdlog at debug level and records the dropped
// stretches LevelDB reports while recovering logs. Given to LevelDB as Options::info_log, so
// LevelDB writes no LOG file of its own. Thread-safe (LevelDB logs from its background thread).
class RecoveryLogger final : public leveldb::Logger {
 public:
  explicit RecoveryLogger(std::string path) : path_(std::move(path)) {}

  void Logv(const char* format, std::va_list ap) override;

  // The drops recorded since the last call, oldest first; clears them.
  std::vector<LogDrop> TakeDrops();

 private:
  const std::string path_;
  absl::Mutex mu_;
  std::vector<LogDrop> drops_ ABSL_GUARDED_BY(mu_);
};

// Names of the LevelDB files in `names` that hold or describe data (CURRENT, MANIFEST-*, *.log,
// *.ldb, *.sst, *.dbtmp), in the given order; LOCK and the info logs (LOG, LOG.old) hold none.
std::vector<std::string> StoreFileNames(const std::vector<std::string>& names);

// OK when `path` holds a database LevelDB can recognise (it has a CURRENT file), holds no store
// file, or holds only what a creation cut short leaves (MANIFEST-000001, 000001.dbtmp: no data
// is written before CURRENT exists). Otherwise FAILED_PRECONDITION naming the missing CURRENT,
// the files found, and how to repair. Reads only.
absl::Status CheckRecognisable(const std::string& path, leveldb::Env* env);

// UNAVAILABLE "the store is locked by another process" when another process (or this one) holds
// the store's LOCK; OK otherwise, the lock released again. The checks above read files a live
// server may be writing; run first, this makes a second server started on a live store say so,
// rather than misread the files mid-write (it cannot close the window before LevelDB takes the
// lock itself; there the second server's own open still fails on the lock).
absl::Status CheckNotLocked(const std::string& path, leveldb::Env* env,
                            const ErrorReporter& errors);

// What an open does with write-ahead log data it cannot read: StoreOptions' accept_log_loss and
// before_dropping_log_data (called, when set, before any accepted loss changes a file).
struct LogLoss {
  bool accept = false;
  std::function<absl::Status()> before_dropping;

  // Runs before_dropping once, however many files an open drops data from.
  absl::Status BeforeDropping() const {
    if (!before_dropping || called) return absl::OkStatus();
    called = true;
    return before_dropping();
  }
  mutable bool called = false;
};

// Opens the database at `path` with `options` (whose caches, sizes and create_if_missing are the
// caller's; env, info_log and paranoid_checks are set here, to `env`, `logger` and true).
// A live table whose size differs from the MANIFEST's: DATA_LOSS naming it. The write-ahead log
// the MANIFEST names missing (deleted, or the MANIFEST cut short before the edit that named a
// later one; LevelDB would open without the writes it held): DATA_LOSS naming it, unless
// `log_loss.accept` (then logged). A damaged write-ahead log: DATA_LOSS naming the log, the bytes
// that cannot be read and the way out, with every file as it was, unless `log_loss.accept`; then a
// copy of each damaged log is kept beside it (<log>.damaged), the database is opened once without
// paranoid checks so LevelDB drops the damage (each dropped stretch is logged as a warning),
// closed, and opened again with them. Other errors are `errors`' translation. A failed open leaves
// no file it created behind (tables written while replaying logs before the failure; `env` records
// them).
absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDb(const std::string& path,
                                                         leveldb::Options options,
                                                         const LogLoss& log_loss, LatchingEnv* env,
                                                         RecoveryLogger* logger,
                                                         const ErrorReporter& errors);

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_STORE_OPEN_H_
