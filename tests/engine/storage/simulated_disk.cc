// Implementation of simulated_disk.h: the disk's state and fault plan, and its two faces.
#include "tests/engine/storage/simulated_disk.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sochdb::storage::testing {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string NameIn(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

leveldb::Status EnvError(const std::string& path, const std::string& why, bool missing = false) {
  if (why.empty()) return leveldb::Status::OK();
  return missing ? leveldb::Status::NotFound(path, why) : leveldb::Status::IOError(path, why);
}

absl::Status FilesError(const std::string& what, const std::string& path, const std::string& why) {
  if (why.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", why));
}

class DiscardLogger final : public leveldb::Logger {
 public:
  void Logv(const char*, std::va_list) override {}
};

class SimLock final : public leveldb::FileLock {
 public:
  explicit SimLock(std::string path) : path(std::move(path)) {}
  const std::string path;
};

}  // namespace

std::string_view DiskOpName(DiskOp op) {
  switch (op) {
    case DiskOp::kCreate:
      return "create";
    case DiskOp::kAppend:
      return "append";
    case DiskOp::kFlush:
      return "flush";
    case DiskOp::kSync:
      return "sync";
    case DiskOp::kClose:
      return "close";
    case DiskOp::kRename:
      return "rename";
    case DiskOp::kRemove:
      return "remove";
    case DiskOp::kSyncDir:
      return "syncdir";
    case DiskOp::kMakeDir:
      return "mkdir";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// The disk's state

std::string SimulatedDisk::Admit(DiskOp op, const std::string& path, bool via_env) {
  Call call{static_cast<int64_t>(trace_.size()) + 1, op, path, via_env};
  trace_.push_back(call);
  std::string why;
  if (!powered_) {
    why = "the power is off";
  } else if (cut_at_ >= 0 && call.number >= cut_at_) {
    powered_ = false;
    why = "power cut";
  } else if (failing_ || (fail_at_ >= 0 && call.number >= fail_at_)) {
    failing_ = persistence_ == Persistence::kPersistent;
    fail_at_ = -1;
    why = absl::StrCat("injected ", std::string(DiskOpName(op)), " failure");
  }
  if (!why.empty() && !first_failure_.has_value()) first_failure_ = call;
  return why;
}

void SimulatedDisk::SyncDirLocked(const std::string& dir) {
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (Parent(it->first) == dir && files_.count(it->first) == 0) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [path, inode] : files_) {
    if (Parent(path) == dir) durable_[path] = inode;
  }
}

bool SimulatedDisk::DirExistsLocked(const std::string& dir) const { return dirs_.count(dir) > 0; }

std::string SimulatedDisk::Create(const std::string& path, bool append, bool via_env,
                                  std::shared_ptr<Inode>* inode) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kCreate, path, via_env);
  if (!why.empty()) return why;
  if (!DirExistsLocked(Parent(path))) return "No such file or directory";
  auto it = files_.find(path);
  if (append && it != files_.end()) {
    *inode = it->second;
  } else {
    // O_TRUNC modelled as a new file under the old name: until the directory is synced, a
    // power cut brings the old one back.
    *inode = std::make_shared<Inode>();
    files_[path] = *inode;
  }
  return "";
}

std::string SimulatedDisk::Append(const std::string& path, Inode* inode, std::string_view data,
                                  bool via_env) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool powered_before = powered_;
  std::string why = Admit(DiskOp::kAppend, path, via_env);
  if (why.empty()) {
    inode->data.append(data);
  } else if (torn_ && powered_before && powered_) {
    inode->data.append(data.substr(0, data.size() / 2));
  }
  return why;
}

std::string SimulatedDisk::Sync(const std::string& path, const std::shared_ptr<Inode>& inode,
                                bool via_env) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kSync, path, via_env);
  if (!why.empty()) return why;
  inode->synced = inode->data.size();
  // A file whose own creation is not durable yet takes its directory with it (file comment).
  for (const auto& [name, current] : files_) {
    if (current != inode) continue;
    auto durable = durable_.find(name);
    if (durable == durable_.end() || durable->second != inode) SyncDirLocked(Parent(name));
    break;
  }
  return "";
}

std::string SimulatedDisk::Simple(DiskOp op, const std::string& path, bool via_env) {
  std::lock_guard<std::mutex> lock(mu_);
  return Admit(op, path, via_env);
}

