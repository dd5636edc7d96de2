// Tests of RetrievalStore: twins of one Ingest batch racing each other apply it once (the
// applied record is checked and written under the index's write lock, in the vectors' batch),
// a refused batch records nothing, bindings are per tenant and survive a reopen with the applied
// set.
#include "engine/retrieval/retrieval_store.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/storage/store.h"
#include "engine/vector/vector_index_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::retrieval {
namespace {

using ::sochdb::testing::ValueOrFail;

constexpr uint64_t kNow = 1'000'000;

struct Fixture {
  Fixture() : dir(storage::testing::FreshTestDir("retrieval_store")) { Open(); }

  void Open() {
    storage::StoreOptions options;
    options.sync_mode = storage::SyncMode::kOff;
    store = *storage::Store::Open(dir + "/db", options);
    vector::VectorIndexStoreOptions vo;
    vo.snapshot_dir = dir + "/snapshots";
    vo.maintenance_interval = absl::Hours(1);
    indexes = ValueOrFail(vector::VectorIndexStore::Open(store.get(), vo));
    retrieval = std::make_unique<RetrievalStore>(store.get(), indexes.get(),
                                                 *TokenSigner::Create(std::string(32, 'k')));
  }

  void Reopen() {
    retrieval.reset();
    indexes.reset();
    store.reset();
    Open();
  }

  void CreateAndBind(const std::string& tenant, const std::string& name, Id128 id) {
    vector::VectorIndexDefinition d;
    d.tenant = tenant;
    d.name = name;
    d.spec.dimension = 2;
    d.spec.metric = vector::Metric::kL2;
    ValueOrFail(indexes->Create(d));
    REQUIRE(retrieval->Bind(tenant, id, name).ok());
  }

  RequestEnvelope Envelope(const std::string& tenant, const std::string& name, Id128 id,
                           Operation op) {
    RequestEnvelope e;
    e.contract = std::make_pair(2u, 0u);
    e.index_object_id = id;
    CapabilityToken t;
    t.index_key = IndexKey(tenant, name);
    t.tenant = tenant;
    t.expires_at_unix_ms = kNow + 1000;
    t.operation = static_cast<int32_t>(op);
    retrieval->signer().Sign(&t);
    e.capability = t;
    return e;
  }

  IngestRequest Batch(const std::string& tenant, uint64_t sequence,
                      const std::vector<float>& vectors) {
    IngestRequest r;
    r.envelope = Envelope(tenant, "docs", Id128{0, 42}, Operation::kIngest);
    r.batch_sequence = sequence;
    for (size_t i = 0; i < vectors.size() / 2; ++i) r.ids.push_back(Id128{0, sequence * 100 + i});
    r.vectors = vectors;
    return r;
  }

  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<vector::VectorIndexStore> indexes;
  std::unique_ptr<RetrievalStore> retrieval;
};

TEST_CASE("racing twins of one batch apply it once") {
  Fixture f;
  f.CreateAndBind("t", "docs", Id128{0, 42});
  const std::vector<float> vectors(2 * 200, 0.5f);
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      IngestResult r = ValueOrFail(f.retrieval->Ingest("t", kNow, f.Batch("t", 1, vectors)));
      CHECK(r.inserted_count == 200);
      if (r.applied) applied.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(applied.load() == 1);
  CHECK(ValueOrFail(f.indexes->Generation("t", "docs")) == 200);
}

TEST_CASE("a refused batch records nothing; the applied set and bindings survive a reopen") {
  Fixture f;
  f.CreateAndBind("t", "docs", Id128{0, 42});
  const std::vector<float> nan = {0, std::numeric_limits<float>::quiet_NaN()};
  CHECK(absl::IsInvalidArgument(f.retrieval->Ingest("t", kNow, f.Batch("t", 1, nan)).status()));
  IngestResult first = ValueOrFail(f.retrieval->Ingest("t", kNow, f.Batch("t", 1, {1, 2})));
  CHECK(first.applied);
  CHECK(first.generation == 1);
  f.Reopen();
  IngestResult again = ValueOrFail(f.retrieval->Ingest("t", kNow, f.Batch("t", 1, {1, 2})));
  CHECK_FALSE(again.applied);
  CHECK(again.operation_id == first.operation_id);
  CHECK(again.generation == first.generation);
  CHECK(again.inserted_count == 1);
}

TEST_CASE("bindings belong to their tenant") {
  Fixture f;
  f.CreateAndBind("t", "docs", Id128{0, 42});
  RetrieveRequest r;
  r.envelope = f.Envelope("u", "docs", Id128{0, 42}, Operation::kSearch);
  const std::vector<float> query = {1, 2};
  r.query = query;
  r.top_k = 1;
  CHECK(absl::IsNotFound(f.retrieval->Retrieve("u", kNow, r).status()));
  f.CreateAndBind("u", "docs", Id128{0, 42});  // the same id, another tenant: its own binding
  CHECK(f.retrieval->Retrieve("u", kNow, r).ok());
  CHECK(f.retrieval->Bind("t", Id128{0, 42}, "missing").message() == "Index 'missing' not found");
}

}  // namespace
}  // namespace sochdb::retrieval
