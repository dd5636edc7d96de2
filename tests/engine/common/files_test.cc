// Tests of the engine's own file helpers: the atomic, streamed file writer (contents, checksum,
// failure part-way, abandonment), the CRC continuation, and read-only mappings.
#include "engine/common/files.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb {
namespace {

using ::sochdb::testing::RequireErrorContaining;
using ::sochdb::testing::ValueOrFail;

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Bytes that differ from position to position, so a misplaced piece shows.
std::string Pattern(size_t n, uint32_t seed) {
  std::string bytes(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

TEST_CASE("Crc32 is zlib's CRC-32 and continues across pieces") {
  CHECK(Crc32("123456789") == 0xCBF43926u);  // the standard check value
  CHECK(Crc32("") == 0u);
  const std::string a = Pattern(1000, 1), b = Pattern(777, 2);
  CHECK(Crc32(b, Crc32(a)) == Crc32(a + b));
}

TEST_CASE("AtomicFileWriter: pieces of any size land in order, with their checksum") {
  const std::string dir = storage::testing::FreshTestDir("files_writer");
  const std::string path = dir + "/out.snap";
  std::string expected;
  auto file = ValueOrFail(AtomicFileWriter::Create(FileSystem::Default(), path));
  // Small pieces (gathered), one just under and one over the buffer, and tiny ones between.
  for (size_t size : {size_t{1}, size_t{100}, size_t{(1 << 20) - 3}, size_t{7}, size_t{3 << 20},
                      size_t{0}, size_t{65536}}) {
    const std::string piece = Pattern(size, static_cast<uint32_t>(size));
    file->Append(piece);
    expected += piece;
  }
  CHECK(!std::filesystem::exists(path));  // nothing visible before the commit
  CHECK(file->crc() == Crc32(expected));
  CHECK(file->size() == expected.size());
  REQUIRE_OK(file->Commit());
  CHECK(Contents(path) == expected);
  CHECK(!std::filesystem::exists(path + ".tmp"));
  RequireErrorContaining(file->Commit(), absl::StatusCode::kFailedPrecondition,
                         "already committed");
}

TEST_CASE("AtomicFileWriter: abandoned or failed part-way, the old file stays whole") {
  const std::string dir = storage::testing::FreshTestDir("files_failure");
  const std::string path = dir + "/out.snap";
  REQUIRE_OK(WriteFileAtomically(FileSystem::Default(), path, "the old contents"));

  SECTION("destroyed without a commit") {
    {
      auto file = ValueOrFail(AtomicFileWriter::Create(FileSystem::Default(), path));
      file->Append(Pattern(5000, 3));
    }
    CHECK(Contents(path) == "the old contents");
    CHECK(!std::filesystem::exists(path + ".tmp"));
  }
  SECTION("a write fails part-way, as on a full disk") {
    auto file = ValueOrFail(AtomicFileWriter::Create(FileSystem::Default(), path));
    {
      storage::testing::FileSizeLimit limit(1 << 20);
      file->Append(Pattern(3 << 20, 4));  // written through: fails at the limit
      CHECK(file->failed());
      file->Append("more");  // dropped: the failure is latched
      RequireErrorContaining(file->Commit(), absl::StatusCode::kUnavailable, "cannot write");
    }
    file.reset();
    CHECK(Contents(path) == "the old contents");
    CHECK(!std::filesystem::exists(path + ".tmp"));
  }
  SECTION("the directory does not exist") {
    RequireErrorContaining(
        AtomicFileWriter::Create(FileSystem::Default(), dir + "/missing/out.snap").status(),
        absl::StatusCode::kUnavailable, "cannot create");
  }
}

TEST_CASE("MapFile shows a file's bytes; missing files are NOT_FOUND") {
  const std::string dir = storage::testing::FreshTestDir("files_mapped");
  const std::string bytes = Pattern(3 << 20, 5);
  REQUIRE_OK(WriteFileAtomically(FileSystem::Default(), dir + "/big", bytes));
  REQUIRE_OK(WriteFileAtomically(FileSystem::Default(), dir + "/empty", ""));
  CHECK(ValueOrFail(FileSystem::Default()->MapFile(dir + "/big"))->bytes() == bytes);
  CHECK(ValueOrFail(FileSystem::Default()->MapFile(dir + "/empty"))->bytes().empty());
  RequireErrorContaining(FileSystem::Default()->MapFile(dir + "/absent").status(),
                         absl::StatusCode::kNotFound, "does not exist");

  // A mapping outlives the replacement of its file by rename (how snapshots are replaced).
  auto mapped = ValueOrFail(FileSystem::Default()->MapFile(dir + "/big"));
  REQUIRE_OK(WriteFileAtomically(FileSystem::Default(), dir + "/big", "replaced"));
  CHECK(mapped->bytes() == bytes);
}

}  // namespace
}  // namespace sochdb
