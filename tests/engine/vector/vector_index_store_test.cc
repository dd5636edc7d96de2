// Tests of VectorIndexStore: the start-up sweep (a DropIndex that stopped after deleting the
// definition, as when the process died part-way, leaves records, change log and a snapshot file
// under an incarnation nothing names; the next open deletes them and leaves every live index
// intact), snapshots bound to their index (a file copied over another index's is rebuilt
// over, never served), drops racing inserts, and Create's synced write holding up no lookup.
#include "engine/vector/vector_index_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"
#include "tests/engine/vector/space_hooks.h"

namespace sochdb::vector {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using ::sochdb::testing::ValueOrFail;

constexpr uint32_t kDim = 4;

struct Fixture {
  Fixture() : dir(storage::testing::FreshTestDir("index_store")) { OpenStore(); }

  void OpenStore() {
    storage::StoreOptions options;
    options.sync_mode = storage::SyncMode::kOff;
    options.env = &env;
    store = *storage::Store::Open(dir + "/db", options);
  }

  std::unique_ptr<VectorIndexStore> OpenIndexes() {
    VectorIndexStoreOptions options;
    options.snapshot_dir = dir + "/snapshots";
    options.maintenance_interval = absl::Hours(1);
    auto indexes = VectorIndexStore::Open(store.get(), options, &hooks);
    REQUIRE(indexes.ok());
    return *std::move(indexes);
  }

  VectorIndexDefinition Create(VectorIndexStore& indexes, const std::string& name,
                               const std::string& tenant = "acme") {
    VectorIndexDefinition request;
    request.tenant = tenant;
    request.name = name;
    request.spec.dimension = kDim;
    request.spec.metric = Metric::kL2;
    return ValueOrFail(indexes.Create(request));
  }

  // n vectors; vector i is (i, 0, 0, 0) with id first_id + i.
  void Fill(VectorIndexStore& indexes, const std::string& name, int n,
            const std::string& tenant = "acme", uint64_t first_id = 0) {
    std::vector<uint64_t> ids;
    std::vector<float> vectors;
    for (int i = 0; i < n; ++i) {
      ids.push_back(first_id + static_cast<uint64_t>(i));
      vectors.insert(vectors.end(), {static_cast<float>(i), 0, 0, 0});
    }
    REQUIRE_OK(indexes.Insert(tenant, name, ids, vectors, {}).status());
  }

  // Keys of `family` under the index's scope.
  size_t CountKeys(KeyFamily family, const VectorIndexDefinition& d) {
    const std::string prefix = VectorScopePrefix(
        family, {"vi", d.tenant, d.name, EncodeVectorId(d.incarnation)});
    size_t n = 0;
    std::unique_ptr<storage::Iterator> it = store->NewIterator();
    for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
      ++n;
    }
    REQUIRE(it->status().ok());
    return n;
  }

  std::string SnapshotFile(const VectorIndexDefinition& d) const {
    char name[64];
    std::snprintf(name, sizeof(name), "/snapshots/vi-%016llx.snap",
                  static_cast<unsigned long long>(d.incarnation));
    return dir + name;
  }

  // What a crash right after Drop's first write leaves: the definition gone, the data not.
  void DeleteDefinitionOnly(const VectorIndexDefinition& d) {
    storage::WriteBatch batch;
    batch.Delete(KeyBuilder(KeyFamily::kVectorIndex).Name(d.tenant).Name(d.name).key());
    REQUIRE(store->Write(&batch).ok());
  }

  std::string dir;
  storage::testing::FaultInjectionEnv env{leveldb::Env::Default()};
  SpaceHooks hooks;  // every index's steps (VectorSpaceObserver)
  std::unique_ptr<storage::Store> store;
};