std::string SimulatedDisk::Rename(const std::string& from, const std::string& to, bool via_env,
                                  bool* missing) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kRename, to, via_env);
  if (!why.empty()) return why;
  auto it = files_.find(from);
  if (it == files_.end() || !DirExistsLocked(Parent(to))) {
    *missing = true;
    return "No such file or directory";
  }
  std::shared_ptr<Inode> inode = it->second;
  files_.erase(it);
  files_[to] = std::move(inode);
  return "";
}

std::string SimulatedDisk::Remove(const std::string& path, bool via_env, bool* missing) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kRemove, path, via_env);
  if (!why.empty()) return why;
  if (files_.erase(path) == 0) {
    *missing = true;
    return "No such file or directory";
  }
  return "";
}

std::string SimulatedDisk::SyncDir(const std::string& dir, bool via_env) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kSyncDir, dir, via_env);
  if (!why.empty()) return why;
  if (!DirExistsLocked(dir)) return "No such file or directory";
  SyncDirLocked(dir);
  return "";
}

std::string SimulatedDisk::MakeDirs(const std::string& dir, bool via_env) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string why = Admit(DiskOp::kMakeDir, dir, via_env);
  if (!why.empty()) return why;
  for (std::string d = dir; !d.empty() && d != "." && d != "/"; d = Parent(d)) {
    if (files_.count(d) > 0) return "Not a directory";
    dirs_.insert(d);
  }
  return "";
}

std::shared_ptr<SimulatedDisk::Inode> SimulatedDisk::Find(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second;
}

std::vector<std::string> SimulatedDisk::Children(const std::string& dir, bool* exists) const {
  std::lock_guard<std::mutex> lock(mu_);
  *exists = DirExistsLocked(dir);
  std::vector<std::string> names;
  for (const auto& [path, inode] : files_) {
    if (Parent(path) == dir) names.push_back(NameIn(path));
  }
  for (const std::string& d : dirs_) {
    if (Parent(d) == dir) names.push_back(NameIn(d));
  }
  return names;
}

bool SimulatedDisk::Lock(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!DirExistsLocked(Parent(path))) return false;
  if (files_.count(path) == 0) {
    auto inode = std::make_shared<Inode>();
    files_[path] = inode;
  }
  return locks_.insert(path).second;
}

void SimulatedDisk::Unlock(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  locks_.erase(path);
}

// ---------------------------------------------------------------------------------------------
// The leveldb::Env face

// A writable file of either face; each face wraps it in its own interface.
class SimulatedDisk::SimWritable {
 public:
  SimWritable(SimulatedDisk* disk, std::string path, std::shared_ptr<Inode> inode, bool via_env)
      : disk_(disk), path_(std::move(path)), inode_(std::move(inode)), via_env_(via_env) {}
  std::string Append(std::string_view data) {
    return disk_->Append(path_, inode_.get(), data, via_env_);
  }
  std::string Flush() { return disk_->Simple(DiskOp::kFlush, path_, via_env_); }
  std::string Sync() { return disk_->Sync(path_, inode_, via_env_); }
  std::string Close() { return disk_->Simple(DiskOp::kClose, path_, via_env_); }
  const std::string& path() const { return path_; }

 private:
  SimulatedDisk* const disk_;
  const std::string path_;
  const std::shared_ptr<Inode> inode_;
  const bool via_env_;
};

namespace {

class EnvWritableFile final : public leveldb::WritableFile {
 public:
  explicit EnvWritableFile(std::unique_ptr<SimulatedDisk::SimWritable> file)
      : file_(std::move(file)) {}
  leveldb::Status Append(const leveldb::Slice& data) override {
    return EnvError(file_->path(), file_->Append(std::string_view(data.data(), data.size())));
  }
  leveldb::Status Close() override { return EnvError(file_->path(), file_->Close()); }
  leveldb::Status Flush() override { return EnvError(file_->path(), file_->Flush()); }
  leveldb::Status Sync() override { return EnvError(file_->path(), file_->Sync()); }

 private:
  std::unique_ptr<SimulatedDisk::SimWritable> file_;
};

// Reads see the file as it is at each call (LevelDB reads logs and tables it no longer writes).
class EnvReadableFile final : public leveldb::SequentialFile, public leveldb::RandomAccessFile {
 public:
  using Reader = std::function<std::string(uint64_t offset, size_t n)>;
  explicit EnvReadableFile(Reader reader) : reader_(std::move(reader)) {}

  leveldb::Status Read(size_t n, leveldb::Slice* result, char* scratch) override {
    const std::string bytes = reader_(position_, n);
    std::memcpy(scratch, bytes.data(), bytes.size());
    position_ += bytes.size();
    *result = leveldb::Slice(scratch, bytes.size());
    return leveldb::Status::OK();
  }
  leveldb::Status Skip(uint64_t n) override {
    position_ += n;
    return leveldb::Status::OK();
  }
  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    const std::string bytes = reader_(offset, n);
    std::memcpy(scratch, bytes.data(), bytes.size());
    *result = leveldb::Slice(scratch, bytes.size());
    return leveldb::Status::OK();
  }

