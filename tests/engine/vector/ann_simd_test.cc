// The SIMD distance kernels agree with a double-precision reference for every dimension shape
// (multiples of 16 and 8, and ragged tails), and with each other's conventions.
#include <cmath>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/vector/ann_simd.h"

namespace sochdb::vector::internal {
namespace {

TEST_CASE("L2Squared and InnerProduct match a double-precision reference") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 3);
  INFO("simd kernels active: " << SimdKernelsActive());
  for (size_t d : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 64u, 100u, 128u, 384u, 1536u}) {
    std::vector<float> a(d), b(d);
    for (size_t i = 0; i < d; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
    }
    double l2 = 0, ip = 0;
    for (size_t i = 0; i < d; ++i) {
      l2 += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      ip += static_cast<double>(a[i]) * b[i];
    }
    INFO("d = " << d);
    CHECK(L2Squared(a.data(), b.data(), d) == Approx(l2).epsilon(1e-5));
    CHECK(InnerProduct(a.data(), b.data(), d) == Approx(ip).epsilon(1e-4).margin(1e-3));
    CHECK(L2Squared(a.data(), a.data(), d) == 0.0f);
  }
}

}  // namespace
}  // namespace sochdb::vector::internal
