// FileSystem: the seam through which the engine's own files (vector index and collection
// snapshots) reach the disk, as LevelDB's files reach it through the leveldb::Env in
// StoreOptions::env. FileSystem::Default() is the real (POSIX) file system; tests substitute one
// that fails the Nth call or drops what was never synced (a power cut), the same way for both.
// It is a project interface rather than an adapter over leveldb::Env because LevelDB's Env has
// no directory fsync (which an atomic rename needs to be durable) and no mapping of a file
// (which snapshot loading uses to avoid a heap copy), and only engine/storage may include
// LevelDB.
//
// Errors are UNAVAILABLE naming the operation, the path and the system's reason, except where a
// method says otherwise. Implementations are thread-safe; a WritableFile is used by one thread at
// a time.
#ifndef SOCHDB_ENGINE_COMMON_FILE_SYSTEM_H_
#define SOCHDB_ENGINE_COMMON_FILE_SYSTEM_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sochdb {

// A file open for appending. Destroying it closes it (without a sync).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fsync). Not the file's directory entry: see
  // FileSystem::SyncDir.
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

// A whole file's bytes, read-only, valid while this object lives (POSIX: a private mapping, so
// the pages stay the kernel's page cache). Meant for files that are replaced by rename, never
// rewritten in place: truncating a mapped file makes reading the lost part fault.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::string_view bytes() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The real file system. Never null, never destroyed.
  static FileSystem* Default();

  // Creates `path`, or truncates it when it exists, for appending. Its directory must exist.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // The bytes of `path`. NOT_FOUND when it does not exist.
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) = 0;
  // Renames `from` to `to`, atomically replacing `to` if it exists. Durable only once the
  // directory is synced.
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Removes `path`; OK when it does not exist. Durable only once the directory is synced.
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // Makes the creations, renames and removals in `dir` so far durable (fsync of the directory).
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Creates `dir` and its missing parents; OK when it exists.
  virtual absl::Status CreateDirs(const std::string& dir) = 0;
  // The names (not paths) of the entries of `dir`, in no particular order, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;
};

// The directory part of `path` ("." when it has none).
std::string DirectoryOf(const std::string& path);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_FILE_SYSTEM_H_
