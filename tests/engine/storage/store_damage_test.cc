// Store and damaged files: a flipped byte in a table answers DATA_LOSS on Get and ends an
// iteration (never a wrong value, never a key past the hole); a damaged write-ahead log is
// refused at open with every file unchanged unless the loss is accepted, and then what was
// dropped is logged and a copy kept; a directory without CURRENT is refused untouched; statuses
// carry no file paths (the log has them).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "tests/common/log_capture.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/damage.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::storage {
namespace {

using sochdb::testing::LogCapture;
using testing::DirectoryContents;
using testing::FileNamed;
using testing::FilesEndingWith;
using testing::FlipByteAfter;
using testing::FreshTestDir;
using testing::NumberedValue;
using testing::TruncateFile;

constexpr int kKeys = 100;

std::string KeyOf(int i) {
  char key[16];
  std::snprintf(key, sizeof(key), "k%03d", i);
  return key;
}

absl::StatusOr<std::unique_ptr<Store>> OpenAt(const std::string& dir, bool accept_log_loss = false,
                                              size_t write_buffer_bytes = 32u << 20) {
  StoreOptions options;
  options.sync_mode = SyncMode::kOff;
  options.accept_log_loss = accept_log_loss;
  options.write_buffer_bytes = write_buffer_bytes;
  return Store::Open(dir, options);
}

// Writes kKeys keys (k000 = NumberedValue(0), ...) and closes: the data is in the log.
void WriteKeys(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());
  for (int i = 0; i < kKeys; ++i) {
    WriteBatch batch;
    batch.Put(KeyOf(i), NumberedValue(i));
    REQUIRE_OK((*store)->Write(&batch));
  }
}

// Writes the keys, then opens and closes once more: recovery moves the log into a table.
void WriteKeysToTable(const std::string& dir) {
  WriteKeys(dir);
  REQUIRE_OK(OpenAt(dir).status());
  REQUIRE(FilesEndingWith(dir, ".ldb").size() == 1);
}

void CheckNoPath(const absl::Status& status, const std::string& dir) {
  INFO(status.ToString());
  CHECK_THAT(std::string(status.message()), !Catch::Contains(dir) && !Catch::Contains(".ldb") &&
                                                !Catch::Contains(".log") &&
                                                !Catch::Contains("leveldb"));
}

TEST_CASE("a flipped byte in a table answers DATA_LOSS, never a wrong value", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_get");
  WriteKeysToTable(dir);
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  LogCapture log;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());

  const absl::StatusOr<std::optional<std::string>> damaged = (*store)->Get(KeyOf(42));
  INFO(damaged.status().ToString());
  REQUIRE_FALSE(damaged.ok());  // before: found, with the flipped byte in the value
  CHECK(damaged.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(damaged.status().message()),
             Catch::StartsWith("stored data is damaged (reading key \"k042\")"));
  CheckNoPath(damaged.status(), dir);
  // The server log has LevelDB's reason and the store's path.
  CHECK_THAT(log.text(), Catch::Contains("checksum mismatch") && Catch::Contains(dir));
  CHECK((*store)->Stats().corruption_errors == 1);
  // Keys in other blocks are served as before.
  const absl::StatusOr<std::optional<std::string>> intact = (*store)->Get(KeyOf(0));
  REQUIRE_OK(intact.status());
  CHECK(*intact == NumberedValue(0));
}

TEST_CASE("rereading damaged data is counted every time but cannot flood the log",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_log_flood");
  WriteKeysToTable(dir);
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  LogCapture log;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());
  constexpr int kReads = 1000;
  for (int i = 0; i < kReads; ++i) {
    REQUIRE((*store)->Get(KeyOf(42)).status().code() == absl::StatusCode::kDataLoss);
  }
  CHECK((*store)->Stats().corruption_errors == kReads);
  const std::string text = log.text();
  size_t lines = 0;
  for (size_t at = text.find("checksum mismatch"); at != std::string::npos;
       at = text.find("checksum mismatch", at + 1)) {
    ++lines;
  }
  INFO(lines << " log lines");
  // One line a second at most (a slow machine may straddle a few seconds). Before: 1,000 lines.
  CHECK(lines >= 1);
  CHECK(lines <= 10);
}

