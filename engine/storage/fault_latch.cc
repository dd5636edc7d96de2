// Implementation of fault_latch.h: the latch itself and the WritableFile wrapper that sets it and
// seals the file.
#include "engine/storage/fault_latch.h"

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/storage/errors.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {
namespace {

// Forwards to the real file; any failure latches before LevelDB sees the status, and seals the
// file: later appends, flushes and syncs return the first error without reaching it.
// LevelDB uses one file from one thread at a time (under its own mutex), so no lock here.
class LatchingWritableFile final : public leveldb::WritableFile {
 public:
  LatchingWritableFile(std::string name, leveldb::WritableFile* base, FaultLatch* latch)
      : name_(std::move(name)), base_(base), latch_(latch) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (!first_error_.ok()) return first_error_;
    return Check("append to", base_->Append(data));
  }
  // Releases the file even when sealed. PosixWritableFile drops its buffer when a write fails,
  // so a sealed file's Close has nothing left to write.
  leveldb::Status Close() override { return Check("close of", base_->Close()); }
  leveldb::Status Flush() override {
    if (!first_error_.ok()) return first_error_;
    return Check("flush of", base_->Flush());
  }
  leveldb::Status Sync() override {
    if (!first_error_.ok()) return first_error_;
    return Check("sync of", base_->Sync());
  }

 private:
  leveldb::Status Check(const char* operation, leveldb::Status status) {
    if (!status.ok()) {
      latch_->Latch(absl::StrCat(operation, " ", name_), status);
      if (first_error_.ok()) first_error_ = status;
    }
    return status;
  }

  const std::string name_;
  const std::unique_ptr<leveldb::WritableFile> base_;
  FaultLatch* const latch_;
  leveldb::Status first_error_;  // OK until a call fails; then the file is sealed
};

}  // namespace

void FaultLatch::Latch(std::string_view operation, const leveldb::Status& status) {
  const std::string error = absl::StrCat(absl::string_view(operation.data(), operation.size()),
                                         " failed: ", status.ToString());
  {
    absl::MutexLock lock(&mu_);
    if (latched_.load(std::memory_order_relaxed)) return;
    kind_ = KindOf(status);
    first_error_ = error;
    latched_.store(true, std::memory_order_release);
  }
  spdlog::error("storage at {}: {}; refusing every write until the store is reopened", path_,
                error);
}

std::string FaultLatch::kind() const {
  absl::MutexLock lock(&mu_);
  return kind_;
}

std::string FaultLatch::first_error() const {
  absl::MutexLock lock(&mu_);
  return first_error_;
}

leveldb::Status LatchingEnv::NewWritableFile(const std::string& name,
                                             leveldb::WritableFile** file) {
  return Wrap(name, target()->NewWritableFile(name, file), file);
}

leveldb::Status LatchingEnv::NewAppendableFile(const std::string& name,
                                               leveldb::WritableFile** file) {
  return Wrap(name, target()->NewAppendableFile(name, file), file);
}

leveldb::Status LatchingEnv::RenameFile(const std::string& from, const std::string& to) {
  leveldb::Status status = target()->RenameFile(from, to);
  // DB::Open rotates the info log with a rename whose status LevelDB ignores (it fails whenever
  // there is no LOG yet); it touches no data. Every other rename installs a new CURRENT.
  if (!status.ok() && !absl::EndsWith(to, "/LOG.old")) {
    latch_->Latch(absl::StrCat("rename of ", from, " to ", to), status);
  }
  return status;
}

leveldb::Status LatchingEnv::Wrap(const std::string& name, const leveldb::Status& status,
                                  leveldb::WritableFile** file) {
  if (!status.ok()) {
    latch_->Latch(absl::StrCat("creation of ", name), status);
    *file = nullptr;
    return status;
  }
  *file = new LatchingWritableFile(name, *file, latch_);
  return status;
}

}  // namespace sochdb::storage
