// Helpers shared by the AnnIndex tests: status assertions, index construction, searching a
// whole query set, result invariants (sorted by (distance, label), valid distinct labels) and
// comparison with brute-force ground truth that tolerates float rounding between equal-looking
// distances (FAISS's SIMD sums and the reference loop round differently).
#ifndef SOCHDB_TESTS_ENGINE_VECTOR_ANN_TEST_UTIL_H_
#define SOCHDB_TESTS_ENGINE_VECTOR_ANN_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/vector/ann_index.h"
#include "tests/common/status_testing.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::vector::testing {

using ::sochdb::testing::RequireErrorContaining;
using ::sochdb::testing::ValueOrFail;

// A clustered data set with `queries` queries (bench::MakeClusteredDataset, default seed).
inline bench::VectorDataset ClusteredData(uint32_t vectors, uint32_t dimension, uint32_t queries,
                                          uint32_t clusters) {
  bench::ClusteredOptions options;
  options.vectors = vectors;
  options.dimension = dimension;
  options.queries = queries;
  options.clusters = clusters;
  return bench::MakeClusteredDataset(options);
}

// A resolved full-precision spec for small graphs: dimension 32, M 8, efConstruction 40.
inline IndexSpec SmallGraphSpec(Metric metric, uint32_t exact_threshold = 0) {
  IndexSpec spec;
  spec.dimension = 32;
  spec.metric = metric;
  spec.m = 8;
  spec.ef_construction = 40;
  spec.exact_threshold = exact_threshold;
  return ValueOrFail(ResolveSpec(spec));
}

inline std::unique_ptr<AnnIndex> NewIndex(const IndexSpec& spec) {
  return ValueOrFail(AnnIndex::Create(ValueOrFail(ResolveSpec(spec))));
}

inline absl::Span<const float> Row(const std::vector<float>& flat, size_t i, uint32_t d) {
  return absl::MakeConstSpan(flat).subspan(i * d, d);
}

inline std::vector<Neighbor> SearchOk(const AnnIndex& index, absl::Span<const float> query,
                                      uint32_t k, uint32_t ef = 0,
                                      const LabelFilter* filter = nullptr) {
  return ValueOrFail(index.Search(query, k, ef, filter));
}

inline std::vector<std::vector<int64_t>> SearchLabels(const AnnIndex& index,
                                                      const std::vector<float>& queries, uint32_t k,
                                                      uint32_t ef = 0,
                                                      const LabelFilter* filter = nullptr) {
  const uint32_t d = index.spec().dimension;
  std::vector<std::vector<int64_t>> out;
  for (size_t q = 0; q * d < queries.size(); ++q) {
    std::vector<int64_t> labels;
    for (const Neighbor& n : SearchOk(index, Row(queries, q, d), k, ef, filter)) {
      labels.push_back(n.label);
    }
    out.push_back(std::move(labels));
  }
  return out;
}

// Sorted strictly by (distance, label), labels distinct, in [0, labels), distances not NaN.
inline void RequireWellFormed(const std::vector<Neighbor>& results, int64_t labels) {
  for (size_t i = 0; i < results.size(); ++i) {
    INFO("result " << i << ": label " << results[i].label << " distance " << results[i].distance);
    REQUIRE(results[i].label >= 0);
    REQUIRE(results[i].label < labels);
    REQUIRE_FALSE(std::isnan(results[i].distance));
    if (i > 0) {
      const Neighbor& prev = results[i - 1];
      REQUIRE((prev.distance < results[i].distance ||
               (prev.distance == results[i].distance && prev.label < results[i].label)));
    }
  }
}

// `results` equals the truth row of query `q`: same length, distances within `tolerance`, and
// the same label at each position unless the truth itself has a near-tie there.
inline void RequireMatchesTruth(const std::vector<Neighbor>& results,
                                const bench::GroundTruth& truth, size_t q,
                                float tolerance = 1e-4f) {
  size_t expected = 0;
  for (int64_t label : truth.row(q)) expected += label >= 0 ? 1 : 0;
  REQUIRE(results.size() == expected);
  for (size_t i = 0; i < results.size(); ++i) {
    const float want = truth.distances[q * truth.k + i];
    const int64_t want_label = truth.labels[q * truth.k + i];
    INFO("query " << q << " rank " << i << ": got " << results[i].label << " at "
                  << results[i].distance << ", want " << want_label << " at " << want);
    REQUIRE(std::fabs(results[i].distance - want) <= tolerance * (1.0f + std::fabs(want)));
    if (results[i].label != want_label) {
      bool near_tie = false;
      for (size_t j = 0; j < expected; ++j) {
        near_tie |= truth.labels[q * truth.k + j] == results[i].label &&
                    std::fabs(truth.distances[q * truth.k + j] - want) <=
                        tolerance * (1.0f + std::fabs(want));
      }
      REQUIRE(near_tie);
    }
  }
}

// The 20k x 64 clustered set with 200 queries used by the recall and filter tests.
inline const bench::VectorDataset& Clustered20k() {
  static const bench::VectorDataset* data = [] {
    bench::ClusteredOptions options;
    options.vectors = 20'000;
    options.queries = 200;
    options.dimension = 64;
    options.clusters = 100;
    options.seed = 7;
    return new bench::VectorDataset(bench::MakeClusteredDataset(options));
  }();
  return *data;
}

}  // namespace sochdb::vector::testing

#endif  // SOCHDB_TESTS_ENGINE_VECTOR_ANN_TEST_UTIL_H_
