// Helpers for the engine's own files (index snapshots): an atomic, durable replace written in
// pieces, a read-only mapping, checksums. LevelDB's files go through its Env in engine/storage;
// these do not.
#ifndef SOCHDB_ENGINE_COMMON_FILES_H_
#define SOCHDB_ENGINE_COMMON_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/common/byte_sink.h"

namespace sochdb {

// Writes a file that replaces `path` so that a crash leaves either the old file or the new one,
// never a mix: the bytes go to `path`.tmp as they are appended; Commit fsyncs it, renames it over
// `path` and fsyncs the directory. The first failure is latched (later appends are dropped) and
// returned by Commit as UNAVAILABLE with the system error. Destroyed without a successful
// Commit, the writer removes the temporary file and `path` is untouched.
class AtomicFileWriter final : public ByteSink {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);
  ~AtomicFileWriter() override;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void Append(std::string_view bytes) override;
  bool failed() const override { return !status_.ok(); }
  // The first failure so far (OK while none).
  const absl::Status& status() const { return status_; }
  // CRC-32 (as Crc32) of everything appended so far.
  uint32_t crc() const { return crc_; }
  // Bytes appended so far.
  uint64_t size() const { return size_; }
  absl::Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string temp, int fd);
  void Flush();

  const std::string path_;
  const std::string temp_;
  int fd_;
  absl::Status status_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
  std::string buffer_;  // small appends are gathered into writes of about kBufferBytes
  bool committed_ = false;
};

// Replaces `path` with `data` (one AtomicFileWriter).
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

// A file mapped read-only into memory: its bytes without a copy into the heap (the pages stay
// the kernel's page cache, which can drop them under memory pressure). Meant for files that are
// replaced by rename, never rewritten in place: truncating a mapped file makes reading the lost
// part fault.
class MappedFile {
 public:
  // NOT_FOUND when `path` does not exist; UNAVAILABLE on other errors.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_;  // null for an empty file
  size_t size_;
};

// Removes `path`; OK when it did not exist.
absl::Status RemoveFile(const std::string& path);

// The paths (dir + "/" + name) of the files in `dir` named `prefix` + 16 hex digits + ".snap"
// that `keep` does not contain: snapshot files a drop left behind when it stopped part-way;
// and every such name + ".tmp": a snapshot a crash cut short (call it only when no snapshot
// is being written, i.e. at start-up). An unreadable directory yields what could be listed.
std::vector<std::string> StraySnapshotFiles(const std::string& dir, std::string_view prefix,
                                            const std::vector<std::string>& keep);

// CRC-32 (zlib's polynomial) of `data`, for checksums of files we write. `crc` continues an
// earlier value: Crc32(b, Crc32(a)) == Crc32(a + b).
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_FILES_H_
