// Implementation of fault_latch.h: the latch itself and the WritableFile wrapper that sets it.
#include "engine/storage/fault_latch.h"

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {
namespace {

// What a client may learn about a storage failure: its kind, never LevelDB's text.
std::string KindOf(const leveldb::Status& status) {
  if (status.IsIOError()) {
    // PosixEnv formats errno's text; ENOSPC is the one operators most need to tell apart.
    if (absl::StrContains(status.ToString(), "No space left on device")) return "disk full";
    return "I/O error";
  }
  if (status.IsCorruption()) return "corruption";
  if (status.IsNotSupportedError()) return "not supported";
  return "error";
}

// Forwards to the real file; any failure latches before LevelDB sees the status.
class LatchingWritableFile final : public leveldb::WritableFile {
 public:
  LatchingWritableFile(std::string name, leveldb::WritableFile* base, FaultLatch* latch)
      : name_(std::move(name)), base_(base), latch_(latch) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    return Check("append to", base_->Append(data));
  }
  leveldb::Status Close() override { return Check("close of", base_->Close()); }
  leveldb::Status Flush() override { return Check("flush of", base_->Flush()); }
  leveldb::Status Sync() override { return Check("sync of", base_->Sync()); }

 private:
  leveldb::Status Check(const char* operation, leveldb::Status status) {
    if (!status.ok()) latch_->Latch(absl::StrCat(operation, " ", name_), status);
    return status;
  }

  const std::string name_;
  const std::unique_ptr<leveldb::WritableFile> base_;
  FaultLatch* const latch_;
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