 private:
  const Reader reader_;
  uint64_t position_ = 0;
};

}  // namespace

class SimulatedDisk::EnvFace final : public leveldb::EnvWrapper {
 public:
  explicit EnvFace(SimulatedDisk* disk)
      : leveldb::EnvWrapper(leveldb::Env::Default()), disk_(disk) {}

  leveldb::Status NewSequentialFile(const std::string& path,
                                    leveldb::SequentialFile** file) override {
    return NewReadable(path, [file](EnvReadableFile* f) { *file = f; });
  }
  leveldb::Status NewRandomAccessFile(const std::string& path,
                                      leveldb::RandomAccessFile** file) override {
    return NewReadable(path, [file](EnvReadableFile* f) { *file = f; });
  }
  leveldb::Status NewWritableFile(const std::string& path, leveldb::WritableFile** file) override {
    return NewWritable(path, /*append=*/false, file);
  }
  leveldb::Status NewAppendableFile(const std::string& path,
                                    leveldb::WritableFile** file) override {
    return NewWritable(path, /*append=*/true, file);
  }
  bool FileExists(const std::string& path) override {
    bool is_dir = false;
    disk_->Children(path, &is_dir);
    return is_dir || disk_->Find(path) != nullptr;
  }
  leveldb::Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    bool exists = false;
    *names = disk_->Children(dir, &exists);
    return exists ? leveldb::Status::OK() : EnvError(dir, "No such file or directory", true);
  }
  leveldb::Status RemoveFile(const std::string& path) override {
    bool missing = false;
    return EnvError(path, disk_->Remove(path, /*via_env=*/true, &missing), missing);
  }
  leveldb::Status CreateDir(const std::string& dir) override {
    return EnvError(dir, disk_->MakeDirs(dir, /*via_env=*/true));
  }
  leveldb::Status RemoveDir(const std::string& dir) override { return leveldb::Status::OK(); }
  leveldb::Status GetFileSize(const std::string& path, uint64_t* size) override {
    std::shared_ptr<Inode> inode = disk_->Find(path);
    if (inode == nullptr) return EnvError(path, "No such file or directory", true);
    std::lock_guard<std::mutex> lock(disk_->mu_);
    *size = inode->data.size();
    return leveldb::Status::OK();
  }
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override {
    bool missing = false;
    return EnvError(from, disk_->Rename(from, to, /*via_env=*/true, &missing), missing);
  }
  leveldb::Status LockFile(const std::string& path, leveldb::FileLock** lock) override {
    *lock = nullptr;
    if (!disk_->Lock(path)) return leveldb::Status::IOError("lock " + path, "already held");
    *lock = new SimLock(path);
    return leveldb::Status::OK();
  }
  leveldb::Status UnlockFile(leveldb::FileLock* lock) override {
    auto* held = static_cast<SimLock*>(lock);
    disk_->Unlock(held->path);
    delete held;
    return leveldb::Status::OK();
  }
  leveldb::Status NewLogger(const std::string& path, leveldb::Logger** logger) override {
    *logger = new DiscardLogger();
    return leveldb::Status::OK();
  }

 private:
  template <typename Assign>
  leveldb::Status NewReadable(const std::string& path, Assign assign) {
    std::shared_ptr<Inode> inode = disk_->Find(path);
    if (inode == nullptr) return EnvError(path, "No such file or directory", true);
    SimulatedDisk* disk = disk_;
    assign(new EnvReadableFile([disk, inode](uint64_t offset, size_t n) {
      std::lock_guard<std::mutex> lock(disk->mu_);
      if (offset >= inode->data.size()) return std::string();
      return inode->data.substr(offset, n);
    }));
    return leveldb::Status::OK();
  }

  leveldb::Status NewWritable(const std::string& path, bool append, leveldb::WritableFile** file) {
    *file = nullptr;
    std::shared_ptr<Inode> inode;
    const std::string why = disk_->Create(path, append, /*via_env=*/true, &inode);
    if (!why.empty()) return EnvError(path, why);
    *file = new EnvWritableFile(
        std::make_unique<SimWritable>(disk_, path, std::move(inode), /*via_env=*/true));
    return leveldb::Status::OK();
  }

  SimulatedDisk* const disk_;
};

// ---------------------------------------------------------------------------------------------
// The FileSystem face

