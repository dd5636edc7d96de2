// Clustered synthetic vectors and brute-force ground truth (see vector_dataset.h). The inner
// loops keep eight independent float accumulators so that the compiler can vectorise them
// without -ffast-math; queries are split across hardware threads.
#include "tools/bench/dataset/vector_dataset.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <thread>
#include <utility>

#include "tools/bench/dataset/random.h"

namespace sochdb::bench {
namespace {

void DrawPoints(Random& random, const std::vector<float>& centres, uint32_t clusters, uint32_t d,
                float spread, uint32_t count, std::vector<float>* out) {
  out->resize(static_cast<size_t>(count) * d);
  for (uint32_t i = 0; i < count; ++i) {
    const float* centre = centres.data() + static_cast<size_t>(random.Below(clusters)) * d;
    float* point = out->data() + static_cast<size_t>(i) * d;
    for (uint32_t j = 0; j < d; ++j) point[j] = centre[j] + spread * random.Gaussian();
  }
}

float Dot(const float* a, const float* b, uint32_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int t = 0; t < 8; ++t) acc[t] += a[j + t] * b[j + t];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) sum += a[j] * b[j];
  return sum;
}

float SquaredL2(const float* a, const float* b, uint32_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int t = 0; t < 8; ++t) {
      const float diff = a[j + t] - b[j + t];
      acc[t] += diff * diff;
    }
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return sum;
}

std::vector<float> Normalized(absl::Span<const float> values, uint32_t d) {
  std::vector<float> out(values.begin(), values.end());
  for (size_t i = 0; i + d <= out.size(); i += d) {
    double sum = 0;
    for (uint32_t j = 0; j < d; ++j) sum += static_cast<double>(out[i + j]) * out[i + j];
    if (sum <= 0) continue;
    const double norm = std::sqrt(sum);
    for (uint32_t j = 0; j < d; ++j) out[i + j] = static_cast<float>(out[i + j] / norm);
  }
  return out;
}

// One query's row of the ground truth: a bounded max-heap on (distance, index).
void FillRow(const float* base, size_t n, const float* query, uint32_t d, vector::Metric metric,
             uint32_t k, const std::function<bool(int64_t)>& accept, int64_t* labels,
             float* distances) {
  std::priority_queue<std::pair<float, int64_t>> heap;
  for (size_t i = 0; i < n; ++i) {
    if (accept && !accept(static_cast<int64_t>(i))) continue;
    const float* v = base + i * d;
    float distance = 0;
    switch (metric) {
      case vector::Metric::kL2:
        distance = std::sqrt(SquaredL2(query, v, d));
        break;
      case vector::Metric::kCosine:
        distance = 1.0f - Dot(query, v, d);
        break;
      case vector::Metric::kDot:
        distance = -Dot(query, v, d);
        break;
    }
    const std::pair<float, int64_t> item(distance, static_cast<int64_t>(i));
    if (heap.size() < k) {
      heap.push(item);
    } else if (item < heap.top()) {
      heap.pop();
      heap.push(item);
    }
  }
  std::fill(labels, labels + k, -1);
  std::fill(distances, distances + k, INFINITY);
  for (size_t slot = heap.size(); slot-- > 0;) {
    labels[slot] = heap.top().second;
    distances[slot] = heap.top().first;
    heap.pop();
  }
}

}  // namespace

VectorDataset MakeClusteredDataset(const ClusteredOptions& options) {
  const uint32_t d = options.dimension;
  const uint32_t clusters = std::max(options.clusters, 1u);
  Random random(options.seed);
  std::vector<float> centres(static_cast<size_t>(clusters) * d);
  for (float& c : centres) c = random.Gaussian();
  VectorDataset data;
  data.dimension = d;
  DrawPoints(random, centres, clusters, d, options.spread, options.vectors, &data.base);
  DrawPoints(random, centres, clusters, d, options.spread, options.queries, &data.queries);
  return data;
}

GroundTruth ExactNeighbors(absl::Span<const float> base, absl::Span<const float> queries,
                           uint32_t dimension, vector::Metric metric, uint32_t k,
                           const std::function<bool(int64_t)>& accept) {
  GroundTruth truth;
  truth.k = k;
  if (dimension == 0 || k == 0) return truth;
  const size_t n = base.size() / dimension;
  const size_t nq = queries.size() / dimension;
  truth.labels.assign(nq * k, -1);
  truth.distances.assign(nq * k, INFINITY);
  std::vector<float> base_copy, query_copy;
  if (metric == vector::Metric::kCosine) {
    base_copy = Normalized(base, dimension);
    query_copy = Normalized(queries, dimension);
    base = base_copy;
    queries = query_copy;
  }
  const size_t threads =
      std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(nq, 1));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t q = t; q < nq; q += threads) {
        FillRow(base.data(), n, queries.data() + q * dimension, dimension, metric, k, accept,
                truth.labels.data() + q * k, truth.distances.data() + q * k);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return truth;
}

double RecallAtK(const GroundTruth& truth, const std::vector<std::vector<int64_t>>& results,
                 uint32_t k) {
  const size_t nq = truth.k == 0 ? 0 : truth.labels.size() / truth.k;
  if (nq == 0) return 1.0;
  const uint32_t depth = std::min(k, truth.k);
  double total = 0;
  for (size_t q = 0; q < nq; ++q) {
    absl::Span<const int64_t> row = truth.row(q).subspan(0, depth);
    const size_t valid = std::count_if(row.begin(), row.end(), [](int64_t l) { return l >= 0; });
    if (valid == 0) {
      total += 1.0;
      continue;
    }
    size_t hits = 0;
    if (q < results.size()) {
      const std::vector<int64_t>& got = results[q];
      for (size_t i = 0; i < std::min<size_t>(got.size(), depth); ++i) {
        if (got[i] >= 0 && std::find(row.begin(), row.end(), got[i]) != row.end()) ++hits;
      }
    }
    total += static_cast<double>(hits) / static_cast<double>(valid);
  }
  return total / static_cast<double>(nq);
}

}  // namespace sochdb::bench
