// SemanticCacheStore when things go wrong or race: a cache whose index does not open keeps its
// entries and can still be cleared whole; a ClearCache that fails part-way leaves the cache out
// of service until it is retried; writers that lose a race with ClearCache leave the cleared
// cache alone; a first Put that fails does not fix the dimension; ConfigureCache shrinks by
// expired entries first.
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/cache/semantic_cache_store.h"
#include "engine/storage/keys.h"
#include "tests/engine/cache/cache_fixture.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::cache {
namespace {

using ::sochdb::testing::RequireErrorContaining;
using ::sochdb::testing::ValueOrFail;
using storage::testing::SimulatedDisk;
using testing::Fixture;

// The real file system, whose RemoveFile of a cache snapshot ("sc-") can fail or wait for the
// test: the last step of dropping a cache's index.
class SnapshotRemoval : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    return real_->NewWritableFile(path);
  }
  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override {
    return real_->MapFile(path);
  }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    return real_->RenameFile(from, to);
  }
  absl::Status RemoveFile(const std::string& path) override {
    if (path.find("/sc-") != std::string::npos) {
      if (fail) return absl::UnavailableError("injected: cannot remove the snapshot");
      if (hold != nullptr) {
        entered.Notify();
        hold->WaitForNotification();
      }
    }
    return real_->RemoveFile(path);
  }
  absl::Status SyncDir(const std::string& dir) override { return real_->SyncDir(dir); }
  absl::Status CreateDirs(const std::string& dir) override { return real_->CreateDirs(dir); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    return real_->ListDir(dir);
  }

  std::atomic<bool> fail{false};
  absl::Notification* hold = nullptr;  // set before the removal starts
  absl::Notification entered;

 private:
  FileSystem* real_ = FileSystem::Default();
};

std::string RecordKey(std::string_view cache) {
  return storage::KeyBuilder(storage::KeyFamily::kCacheMeta).Name("t").Name(cache).key();
}
std::string EntryPrefix(std::string_view cache) {
  return storage::KeyBuilder(storage::KeyFamily::kCacheEntry).Name("t").Name(cache).key();
}

// Closes the caches, rewrites "<field>=<from>" of cache `name`'s record, opens them again.
void EditRecord(Fixture& f, std::string_view name, std::string_view from, std::string_view to) {
  f.caches.reset();
  std::string record = *ValueOrFail(f.store->Get(RecordKey(name)));
  const size_t at = record.find(from);
  REQUIRE(at != std::string::npos);
  record.replace(at, from.size(), to);
  storage::WriteBatch batch;
  batch.Put(RecordKey(name), record);
  REQUIRE_OK(f.store->Write(&batch));
  f.OpenCaches();
}

size_t SnapshotFiles(const Fixture& f) {
  size_t n = 0;
  for (const auto& file : std::filesystem::directory_iterator(f.dir + "/snapshots")) {
    n += file.path().filename().string().rfind("sc-", 0) == 0;
  }
  return n;
}

TEST_CASE("a cache whose index does not open keeps its entries, and clears whole", "[cache]") {
  Fixture f;
  f.Put("c", "north", "N", {1, 0});
  f.Put("c", "east", "E", {0, 1});
  const std::string vectors = storage::KeyBuilder(storage::KeyFamily::kVector).key();
  const std::string vector_log = storage::KeyBuilder(storage::KeyFamily::kVectorLog).key();
  REQUIRE(f.CountKeys(vectors) == 2);

  // A dimension the index refuses: its open fails, as a lack of descriptors would make it.
  EditRecord(f, "c", "dimension=2", "dimension=5000");
  RequireErrorContaining(f.caches->Get("t", "c", CacheLookup{"", std::vector<float>{1, 0}, 0})
                             .status(),
                         absl::StatusCode::kUnavailable, "dimension");
  CHECK(f.CountKeys(EntryPrefix("c")) == 2);  // start-up kept them (commit 2776ce2)
  EditRecord(f, "c", "dimension=5000", "dimension=2");
  CHECK(f.Get("c", {1, 0.1f}).value == "N");
  CHECK(f.Get("c", {0.1f, 1}).value == "E");

  // ClearCache of the out-of-service cache removes its embeddings and snapshot too.
  EditRecord(f, "c", "dimension=2", "dimension=5000");
  CHECK(ValueOrFail(f.caches->Clear("t", "c")));
  CHECK(f.CountKeys(vectors) == 0);
  CHECK(f.CountKeys(vector_log) == 0);
  CHECK(f.CountKeys(EntryPrefix("c")) == 0);
  CHECK(f.CountKeys(RecordKey("c")) == 0);
  CHECK(SnapshotFiles(f) == 0);
}