namespace {

class FilesWritableFile final : public WritableFile {
 public:
  explicit FilesWritableFile(std::unique_ptr<SimulatedDisk::SimWritable> file)
      : file_(std::move(file)) {}
  absl::Status Append(std::string_view data) override {
    return FilesError("cannot write", file_->path(), file_->Append(data));
  }
  absl::Status Sync() override { return FilesError("cannot fsync", file_->path(), file_->Sync()); }
  absl::Status Close() override {
    return FilesError("cannot close", file_->path(), file_->Close());
  }

 private:
  std::unique_ptr<SimulatedDisk::SimWritable> file_;
};

class CopiedFile final : public MappedFile {
 public:
  explicit CopiedFile(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string_view bytes() const override { return bytes_; }

 private:
  const std::string bytes_;
};

}  // namespace

class SimulatedDisk::FilesFace final : public FileSystem {
 public:
  explicit FilesFace(SimulatedDisk* disk) : disk_(disk) {}

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    std::shared_ptr<Inode> inode;
    const std::string why = disk_->Create(path, /*append=*/false, /*via_env=*/false, &inode);
    if (!why.empty()) return FilesError("cannot create", path, why);
    return std::make_unique<FilesWritableFile>(
        std::make_unique<SimWritable>(disk_, path, std::move(inode), /*via_env=*/false));
  }
  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override {
    std::shared_ptr<Inode> inode = disk_->Find(path);
    if (inode == nullptr) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    std::lock_guard<std::mutex> lock(disk_->mu_);
    return std::make_unique<CopiedFile>(inode->data);
  }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    bool missing = false;
    return FilesError("cannot rename onto", to, disk_->Rename(from, to, false, &missing));
  }
  absl::Status RemoveFile(const std::string& path) override {
    bool missing = false;
    const std::string why = disk_->Remove(path, /*via_env=*/false, &missing);
    return missing ? absl::OkStatus() : FilesError("cannot remove", path, why);
  }
  absl::Status SyncDir(const std::string& dir) override {
    return FilesError("cannot fsync directory", dir, disk_->SyncDir(dir, /*via_env=*/false));
  }
  absl::Status CreateDirs(const std::string& dir) override {
    return FilesError("cannot create directory", dir, disk_->MakeDirs(dir, /*via_env=*/false));
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    bool exists = false;
    std::vector<std::string> names = disk_->Children(dir, &exists);
    if (!exists) return absl::UnavailableError(absl::StrCat("cannot list ", dir));
    return names;
  }

 private:
  SimulatedDisk* const disk_;
};

// ---------------------------------------------------------------------------------------------
// SimulatedDisk

SimulatedDisk::SimulatedDisk()
    : env_(std::make_unique<EnvFace>(this)), files_face_(std::make_unique<FilesFace>(this)) {}

SimulatedDisk::~SimulatedDisk() = default;

leveldb::Env* SimulatedDisk::env() { return env_.get(); }
FileSystem* SimulatedDisk::files() { return files_face_.get(); }

void SimulatedDisk::FailAfter(int64_t n, Persistence persistence, bool torn) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_at_ = static_cast<int64_t>(trace_.size()) + n + 1;
  persistence_ = persistence;
  torn_ = torn;
  failing_ = false;
}

void SimulatedDisk::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_at_ = -1;
  failing_ = false;
  torn_ = false;
  first_failure_.reset();
}

void SimulatedDisk::PowerCutAfter(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  cut_at_ = static_cast<int64_t>(trace_.size()) + n + 1;
}

void SimulatedDisk::PowerCut() {
  std::lock_guard<std::mutex> lock(mu_);
  powered_ = false;
}

bool SimulatedDisk::powered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return powered_;
}

void SimulatedDisk::Reboot() {
  std::lock_guard<std::mutex> lock(mu_);
  files_ = durable_;
  for (auto& [path, inode] : files_) inode->data.resize(inode->synced);
  locks_.clear();
  cut_at_ = -1;
  powered_ = true;
  fail_at_ = -1;
  failing_ = false;
  torn_ = false;
  first_failure_.reset();
}

int64_t SimulatedDisk::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(trace_.size());
}

std::vector<SimulatedDisk::Call> SimulatedDisk::trace() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trace_;
}

std::optional<SimulatedDisk::Call> SimulatedDisk::first_failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_failure_;
}

std::optional<std::string> SimulatedDisk::Contents(const std::string& path) const {
  std::shared_ptr<Inode> inode = Find(path);
  if (inode == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  return inode->data;
}

}  // namespace sochdb::storage::testing
