// Helpers shared by the CollectionStore tests: status assertions, a store in a fresh directory
// that can be closed and reopened, random documents, and brute-force scoring under each metric
// (written here independently of the engine's code).
#ifndef SOCHDB_TESTS_ENGINE_COLLECTION_COLLECTION_TEST_UTIL_H_
#define SOCHDB_TESTS_ENGINE_COLLECTION_COLLECTION_TEST_UTIL_H_

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/collection/collection_store.h"
#include "engine/common/clock.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::collection::testing {

using ::sochdb::testing::RequireError;
using ::sochdb::testing::ValueOrFail;

// A Store and a CollectionStore under $TEST_TMPDIR/<name>; Reopen closes both and opens again.
struct Fixture {
  explicit Fixture(const std::string& name) : dir(storage::testing::FreshTestDir(name)) { Open(); }
  ~Fixture() { Close(); }

  void Open() {
    storage::StoreOptions store_options;
    store_options.sync_mode = storage::SyncMode::kOff;
    store_options.env = env;
    store = ValueOrFail(storage::Store::Open(dir + "/db", store_options));
    CollectionStoreOptions options;
    options.snapshot_dir = snapshot_dir();
    options.maintenance_interval = absl::Hours(1);
    options.clock = &clock;
    collections = ValueOrFail(CollectionStore::Open(store.get(), options, &hooks));
  }
  void Close() {
    collections.reset();
    store.reset();
  }
  void Reopen() {
    Close();
    Open();
  }
  std::string snapshot_dir() const { return dir + "/snapshots"; }

  CollectionInfo Create(const std::string& name, uint32_t dimension,
                        vector::Metric metric = vector::Metric::kCosine, bool hybrid = false,
                        const std::string& ns = "") {
    CollectionDefinition d;
    d.ns = ns;
    d.name = name;
    d.spec.dimension = dimension;
    d.spec.metric = metric;
    d.hybrid = hybrid;
    return ValueOrFail(collections->Create(d));
  }

  std::vector<std::string> Add(const std::string& name, std::vector<Document> docs,
                               const std::string& ns = "") {
    return ValueOrFail(collections->AddDocuments(ns, name, std::move(docs)));
  }

  std::vector<ScoredDocument> Search(const std::string& name, const SearchQuery& query,
                                     const std::string& ns = "") const {
    return ValueOrFail(collections->Search(ns, name, query));
  }

  uint64_t Count(const std::string& name, const std::string& ns = "") const {
    return ValueOrFail(collections->Count(ns, name, filter::MetadataFilter()));
  }

  ManualClock clock;
  // What the store's steps call (CollectionStoreObserver); unset: nothing.
  std::function<void()> before_search_reads;
  std::function<void()> after_vectors_dropped;
  struct Hooks final : CollectionStoreObserver {
    explicit Hooks(Fixture* f) : f(f) {}
    void BeforeSearchReads() override {
      if (f->before_search_reads) f->before_search_reads();
    }
    void AfterVectorsDropped() override {
      if (f->after_vectors_dropped) f->after_vectors_dropped();
    }
    Fixture* const f;
  } hooks{this};
  leveldb::Env* env = nullptr;  // StoreOptions::env
  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<CollectionStore> collections;
};

inline std::vector<float> RandomVector(std::mt19937_64& rng, uint32_t dimension) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dimension);
  for (float& x : v) x = normal(rng);
  return v;
}

inline Document MakeDocument(std::string id, std::vector<std::vector<float>> embeddings,
                             std::string content = "",
                             std::map<std::string, std::string> metadata = {}) {
  Document d;
  d.id = std::move(id);
  d.embeddings = std::move(embeddings);
  d.content = std::move(content);
  d.metadata = std::move(metadata);
  return d;
}

