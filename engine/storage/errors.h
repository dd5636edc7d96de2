// How the storage layer classifies LevelDB's errors and reports them: the one translation from
// leveldb::Status to absl::Status, and the rule that keeps file paths away from clients. LevelDB's
// text names files ("IO error: /var/lib/sochdb/store/000123.ldb: ..."), so it goes to the server
// log, once, where it happened; the returned status carries a canonical code and a plain message
// that says what failed and where in the keyspace. Private to engine/storage (listed in the
// library's srcs, not its hdrs).
#ifndef SOCHDB_ENGINE_STORAGE_ERRORS_H_
#define SOCHDB_ENGINE_STORAGE_ERRORS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "engine/common/log_limit.h"
#include "leveldb/status.h"

namespace sochdb::storage {

// True when the process (EMFILE) or the system (ENFILE) has no file descriptor left: the call
// that failed could not open its file, so it wrote nothing. PosixEnv formats errno with
// strerror; the server never calls setlocale, so the text is the C locale's.
bool IsOutOfFileDescriptors(const leveldb::Status& status);

// A client-safe name of the error's kind ("I/O error", "disk full", "corruption", ...), without
// LevelDB's text.
std::string KindOf(const leveldb::Status& status);

// Translates, logs and counts the errors of one store. Thread-safe.
class ErrorReporter {
 public:
  // `path` names the store in log lines only.
  explicit ErrorReporter(std::string path) : path_(std::move(path)) {}

  // The status for a failed read-side operation (a point read, an iterator, opening the store).
  // `what` says what was being done, in words a client may see ("reading key \"k\"", "reading
  // the keys after \"a\""); it opens the message. Codes:
  //   DATA_LOSS    corruption, a store file that is missing or shorter than recorded: "stored
  //                data is damaged (<what>); see the server log". Counted in
  //                corruption_errors().
  //   UNAVAILABLE  out of file descriptors (retryable), or the store is locked by another process.
  //   FAILED_PRECONDITION / ALREADY_EXISTS  opening a missing / existing store as told not to.
  //   INTERNAL     other I/O errors; UNIMPLEMENTED, INVALID_ARGUMENT, UNKNOWN the rest.
  // LevelDB's own text is logged with `what` and the store's path (spdlog::error); reads of
  // damaged data at most once a second, so a client re-reading a damaged key cannot flood the
  // log (the next line says how many were not logged; the metric counts every one).
  absl::Status Translate(const leveldb::Status& status, std::string_view what) const;

  // DATA_LOSS statuses returned by Translate since construction.
  uint64_t corruption_errors() const { return corruption_errors_.load(std::memory_order_relaxed); }

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable std::atomic<uint64_t> corruption_errors_{0};
  mutable LogLimit damage_log_;
};

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_ERRORS_H_
