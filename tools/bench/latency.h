// Latency percentiles for the benchmark drivers: samples in microseconds, nearest rank.
#ifndef SOCHDB_TOOLS_BENCH_LATENCY_H_
#define SOCHDB_TOOLS_BENCH_LATENCY_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sochdb::bench {

// The p-quantile (0 <= p <= 1) of `v`, which it partially reorders; 0 when empty.
inline double Percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_LATENCY_H_
