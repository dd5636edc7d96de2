// Whole-file helpers for the engine's own files (index snapshots): an atomic, durable replace and
// a checked read. LevelDB's files go through its Env in engine/storage; these do not.
#ifndef SOCHDB_ENGINE_COMMON_FILES_H_
#define SOCHDB_ENGINE_COMMON_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sochdb {

// Replaces `path` with `data` so that a crash leaves either the old file or the new one, never a
// mix: write `path`.tmp, fsync it, rename over `path`, fsync the directory. UNAVAILABLE (with
// the system error) when any step fails; the temporary file is removed then.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

// The contents of `path`. NOT_FOUND when it does not exist; UNAVAILABLE on read errors.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Removes `path`; OK when it did not exist.
absl::Status RemoveFile(const std::string& path);

// The paths (dir + "/" + name) of the files in `dir` named `prefix` + 16 hex digits + ".snap"
// that `keep` does not contain: snapshot files a drop left behind when it stopped part-way.
// An unreadable directory yields what could be listed.
std::vector<std::string> StraySnapshotFiles(const std::string& dir, std::string_view prefix,
                                            const std::vector<std::string>& keep);

// CRC-32 (zlib's polynomial) of `data`, for checksums of files we write.
uint32_t Crc32(std::string_view data);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_FILES_H_
