#include "engine/common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"

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

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return SystemError("cannot create", temp, errno);
  absl::Status status = WriteAll(fd, data, temp);
  if (status.ok() && ::fsync(fd) != 0) status = SystemError("cannot fsync", temp, errno);
  if (::close(fd) != 0 && status.ok()) status = SystemError("cannot close", temp, errno);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = SystemError("cannot rename onto", path, errno);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return SyncDirectory(DirectoryOf(path));
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    return SystemError("cannot open", path, errno);
  }
  // Sized from fstat, then read straight into place: no buffer copies and no regrowth, which
  // matters for snapshot files of hundreds of megabytes. A file that grows meanwhile is read on.
  std::string data;
  struct stat info;
  if (::fstat(fd, &info) == 0 && info.st_size > 0) data.resize(static_cast<size_t>(info.st_size));
  size_t used = 0;
  char tail[1 << 16];  // past the expected size: only a file that grew since fstat gets here
  for (;;) {
    const bool expected = used < data.size();
    char* into = expected ? data.data() + used : tail;
    const size_t room = expected ? std::min<size_t>(data.size() - used, 1 << 30) : sizeof(tail);
    const ssize_t n = ::read(fd, into, room);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return SystemError("cannot read", path, error);
    }
    if (!expected) data.append(tail, static_cast<size_t>(n));
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(used);
  return data;
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
  std::vector<std::string> stray;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string file = entry.path().filename().string();
    if (file.size() != prefix.size() + 16 + kSuffix.size() || file.rfind(prefix, 0) != 0 ||
        file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    std::string path = absl::StrCat(dir, "/", file);
    if (std::find(keep.begin(), keep.end(), path) == keep.end()) stray.push_back(std::move(path));
  }
  return stray;
}

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace sochdb
