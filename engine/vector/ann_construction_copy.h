// The construction copy of a graph over flat storage, on which ann_build.cc computes its
// construction distances, with the AVX2 kernels that compute them and the flat storage that
// carries the copy beside FAISS's vectors. Private to engine/vector (ann_build.cc,
// ann_construction_copy.cc, ann_graph_growth.cc).
//
// Each vector is held as signed 8-bit integers, v * scale rounded, one scale for
// the whole copy, so that a distance between two copies is an exact integer sum (squared L2,
// or the inner product) proportional to the distance the rounded vectors have. A vector is 128
// bytes instead of 512 at d = 128, so the build's random reads -- what it waits on past a few
// hundred thousand vectors -- fetch two cache lines instead of eight, and the arithmetic is
// integer multiply-adds on both sides with nothing to convert. Measured on 100k x 128 (1,000
// clusters, M 32, efC 256, one build thread each, side by side on the two cores and swapped):
// 2,770 / 2,877 inserts per second against 1,825 / 2,134 with the half-precision copy this
// replaced, recall@10 at ef 32 0.9995 against 0.9990. Searches keep full precision, so only the
// choice of links can differ, as it would for two builds in a different order.
//
// The scale puts the largest magnitude seen at kTarget (100 of 127); when a later batch holds
// values past 127, the scale is chosen again and the whole copy converted anew. Rounding costs
// a vector little while its values span many steps: a vector whose codes' root mean square is
// under kMinRmsCode (all small values next to a few large ones elsewhere in the copy, say a
// batch 100x smaller than the rest) would be mostly rounding, so a copy with more than 1% of
// its vectors like that is not used, and the build computes on the full vectors instead.
#ifndef SOCHDB_ENGINE_VECTOR_ANN_CONSTRUCTION_COPY_H_
#define SOCHDB_ENGINE_VECTOR_ANN_CONSTRUCTION_COPY_H_

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "engine/vector/ann_internal.h"

namespace sochdb::vector::internal {

#define SOCHDB_COPY_KERNEL __attribute__((target("avx2")))

inline bool CopyKernelsAvailable() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
  }();
  return available;
}

// sum((a - b)^2) and sum(a * b) over codes in [-127, 127], exact in 32-bit integers for d up
// to 2^31 / 254^2 = 33,000 components (kMaxDimension is 4,096).
SOCHDB_COPY_KERNEL inline __m256i Load16(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
SOCHDB_COPY_KERNEL inline int32_t Sum8(__m256i v) {
  __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
  sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
  return _mm_cvtsi128_si32(sum);
}
SOCHDB_COPY_KERNEL inline float Int8L2Squared(const int8_t* a, const int8_t* b, size_t d) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256i diff = _mm256_sub_epi16(Load16(a + i), Load16(b + i));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(diff, diff));
  }
  int32_t total = Sum8(acc);
  for (; i < d; ++i) {
    const int32_t diff = int32_t{a[i]} - int32_t{b[i]};
    total += diff * diff;
  }
  return static_cast<float>(total);
}
SOCHDB_COPY_KERNEL inline float Int8InnerProduct(const int8_t* a, const int8_t* b, size_t d) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(Load16(a + i), Load16(b + i)));
  }
  int32_t total = Sum8(acc);
  for (; i < d; ++i) total += int32_t{a[i]} * int32_t{b[i]};
  return static_cast<float>(total);
}

#undef SOCHDB_COPY_KERNEL

// Allocates on cache-line boundaries, so that a 128-byte row spans 2 lines rather than 3.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlignment); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

// `from`'s elements copied into `to`, in room for `capacity` (at least `from.size()`), leaving
// `from` as it was: how PrepareGrowth grows an array beside its readers.
template <class Vector>
void CopyWithRoom(const Vector& from, size_t capacity, Vector* to) {
  Vector fresh(from.get_allocator());
  fresh.reserve(std::max(capacity, from.size()));
  fresh.assign(from.begin(), from.end());
  to->swap(fresh);
}

// The copy itself (see the file comment).
class Int8Copy {
 public:
  // Brings the copy up to `rows` vectors of `d` floats (rows only ever grow).
  void CatchUp(const float* vectors, size_t rows, size_t d);
  const int8_t* data() const { return codes_.data(); }
  size_t rows() const { return rows_; }
  // Whether distances on the copy are close enough to build with (see above).
  bool usable() const { return coarse_rows_ * 100 <= rows_; }
  size_t capacity() const { return codes_.capacity(); }  // in components
  uint64_t MemoryBytes() const { return codes_.capacity() * sizeof(int8_t); }
  void Reserve(size_t capacity) { codes_.reserve(capacity); }
  // A copy of `other` with room for `capacity` components.
  void CopyFrom(const Int8Copy& other, size_t capacity);
  // Frees the copy; the next CatchUp converts every vector again.
  void Release();

 private:
  static constexpr float kTarget = 100.0f;
  static constexpr float kRescaleAbove = 127.0f;
  static constexpr int32_t kMinRmsCode = 8;

  void Reset();
  void Rescale(const float* vectors, size_t rows, size_t d);
  // Rows in [begin, end) whose codes' mean square is under kMinRmsCode^2.
  size_t CountCoarseRows(size_t begin, size_t end, size_t d) const;

  std::vector<int8_t, CacheLineAllocator<int8_t>> codes_;
  size_t rows_ = 0;
  float scale_ = 0;  // 0 = not chosen yet
  size_t coarse_rows_ = 0;
};

// Flat storage that carries the construction copy. FAISS sees (and serialises) an IndexFlat;
// a graph loaded from a snapshot gets a plain one back, which AddToFlatGraph replaces (moving
// the vectors) on the first insert, so a restart never pays for the conversion.
class FlatStorageWithCopy final : public faiss::IndexFlat {
 public:
  FlatStorageWithCopy(idx_t d, faiss::MetricType metric) : faiss::IndexFlat(d, metric) {}
  Int8Copy copy;
};

// `flat` (the storage of `graph`) as FlatStorageWithCopy: itself, or a new one that the vectors
// move into and that replaces it in `graph`.
FlatStorageWithCopy* AdoptCopyStorage(faiss::IndexHNSW& graph, faiss::IndexFlat& flat);

// Whether construction with `precision` computes on the copy (it needs AVX2).
inline bool UseInt8Copy(BuildPrecision precision) {
  return precision == BuildPrecision::kInt8Copy && CopyKernelsAvailable();
}

}  // namespace sochdb::vector::internal

#endif  // SOCHDB_ENGINE_VECTOR_ANN_CONSTRUCTION_COPY_H_
