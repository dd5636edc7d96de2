// Vector distance kernels for AnnIndex. Debian builds FAISS for baseline x86-64, so its flat
// distances run the scalar reference loop (faiss::fvec_L2sqr_ref: 40% of a search's CPU in a
// profile); these use AVX2 + FMA when the CPU has them (checked once at start-up) and a
// four-accumulator portable loop otherwise. Results match FAISS's to float rounding.
#ifndef SOCHDB_ENGINE_VECTOR_ANN_SIMD_H_
#define SOCHDB_ENGINE_VECTOR_ANN_SIMD_H_

#include <cstddef>

namespace sochdb::vector::internal {

// sum((a[i] - b[i])^2)
float L2Squared(const float* a, const float* b, size_t d);
// sum(a[i] * b[i])
float InnerProduct(const float* a, const float* b, size_t d);
// Whether the AVX2 kernels are in use (for logs and tests).
bool SimdKernelsActive();

}  // namespace sochdb::vector::internal

#endif  // SOCHDB_ENGINE_VECTOR_ANN_SIMD_H_
