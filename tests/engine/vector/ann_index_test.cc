// Tests for AnnIndex's contract outside recall: the exact phase equals brute force under every
// metric (ties and order included), the distance conventions in both phases, validation of
// specs, vectors, queries, k and ef with messages that name the field, tombstones, and a
// concurrency smoke test of searches racing adds (across the threshold) and removes.
#include "engine/vector/ann_index.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tests/engine/vector/ann_test_util.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::vector {
namespace {

using namespace testing;  // NOLINT: the helpers of this test only

IndexSpec Spec(uint32_t d, Metric metric, uint32_t threshold = 0) {
  IndexSpec spec;
  spec.dimension = d;
  spec.metric = metric;
  spec.exact_threshold = threshold;
  return spec;
}

TEST_CASE("exact phase equals brute force under every metric") {
  bench::ClusteredOptions options;
  options.vectors = 3'000;
  options.queries = 40;
  options.dimension = 24;
  options.clusters = 20;
  const bench::VectorDataset data = bench::MakeClusteredDataset(options);
  for (Metric metric : {Metric::kL2, Metric::kCosine, Metric::kDot}) {
    INFO("metric " << MetricName(metric));
    auto index = NewIndex(Spec(options.dimension, metric));
    REQUIRE(ValueOrFail(index->Add(data.base)) == 0);
    REQUIRE(index->Stats().exact_phase);
    const bench::GroundTruth truth =
        bench::ExactNeighbors(data.base, data.queries, options.dimension, metric, 25);
    for (size_t q = 0; q < data.query_count(); ++q) {
      const auto results = SearchOk(*index, Row(data.queries, q, options.dimension), 25);
      RequireWellFormed(results, 3'000);
      RequireMatchesTruth(results, truth, q);
    }
  }
}

TEST_CASE("equal distances are ordered by label") {
  // 40 distinct vectors, each stored three times (labels i, i + 40, i + 80): identical vectors
  // give bit-identical distances, so every group of three must come out consecutive, ascending.
  const uint32_t d = 8;
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss;
  std::vector<float> distinct(40 * d);
  for (float& v : distinct) v = gauss(rng);
  std::vector<float> base;
  for (int copy = 0; copy < 3; ++copy) base.insert(base.end(), distinct.begin(), distinct.end());
  for (Metric metric : {Metric::kL2, Metric::kCosine, Metric::kDot}) {
    INFO("metric " << MetricName(metric));
    auto index = NewIndex(Spec(d, metric));
    ValueOrFail(index->Add(base));
    const auto results = SearchOk(*index, Row(distinct, 5, d), 30);
    REQUIRE(results.size() == 30);
    RequireWellFormed(results, 120);
    for (size_t g = 0; g < 10; ++g) {
      const int64_t first = results[3 * g].label;
      REQUIRE(first < 40);
      REQUIRE(results[3 * g + 1].label == first + 40);
      REQUIRE(results[3 * g + 2].label == first + 80);
      REQUIRE(results[3 * g + 1].distance == results[3 * g].distance);
      REQUIRE(results[3 * g + 2].distance == results[3 * g].distance);
    }
  }
}

// Distances of `query` to four fixed vectors, in both phases (threshold 4 builds the graph).
std::vector<float> Distances(Metric metric, Quantization quantization, uint32_t threshold,
                             const std::vector<float>& query) {
  IndexSpec spec = Spec(2, metric, threshold);
  spec.quantization = quantization;
  auto index = NewIndex(spec);
  ValueOrFail(index->Add({3, 4, 1, 0, 1, 1, -2, 0}));
  REQUIRE(index->Stats().exact_phase == (threshold > 4));
  std::vector<float> by_label(4, NAN);
  for (const Neighbor& n : SearchOk(*index, query, 4)) by_label[n.label] = n.distance;
  return by_label;
}

TEST_CASE("distance conventions: L2 rooted, cosine 1 - cos, dot negated") {
  for (uint32_t threshold : {1000u, 4u}) {
    INFO("threshold " << threshold);
    const auto l2 = Distances(Metric::kL2, Quantization::kNone, threshold, {0, 0});
    CHECK(l2[0] == Approx(5));
    CHECK(l2[1] == Approx(1));
    CHECK(l2[2] == Approx(std::sqrt(2.0f)));
    CHECK(l2[3] == Approx(2));
    // The query is scaled: cosine must not care.
    const auto cosine = Distances(Metric::kCosine, Quantization::kNone, threshold, {5, 0});
    CHECK(cosine[0] == Approx(1 - 0.6).margin(1e-6));
    CHECK(cosine[1] == Approx(0).margin(1e-6));
    CHECK(cosine[2] == Approx(1 - std::sqrt(0.5)).margin(1e-6));
    CHECK(cosine[3] == Approx(2).margin(1e-6));
    const auto dot = Distances(Metric::kDot, Quantization::kNone, threshold, {1, 2});
    CHECK(dot[0] == Approx(-11));
    CHECK(dot[1] == Approx(-1));
    CHECK(dot[2] == Approx(-3));
    CHECK(dot[3] == Approx(2));
    // A zero query is at distance 1 from everything under cosine, in every storage.
    for (Quantization q : {Quantization::kNone, Quantization::kScalar8}) {
      for (float distance : Distances(Metric::kCosine, q, threshold, {0, 0})) {
        CHECK(distance == 1.0f);
      }
    }
  }
}

TEST_CASE("cosine stores normalised vectors and a zero query orders by label") {
  auto index = NewIndex(Spec(3, Metric::kCosine));
  ValueOrFail(index->Add({0, 3, 4, 0, 0, 0, 1, 0, 0}));
  float out[3];
  REQUIRE_OK(index->Reconstruct(0, out));
  CHECK(out[1] == Approx(0.6));
  CHECK(out[2] == Approx(0.8));
  REQUIRE_OK(index->Reconstruct(1, out));  // a zero vector stays zero, at distance 1
  CHECK(out[0] == 0.0f);
  const auto results = SearchOk(*index, std::vector<float>{0, 0, 0}, 3);
  REQUIRE(results.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(results[i].label == i);
    CHECK(results[i].distance == 1.0f);
  }
  CHECK(SearchOk(*index, std::vector<float>{1, 0, 0}, 3)[2].distance == 1.0f);
}

TEST_CASE("ResolveSpec fills defaults and rejects out-of-range fields") {
  const IndexSpec resolved = ValueOrFail(ResolveSpec(Spec(64, Metric::kCosine)));
  CHECK(resolved.m == 32);
  CHECK(resolved.m0 == 64);
  CHECK(resolved.ef_construction == 256);
  CHECK(resolved.ef_search == 500);
  CHECK(resolved.exact_threshold == 10'000);
  CHECK(ValueOrFail(ResolveSpec(Spec(384, Metric::kL2))).exact_threshold == 4'000);
  CHECK(ValueOrFail(ResolveSpec(Spec(385, Metric::kL2))).exact_threshold == 1'000);
  IndexSpec pq = Spec(96, Metric::kL2);
  pq.quantization = Quantization::kProduct;
  CHECK(ValueOrFail(ResolveSpec(pq)).pq_subvectors == 32);
  pq.dimension = 20;
  CHECK(ValueOrFail(ResolveSpec(pq)).pq_subvectors == 4);

  const auto bad = [](auto mutate, const std::string& text) {
    IndexSpec spec = Spec(64, Metric::kL2);
    mutate(spec);
    RequireErrorContaining(ResolveSpec(spec).status(), absl::StatusCode::kInvalidArgument, text);
  };
  bad([](IndexSpec& s) { s.m = 1; }, "m is 1; the range is 2..256");
  bad([](IndexSpec& s) { s.m = 1000; }, "m is 1000; the range is 2..256");
  bad([](IndexSpec& s) { s.dimension = 0; }, "dimension is 0; the range is 1..4096");
  bad([](IndexSpec& s) { s.dimension = 5000; }, "dimension is 5000; the range is 1..4096");
  bad([](IndexSpec& s) { s.m = 16, s.m0 = 8; }, "m0 is 8; the range is m..512");
  bad([](IndexSpec& s) { s.ef_construction = 70'000; }, "ef_construction is 70000");
  bad([](IndexSpec& s) { s.ef_search = 70'000; }, "ef_search is 70000");
  bad([](IndexSpec& s) { s.metric = static_cast<Metric>(9); }, "metric is 9");
  bad([](IndexSpec& s) { s.quantization = static_cast<Quantization>(9); }, "quantization is 9");
  bad([](IndexSpec& s) { s.quantization = Quantization::kProduct, s.metric = Metric::kDot; },
      "quantization PRODUCT supports metrics L2 and COSINE");
  bad([](IndexSpec& s) { s.quantization = Quantization::kProduct, s.pq_subvectors = 5; },
      "pq_subvectors is 5; it must divide dimension 64");
  bad([](IndexSpec& s) { s.quantization = Quantization::kProduct, s.pq_subvectors = 128; },
      "pq_subvectors is 128");
  bad([](IndexSpec& s) { s.quantization = Quantization::kProduct, s.exact_threshold = 100; },
      "exact_threshold is 100");
}

TEST_CASE("vectors and queries are validated before anything changes") {
  for (uint32_t threshold : {1000u, 2u}) {
    INFO("threshold " << threshold);
    auto index = NewIndex(Spec(4, Metric::kL2, threshold));
    ValueOrFail(index->Add({1, 2, 3, 4, 5, 6, 7, 8}));
    const float inf = std::numeric_limits<float>::infinity();
    const auto add_error = [&](std::vector<float> v, const std::string& text) {
      RequireErrorContaining(index->Add(v).status(), absl::StatusCode::kInvalidArgument, text);
    };
    add_error({1, 2, 3}, "vectors has 3 floats; expected a multiple of 4");
    add_error({1, 2, 3, 4, 1, NAN, 3, 4}, "vectors[1][1] is NaN");
    add_error({1, 2, 3, 4, 1, 2, 3, inf}, "vectors[1][3] is +Inf");
    add_error({-inf, 2, 3, 4}, "vectors[0][0] is -Inf");
    add_error({1e20f, 2, 3, 4}, "vectors[0][0] is 1e+20; the limit is +-1e+16");
    CHECK(index->Stats().labels == 2);  // all or nothing
    RequireErrorContaining(ValidateVectors(std::vector<float>{1, NAN}, 2), absl::StatusCode::kInvalidArgument,
                 "vectors[0][1] is NaN");

    const auto search_error = [&](std::vector<float> q, uint32_t k, uint32_t ef,
                                  const std::string& text) {
      RequireErrorContaining(index->Search(q, k, ef).status(), absl::StatusCode::kInvalidArgument, text);
    };
    search_error({1, 2, 3}, 1, 0, "query has 3 floats; expected 4");
    search_error({1, 2, 3, 4, 5}, 1, 0, "query has 5 floats; expected 4");
    search_error({1, NAN, 3, 4}, 1, 0, "query[1] is NaN");
    search_error({1, 2, inf, 4}, 1, 0, "query[2] is +Inf");
    search_error({1, 2, 3, -inf}, 1, 0, "query[3] is -Inf");
    search_error({1, 2, 3, 4}, 0, 0, "k is 0; the range is 1..10000");
    search_error({1, 2, 3, 4}, kMaxK + 1, 0, "k is 10001; the range is 1..10000");
    search_error({1, 2, 3, 4}, 1, kMaxEf + 1, "ef is 65537; the range is 0..65536");
    CHECK(SearchOk(*index, std::vector<float>{1, 2, 3, 4}, kMaxK).size() == 2);

    RequireErrorContaining(index->Remove(2), absl::StatusCode::kInvalidArgument, "label 2 was never added");
    RequireErrorContaining(index->Remove(-1), absl::StatusCode::kInvalidArgument, "label -1");
    float out[4];
    RequireErrorContaining(index->Reconstruct(7, out), absl::StatusCode::kInvalidArgument, "label 7");
  }
}

TEST_CASE("an empty index answers no results") {
  auto index = NewIndex(Spec(4, Metric::kCosine));
  CHECK(SearchOk(*index, std::vector<float>{1, 2, 3, 4}, 5).empty());
  CHECK(ValueOrFail(index->Add({})) == 0);
  CHECK(index->Stats().labels == 0);
}

TEST_CASE("tombstoned labels are never returned, in either phase") {
  bench::ClusteredOptions options;
  options.vectors = 3'000;
  options.queries = 50;
  options.dimension = 16;
  options.clusters = 30;
  const bench::VectorDataset data = bench::MakeClusteredDataset(options);
  for (uint32_t threshold : {5'000u, 1'000u}) {
    INFO("threshold " << threshold);
    IndexSpec spec = Spec(16, Metric::kL2, threshold);
    spec.m = 16;
    spec.ef_construction = 100;
    auto index = NewIndex(spec);
    ValueOrFail(index->Add(data.base));
    // Remove the true top-5 of every query plus a random third of everything else.
    const bench::GroundTruth truth =
        bench::ExactNeighbors(data.base, data.queries, 16, Metric::kL2, 5);
    std::set<int64_t> removed(truth.labels.begin(), truth.labels.end());
    std::mt19937 rng(11);
    for (int i = 0; i < 1'000; ++i) removed.insert(rng() % 3'000);
    for (int64_t label : removed) REQUIRE_OK(index->Remove(label));
    REQUIRE_OK(index->Remove(*removed.begin()));  // again: a no-op
    const AnnStats stats = index->Stats();
    CHECK(stats.tombstones == removed.size());
    CHECK(stats.live == 3'000 - removed.size());
    const auto live = [&](int64_t label) { return removed.count(label) == 0; };
    const bench::GroundTruth live_truth =
        bench::ExactNeighbors(data.base, data.queries, 16, Metric::kL2, 10, live);
    std::vector<std::vector<int64_t>> got;
    for (size_t q = 0; q < data.query_count(); ++q) {
      const auto results = SearchOk(*index, Row(data.queries, q, 16), 10);
      REQUIRE(results.size() == 10);
      RequireWellFormed(results, 3'000);
      std::vector<int64_t> labels;
      for (const Neighbor& n : results) {
        REQUIRE(live(n.label));
        labels.push_back(n.label);
      }
      got.push_back(labels);
    }
    CHECK(bench::RecallAtK(live_truth, got, 10) >= 0.9);
  }
}

TEST_CASE("removing every label leaves an index that answers nothing") {
  auto index = NewIndex(Spec(2, Metric::kL2, 3));
  ValueOrFail(index->Add({1, 1, 2, 2, 3, 3, 4, 4}));
  for (int64_t label = 0; label < 4; ++label) REQUIRE_OK(index->Remove(label));
  CHECK(SearchOk(*index, std::vector<float>{1, 1}, 3).empty());
}

TEST_CASE("searches race adds across the threshold and removes") {
  SetFaissThreads(2);
  const uint32_t d = 16;
  IndexSpec spec = Spec(d, Metric::kCosine, 2'000);
  spec.m = 12;
  spec.ef_construction = 48;
  spec.ef_search = 64;
  auto index = NewIndex(spec);
  bench::ClusteredOptions options;
  options.vectors = 6'000;
  options.queries = 64;
  options.dimension = d;
  const bench::VectorDataset data = bench::MakeClusteredDataset(options);
  std::atomic<bool> done{false};
  std::atomic<int64_t> searches{0}, bad{0};
  const auto searcher = [&](int seed) {
    std::mt19937 rng(seed);
    LabelFilter even{[](int64_t label) { return label % 2 == 0; }, -1};
    while (!done.load()) {
      const uint32_t k = 1 + rng() % 20;
      absl::StatusOr<std::vector<Neighbor>> results =
          index->Search(Row(data.queries, rng() % 64, d), k, 0, (rng() % 3 == 0) ? &even : nullptr);
      const int64_t labels = static_cast<int64_t>(index->Stats().labels);
      if (!results.ok() || results->size() > k) ++bad;
      for (const Neighbor& n : results.value_or(std::vector<Neighbor>())) {
        if (n.label < 0 || n.label >= labels || std::isnan(n.distance)) ++bad;
      }
      ++searches;
    }
  };
  std::thread a(searcher, 1), b(searcher, 2);
  std::mt19937 rng(5);
  for (size_t first = 0; first < 6'000; first += 250) {
    auto batch = absl::MakeConstSpan(data.base).subspan(first * d, 250 * d);
    REQUIRE(ValueOrFail(index->Add(batch)) == static_cast<int64_t>(first));
    for (int i = 0; i < 25; ++i) REQUIRE_OK(index->Remove(rng() % (first + 250)));
    ValueOrFail(index->Serialize());
  }
  done = true;
  a.join();
  b.join();
  CHECK(bad.load() == 0);
  CHECK(searches.load() > 0);
  CHECK_FALSE(index->Stats().exact_phase);
}

}  // namespace
}  // namespace sochdb::vector
