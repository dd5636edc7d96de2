// Recall of VectorIndexService through the real binary: 20,000 x 64 clustered vectors go in by
// InsertBatch (past the exact-search threshold, so the HNSW graph answers), every query goes
// through Search at the index's default settings, and the answers are scored against exact
// ground truth. Full precision must reach recall@10 0.95 (the contract's floor); the quantized
// storages have floors of their own, set below what they measure (printed on each run).
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::testing {
namespace {

using v1::VectorIndexService;

constexpr uint32_t kDim = 64;
constexpr uint32_t kVectors = 20'000;
constexpr uint32_t kQueries = 100;
constexpr uint32_t kK = 10;
constexpr uint32_t kInsertChunk = 5'000;

const bench::VectorDataset& Dataset() {
  static const bench::VectorDataset data = [] {
    bench::ClusteredOptions options;
    options.vectors = kVectors;
    options.queries = kQueries;
    options.dimension = kDim;
    options.clusters = 64;
    options.seed = 7;
    return bench::MakeClusteredDataset(options);
  }();
  return data;
}

const bench::GroundTruth& Truth() {
  static const bench::GroundTruth truth = bench::ExactNeighbors(
      Dataset().base, Dataset().queries, kDim, vector::Metric::kL2, kK);
  return truth;
}

// Creates `name` with the given storage, loads the data set and returns recall@10 of Search.
double MeasureThroughServer(VectorIndexService::Stub& stub, const std::string& name,
                            v1::Quantization quantization) {
  v1::CreateIndexRequest create;
  create.set_name(name);
  create.set_dimension(kDim);
  create.set_metric(v1::DISTANCE_METRIC_L2);
  create.set_quantization(quantization);
  v1::CreateIndexResponse created;
  REQUIRE(stub.CreateIndex(MakeContext().get(), create, &created).ok());
  INFO(created.error());
  REQUIRE(created.success());

  const bench::VectorDataset& data = Dataset();
  for (uint32_t first = 0; first < kVectors; first += kInsertChunk) {
    v1::InsertBatchRequest insert;
    insert.set_index_name(name);
    for (uint32_t i = first; i < first + kInsertChunk; ++i) insert.add_ids(i);
    insert.mutable_vectors()->Add(data.base.begin() + size_t{first} * kDim,
                                  data.base.begin() + size_t{first + kInsertChunk} * kDim);
    v1::InsertBatchResponse inserted;
    const grpc::Status s =
        stub.InsertBatch(MakeContext("", absl::Seconds(300)).get(), insert, &inserted);
    INFO(s.error_message());
    REQUIRE(s.ok());
    REQUIRE(inserted.inserted_count() == kInsertChunk);
  }

  v1::GetStatsRequest stats_request;
  stats_request.set_index_name(name);
  v1::GetStatsResponse stats;
  REQUIRE(stub.GetStats(MakeContext().get(), stats_request, &stats).ok());
  REQUIRE(stats.stats().num_vectors() == kVectors);
  // The graph phase answers: the exact path would score 1.0 and prove nothing.
  CHECK(stats.stats().max_layer() > 0);

  std::vector<std::vector<int64_t>> results(kQueries);
  for (uint32_t q = 0; q < kQueries; ++q) {
    v1::SearchRequest search;
    search.set_index_name(name);
    search.mutable_query()->Add(data.queries.begin() + size_t{q} * kDim,
                                data.queries.begin() + size_t{q + 1} * kDim);
    search.set_k(kK);
    v1::SearchResponse found;
    REQUIRE(stub.Search(MakeContext().get(), search, &found).ok());
    REQUIRE(found.results_size() == static_cast<int>(kK));
    for (const v1::SearchResult& hit : found.results()) {
      results[q].push_back(static_cast<int64_t>(hit.id()));
    }
  }
  const double recall = bench::RecallAtK(Truth(), results, kK);
  std::printf("server recall: index=%s n=%u d=%u recall@10=%.3f memory_bytes=%llu\n", name.c_str(),
              kVectors, kDim, recall, static_cast<unsigned long long>(stats.stats().memory_bytes()));
  return recall;
}

TEST_CASE("recall@10 through the server at default settings, full precision and quantized") {
  ServerProcess server({});
  std::string error;
  INFO(error);
  REQUIRE(server.Start(&error));
  std::unique_ptr<VectorIndexService::Stub> stub = VectorIndexService::NewStub(server.Channel());

  CHECK(MeasureThroughServer(*stub, "full", v1::QUANTIZATION_NONE) >= 0.95);
  CHECK(MeasureThroughServer(*stub, "sq8", v1::QUANTIZATION_SCALAR) >= 0.93);
  CHECK(MeasureThroughServer(*stub, "pq", v1::QUANTIZATION_PQ) >= 0.70);
}

}  // namespace
}  // namespace sochdb::testing
