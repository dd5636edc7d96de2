// CollectionStore search in the index's graph phase: 20k x 64 clustered documents at default
// settings (cosine, HNSW above the 10,000-vector threshold). Recall@10 against exact ground
// truth, unfiltered and through a 50% filter; a filter matching 0.5% of the documents still
// answers exactly the brute-force top k. Figures are printed on one line each.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/collection/collection_store.h"
#include "tests/engine/collection/collection_test_util.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::collection {
namespace {

using namespace testing;  // NOLINT: this test's helpers
using Clock = std::chrono::steady_clock;

constexpr uint32_t kDimension = 64;
constexpr uint32_t kDocuments = 20'000;
constexpr uint32_t kQueries = 200;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct RecallFixture {
  RecallFixture() : f("recall") {
    bench::ClusteredOptions options;
    options.vectors = kDocuments;
    options.queries = kQueries;
    options.dimension = kDimension;
    options.clusters = 100;
    options.seed = 7;
    data = bench::MakeClusteredDataset(options);
    f.Create("c", kDimension);
    const auto started = Clock::now();
    for (uint32_t from = 0; from < kDocuments; from += 10'000) {
      std::vector<Document> docs;
      for (uint32_t i = from; i < from + 10'000; ++i) {
        const float* row = data.base.data() + static_cast<size_t>(i) * kDimension;
        docs.push_back(MakeDocument(std::to_string(i), {std::vector<float>(row, row + kDimension)},
                                    "", {{"bucket", std::to_string(i % 200)},
                                         {"half", i % 2 == 0 ? "even" : "odd"}}));
      }
      f.Add("c", std::move(docs));
    }
    add_seconds = Seconds(started);
  }

  std::vector<float> Query(size_t q) const {
    const float* row = data.queries.data() + q * kDimension;
    return std::vector<float>(row, row + kDimension);
  }

  // recall@10 of the collection's answers against `truth`; also the mean search time.
  double Recall(const bench::GroundTruth& truth, const filter::MetadataFilter& filter,
                double* mean_ms) {
    std::vector<std::vector<int64_t>> results;
    const auto started = Clock::now();
    for (size_t q = 0; q < kQueries; ++q) {
      SearchQuery query;
      query.vector = Query(q);
      query.k = 10;
      query.filter = filter;
      query.include_embeddings = false;
      std::vector<int64_t> labels;
      for (const ScoredDocument& r : f.Search("c", query)) {
        labels.push_back(std::stoll(r.document.id));
      }
      results.push_back(std::move(labels));
    }
    *mean_ms = Seconds(started) * 1000 / kQueries;
    return bench::RecallAtK(truth, results, 10);
  }

  Fixture f;
  bench::VectorDataset data;
  double add_seconds = 0;
};

RecallFixture& Shared() {
  static RecallFixture* fixture = new RecallFixture();
  return *fixture;
}

TEST_CASE("recall@10 at default settings on 20k clustered documents", "[collection][recall]") {
  RecallFixture& r = Shared();
  const bench::GroundTruth truth = bench::ExactNeighbors(
      r.data.base, r.data.queries, kDimension, vector::Metric::kCosine, 10);
  double ms = 0;
  const double recall = r.Recall(truth, filter::MetadataFilter(), &ms);
  std::printf("collection recall: documents=%u dim=%u add_s=%.2f recall@10=%.4f search_ms=%.3f\n",
              kDocuments, kDimension, r.add_seconds, recall, ms);
  CHECK(recall >= 0.95);

  // A filter passing half of the documents.
  const bench::GroundTruth half = bench::ExactNeighbors(
      r.data.base, r.data.queries, kDimension, vector::Metric::kCosine, 10,
      [](int64_t label) { return label % 2 == 0; });
  const double filtered =
      r.Recall(half, filter::MetadataFilter::ExactMatch({{"half", "even"}}), &ms);
  std::printf("collection recall: filter=50%% recall@10=%.4f search_ms=%.3f\n", filtered, ms);
  CHECK(filtered >= 0.95);
}

TEST_CASE("a filter matching 0.5% of 20k documents answers the exact top k",
          "[collection][recall]") {
  RecallFixture& r = Shared();
  const bench::GroundTruth truth = bench::ExactNeighbors(
      r.data.base, r.data.queries, kDimension, vector::Metric::kCosine, 10,
      [](int64_t label) { return label % 200 == 7; });
  const filter::MetadataFilter bucket =
      ValueOrFail(filter::MetadataFilter::Parse(R"({"bucket": "7"})"));
  const auto started = Clock::now();
  for (size_t q = 0; q < kQueries; ++q) {
    SearchQuery query;
    query.vector = r.Query(q);
    query.k = 10;
    query.filter = bucket;
    const std::vector<ScoredDocument> got = r.f.Search("c", query);
    std::vector<BruteHit> want;
    for (size_t i = 0; i < 10; ++i) {
      want.push_back(BruteHit{std::to_string(truth.labels[q * 10 + i]),
                              1.0 - truth.distances[q * 10 + i]});
    }
    RequireSameRanking(got, want);
    for (const ScoredDocument& hit : got) CHECK(hit.document.metadata.at("bucket") == "7");
  }
  std::printf("collection filter 0.5%%: queries=%u exact=all search_ms=%.3f\n", kQueries,
              Seconds(started) * 1000 / kQueries);
}

}  // namespace
}  // namespace sochdb::collection
