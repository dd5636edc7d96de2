// Synthetic vector data for recall tests and benchmarks of the vector index: a clustered data
// set (points scattered around Gaussian cluster centres, which is how real embeddings look and
// what makes HNSW recall meaningful, unlike uniform noise), queries drawn the same way, exact
// ground truth by brute force under each metric, and recall@k. Everything is deterministic in
// the seed, on every platform (own PRNG and Gaussian sampler, no std:: distributions).
#ifndef SOCHDB_TOOLS_BENCH_DATASET_VECTOR_DATASET_H_
#define SOCHDB_TOOLS_BENCH_DATASET_VECTOR_DATASET_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/types/span.h"
#include "engine/vector/ann_index.h"

namespace sochdb::bench {

struct ClusteredOptions {
  uint32_t vectors = 10'000;
  uint32_t queries = 100;
  uint32_t dimension = 64;
  uint32_t clusters = 64;  // >= 1; centres are N(0, 1) in every component
  // Standard deviation of a point around its centre, per component. 0.5 keeps clusters
  // distinct yet overlapping enough that neighbours are not trivially one cluster.
  float spread = 0.5f;
  uint64_t seed = 42;
};

struct VectorDataset {
  uint32_t dimension = 0;
  std::vector<float> base;     // row-major, base.size() / dimension vectors
  std::vector<float> queries;  // row-major, queries.size() / dimension vectors
  size_t size() const { return dimension == 0 ? 0 : base.size() / dimension; }
  size_t query_count() const { return dimension == 0 ? 0 : queries.size() / dimension; }
};

// Each vector and each query picks a centre uniformly and adds N(0, spread^2) noise.
VectorDataset MakeClusteredDataset(const ClusteredOptions& options);

// The exact k nearest neighbours of every query, in the index's conventions (L2 rooted,
// COSINE 1 - cos with a zero vector at distance 1, DOT negated), ordered by (distance, index).
// Rows are k wide; a row with fewer than k candidates is padded with label -1.
struct GroundTruth {
  uint32_t k = 0;
  std::vector<int64_t> labels;   // queries * k
  std::vector<float> distances;  // queries * k (padding: +inf)
  absl::Span<const int64_t> row(size_t query) const {
    return absl::MakeConstSpan(labels).subspan(query * k, k);
  }
};

// Brute force over `base` (labels are row indices). `accept`, when set, restricts the
// candidates (ground truth for filtered search). Runs on every hardware thread; 20k x 64 with
// 200 queries takes a fraction of a second at -c opt.
GroundTruth ExactNeighbors(absl::Span<const float> base, absl::Span<const float> queries,
                           uint32_t dimension, vector::Metric metric, uint32_t k,
                           const std::function<bool(int64_t)>& accept = nullptr);

// Mean over queries of |results[q][:k] intersect truth.row(q)| / (the truth row's valid
// entries, at most k). `results` has one label list per query. A query whose truth row is
// empty counts as 1.
double RecallAtK(const GroundTruth& truth, const std::vector<std::vector<int64_t>>& results,
                 uint32_t k);

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_DATASET_VECTOR_DATASET_H_
