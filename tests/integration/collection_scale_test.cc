// Filtered collection search at a scale where the HNSW graph answers (12,000 documents, past
// the exact-search threshold), through the real binary, against brute force: a very selective
// filter (0.4% of the documents) must still return exactly the k best matching documents, and a
// broad JSON filter must keep recall while returning only matching documents.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "sochdb/v1/collection.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::testing {
namespace {

using v1::CollectionService;

constexpr uint32_t kDim = 32;
constexpr uint32_t kDocs = 12'000;
constexpr uint32_t kQueries = 20;
constexpr uint32_t kK = 10;
constexpr uint32_t kShards = 250;  // "shard" = i % 250: 48 documents each
constexpr uint32_t kYears = 30;    // "year" = 2000 + i % 30

double Cosine(const float* a, const float* b) {
  double dot = 0, na = 0, nb = 0;
  for (uint32_t i = 0; i < kDim; ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// The k most similar documents (by index) among those `accept` takes, best first.
template <typename Accept>
std::vector<uint32_t> BruteForce(const bench::VectorDataset& data, const float* query,
                                 Accept accept) {
  std::vector<std::pair<double, uint32_t>> scored;
  for (uint32_t i = 0; i < kDocs; ++i) {
    if (accept(i)) scored.emplace_back(-Cosine(data.base.data() + size_t{i} * kDim, query), i);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<uint32_t> best;
  for (size_t i = 0; i < scored.size() && i < kK; ++i) best.push_back(scored[i].second);
  return best;
}

std::vector<uint32_t> ResultIndexes(const v1::SearchCollectionResponse& resp) {
  std::vector<uint32_t> out;
  for (const auto& r : resp.results()) out.push_back(std::stoul(r.document().id().substr(3)));
  return out;
}

TEST_CASE("filtered search over the graph: selective filters are exact, broad ones keep recall") {
  ServerProcess server({});
  std::string error;
  INFO(error);
  REQUIRE(server.Start(&error));
  std::unique_ptr<CollectionService::Stub> stub = CollectionService::NewStub(server.Channel());

  v1::CreateCollectionRequest create;
  create.set_namespace_("default");
  create.set_name("scale");
  create.set_dimension(kDim);
  create.set_metric(v1::DISTANCE_METRIC_COSINE);
  v1::CreateCollectionResponse created;
  REQUIRE(stub->CreateCollection(MakeContext().get(), create, &created).ok());
  REQUIRE(created.success());

  bench::ClusteredOptions options;
  options.vectors = kDocs;
  options.queries = kQueries;
  options.dimension = kDim;
  options.clusters = 40;
  options.seed = 11;
  const bench::VectorDataset data = bench::MakeClusteredDataset(options);
  for (uint32_t first = 0; first < kDocs; first += 2'000) {
    v1::AddDocumentsRequest add;
    add.set_namespace_("default");
    add.set_collection_name("scale");
    for (uint32_t i = first; i < first + 2'000; ++i) {
      v1::Document* d = add.add_documents();
      d->set_id(absl::StrCat("doc", i));
      d->mutable_embedding()->Add(data.base.begin() + size_t{i} * kDim,
                                  data.base.begin() + size_t{i + 1} * kDim);
      (*d->mutable_metadata())["shard"] = std::to_string(i % kShards);
      (*d->mutable_metadata())["year"] = std::to_string(2000 + i % kYears);
    }
    v1::AddDocumentsResponse added;
    const grpc::Status s = stub->AddDocuments(MakeContext("", absl::Seconds(120)).get(), add, &added);
    INFO(s.error_message());
    REQUIRE(s.ok());
    REQUIRE(added.added_count() == 2'000);
  }

  double broad_hits = 0, broad_total = 0;
  for (uint32_t q = 0; q < kQueries; ++q) {
    const float* query = data.queries.data() + size_t{q} * kDim;
    v1::SearchCollectionRequest search;
    search.set_namespace_("default");
    search.set_collection_name("scale");
    search.mutable_query()->Add(query, query + kDim);
    search.set_k(kK);

    const uint32_t shard = (q * 37) % kShards;
    (*search.mutable_filter())["shard"] = std::to_string(shard);
    v1::SearchCollectionResponse resp;
    REQUIRE(stub->SearchCollection(MakeContext().get(), search, &resp).ok());
    CHECK(ResultIndexes(resp) ==
          BruteForce(data, query, [&](uint32_t i) { return i % kShards == shard; }));

    search.clear_filter();
    search.set_filter_json(R"({"year": {"$gte": 2025}})");  // 5 of 30 years: 1/6 of documents
    REQUIRE(stub->SearchCollection(MakeContext().get(), search, &resp).ok());
    const std::vector<uint32_t> got = ResultIndexes(resp);
    REQUIRE(got.size() == kK);
    for (uint32_t i : got) CHECK(2000 + i % kYears >= 2025);
    const std::vector<uint32_t> truth =
        BruteForce(data, query, [](uint32_t i) { return 2000 + i % kYears >= 2025; });
    for (uint32_t i : truth) {
      broad_hits += std::count(got.begin(), got.end(), i);
      broad_total += 1;
    }
  }
  const double recall = broad_hits / broad_total;
  std::printf("server filtered recall: docs=%u d=%u accept=1/6 recall@10=%.3f\n", kDocs, kDim,
              recall);
  CHECK(recall >= 0.9);
}

}  // namespace
}  // namespace sochdb::testing
