// The 8-bit construction copy (ann_construction_copy.h): converting vectors to it, keeping it
// current as vectors are added, and the storage that carries it.
#include "engine/vector/ann_construction_copy.h"

#include <cmath>
#include <memory>

namespace sochdb::vector::internal {
namespace {

// out[i] = in[i] * scale rounded to nearest, clamped to [-127, 127]; returns the largest
// |in[i] * scale| (before clamping).
__attribute__((target("avx2"))) float ToInt8(const float* in, size_t n, float scale,
                                             int8_t* out) {
  const __m256 factor = _mm256_set1_ps(scale);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
  __m256 largest = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(in + i), factor);
    largest = _mm256_max_ps(largest, _mm256_andnot_ps(sign, scaled));
    const __m256i codes = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(scaled, low), high));
    // 8 x int32 -> 8 x int8 (values already in range).
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(codes),
                                          _mm256_extracti128_si256(codes, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi16(words, words));
  }
  __m128 top = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
  top = _mm_max_ps(top, _mm_movehl_ps(top, top));
  top = _mm_max_ss(top, _mm_shuffle_ps(top, top, 0x55));
  float result = _mm_cvtss_f32(top);
  for (; i < n; ++i) {
    const float scaled = in[i] * scale;
    result = std::max(result, std::fabs(scaled));
    out[i] = static_cast<int8_t>(std::lrintf(std::clamp(scaled, -127.0f, 127.0f)));
  }
  return result;
}

}  // namespace

void Int8Copy::CatchUp(const float* vectors, size_t rows, size_t d) {
  if (rows < rows_) Reset();
  if (rows == rows_) return;
  codes_.resize(rows * d);
  if (scale_ == 0) {
    Rescale(vectors, rows, d);
    return;
  }
  const float largest =
      ToInt8(vectors + rows_ * d, (rows - rows_) * d, scale_, codes_.data() + rows_ * d);
  if (largest > kRescaleAbove) {
    Rescale(vectors, rows, d);
    return;
  }
  coarse_rows_ += CountCoarseRows(rows_, rows, d);
  rows_ = rows;
}

void Int8Copy::CopyFrom(const Int8Copy& other, size_t capacity) {
  CopyWithRoom(other.codes_, capacity, &codes_);
  rows_ = other.rows_;
  scale_ = other.scale_;
  coarse_rows_ = other.coarse_rows_;
}

void Int8Copy::Release() {
  Reset();
  decltype(codes_)().swap(codes_);
}

void Int8Copy::Reset() {
  codes_.clear();
  rows_ = 0;
  scale_ = 0;
  coarse_rows_ = 0;
}

void Int8Copy::Rescale(const float* vectors, size_t rows, size_t d) {
  float largest = 0;
  for (size_t i = 0; i < rows * d; ++i) largest = std::max(largest, std::fabs(vectors[i]));
  scale_ = largest > 0 ? kTarget / largest : 1.0f;
  ToInt8(vectors, rows * d, scale_, codes_.data());
  coarse_rows_ = CountCoarseRows(0, rows, d);
  rows_ = rows;
}

size_t Int8Copy::CountCoarseRows(size_t begin, size_t end, size_t d) const {
  size_t coarse = 0;
  const float floor = static_cast<float>(kMinRmsCode * kMinRmsCode) * static_cast<float>(d);
  for (size_t row = begin; row < end; ++row) {
    const int8_t* code = codes_.data() + row * d;
    if (Int8InnerProduct(code, code, d) < floor) ++coarse;
  }
  return coarse;
}

FlatStorageWithCopy* AdoptCopyStorage(faiss::IndexHNSW& graph, faiss::IndexFlat& flat) {
  if (auto* ours = dynamic_cast<FlatStorageWithCopy*>(&flat)) return ours;
  auto storage = std::make_unique<FlatStorageWithCopy>(flat.d, flat.metric_type);
  storage->codes.swap(flat.codes);
  storage->ntotal = flat.ntotal;
  storage->is_trained = flat.is_trained;
  if (graph.own_fields) delete &flat;
  graph.storage = storage.get();
  graph.own_fields = true;
  return storage.release();
}

void ReleaseConstructionCopy(faiss::IndexHNSW& graph) {
  if (auto* storage = dynamic_cast<FlatStorageWithCopy*>(graph.storage)) {
    storage->copy.Release();
  }
}

bool ConstructionCopyInUse(const faiss::IndexHNSW& graph) {
  const auto* storage = dynamic_cast<const FlatStorageWithCopy*>(graph.storage);
  return storage != nullptr && CopyKernelsAvailable() &&
         storage->copy.rows() == static_cast<size_t>(graph.ntotal) && storage->copy.usable();
}

uint64_t ConstructionCopyBytes(const faiss::IndexHNSW& graph) {
  const auto* storage = dynamic_cast<const FlatStorageWithCopy*>(graph.storage);
  return storage == nullptr ? 0 : storage->copy.MemoryBytes();
}

}  // namespace sochdb::vector::internal
