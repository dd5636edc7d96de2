// Helpers for the engine's own files (index snapshots): an atomic, durable replace written in
// pieces, the start-up sweep of snapshot files nothing names, checksums. Every file operation
// goes through a FileSystem (file_system.h), so that tests reach these with faults and power
// cuts; LevelDB's files go through its Env in engine/storage.
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
#include "engine/common/file_system.h"

namespace sochdb {

// Writes a file that replaces `path` so that a crash or a power cut leaves either the old file or
// the new one, never a mix: the bytes go to `path`.tmp as they are appended; Commit fsyncs it,
// renames it over `path` and fsyncs the directory. The first failure is latched (later appends
// are dropped) and returned by Commit as UNAVAILABLE with the system error. Destroyed without a
// successful Commit, the writer removes the temporary file and `path` is untouched.
class AtomicFileWriter final : public ByteSink {
 public:
  // `files` is not owned and must outlive the writer.
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(FileSystem* files,
                                                                  const std::string& path);
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
  AtomicFileWriter(FileSystem* files, std::string path, std::string temp,
                   std::unique_ptr<WritableFile> file);
  void Flush();

  FileSystem* const files_;
  const std::string path_;
  const std::string temp_;
  std::unique_ptr<WritableFile> file_;  // null once committed
  absl::Status status_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
  std::string buffer_;  // small appends are gathered into writes of about kBufferBytes
  bool committed_ = false;
};

// Replaces `path` with `data` (one AtomicFileWriter).
absl::Status WriteFileAtomically(FileSystem* files, const std::string& path, std::string_view data);

// The paths (dir + "/" + name) of the files in `dir` named `prefix` + 16 hex digits + ".snap"
// that `keep` does not contain: snapshot files a drop left behind when it stopped part-way;
// and every such name + ".tmp": a snapshot a crash cut short (call it only when no snapshot
// is being written, i.e. at start-up). An unreadable directory yields nothing.
std::vector<std::string> StraySnapshotFiles(FileSystem* files, const std::string& dir,
                                            std::string_view prefix,
                                            const std::vector<std::string>& keep);

// CRC-32 (zlib's polynomial) of `data`, for checksums of files we write. `crc` continues an
// earlier value: Crc32(b, Crc32(a)) == Crc32(a + b).
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_FILES_H_
