// Implementation of fault_latch.h: the latch itself, the WritableFile wrapper that sets it and
// seals the file, and the background thread's wait for file descriptors.
#include "engine/storage/fault_latch.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/storage/errors.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {
namespace {

// Set while this thread runs work LatchingEnv::Schedule handed to the base Env.
thread_local bool tls_in_background = false;

struct BackgroundJob {
  void (*function)(void*);
  void* arg;
};

void RunBackgroundJob(void* raw) {
  const std::unique_ptr<BackgroundJob> job(static_cast<BackgroundJob*>(raw));
  tls_in_background = true;
  job->function(job->arg);
  tls_in_background = false;
}

// Forwards to the real file; any failure latches before LevelDB sees the status, and seals the
// file: later appends, flushes and syncs return the first error without reaching it.
// LevelDB uses one file from one thread at a time (under its own mutex), so no lock here.
class LatchingWritableFile final : public leveldb::WritableFile {
 public:
  LatchingWritableFile(std::string name, leveldb::WritableFile* base, FaultLatch* latch,
                       DescriptorWait* wait)
      : name_(std::move(name)), base_(base), latch_(latch), wait_(wait) {}

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
  // PosixWritableFile syncs a MANIFEST's directory first, opening it; when that open finds no
  // descriptor, Sync returns before touching the file, so calling it again is safe.
  leveldb::Status Sync() override {
    if (!first_error_.ok()) return first_error_;
    return Check("sync of", wait_->Retry(name_, [this] { return base_->Sync(); }));
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
  DescriptorWait* const wait_;
  leveldb::Status first_error_;  // OK until a call fails; then the file is sealed
};

// PosixEnv keeps a descriptor open for only so many table files (or maps them); the others are
// reopened on every read, which can then fail for want of a descriptor. Thread-safe, as LevelDB
// requires: it only forwards.
class WaitingRandomAccessFile final : public leveldb::RandomAccessFile {
 public:
  WaitingRandomAccessFile(std::string name, leveldb::RandomAccessFile* base, DescriptorWait* wait)
      : name_(std::move(name)), base_(base), wait_(wait) {}

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    return wait_->Retry(name_, [&] { return base_->Read(offset, n, result, scratch); });
  }

 private:
  const std::string name_;
  const std::unique_ptr<leveldb::RandomAccessFile> base_;
  DescriptorWait* const wait_;
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

leveldb::Status DescriptorWait::RetryAfter(std::string_view what, leveldb::Status status,
                                           const std::function<leveldb::Status()>& call) {
  if (!tls_in_background || !IsOutOfFileDescriptors(status)) return status;
  spdlog::warn("storage: {}; background work waits for a file descriptor ({})", status.ToString(),
               what);
  absl::Duration backoff = absl::Milliseconds(10);
  int attempts = 1;
  while (IsOutOfFileDescriptors(status)) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopped_), backoff)) break;
    }
    backoff = std::min(backoff * 2, absl::Seconds(1));
    status = call();
    ++attempts;
  }
  if (status.ok()) {
    spdlog::info("storage: {} succeeded after {} attempts (file descriptors were exhausted)", what,
                 attempts);
  }
  return status;
}

void DescriptorWait::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

leveldb::Status LatchingEnv::NewWritableFile(const std::string& name,
                                             leveldb::WritableFile** file) {
  return Wrap(name, wait_.Retry(name, [&] { return target()->NewWritableFile(name, file); }), file);
}

leveldb::Status LatchingEnv::NewAppendableFile(const std::string& name,
                                               leveldb::WritableFile** file) {
  return Wrap(name, wait_.Retry(name, [&] { return target()->NewAppendableFile(name, file); }),
              file);
}

leveldb::Status LatchingEnv::NewSequentialFile(const std::string& name,
                                               leveldb::SequentialFile** file) {
  return wait_.Retry(name, [&] { return target()->NewSequentialFile(name, file); });
}

leveldb::Status LatchingEnv::NewRandomAccessFile(const std::string& name,
                                                 leveldb::RandomAccessFile** file) {
  leveldb::Status status =
      wait_.Retry(name, [&] { return target()->NewRandomAccessFile(name, file); });
  if (status.ok()) *file = new WaitingRandomAccessFile(name, *file, &wait_);
  return status;
}

void LatchingEnv::StartRecording() {
  absl::MutexLock lock(&created_mu_);
  recording_ = true;
  created_.clear();
}

std::vector<std::string> LatchingEnv::StopRecording() {
  absl::MutexLock lock(&created_mu_);
  recording_ = false;
  return std::exchange(created_, {});
}

void LatchingEnv::Schedule(void (*function)(void*), void* arg) {
  target()->Schedule(&RunBackgroundJob, new BackgroundJob{function, arg});
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
    // For want of a descriptor nothing was created, so nothing can be torn: only the caller's
    // write fails, and it may be retried. Any other failure latches.
    if (!IsOutOfFileDescriptors(status)) latch_->Latch(absl::StrCat("creation of ", name), status);
    *file = nullptr;
    return status;
  }
  *file = new LatchingWritableFile(name, *file, latch_, &wait_);
  absl::MutexLock lock(&created_mu_);
  if (recording_) created_.push_back(name);
  return status;
}

}  // namespace sochdb::storage