TEST_CASE("an iterator stops at a damaged block: DATA_LOSS, no key past the hole",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_iterate");
  WriteKeysToTable(dir);
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());

  SECTION("forward, from the start") {
    std::vector<std::string> seen;
    std::unique_ptr<Iterator> it = (*store)->NewIterator();
    for (it->Seek("k"); it->Valid(); it->Next()) {
      seen.emplace_back(it->key());
      CHECK(it->value() == NumberedValue(static_cast<int>(seen.size()) - 1));
    }
    INFO(it->status().ToString());
    // Before: every key, k042's value wrong. Now the iteration ends before k042's block, and
    // what it yielded has no gap.
    CHECK(it->status().code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(it->status().message()),
               Catch::StartsWith("stored data is damaged (reading keys from \"k\" on)"));
    CheckNoPath(it->status(), dir);
    REQUIRE(seen.size() < 43);
    for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == KeyOf(static_cast<int>(i)));
    // Stays invalid and keeps its error.
    it->Seek("k090");
    CHECK_FALSE(it->Valid());
    CHECK(it->status().code() == absl::StatusCode::kDataLoss);
  }
  SECTION("a seek past the damage reads on") {
    std::unique_ptr<Iterator> it = (*store)->NewIterator();
    int count = 0;
    for (it->Seek(KeyOf(90)); it->Valid(); it->Next()) ++count;
    REQUIRE_OK(it->status());
    CHECK(count == kKeys - 90);
  }
  SECTION("backward, from the last key") {
    std::unique_ptr<Iterator> it = (*store)->NewIterator();
    int count = 0;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      CHECK(it->key() > KeyOf(42));
      ++count;
    }
    CHECK(count < kKeys - 42);
    CHECK(it->status().code() == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("a delete that meets a damaged block stops there: DATA_LOSS, nothing past it deleted",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_delete");
  WriteKeysToTable(dir);
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());
  const absl::Status deleted = (*store)->DeletePrefix("k", /*keys_per_batch=*/10);
  CHECK(deleted.code() == absl::StatusCode::kDataLoss);
  // The first batches went; nothing after the damaged block (about 12 keys from k042's on) did.
  CHECK((*store)->Get(KeyOf(0)).value() == std::nullopt);
  std::unique_ptr<Iterator> it = (*store)->NewIterator();
  int left = 0;
  for (it->Seek(KeyOf(60)); it->Valid(); it->Next()) ++left;
  REQUIRE_OK(it->status());
  CHECK(left == kKeys - 60);
}

TEST_CASE("a table file gone missing under a running store is DATA_LOSS, not absence",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_missing_table");
  WriteKeysToTable(dir);  // the first table holds the schema version, read at every open
  {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
    REQUIRE_OK(store.status());
    WriteBatch batch;
    for (int i = 0; i < 10; ++i) batch.Put("z" + KeyOf(i), NumberedValue(i));
    REQUIRE_OK((*store)->Write(&batch));
  }
  REQUIRE_OK(OpenAt(dir).status());  // the z keys go to a second table
  const std::vector<std::string> tables = FilesEndingWith(dir, ".ldb");
  REQUIRE(tables.size() == 2);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());
  // Nothing has read the second table yet, so LevelDB has not opened it.
  std::filesystem::remove(dir + "/" + tables.back());
  const absl::StatusOr<std::optional<std::string>> value = (*store)->Get("z" + KeyOf(7));
  INFO(value.status().ToString());
  REQUIRE_FALSE(value.ok());  // before: "absent"
  CHECK(value.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(value.status().message()), Catch::Contains("a store file is missing"));
  CheckNoPath(value.status(), dir);
  // Before: NotFound "leveldb: NotFound: <dir>/<table>.ldb: No such file or directory".
  std::unique_ptr<Iterator> it = (*store)->NewIterator();
  it->Seek("z");
  CHECK_FALSE(it->Valid());
  CHECK(it->status().code() == absl::StatusCode::kDataLoss);
  CheckNoPath(it->status(), dir);
}

// A compaction that meets the damaged block fails (paranoid checks) and LevelDB refuses every
// later write with that error; a restart meets the same block again, so the refusal must say
// that the damage, not a restart, is what to deal with.
TEST_CASE("writes refused after a compaction met damage do not promise a restart will help",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_compaction");
  WriteKeysToTable(dir);
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir, false, 64 << 10);
  REQUIRE_OK(store.status());
  // Rewrite the damaged table's key range until level-0 compactions merge it.
  absl::Status refused;
  for (int round = 0; round < 200 && refused.ok(); ++round) {
    for (int i = 0; i < kKeys && refused.ok(); ++i) {
      WriteBatch batch;
      batch.Put(KeyOf(i), std::string(2048, 'a' + round % 26));
      refused = (*store)->Write(&batch);
    }
  }
  INFO(refused.ToString());
  REQUIRE(refused.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(refused.message()), Catch::Contains("(corruption)"));
  // Before: "...; writes are refused until the server restarts; see the server log".
  CHECK_THAT(std::string(refused.message()), !Catch::Contains("until the server restarts"));
  CHECK_THAT(std::string(refused.message()), Catch::Contains("a restart does not clear it"));
  CheckNoPath(refused, dir);
}

