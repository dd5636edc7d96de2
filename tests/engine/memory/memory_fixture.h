// What the MemoryStore tests share: a Store and a MemoryStore under $TEST_TMPDIR/<name> (vector
// snapshots in snapshots/) with a manual clock, reopened on demand; short ways to write and
// search; and a count of the raw keys agent memory keeps, family by family.
#ifndef SOCHDB_TESTS_ENGINE_MEMORY_MEMORY_FIXTURE_H_
#define SOCHDB_TESTS_ENGINE_MEMORY_MEMORY_FIXTURE_H_

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/absl_view.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/memory/memory_store.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::memory::testing {

using ::sochdb::testing::RequireError;
using ::sochdb::testing::ValueOrFail;

class MemoryFixture {
 public:
  explicit MemoryFixture(const std::string& name, MemoryLimits limits = {})
      : dir_(storage::testing::FreshTestDir(name)), limits_(limits) {
    std::filesystem::create_directories(snapshot_dir());
    store_options_.sync_mode = storage::SyncMode::kOff;
    Open();
  }
  // On a disk the test brings (a SimulatedDisk's env and files, which must outlive the
  // fixture), under `dir`.
  MemoryFixture(std::string dir, storage::StoreOptions store_options, FileSystem* files)
      : dir_(std::move(dir)), store_options_(std::move(store_options)), files_(files) {
    REQUIRE_OK(files_->CreateDirs(snapshot_dir()));
    Open();
  }
  ~MemoryFixture() { Close(); }

  void Open() {
    store_ = ValueOrFail(storage::Store::Open(dir_ + "/db", store_options_));
    MemoryStoreOptions options;
    options.limits = limits_;
    options.snapshot_dir = snapshot_dir();
    options.file_system = files_;
    options.clock = &clock_;
    memory_ = std::make_unique<MemoryStore>(store_.get(), options);
  }
  void Close() {
    memory_.reset();
    store_.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  uint64_t Write(std::string_view ns, std::string text, std::optional<uint64_t> valid_from = {},
                 std::vector<float> embedding = {}) {
    EpisodeWrite write;
    write.text = std::move(text);
    write.t_valid_from_ms = valid_from;
    write.embedding = std::move(embedding);
    return ValueOrFail(memory_->WriteEpisode(AbslView(ns), std::move(write))).id;
  }
  // The ids Search answers, best first.
  std::vector<uint64_t> SearchIds(std::string_view ns, std::string_view query,
                                  const SearchOptions& options = {}) const {
    std::vector<uint64_t> ids;
    for (const ScoredEpisode& hit :
         ValueOrFail(memory_->Search(AbslView(ns), AbslView(query), options))) {
      ids.push_back(hit.episode.id);
    }
    return ids;
  }
  // Keys of `family` whose first name is `ns`; for kVector, those of the episodes' spaces.
  size_t CountKeys(storage::KeyFamily family, std::string_view ns) const {
    const std::string prefix =
        family == storage::KeyFamily::kVector || family == storage::KeyFamily::kVectorLog
            ? storage::KeyBuilder(family).Name("m").Name(ns).key()
            : storage::NamespacePrefix(family, ns);
    size_t count = 0;
    std::unique_ptr<storage::Iterator> it = store_->NewIterator();
    for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix;
         it->Next()) {
      ++count;
    }
    REQUIRE_OK(it->status());
    return count;
  }
  size_t SnapshotFiles() const {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(snapshot_dir())) {
      n += entry.path().filename().string().rfind("mem-", 0) == 0;
    }
    return n;
  }

  MemoryStore& memory() { return *memory_; }
  storage::Store& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  std::string snapshot_dir() const { return dir_ + "/snapshots"; }

 private:
  const std::string dir_;
  const MemoryLimits limits_;
  storage::StoreOptions store_options_;
  FileSystem* const files_ = FileSystem::Default();
  ManualClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<MemoryStore> memory_;
};

}  // namespace sochdb::memory::testing

#endif  // SOCHDB_TESTS_ENGINE_MEMORY_MEMORY_FIXTURE_H_
