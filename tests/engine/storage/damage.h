// Helpers for tests that damage store files the way disks, operators and copies do: read and
// write whole files, flip a byte inside a known value, truncate, list a directory's contents to
// prove a refused start changed nothing; deterministic incompressible values (so a table stores
// them as they are and a test can find them).
#ifndef SOCHDB_TESTS_ENGINE_STORAGE_DAMAGE_H_
#define SOCHDB_TESTS_ENGINE_STORAGE_DAMAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sochdb::storage::testing {

// "value-<i, 3 digits>-" followed by 300 pseudo-random bytes fixed by `i` (snappy leaves them
// uncompressed, so they appear verbatim in logs and tables).
std::string NumberedValue(int i);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);

// Regular files directly in `dir`: name -> contents (empty when `dir` does not exist).
std::map<std::string, std::string> DirectoryContents(const std::string& dir);

// Names (not paths) of the files in `dir` whose names end with `suffix`, sorted.
std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix);
// The path of the first (sorted) file in `dir` ending with `suffix`; "" when none.
std::string FileNamed(const std::string& dir, const std::string& suffix);

// Inverts one byte of `path`, 5 bytes after the first occurrence of `marker`. False (and the
// file unchanged) when the marker is not in the file.
bool FlipByteAfter(const std::string& path, const std::string& marker);
// Inverts the byte at `offset` (which must be inside the file).
void FlipByteAt(const std::string& path, uint64_t offset);
// Cuts `path` to `size` bytes.
void TruncateFile(const std::string& path, uint64_t size);

}  // namespace sochdb::storage::testing

#endif  // SOCHDB_TESTS_ENGINE_STORAGE_DAMAGE_H_