TEST_CASE("a ClearCache that fails part-way leaves the cache out of service until retried",
          "[cache]") {
  SnapshotRemoval files;
  Fixture f({}, &files);
  f.Put("c", "north", "N", {1, 0});
  files.fail = true;
  RequireErrorContaining(f.caches->Clear("t", "c").status(), absl::StatusCode::kUnavailable,
                         "injected");
  // Its index is retired: no answer from what is left of it, and no write.
  const std::string retry = "ClearCache failed part-way";
  RequireErrorContaining(f.caches->Get("t", "c", CacheLookup{"", std::vector<float>{1, 0}, 0})
                             .status(),
                         absl::StatusCode::kUnavailable, retry);
  RequireErrorContaining(f.caches->Get("t", "c", CacheLookup{"north", {}, 0}).status(),
                         absl::StatusCode::kUnavailable, retry);
  RequireErrorContaining(
      f.caches->Put("t", "c", CacheEntry{"west", "W", std::vector<float>{-1, 0}, 0}),
      absl::StatusCode::kUnavailable, retry);
  // Nor can part of it be removed (these answered 1 and true, removing nothing).
  RequireErrorContaining(f.caches->Invalidate("t", "c", "").status(),
                         absl::StatusCode::kUnavailable, retry);
  RequireErrorContaining(f.caches->Delete("t", "c", "north").status(),
                         absl::StatusCode::kUnavailable, retry);

  files.fail = false;
  CHECK(ValueOrFail(f.caches->Clear("t", "c")));
  CHECK(f.CountKeys(EntryPrefix("c")) == 0);
  CHECK(f.CountKeys(storage::KeyBuilder(storage::KeyFamily::kVector).key()) == 0);
  f.Put("c", "up", "U", {0, 0, 1});  // a new cache of the name, with its own dimension
  f.Reopen();
  CHECK(f.Get("c", {0, 0.1f, 1}).value == "U");
  CHECK(f.Stats("c").entry_count == 1);
}

TEST_CASE("writers that lose a race with ClearCache leave the cleared cache alone", "[cache]") {
  SnapshotRemoval files;
  Fixture f({}, &files);
  f.Put("c", "north", "N", {1, 0}, 5);
  f.Put("c", "east", "E", {0, 1});
  f.clock.AdvanceSeconds(10);  // "north" waits for the purge

  absl::Notification hold;
  files.hold = &hold;
  absl::StatusOr<bool> cleared;
  std::thread clear([&] { cleared = f.caches->Clear("t", "c"); });
  files.entered.WaitForNotification();  // Clear holds the cache's write lock from here
  absl::StatusOr<uint64_t> invalidated, purged;
  absl::StatusOr<bool> deleted;
  std::thread invalidate([&] { invalidated = f.caches->Invalidate("t", "c", ""); });
  std::thread remove([&] { deleted = f.caches->Delete("t", "c", "east"); });
  std::thread purge([&] { purged = f.caches->RunMaintenance(); });
  // Each has found the cache and waits for its write lock (nothing to observe that by).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  hold.Notify();
  for (std::thread* t : {&clear, &invalidate, &remove, &purge}) t->join();

  CHECK(ValueOrFail(cleared));
  CHECK(ValueOrFail(invalidated) == 0);
  CHECK_FALSE(ValueOrFail(deleted));
  CHECK(ValueOrFail(purged) == 0);
  CHECK(f.caches->List("t").empty());
}

TEST_CASE("a first Put that fails does not fix the cache's dimension", "[cache]") {
  SimulatedDisk disk;
  Fixture f({}, disk.files(), disk.env());
  disk.FailAfter(0, SimulatedDisk::Persistence::kPersistent);  // the Put's store write
  RequireErrorContaining(
      f.caches->Put("t", "c", CacheEntry{"k", "v", std::vector<float>{1, 0}, 0}),
      absl::StatusCode::kUnavailable, "");
  CHECK(f.Stats("c").dimension == 0);
  CHECK(f.Stats("c").entry_count == 0);
  // The next Put is not held to two floats: it meets the store's fault, not a dimension.
  RequireErrorContaining(
      f.caches->Put("t", "c", CacheEntry{"k", "v", std::vector<float>{1, 0, 0}, 0}),
      absl::StatusCode::kUnavailable, "");
}

TEST_CASE("ConfigureCache drops expired entries before live ones", "[cache]") {
  Fixture f;
  f.Put("c", "north", "N", {1, 0});
  f.Put("c", "east", "E", {0, 1});
  f.Put("c", "soon", "S", {1, 1}, 5);  // the most recent, then expired
  f.clock.AdvanceSeconds(5);
  const CacheStats stats = ValueOrFail(f.caches->Configure("t", "c", 2));
  CHECK(stats.entry_count == 2);
  CHECK(f.Get("c", {}, 0, "north").hit);
  CHECK(f.Get("c", {}, 0, "east").hit);
  CHECK(f.CountKeys(EntryPrefix("c")) == 2);
}

}  // namespace
}  // namespace sochdb::cache