// The score of `stored` for `query`, higher is better: cosine similarity (0 when either is zero),
// the dot product, or 1 / (1 + Euclidean distance).
inline double BruteScore(vector::Metric metric, const std::vector<float>& query,
                         const std::vector<float>& stored) {
  double dot = 0, qq = 0, ss = 0, l2 = 0;
  for (size_t i = 0; i < query.size(); ++i) {
    dot += double{query[i]} * stored[i];
    qq += double{query[i]} * query[i];
    ss += double{stored[i]} * stored[i];
    l2 += (double{query[i]} - stored[i]) * (double{query[i]} - stored[i]);
  }
  switch (metric) {
    case vector::Metric::kCosine:
      return qq > 0 && ss > 0 ? dot / std::sqrt(qq * ss) : 0;
    case vector::Metric::kDot:
      return dot;
    case vector::Metric::kL2:
      return 1 / (1 + std::sqrt(l2));
  }
  return 0;
}

// A document's score from its vectors' scores under an aggregate.
inline double BruteDocumentScore(vector::Metric metric, Aggregate aggregate,
                                 const std::vector<float>& query, const Document& doc) {
  double best = -1e300, sum = 0;
  for (const std::vector<float>& e : doc.embeddings) {
    const double s = BruteScore(metric, query, e);
    best = std::max(best, s);
    sum += s;
  }
  switch (aggregate) {
    case Aggregate::kMax:
      return best;
    case Aggregate::kMean:
      return sum / static_cast<double>(doc.embeddings.size());
    case Aggregate::kFirst:
      return BruteScore(metric, query, doc.embeddings[0]);
  }
  return 0;
}

struct BruteHit {
  std::string id;
  double score = 0;
};

// The top k of `docs` accepted by `accept`, by score descending then id.
inline std::vector<BruteHit> BruteTopK(const std::vector<Document>& docs, vector::Metric metric,
                                       Aggregate aggregate, const std::vector<float>& query,
                                       size_t k,
                                       const std::function<bool(const Document&)>& accept = {}) {
  std::vector<BruteHit> all;
  for (const Document& doc : docs) {
    if (accept && !accept(doc)) continue;
    all.push_back(BruteHit{doc.id, BruteDocumentScore(metric, aggregate, query, doc)});
  }
  std::sort(all.begin(), all.end(), [](const BruteHit& a, const BruteHit& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  if (all.size() > k) all.resize(k);
  return all;
}

inline std::vector<std::string> Ids(const std::vector<ScoredDocument>& results) {
  std::vector<std::string> ids;
  for (const ScoredDocument& r : results) ids.push_back(r.document.id);
  return ids;
}

inline std::vector<std::string> Ids(const std::vector<BruteHit>& results) {
  std::vector<std::string> ids;
  for (const BruteHit& r : results) ids.push_back(r.id);
  return ids;
}

// Results equal brute force: the same length, scores within float rounding at every rank, and
// the same id at every rank unless brute force has a near-tie there (float and double rounding
// may order two equal-looking scores either way).
inline void RequireSameRanking(const std::vector<ScoredDocument>& got,
                               const std::vector<BruteHit>& want, double tolerance = 1e-5) {
  INFO("got " << ::Catch::Detail::stringify(Ids(got)) << " want "
              << ::Catch::Detail::stringify(Ids(want)));
  REQUIRE(got.size() == want.size());
  auto close = [&](double a, double b) {
    return std::fabs(a - b) <= tolerance * (1 + std::fabs(b));
  };
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("rank " << i << ": got " << got[i].document.id << " at " << got[i].score << ", want "
                 << want[i].id << " at " << want[i].score);
    REQUIRE(close(got[i].score, want[i].score));
    if (got[i].document.id != want[i].id) {
      bool near_tie = false;
      for (const BruteHit& w : want) {
        near_tie |= w.id == got[i].document.id && close(w.score, want[i].score);
      }
      REQUIRE(near_tie);
    }
  }
}

}  // namespace sochdb::collection::testing

#endif  // SOCHDB_TESTS_ENGINE_COLLECTION_COLLECTION_TEST_UTIL_H_
