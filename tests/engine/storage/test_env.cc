// Implementation of the storage test doubles declared in test_env.h.
#include "tests/engine/storage/test_env.h"

#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace sochdb::storage::testing {
namespace {

// Forwards to the real file unless the env injects a failure for this call.
class FaultyWritableFile final : public leveldb::WritableFile {
 public:
  FaultyWritableFile(FaultInjectionEnv* env, std::string name, leveldb::WritableFile* base)
      : env_(env), name_(std::move(name)), base_(base) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    return env_->Append(name_, data, base_.get());
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override { return base_->Flush(); }
  leveldb::Status Sync() override { return env_->Sync(name_, base_.get()); }

 private:
  FaultInjectionEnv* const env_;
  const std::string name_;
  std::unique_ptr<leveldb::WritableFile> base_;
};

}  // namespace

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& name,
                                                   leveldb::WritableFile** file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string& suffix = failing_create_suffix_;
    if (!suffix.empty() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      ++failures_;
      *file = nullptr;
      return leveldb::Status::IOError(name, create_failure_ == CreateFailure::kOutOfDescriptors
                                                ? std::strerror(EMFILE)
                                                : "injected create failure");
    }
  }
  return Wrap(name, target()->NewWritableFile(name, file), file);
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& name,
                                                     leveldb::WritableFile** file) {
  return Wrap(name, target()->NewAppendableFile(name, file), file);
}

leveldb::Status FaultInjectionEnv::Wrap(const std::string& name, leveldb::Status status,
                                        leveldb::WritableFile** file) {
  *file = status.ok() ? new FaultyWritableFile(this, name, *file) : nullptr;
  return status;
}

void FaultInjectionEnv::WatchAllFiles(bool all) {
  std::lock_guard<std::mutex> lock(mu_);
  watch_all_ = all;
}

void FaultInjectionEnv::FailAppendsAfter(int64_t n, Persistence persistence,
                                         AppendFailure failure) {
  std::lock_guard<std::mutex> lock(mu_);
  append_plan_ = {n, persistence};
  append_failure_ = failure;
}

void FaultInjectionEnv::FailSyncsAfter(int64_t n, Persistence persistence) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_plan_ = {n, persistence};
}

void FaultInjectionEnv::FailNewWritableFilesEndingWith(std::string suffix,
                                                       CreateFailure failure) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_create_suffix_ = std::move(suffix);
  create_failure_ = failure;
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  append_plan_ = {};
  append_failure_ = AppendFailure::kNothingWritten;
  sync_plan_ = {};
  failing_create_suffix_.clear();
}

void FaultInjectionEnv::SetAppendHook(AppendHook hook) {
  std::lock_guard<std::mutex> lock(mu_);
  append_hook_ = hook ? std::make_shared<const AppendHook>(std::move(hook)) : nullptr;
}

int64_t FaultInjectionEnv::appends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appends_;
}

int64_t FaultInjectionEnv::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

int64_t FaultInjectionEnv::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

bool FaultInjectionEnv::Watched(const std::string& name) const {
  constexpr std::string_view kLogSuffix = ".log";
  return watch_all_ ||
         (name.size() >= kLogSuffix.size() &&
          name.compare(name.size() - kLogSuffix.size(), kLogSuffix.size(), kLogSuffix) == 0);
}

leveldb::Status FaultInjectionEnv::Check(FaultPlan* plan, const char* operation,
                                         const std::string& name) {
  if (plan->successes_left < 0) return leveldb::Status::OK();
  if (plan->successes_left > 0) {
    --plan->successes_left;
    return leveldb::Status::OK();
  }
  ++failures_;
  if (plan->persistence == Persistence::kTransient) *plan = {};
  return leveldb::Status::IOError(name, std::string("injected ") + operation + " failure");
}

leveldb::Status FaultInjectionEnv::Append(const std::string& name, const leveldb::Slice& data,
                                          leveldb::WritableFile* base) {
  leveldb::Status status;
  AppendFailure failure = AppendFailure::kNothingWritten;
  std::shared_ptr<const AppendHook> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Watched(name)) return base->Append(data);
    ++appends_;
    status = Check(&append_plan_, "append", name);
    failure = append_failure_;
    hook = append_hook_;
  }
  if (status.ok()) {
    status = base->Append(data);
  } else if (failure == AppendFailure::kTorn) {
    // The torn half is flushed so that it reaches the file like a short write(2) would.
    if (base->Append(leveldb::Slice(data.data(), data.size() / 2)).ok()) base->Flush();
  }
  if (hook != nullptr) (*hook)(!status.ok());
  return status;
}

leveldb::Status FaultInjectionEnv::Sync(const std::string& name, leveldb::WritableFile* base) {
  leveldb::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Watched(name)) {
      ++syncs_;
      status = Check(&sync_plan_, "sync", name);
    }
  }
  return status.ok() ? base->Sync() : status;
}

std::string FreshTestDir(std::string_view name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::filesystem::path dir = std::filesystem::path(root != nullptr ? root : "/tmp") /
                              std::filesystem::path(std::string(name));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::filesystem::create_directories(dir);
  return dir.string();
}

FileSizeLimit::FileSizeLimit(uint64_t bytes) {
  previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit;
  ::getrlimit(RLIMIT_FSIZE, &limit);
  previous_soft_limit_ = limit.rlim_cur;
  limit.rlim_cur = bytes;
  ::setrlimit(RLIMIT_FSIZE, &limit);
}

FileSizeLimit::~FileSizeLimit() {
  struct rlimit limit;
  ::getrlimit(RLIMIT_FSIZE, &limit);
  limit.rlim_cur = previous_soft_limit_;
  ::setrlimit(RLIMIT_FSIZE, &limit);
  std::signal(SIGXFSZ, previous_handler_);
}

bool OthersRunWhileFirstAppendHeld(FaultInjectionEnv& env, const std::function<void()>& write,
                                   const std::function<void()>& others) {
  absl::Notification in_write, others_done;
  bool others_first = false;
  env.SetAppendHook([&](bool) {
    if (in_write.HasBeenNotified()) return;
    in_write.Notify();
    others_first = others_done.WaitForNotificationWithTimeout(absl::Seconds(20));
  });
  std::thread writer(write);
  in_write.WaitForNotification();
  env.SetAppendHook(nullptr);
  std::thread other([&] {
    others();
    others_done.Notify();
  });
  other.join();
  writer.join();
  return others_first;
}

}  // namespace sochdb::storage::testing