TEST_CASE("an interrupted drop is finished at the next open; live indexes are untouched") {
  Fixture f;
  VectorIndexDefinition dropped, kept;
  {
    std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
    dropped = f.Create(*indexes, "dropped");
    kept = f.Create(*indexes, "kept");
    f.Fill(*indexes, "dropped", 50);
    f.Fill(*indexes, "kept", 40);
  }  // closing snapshots both indexes
  REQUIRE(std::filesystem::exists(f.SnapshotFile(dropped)));
  REQUIRE(f.CountKeys(KeyFamily::kVector, dropped) == 50);
  {
    // More writes after the snapshot, so the change log holds entries too.
    std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
    f.Fill(*indexes, "dropped", 60);
    REQUIRE(f.CountKeys(KeyFamily::kVectorLog, dropped) > 0);
  }
  f.DeleteDefinitionOnly(dropped);
  // A snapshot file of an incarnation that no longer has any key, a live index's snapshot cut
  // short by a crash (its temporary file), and unrelated files.
  const std::string stray = f.dir + "/snapshots/vi-00000000000000ab.snap";
  const std::string cut_short = f.SnapshotFile(kept) + ".tmp";
  const std::string unrelated = f.dir + "/snapshots/notes.txt";
  const std::string unrelated_tmp = f.dir + "/snapshots/vi-00000000000000ab.snap.old";
  for (const std::string& path : {stray, cut_short, unrelated, unrelated_tmp}) {
    std::ofstream(path) << "x";
  }

  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  CHECK(f.CountKeys(KeyFamily::kVector, dropped) == 0);
  CHECK(f.CountKeys(KeyFamily::kVectorLog, dropped) == 0);
  CHECK_FALSE(std::filesystem::exists(f.SnapshotFile(dropped)));
  CHECK_FALSE(std::filesystem::exists(stray));
  CHECK_FALSE(std::filesystem::exists(cut_short));
  CHECK(std::filesystem::exists(unrelated));
  CHECK(std::filesystem::exists(unrelated_tmp));
  CHECK(indexes->Definition("acme", "dropped").status().code() == absl::StatusCode::kNotFound);

  CHECK(f.CountKeys(KeyFamily::kVector, kept) == 40);
  CHECK(std::filesystem::exists(f.SnapshotFile(kept)));
  VectorSearchOptions options;
  options.k = 3;
  const std::vector<float> query = {7.2f, 0, 0, 0};
  VectorSearchOutcome found = ValueOrFail(indexes->Search("acme", "kept", query, options));
  REQUIRE(found.hits.size() == 3);
  CHECK(found.hits[0].id == 7);
  CHECK(found.hits[1].id == 8);
  CHECK(found.hits[2].id == 6);

  // A new index under the dropped name starts empty.
  f.Create(*indexes, "dropped");
  CHECK(ValueOrFail(indexes->Stats("acme", "dropped")).num_vectors == 0);
}

TEST_CASE("the data of an index whose definition is unreadable is kept") {
  Fixture f;
  VectorIndexDefinition d;
  {
    std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
    d = f.Create(*indexes, "garbled");
    f.Fill(*indexes, "garbled", 30);
  }
  storage::WriteBatch batch;
  batch.Put(KeyBuilder(KeyFamily::kVectorIndex).Name(d.tenant).Name(d.name).key(), "format=9");
  REQUIRE(f.store->Write(&batch).ok());

  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  CHECK(f.CountKeys(KeyFamily::kVector, d) == 30);
  CHECK(std::filesystem::exists(f.SnapshotFile(d)));
}

TEST_CASE("a snapshot copied over another index's is rebuilt over, never served") {
  // Index "a" of tenant acme and index "b" of tenant globex; after a restart both have their
  // snapshots, then a's file is copied over b's (a restore gone wrong, or a hostile copy). b
  // must serve its own vectors, from its records, and nothing of a's.
  Fixture f;
  VectorIndexDefinition a, b;
  {
    std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
    a = f.Create(*indexes, "a", "acme");
    b = f.Create(*indexes, "b", "globex");
    f.Fill(*indexes, "a", 50, "acme", /*first_id=*/1000);
    f.Fill(*indexes, "b", 20, "globex", /*first_id=*/0);
  }  // closing snapshots both
  REQUIRE(std::filesystem::exists(f.SnapshotFile(a)));
  REQUIRE(std::filesystem::exists(f.SnapshotFile(b)));
  std::filesystem::copy_file(f.SnapshotFile(a), f.SnapshotFile(b),
                             std::filesystem::copy_options::overwrite_existing);

  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  CHECK(ValueOrFail(indexes->Stats("globex", "b")).num_vectors == 20);
  VectorSearchOptions options;
  options.k = 30;
  const std::vector<float> query = {3, 0, 0, 0};
  const VectorSearchOutcome found = ValueOrFail(indexes->Search("globex", "b", query, options));
  REQUIRE(found.hits.size() == 20);
  for (const VectorSearchHit& hit : found.hits) CHECK(hit.id < 20);  // b's ids, none of a's
  CHECK(ValueOrFail(indexes->Stats("acme", "a")).num_vectors == 50);
}

TEST_CASE("an insert that loses the race with a drop answers NOT_FOUND and leaves nothing") {
  // The insert looked the index up before the drop and reaches its write after it: it must be
  // refused, not acknowledged into a scope nobody owns (until the next restart's sweep).
  Fixture f;
  absl::Notification insert_looked_up, drop_done;
  f.hooks.before_commit = [&] {
    if (insert_looked_up.HasBeenNotified()) return;  // the first write only
    insert_looked_up.Notify();
    drop_done.WaitForNotification();
  };
  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  const VectorIndexDefinition d = f.Create(*indexes, "racing");
  absl::Status inserted;
  std::thread insert([&] {
    const uint64_t ids[] = {1};
    const float vectors[] = {1, 2, 3, 4};
    inserted = indexes->Insert("acme", "racing", ids, vectors, {}).status();
  });
  insert_looked_up.WaitForNotification();
  REQUIRE_OK(indexes->Drop("acme", "racing"));
  drop_done.Notify();
  insert.join();
  CHECK(inserted.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(inserted.message()) == "Index not found: acme:racing");
  indexes->MaintainAll();
  indexes.reset();  // closing snapshots live indexes
  CHECK(f.CountKeys(KeyFamily::kVector, d) == 0);
  CHECK(f.CountKeys(KeyFamily::kVectorLog, d) == 0);
  CHECK_FALSE(std::filesystem::exists(f.SnapshotFile(d)));
}

