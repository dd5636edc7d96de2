// Implementation of the storage test doubles declared in test_env.h.
#include "tests/engine/storage/test_env.h"

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace sochdb::storage::testing {
namespace {

// Forwards to the real file unless the env injects a failure for this call.
class FaultyWritableFile final : public leveldb::WritableFile {
 public:
  FaultyWritableFile(FaultInjectionEnv* env, std::string name, leveldb::WritableFile* base)
      : env_(env), name_(std::move(name)), base_(base) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    leveldb::Status status = env_->BeforeAppend(name_);
    return status.ok() ? base_->Append(data) : status;
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override { return base_->Flush(); }
  leveldb::Status Sync() override {
    leveldb::Status status = env_->BeforeSync(name_);
    return status.ok() ? base_->Sync() : status;
  }

 private:
  FaultInjectionEnv* const env_;
  const std::string name_;
  std::unique_ptr<leveldb::WritableFile> base_;
};

}  // namespace

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& name,
                                                   leveldb::WritableFile** file) {
  leveldb::WritableFile* base = nullptr;
  leveldb::Status status = target()->NewWritableFile(name, &base);
  *file = status.ok() ? new FaultyWritableFile(this, name, base) : nullptr;
  return status;
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& name,
                                                     leveldb::WritableFile** file) {
  leveldb::WritableFile* base = nullptr;
  leveldb::Status status = target()->NewAppendableFile(name, &base);
  *file = status.ok() ? new FaultyWritableFile(this, name, base) : nullptr;
  return status;
}

void FaultInjectionEnv::WatchAllFiles(bool all) {
  std::lock_guard<std::mutex> lock(mu_);
  watch_all_ = all;
}

void FaultInjectionEnv::FailAppendsAfter(int64_t n, Persistence persistence) {
  std::lock_guard<std::mutex> lock(mu_);
  append_plan_ = {n, persistence};
}

void FaultInjectionEnv::FailSyncsAfter(int64_t n, Persistence persistence) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_plan_ = {n, persistence};
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  append_plan_ = {};
  sync_plan_ = {};
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

leveldb::Status FaultInjectionEnv::BeforeAppend(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Watched(name)) return leveldb::Status::OK();
  ++appends_;
  return Check(&append_plan_, "append", name);
}

leveldb::Status FaultInjectionEnv::BeforeSync(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Watched(name)) return leveldb::Status::OK();
  ++syncs_;
  return Check(&sync_plan_, "sync", name);
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

}  // namespace sochdb::storage::testing
