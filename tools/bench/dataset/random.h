// The benchmark data sets' random numbers: splitmix64, tiny, fast, and the same sequence on
// every platform and standard library (std:: distributions are not), so a seed names one data
// set everywhere.
#ifndef SOCHDB_TOOLS_BENCH_DATASET_RANDOM_H_
#define SOCHDB_TOOLS_BENCH_DATASET_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace sochdb::bench {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so the logarithm below is finite.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 1.0) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0. The modulo bias is below 2^-32 for the n used here.
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  // Box-Muller; the second value of each pair is discarded for simplicity.
  float Gaussian() {
    const double r = std::sqrt(-2.0 * std::log(Uniform()));
    return static_cast<float>(r * std::cos(6.283185307179586 * Uniform()));
  }

 private:
  uint64_t state_;
};

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_DATASET_RANDOM_H_