TEST_CASE("lookups of other indexes do not wait for Create's or Drop's write") {
  // Create and Drop write the definition (synced under --sync full). Held inside that write,
  // searches, inserts and stats of other indexes, and the metrics' totals, must complete.
  Fixture f;
  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  f.Create(*indexes, "busy");
  f.Fill(*indexes, "busy", 10);
  const std::string operation = GENERATE("create", "drop");
  INFO(operation);
  if (operation == "drop") f.Create(*indexes, "other");
  // Catch2's assertions are not thread-safe: the threads keep their results for the checks.
  absl::Status written;
  absl::StatusOr<VectorSearchOutcome> found;
  absl::StatusOr<VectorIndexStats> stats;
  uint64_t total_vectors = 0, memory = 0;
  size_t count = 0;
  const bool others_first = storage::testing::OthersRunWhileFirstAppendHeld(
      f.env,
      [&] {
        if (operation == "create") {
          VectorIndexDefinition request;
          request.tenant = "acme";
          request.name = "other";
          request.spec.dimension = kDim;
          written = indexes->Create(request).status();
        } else {
          written = indexes->Drop("acme", "other");
        }
      },
      [&] {
        VectorSearchOptions options;
        options.k = 1;
        const std::vector<float> query = {3, 0, 0, 0};
        found = indexes->Search("acme", "busy", query, options);
        stats = indexes->Stats("acme", "busy");
        total_vectors = indexes->TotalVectors();
        memory = indexes->TotalMemoryBytes();
        count = indexes->IndexCount();
      });
  REQUIRE_OK(written);
  CHECK(ValueOrFail(std::move(found)).hits.size() == 1);
  CHECK(ValueOrFail(std::move(stats)).num_vectors == 10);
  CHECK(total_vectors == 10);
  CHECK(memory > 0);
  CHECK(count >= 1);
  CHECK(others_first);
}

TEST_CASE("definitions keep their bytes on disk, and ones written before are read") {
  Fixture f;
  const std::string key = KeyBuilder(KeyFamily::kVectorIndex).Name("acme").Name("new").key();
  {
    std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
    VectorIndexDefinition request;
    request.tenant = "acme";
    request.name = "new";
    request.spec.dimension = kDim;
    request.spec.m = 8;
    request.metric_code = -1;
    request.requested_m = 8;
    const VectorIndexDefinition d = ValueOrFail(indexes->Create(request));
    const IndexSpec& s = d.spec;
    // The format string of the hand-written codec this one replaced, verbatim.
    CHECK(ValueOrFail(f.store->Get(key)) ==
          absl::StrFormat(
              "format=1 dimension=%d metric=%d quantization=%d m=%d m0=%d ef_construction=%d "
              "ef_search=%d pq_subvectors=%d exact_threshold=%d metric_code=%d req_m=%d "
              "req_m0=%d req_efc=%d req_efs=%d created_at=%d incarnation=%d",
              s.dimension, static_cast<int>(s.metric), static_cast<int>(s.quantization), s.m, s.m0,
              s.ef_construction, s.ef_search, s.pq_subvectors, s.exact_threshold, d.metric_code,
              d.requested_m, d.requested_m0, d.requested_ef_construction, d.requested_ef_search,
              d.created_at, d.incarnation));
  }
  // Captured bytes of an index stored by the old codec.
  storage::WriteBatch batch;
  batch.Put(KeyBuilder(KeyFamily::kVectorIndex).Name("acme").Name("old").key(),
            "format=1 dimension=4 metric=2 quantization=0 m=32 m0=64 ef_construction=256 "
            "ef_search=500 pq_subvectors=0 exact_threshold=10000 metric_code=3 req_m=0 "
            "req_m0=0 req_efc=0 req_efs=77 created_at=1700000000 incarnation=81985529216486895");
  REQUIRE(f.store->Write(&batch).ok());
  std::unique_ptr<VectorIndexStore> indexes = f.OpenIndexes();
  const VectorIndexDefinition old = ValueOrFail(indexes->Definition("acme", "old"));
  CHECK(old.spec.dimension == 4);
  CHECK(old.spec.metric == Metric::kDot);
  CHECK(old.spec.m0 == 64);
  CHECK(old.metric_code == 3);
  CHECK(old.requested_ef_search == 77);
  CHECK(old.created_at == 1700000000);
  CHECK(old.incarnation == 0x0123456789abcdefull);
  CHECK(ValueOrFail(indexes->Definition("acme", "new")).metric_code == -1);
}

}  // namespace
}  // namespace sochdb::vector
