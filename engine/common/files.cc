#include "engine/common/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace sochdb {
namespace {

absl::Status SystemError(const char* what, const std::string& path, int error) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SystemError("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return SystemError("cannot fsync directory", dir, error);
  return absl::OkStatus();
}

// Appends smaller than this are gathered into one write; larger ones are written as they come.
constexpr size_t kBufferBytes = size_t{1} << 20;
// AtomicFileWriter writes `path` + this, then renames it over `path`.
constexpr std::string_view kTempSuffix = ".tmp";

}  // namespace

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::string& path) {
  std::string temp = path;
  temp.append(kTempSuffix);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return SystemError("cannot create", temp, errno);
  return std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter(path, std::move(temp), fd));
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string temp, int fd)
    : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFileWriter::Append(std::string_view bytes) {
  if (!status_.ok()) return;
  crc_ = Crc32(bytes, crc_);
  size_ += bytes.size();
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    buffer_.append(bytes);
    return;
  }
  Flush();
  if (bytes.size() < kBufferBytes) {
    buffer_.append(bytes);
  } else if (status_.ok()) {
    status_ = WriteAll(fd_, bytes, temp_);
  }
}

void AtomicFileWriter::Flush() {
  if (status_.ok() && !buffer_.empty()) status_ = WriteAll(fd_, buffer_, temp_);
  buffer_.clear();
}

absl::Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " was already committed"));
  Flush();
  if (status_.ok() && ::fsync(fd_) != 0) status_ = SystemError("cannot fsync", temp_, errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && status_.ok()) status_ = SystemError("cannot close", temp_, errno);
  if (status_.ok() && ::rename(temp_.c_str(), path_.c_str()) != 0) {
    status_ = SystemError("cannot rename onto", path_, errno);
  }
  if (!status_.ok()) return status_;  // the destructor removes the temporary file
  committed_ = true;
  return SyncDirectory(DirectoryOf(path_));
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> file, AtomicFileWriter::Create(path));
  file->Append(data);
  return file->Commit();
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    return SystemError("cannot open", path, errno);
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return SystemError("cannot stat", path, error);
  }
  const size_t size = static_cast<size_t>(info.st_size);
  void* data = nullptr;
  if (size > 0) {
    // Populated up front: the reader goes through every byte (checksum) right away, and one
    // call maps the whole file instead of a fault per page.
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (data == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return SystemError("cannot map", path, error);
    }
  }
  ::close(fd);  // the mapping keeps the file
  return std::unique_ptr<MappedFile>(new MappedFile(data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

absl::Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return SystemError("cannot remove", path, errno);
  }
  return absl::OkStatus();
}

std::vector<std::string> StraySnapshotFiles(const std::string& dir, std::string_view prefix,
                                            const std::vector<std::string>& keep) {
  constexpr std::string_view kSuffix = ".snap";
  const size_t named = prefix.size() + 16 + kSuffix.size();
  std::vector<std::string> stray;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    const bool temp = file.size() == named + kTempSuffix.size() &&
                      file.compare(named, kTempSuffix.size(), kTempSuffix) == 0;
    if ((file.size() != named && !temp) || file.rfind(prefix, 0) != 0 ||
        file.compare(named - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    std::string path = absl::StrCat(dir, "/", file);
    if (temp || std::find(keep.begin(), keep.end(), path) == keep.end()) {
      stray.push_back(std::move(path));
    }
  }
  return stray;
}

uint32_t Crc32(std::string_view data, uint32_t start) {
  uLong crc = start;
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace sochdb