TEST_CASE("a damaged log is refused at open, unchanged, unless its loss is accepted",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_log");
  WriteKeys(dir);
  const std::string log_file = FileNamed(dir, ".log");
  REQUIRE(FlipByteAfter(log_file, NumberedValue(10).substr(0, 12)));
  const std::map<std::string, std::string> before = DirectoryContents(dir);

  {
    LogCapture log;
    const absl::Status refused = OpenAt(dir).status();
    INFO(refused.ToString());
    // Before: it opened, without k010 and the rest of its 32 KB block.
    REQUIRE(refused.code() == absl::StatusCode::kDataLoss);
    const std::string message(refused.message());
    CHECK_THAT(message,
               Catch::Contains("damaged write-ahead log") &&
                   Catch::Contains(std::filesystem::path(log_file).filename().string()) &&
                   Catch::Contains(" bytes in ") && Catch::Contains("that cannot be read") &&
                   Catch::Contains("checksum mismatch") && Catch::Contains("Nothing was changed") &&
                   Catch::Contains("--accept-log-loss"));
    CHECK(DirectoryContents(dir) == before);
  }
  {
    LogCapture log;
    absl::StatusOr<std::unique_ptr<Store>> accepted = OpenAt(dir, /*accept_log_loss=*/true);
    REQUIRE_OK(accepted.status());
    const std::string logged = log.text();
    INFO(logged);
    CHECK_THAT(logged, Catch::Contains("accepted loss (--accept-log-loss)") &&
                           Catch::Contains("checksum mismatch") &&
                           Catch::Contains("kept a copy as"));
    CHECK(std::filesystem::exists(log_file + ".damaged"));
    CHECK(DirectoryContents(dir).at(std::filesystem::path(log_file).filename().string() +
                                    ".damaged") ==
          before.at(std::filesystem::path(log_file).filename().string()));
    // What survived is right; what was dropped is absent, never wrong.
    int present = 0;
    for (int i = 0; i < kKeys; ++i) {
      const absl::StatusOr<std::optional<std::string>> value = (*accepted)->Get(KeyOf(i));
      REQUIRE_OK(value.status());
      if (value->has_value()) {
        CHECK(**value == NumberedValue(i));
        ++present;
      }
    }
    CHECK(present >= 10);
    CHECK(present < kKeys);
    CHECK(**(*accepted)->Get(KeyOf(0)) == NumberedValue(0));
  }
  REQUIRE_OK(OpenAt(dir).status());  // accepted once; a normal start after
}

TEST_CASE("a missing write-ahead log is refused unless its loss is accepted", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_log_missing");
  WriteKeys(dir);
  const std::string log_name = std::filesystem::path(FileNamed(dir, ".log")).filename().string();
  REQUIRE(std::filesystem::remove(dir + "/" + log_name));
  const std::map<std::string, std::string> before = DirectoryContents(dir);
  const absl::Status refused = OpenAt(dir).status();
  INFO(refused.ToString());
  // Before: it opened, without any of the keys.
  REQUIRE(refused.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(refused.message()),
             Catch::Contains("is missing its write-ahead log " + log_name) &&
                 Catch::Contains("Nothing was changed") && Catch::Contains("--accept-log-loss"));
  CHECK(DirectoryContents(dir) == before);

  LogCapture log;
  absl::StatusOr<std::unique_ptr<Store>> accepted = OpenAt(dir, /*accept_log_loss=*/true);
  REQUIRE_OK(accepted.status());
  CHECK_THAT(log.text(),
             Catch::Contains("accepted loss (--accept-log-loss): the write-ahead log " + log_name));
  CHECK(**(*accepted)->Get(SchemaVersionKey()) == "1");
  CHECK_FALSE((*(*accepted)->Get(KeyOf(0))).has_value());
}

TEST_CASE("a second open of a store in use says it is locked, whatever its files look like",
          "[store][damage]") {
  const std::string dir = FreshTestDir("damage_locked");
  absl::StatusOr<std::unique_ptr<Store>> live = OpenAt(dir);
  REQUIRE_OK(live.status());
  WriteBatch batch;
  batch.Put("k", "v");
  REQUIRE_OK((*live)->Write(&batch));
  // What a live store's directory can look like to a reader racing it: the log the MANIFEST
  // names not (or no longer) there.
  REQUIRE(std::filesystem::remove(FileNamed(dir, ".log")));
  const absl::Status second = OpenAt(dir).status();
  INFO(second.ToString());
  // Before: DATA_LOSS "... is missing its write-ahead log ...; start once with --accept-log-loss".
  CHECK(second.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(second.message()), Catch::Contains("locked by another process"));
}

