// Tests for SimulatedDisk, the reliability suite's disk: what a power cut keeps (synced bytes,
// creations, renames and removals whose directory was synced) and drops, the Nth-call faults,
// a Store running on it across a power cut, and AtomicFileWriter cut at every call of a
// replace (the old file or the new one, never a mix, never neither).
#include "tests/engine/storage/simulated_disk.h"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "engine/common/files.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"

namespace sochdb::storage::testing {
namespace {

using sochdb::testing::ValueOrFail;

// Writes `data` to a new file at `path` through the FileSystem face; syncs it when asked.
void WriteFile(SimulatedDisk& disk, const std::string& path, const std::string& data, bool sync) {
  std::unique_ptr<WritableFile> file = ValueOrFail(disk.files()->NewWritableFile(path));
  REQUIRE_OK(file->Append(data));
  if (sync) REQUIRE_OK(file->Sync());
  REQUIRE_OK(file->Close());
}

TEST_CASE("a power cut keeps synced bytes and durable names, and drops the rest", "[disk]") {
  SimulatedDisk disk;
  FileSystem* files = disk.files();
  REQUIRE_OK(files->CreateDirs("/d"));
  // Synced as a new file: its name goes with it.
  WriteFile(disk, "/d/synced", "kept", /*sync=*/true);
  {
    std::unique_ptr<WritableFile> file = ValueOrFail(files->NewWritableFile("/d/partly"));
    REQUIRE_OK(file->Append("kept"));
    REQUIRE_OK(file->Sync());
    REQUIRE_OK(file->Append(" lost"));
  }
  WriteFile(disk, "/d/unsynced", "never synced", /*sync=*/false);
  REQUIRE_OK(files->SyncDir("/d"));  // the name survives, the bytes do not
  WriteFile(disk, "/d/new", "created after the last directory sync", /*sync=*/false);
  disk.PowerCut();
  CHECK(!files->RemoveFile("/d/synced").ok());  // nothing changes once the power is off
  disk.Reboot();

  CHECK(disk.Contents("/d/synced") == "kept");
  CHECK(disk.Contents("/d/partly") == "kept");
  CHECK(disk.Contents("/d/unsynced") == "");
  CHECK(disk.Contents("/d/new") == std::nullopt);
}

TEST_CASE("renames and removals survive a power cut only once their directory is synced",
          "[disk]") {
  SimulatedDisk disk;
  FileSystem* files = disk.files();
  REQUIRE_OK(files->CreateDirs("/d"));
  WriteFile(disk, "/d/target", "old", true);
  WriteFile(disk, "/d/doomed", "still here", true);
  WriteFile(disk, "/d/target.tmp", "new", true);
  REQUIRE_OK(files->SyncDir("/d"));

  REQUIRE_OK(files->RenameFile("/d/target.tmp", "/d/target"));
  REQUIRE_OK(files->RemoveFile("/d/doomed"));
  disk.PowerCut();
  disk.Reboot();
  CHECK(disk.Contents("/d/target") == "old");
  CHECK(disk.Contents("/d/target.tmp") == "new");
  CHECK(disk.Contents("/d/doomed") == "still here");

  REQUIRE_OK(files->RenameFile("/d/target.tmp", "/d/target"));
  REQUIRE_OK(files->RemoveFile("/d/doomed"));
  REQUIRE_OK(files->SyncDir("/d"));
  disk.PowerCut();
  disk.Reboot();
  CHECK(disk.Contents("/d/target") == "new");
  CHECK(disk.Contents("/d/target.tmp") == std::nullopt);
  CHECK(disk.Contents("/d/doomed") == std::nullopt);
}

TEST_CASE("the Nth call fails, once or from then on; a torn append writes half", "[disk]") {
  SimulatedDisk disk;
  FileSystem* files = disk.files();
  REQUIRE_OK(files->CreateDirs("/d"));
  std::unique_ptr<WritableFile> file = ValueOrFail(files->NewWritableFile("/d/f"));

  disk.FailAfter(1, SimulatedDisk::Persistence::kTransient);
  CHECK(file->Append("a").ok());
  CHECK(!file->Append("b").ok());
  CHECK(file->Append("c").ok());
  REQUIRE(disk.first_failure().has_value());
  CHECK(disk.first_failure()->op == DiskOp::kAppend);
  CHECK(disk.first_failure()->path == "/d/f");
  CHECK(!disk.first_failure()->via_env);

  disk.ClearFaults();
  disk.FailAfter(0, SimulatedDisk::Persistence::kPersistent, /*torn=*/true);
  CHECK(!file->Append("1234").ok());
  CHECK(!file->Sync().ok());
  CHECK(!files->SyncDir("/d").ok());
  disk.ClearFaults();
  CHECK(file->Sync().ok());
  CHECK(disk.Contents("/d/f") == "ac12");
}

TEST_CASE("a Store in sync mode full on the disk keeps every acknowledged write across a cut",
          "[disk]") {
  SimulatedDisk disk;
  StoreOptions options;
  options.env = disk.env();
  options.sync_mode = SyncMode::kFull;
  options.write_buffer_bytes = 64 << 10;  // table files, compactions and manifest edits too
  std::unique_ptr<Store> store = ValueOrFail(Store::Open("/data/store", options));
  const std::string value(1000, 'v');
  int acked = 0;
  disk.PowerCutAfter(2000);
  for (int i = 0; i < 5000; ++i) {
    WriteBatch batch;
    batch.Put("key" + std::to_string(i), value);
    if (!store->Write(&batch).ok()) break;
    ++acked;
  }
  REQUIRE(!disk.powered());
  store.reset();
  disk.Reboot();
  store = ValueOrFail(Store::Open("/data/store", options));
  int lost = 0;
  for (int i = 0; i < acked; ++i) {
    if (ValueOrFail(store->Get("key" + std::to_string(i))) != value) ++lost;
  }
  INFO("acked " << acked);
  CHECK(acked > 100);
  CHECK(lost == 0);
}

TEST_CASE("a replace cut at any call leaves the old file or the new one", "[disk]") {
  for (int64_t cut = 0;; ++cut) {
    SimulatedDisk disk;
    FileSystem* files = disk.files();
    REQUIRE_OK(files->CreateDirs("/d"));
    REQUIRE_OK(WriteFileAtomically(files, "/d/file", "the old contents"));
    const int64_t before = disk.calls();
    disk.PowerCutAfter(cut);
    const bool replaced = WriteFileAtomically(files, "/d/file", "the new contents").ok();
    const bool cut_short = !disk.powered();
    disk.Reboot();
    const std::optional<std::string> contents = disk.Contents("/d/file");
    INFO("cut after " << cut << " calls");
    if (replaced) {
      CHECK(contents == "the new contents");
    } else {
      CHECK((contents == "the old contents" || contents == "the new contents"));
    }
    if (!cut_short) {
      CHECK(disk.calls() - before <= cut);
      break;  // the replace finished before the cut: every call has been cut
    }
  }
}

}  // namespace
}  // namespace sochdb::storage::testing