TEST_CASE("a refused open removes the tables it wrote while replaying the log", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_log_replay");
  WriteKeys(dir);
  // Damage near the end; reopened with LevelDB's smallest memtable, the replay writes tables
  // before it reaches the damage.
  REQUIRE(FlipByteAfter(FileNamed(dir, ".log"), NumberedValue(95).substr(0, 12)));
  const std::map<std::string, std::string> before = DirectoryContents(dir);
  const absl::Status refused = OpenAt(dir, false, 64 << 10).status();
  REQUIRE(refused.code() == absl::StatusCode::kDataLoss);
  CHECK(DirectoryContents(dir) == before);
}

TEST_CASE("a table cut short is refused at open, unchanged", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_table_size");
  WriteKeysToTable(dir);
  {
    // More writes, in the log: a refused open must not have moved them into a table.
    absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
    REQUIRE_OK(store.status());
    WriteBatch batch;
    batch.Put("z", "in the log");
    REQUIRE_OK((*store)->Write(&batch));
  }
  const std::string table = FileNamed(dir, ".ldb");
  const uint64_t size = std::filesystem::file_size(table);
  TruncateFile(table, size / 2);
  const std::map<std::string, std::string> before = DirectoryContents(dir);
  const absl::Status refused = OpenAt(dir).status();
  INFO(refused.ToString());
  // Before: INTERNAL "IO error ... Invalid argument" from the schema check, after the open had
  // moved the log into a new table and deleted it.
  CHECK(refused.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(refused.message()),
             Catch::Contains("the table file " + std::filesystem::path(table).filename().string() +
                             " is " + std::to_string(size / 2) + " bytes where MANIFEST-") &&
                 Catch::Contains("records " + std::to_string(size)) &&
                 Catch::Contains("Nothing was changed"));
  CHECK(DirectoryContents(dir) == before);
}

TEST_CASE("a directory with store files but no CURRENT is refused untouched", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_current");
  WriteKeysToTable(dir);
  REQUIRE(std::filesystem::remove(dir + "/CURRENT"));
  const std::map<std::string, std::string> before = DirectoryContents(dir);
  const absl::Status refused = OpenAt(dir).status();
  INFO(refused.ToString());
  // Before: LevelDB made a new, empty store and deleted the table as obsolete.
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.message()),
             Catch::Contains("has no CURRENT file but holds store files") &&
                 Catch::Contains(".ldb") && Catch::Contains("MANIFEST-") &&
                 Catch::Contains("printf 'MANIFEST-") &&
                 Catch::Contains("move the directory away"));
  CHECK(DirectoryContents(dir) == before);

  SECTION("restoring CURRENT as the message says brings everything back") {
    std::string manifest;
    for (const auto& [name, contents] : before) {
      if (name.rfind("MANIFEST-", 0) == 0) manifest = std::max(manifest, name);
    }
    testing::WriteFile(dir + "/CURRENT", manifest + "\n");
    absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
    REQUIRE_OK(store.status());
    CHECK(**(*store)->Get(KeyOf(99)) == NumberedValue(99));
  }
}

TEST_CASE("a store creation cut short before CURRENT is created again", "[store][damage]") {
  const std::string dir = FreshTestDir("damage_creation");
  std::filesystem::create_directories(dir);
  testing::WriteFile(dir + "/MANIFEST-000001", "partial");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenAt(dir);
  REQUIRE_OK(store.status());
  CHECK(std::filesystem::exists(dir + "/CURRENT"));
}

TEST_CASE("ListStoreFiles names the files that hold or describe data", "[store]") {
  const std::string dir = FreshTestDir("list_store_files");
  CHECK(ListStoreFiles(dir + "/none").empty());
  WriteKeysToTable(dir);
  testing::WriteFile(dir + "/LOG", "info");
  testing::WriteFile(dir + "/000009.log.damaged", "copy");
  std::vector<std::string> files = ListStoreFiles(dir);
  std::sort(files.begin(), files.end());
  CHECK(std::count_if(files.begin(), files.end(),
                      [](const std::string& f) { return f.rfind("MANIFEST-", 0) == 0; }) == 1);
  CHECK(std::find(files.begin(), files.end(), "CURRENT") != files.end());
  CHECK(std::find(files.begin(), files.end(), "LOCK") == files.end());
  CHECK(std::find(files.begin(), files.end(), "LOG") == files.end());
  CHECK(std::find(files.begin(), files.end(), "000009.log.damaged") == files.end());
  CHECK(std::count_if(files.begin(), files.end(), [](const std::string& f) {
          return f.size() > 4 && f.substr(f.size() - 4) == ".ldb";
        }) == 1);
}

}  // namespace
}  // namespace sochdb::storage
