// HNSW construction over full-precision (flat) storage: the algorithm of FAISS 1.7.3's
// hnsw_add_vertices / HNSW::add_with_locks, step for step (levels assigned by FAISS, highest
// level first, a random order within a level, a lock per neighbour list (striped here), the
// same neighbour search, the same diversity heuristic when a neighbour list overflows; threads
// take a level's vertices dynamically where FAISS splits them statically), with two
// differences in how distances are computed:
// - the neighbours of a node are gathered first (their visited flags and row offsets
//   prefetched), and their vectors are prefetched a few ahead of the distance being computed;
//   a candidate's neighbour row is prefetched when it enters the queue;
// - distances are computed on an 8-bit copy of the vectors (see Int8Copy).
//
// Why: FAISS computes one distance at a time, each on a vector at a random address. Past a
// few hundred thousand vectors the build waits on memory: counted on 100k x 128 (M 32, efC
// 256, 100 clusters), an insert computes ~2,400 distances, and the ~430 us it took on one core
// is ~180 ns per distance, ten times what the AVX2 kernel needs once the vector is in cache
// (on 1,000 clusters: 4,000-6,000 in the neighbour search and ~1,400 in pruning). With full
// precision (BuildPrecision::kFull) the graph this builds is the one FAISS would build (same
// candidates, same order of decisions; a test compares them link for link). Quantized storage
// (SCALAR, PQ) keeps FAISS's own path.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/random.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include "engine/vector/ann_internal.h"
#include "engine/vector/ann_simd.h"

namespace sochdb::vector::internal {
namespace {

using storage_idx_t = faiss::HNSW::storage_idx_t;

struct Candidate {
  float d;
  storage_idx_t id;
};
// Heap orders: FartherFirst puts the farthest on top (the result set, trimmed from the top);
// NearerFirst the nearest (the candidates still to expand).
struct FartherOnTop {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.d < b.d; }
};
struct NearerOnTop {
  bool operator()(const Candidate& a, const Candidate& b) const { return a.d > b.d; }
};
using FarthestHeap = std::priority_queue<Candidate, std::vector<Candidate>, FartherOnTop>;
using NearestHeap = std::priority_queue<Candidate, std::vector<Candidate>, NearerOnTop>;

// Locks guarding neighbour lists during a parallel build (see GraphBuilder::LockOf).
constexpr size_t kLockStripes = size_t{1} << 16;

// Vectors fetched this many ahead of the one whose distance is being computed.
constexpr size_t kPrefetchAhead = 12;

// A level's vertices are linked by several threads from this many on. FAISS's threshold is
// 100, which left the upper levels of every chunk (VectorSpace adds 256 or 64 at a time) to
// one thread, and a whole 64-vector chunk; a vertex costs ~0.1-1 ms, a parallel region a few
// microseconds.
constexpr int kMinParallelVertices = 2;

// The construction copy: each vector as signed 8-bit integers, v * scale rounded, one scale for
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
#define SOCHDB_COPY_KERNEL __attribute__((target("avx2")))

bool CopyKernelsAvailable() {
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

// out[i] = in[i] * scale rounded to nearest, clamped to [-127, 127]; returns the largest
// |in[i] * scale| (before clamping).
SOCHDB_COPY_KERNEL float ToInt8(const float* in, size_t n, float scale, int8_t* out) {
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

class Int8Copy {
 public:
  // Brings the copy up to `rows` vectors of `d` floats (rows only ever grow).
  void CatchUp(const float* vectors, size_t rows, size_t d) {
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
  const int8_t* data() const { return codes_.data(); }
  size_t rows() const { return rows_; }
  // Whether distances on the copy are close enough to build with (see above).
  bool usable() const { return coarse_rows_ * 100 <= rows_; }
  size_t capacity() const { return codes_.capacity(); }  // in components
  uint64_t MemoryBytes() const { return codes_.capacity() * sizeof(int8_t); }
  void Reserve(size_t capacity) { codes_.reserve(capacity); }
  // A copy of `other` with room for `capacity` components.
  void CopyFrom(const Int8Copy& other, size_t capacity) {
    CopyWithRoom(other.codes_, capacity, &codes_);
    rows_ = other.rows_;
    scale_ = other.scale_;
    coarse_rows_ = other.coarse_rows_;
  }
  // Frees the copy; the next CatchUp converts every vector again.
  void Release() {
    Reset();
    decltype(codes_)().swap(codes_);
  }

 private:
  static constexpr float kTarget = 100.0f;
  static constexpr float kRescaleAbove = 127.0f;
  static constexpr int32_t kMinRmsCode = 8;

  void Reset() {
    codes_.clear();
    rows_ = 0;
    scale_ = 0;
    coarse_rows_ = 0;
  }
  void Rescale(const float* vectors, size_t rows, size_t d) {
    float largest = 0;
    for (size_t i = 0; i < rows * d; ++i) largest = std::max(largest, std::fabs(vectors[i]));
    scale_ = largest > 0 ? kTarget / largest : 1.0f;
    ToInt8(vectors, rows * d, scale_, codes_.data());
    coarse_rows_ = CountCoarseRows(0, rows, d);
    rows_ = rows;
  }
  // Rows in [begin, end) whose codes' mean square is under kMinRmsCode^2.
  size_t CountCoarseRows(size_t begin, size_t end, size_t d) const {
    size_t coarse = 0;
    const float floor = static_cast<float>(kMinRmsCode * kMinRmsCode) * static_cast<float>(d);
    for (size_t row = begin; row < end; ++row) {
      const int8_t* code = codes_.data() + row * d;
      if (Int8InnerProduct(code, code, d) < floor) ++coarse;
    }
    return coarse;
  }

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

// Distances as HNSW minimises them (squared L2, or the negated inner product) between stored
// vectors, over full precision or (kCopy) the construction copy; the builder is compiled for
// each, keeping branches out of the innermost loop. One per thread.
template <bool kCopy>
class BuildDistance {
 public:
  BuildDistance(const float* vectors, const int8_t* codes, size_t d, bool inner_product)
      : vectors_(vectors), codes_(codes), d_(d), inner_product_(inner_product) {}

  // The vertex being inserted.
  void SetQuery(storage_idx_t query) { query_ = query; }
  float ToQuery(storage_idx_t id) const { return Symmetric(query_, id); }
  float Symmetric(storage_idx_t a, storage_idx_t b) const {
    if constexpr (kCopy) {
      return inner_product_ ? -Int8InnerProduct(Coded(a), Coded(b), d_)
                            : Int8L2Squared(Coded(a), Coded(b), d_);
    } else {
      return inner_product_ ? -InnerProduct(Full(a), Full(b), d_) : L2Squared(Full(a), Full(b), d_);
    }
  }

  // out[j] = distance from `from` (kQuery: the vertex being inserted) to ids[j].
  static constexpr storage_idx_t kQuery = -1;
  void Many(storage_idx_t from, const storage_idx_t* ids, size_t n, float* out) {
    const storage_idx_t source = from == kQuery ? query_ : from;
    for (size_t j = 0; j < n && j < kPrefetchAhead; ++j) Prefetch(ids[j]);
    for (size_t j = 0; j < n; ++j) {
      if (j + kPrefetchAhead < n) Prefetch(ids[j + kPrefetchAhead]);
      out[j] = Symmetric(source, ids[j]);
    }
  }

 private:
  void Prefetch(storage_idx_t id) const {
    // Every line the row touches (rows start on a line only when d is a multiple of 64 bytes).
    uintptr_t start = 0;
    size_t bytes = d_;
    if constexpr (kCopy) {
      start = reinterpret_cast<uintptr_t>(Coded(id));
    } else {
      start = reinterpret_cast<uintptr_t>(Full(id));
      bytes *= sizeof(float);
    }
    for (uintptr_t line = start & ~uintptr_t{63}; line < start + bytes; line += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(line));
    }
  }
  const float* Full(storage_idx_t id) const { return vectors_ + static_cast<size_t>(id) * d_; }
  const int8_t* Coded(storage_idx_t id) const { return codes_ + static_cast<size_t>(id) * d_; }

  const float* const vectors_;
  const int8_t* const codes_;
  const size_t d_;
  const bool inner_product_;
  storage_idx_t query_ = -1;
};

template <typename Distance>
class GraphBuilder {
 public:
  GraphBuilder(faiss::HNSW& hnsw, const Distance& distance, size_t ntotal)
      : hnsw_(hnsw), prototype_(distance), locks_(std::min(ntotal, kLockStripes)) {
    for (omp_lock_t& lock : locks_) omp_init_lock(&lock);
    for (size_t level = 0; level + 1 < hnsw_.cum_nneighbor_per_level.size(); ++level) {
      max_degree_ = std::max(max_degree_, static_cast<size_t>(hnsw_.nb_neighbors(level)));
    }
  }
  ~GraphBuilder() {
    for (omp_lock_t& lock : locks_) omp_destroy_lock(&lock);
  }

  // Links the vertices n0 .. n0 + n - 1, whose vectors are in the storage already.
  void AddVertices(size_t n0, size_t n) {
    if (n == 0) return;
    const size_t ntotal = n0 + n;
    hnsw_.prepare_level_tab(n, hnsw_.levels.size() == ntotal);
    // Bucket the new vertices by level, highest level first.
    std::vector<int> per_level;
    for (size_t i = 0; i < n; ++i) {
      const size_t level = static_cast<size_t>(hnsw_.levels[n0 + i] - 1);
      if (level >= per_level.size()) per_level.resize(level + 1, 0);
      ++per_level[level];
    }
    std::vector<int> start(per_level.size() + 1, 0);
    for (size_t l = 0; l < per_level.size(); ++l) start[l + 1] = start[l] + per_level[l];
    std::vector<storage_idx_t> order(n);
    for (size_t i = 0; i < n; ++i) {
      const int level = hnsw_.levels[n0 + i] - 1;
      order[start[level]++] = static_cast<storage_idx_t>(n0 + i);
    }
    faiss::RandomGenerator shuffle(789);
    int end = static_cast<int>(n);
    for (int level = static_cast<int>(per_level.size()) - 1; level >= 0; --level) {
      const int begin = end - per_level[level];
      // A random order within the level removes any bias of the caller's order.
      for (int j = begin; j < end; ++j) {
        std::swap(order[j], order[j + shuffle.rand_int(end - j)]);
      }
      // An exception must not leave an OpenMP region (that terminates the process): the first
      // one stops the remaining work and is rethrown after it.
      std::exception_ptr failure;
#pragma omp parallel if (end - begin >= kMinParallelVertices)
      {
        try {
          faiss::VisitedTable visited(static_cast<int>(ntotal));
          Distance distance = prototype_;
          Scratch scratch(max_degree_);
          // Dynamic, unlike FAISS's static split: vertices cost unequal time and a write adds 256
          // at a time (VectorSpace), so a static half each left a thread idle at every end;
          // two paired 300k loads: +7% inserts per second. One vertex at a time: the last
          // block of 4 left the other thread idle for ~2 vertices per level.
#pragma omp for schedule(dynamic, 1)
          for (int i = begin; i < end; ++i) {
            bool stop = false;
#pragma omp atomic read
            stop = failed_;
            if (stop) continue;
            try {
              distance.SetQuery(order[i]);
              AddVertex(distance, level, order[i], visited, scratch);
            } catch (...) {
              UnlockAll(scratch);
              Fail(&failure);
            }
          }
        } catch (...) {
          Fail(&failure);
        }
      }
      if (failure) std::rethrow_exception(failure);
      end = begin;
    }
  }

 private:
  void Fail(std::exception_ptr* failure) {
#pragma omp critical(sochdb_hnsw_failure)
    {
      if (!*failure) *failure = std::current_exception();
#pragma omp atomic write
      failed_ = true;
    }
  }

  // Per-thread buffers for one neighbour list's ids and distances, and the vertex locks the
  // thread holds (released if an exception unwinds through it).
  struct Scratch {
    explicit Scratch(size_t degree) : ids(degree + 1), distances(degree + 1) {
      held.reserve(2);  // at most one is held at a time; Lock never allocates
    }
    std::vector<storage_idx_t> ids;
    std::vector<float> distances;
    std::vector<storage_idx_t> held;
  };

  // A vertex's lock: one of kLockStripes, shared by the vertices congruent modulo their count.
  // Sharing cannot deadlock (a thread holds one lock at a time) and stripes keep a builder's
  // set-up independent of the graph's size (it is made for every batch added).
  omp_lock_t& LockOf(storage_idx_t vertex) {
    return locks_[static_cast<size_t>(vertex) % locks_.size()];
  }

  void Lock(Scratch& scratch, storage_idx_t vertex) {
    omp_set_lock(&LockOf(vertex));
    scratch.held.push_back(vertex);
  }
  void Unlock(Scratch& scratch, storage_idx_t vertex) {
    scratch.held.erase(std::find(scratch.held.begin(), scratch.held.end(), vertex));
    omp_unset_lock(&LockOf(vertex));
  }
  void UnlockAll(Scratch& scratch) {
    for (storage_idx_t vertex : scratch.held) omp_unset_lock(&LockOf(vertex));
    scratch.held.clear();
  }

  void AddVertex(Distance& distance, int vertex_level, storage_idx_t vertex,
                 faiss::VisitedTable& visited, Scratch& scratch) {
    storage_idx_t nearest;
#pragma omp critical(sochdb_hnsw_entry)
    {
      nearest = hnsw_.entry_point;
      if (nearest == -1) {
        hnsw_.max_level = vertex_level;
        hnsw_.entry_point = vertex;
      }
    }
    if (nearest < 0) return;
    Lock(scratch, vertex);
    int level = hnsw_.max_level;
    float d_nearest = distance.ToQuery(nearest);
    for (; level > vertex_level; --level) {
      GreedyUpdateNearest(distance, level, &nearest, &d_nearest, scratch);
    }
    for (; level >= 0; --level) {
      AddLinksStartingFrom(distance, vertex, nearest, d_nearest, level, visited, scratch);
    }
    Unlock(scratch, vertex);
#pragma omp critical(sochdb_hnsw_entry)
    {
      if (vertex_level > hnsw_.max_level) {
        hnsw_.max_level = vertex_level;
        hnsw_.entry_point = vertex;
      }
    }
  }

  // The neighbours of `node` at `level` (up to the first empty slot), into scratch.ids.
  size_t Neighbours(storage_idx_t node, int level, Scratch& scratch) const {
    size_t begin = 0, end = 0;
    Row(node, level, &begin, &end);
    size_t n = 0;
    for (size_t i = begin; i < end; ++i) {
      const storage_idx_t v = hnsw_.neighbors[i];
      if (v < 0) break;
      scratch.ids[n++] = v;
    }
    return n;
  }

  // The not yet visited neighbours of `node` at `level`, marked visited (their visited flags
  // are prefetched before any is tested, and the row offsets of those kept).
  size_t UnvisitedNeighbours(storage_idx_t node, int level, faiss::VisitedTable& visited,
                             Scratch& scratch) const {
    const size_t n = Neighbours(node, level, scratch);
    for (size_t j = 0; j < n; ++j) {
      __builtin_prefetch(&visited.visited[static_cast<size_t>(scratch.ids[j])]);
    }
    size_t kept = 0;
    for (size_t j = 0; j < n; ++j) {
      const storage_idx_t v = scratch.ids[j];
      if (visited.get(v)) continue;
      visited.set(v);
      __builtin_prefetch(&hnsw_.offsets[static_cast<size_t>(v)]);
      scratch.ids[kept++] = v;
    }
    return kept;
  }

  // The slots of `node`'s neighbour list at `level` (FAISS's neighbor_range, inlined: it is on
  // the innermost loop and FAISS's copy is out of line).
  void Row(storage_idx_t node, int level, size_t* begin, size_t* end) const {
    const size_t row = hnsw_.offsets[static_cast<size_t>(node)];
    *begin = row + static_cast<size_t>(hnsw_.cum_nneighbor_per_level[level]);
    *end = row + static_cast<size_t>(hnsw_.cum_nneighbor_per_level[level + 1]);
  }

  void PrefetchNeighbours(storage_idx_t node, int level) const {
    size_t begin = 0, end = 0;
    Row(node, level, &begin, &end);
    const char* first = reinterpret_cast<const char*>(hnsw_.neighbors.data() + begin);
    for (size_t offset = 0; offset < (end - begin) * sizeof(storage_idx_t); offset += 64) {
      __builtin_prefetch(first + offset);
    }
  }

  void GreedyUpdateNearest(Distance& distance, int level, storage_idx_t* nearest,
                           float* d_nearest, Scratch& scratch) const {
    for (;;) {
      const storage_idx_t previous = *nearest;
      const size_t n = Neighbours(previous, level, scratch);
      distance.Many(Distance::kQuery, scratch.ids.data(), n, scratch.distances.data());
      for (size_t j = 0; j < n; ++j) {
        if (scratch.distances[j] < *d_nearest) {
          *nearest = scratch.ids[j];
          *d_nearest = scratch.distances[j];
        }
      }
      if (*nearest == previous) return;
    }
  }

  // The efConstruction nearest vertices found from `entry` (FAISS's search_neighbors_to_add).
  void SearchNeighboursToAdd(Distance& distance, FarthestHeap& results,
                             storage_idx_t entry, float d_entry, int level,
                             faiss::VisitedTable& visited, Scratch& scratch) const {
    NearestHeap candidates;
    candidates.push({d_entry, entry});
    results.push({d_entry, entry});
    visited.set(entry);
    const size_t ef = static_cast<size_t>(hnsw_.efConstruction);
    while (!candidates.empty()) {
      const Candidate current = candidates.top();
      if (current.d > results.top().d) break;
      candidates.pop();
      const size_t n = UnvisitedNeighbours(current.id, level, visited, scratch);
      distance.Many(Distance::kQuery, scratch.ids.data(), n, scratch.distances.data());
      for (size_t j = 0; j < n; ++j) {
        const float d = scratch.distances[j];
        if (results.size() < ef || results.top().d > d) {
          results.push({d, scratch.ids[j]});
          candidates.push({d, scratch.ids[j]});
          // Its neighbour list, for when it comes to the top (its row offset was fetched with
          // the gathering).
          PrefetchNeighbours(scratch.ids[j], level);
          if (results.size() > ef) results.pop();
        }
      }
    }
    visited.advance();
  }

  // Keeps at most `max_size` of `set`, nearest first, dropping a vertex when one already kept
  // is closer to it than the base vertex is (HNSW's diversity heuristic). No-op below max_size.
  static void ShrinkNeighbourList(const Distance& distance, FarthestHeap& set,
                                  size_t max_size) {
    if (set.size() < max_size) return;
    NearestHeap input;
    while (!set.empty()) {
      input.push(set.top());
      set.pop();
    }
    std::vector<Candidate> kept;
    while (!input.empty()) {
      const Candidate v1 = input.top();
      input.pop();
      bool good = true;
      for (const Candidate& v2 : kept) {
        if (distance.Symmetric(v2.id, v1.id) < v1.d) {
          good = false;
          break;
        }
      }
      if (good) {
        kept.push_back(v1);
        if (kept.size() >= max_size) break;
      }
    }
    for (const Candidate& c : kept) set.push(c);
  }

  // Links src -> dest; a full list is re-chosen among its members and dest by the heuristic.
  // The caller holds src's lock.
  void AddLink(Distance& distance, storage_idx_t src, storage_idx_t dest, int level,
               Scratch& scratch) {
    size_t begin = 0, end = 0;
    Row(src, level, &begin, &end);
    if (hnsw_.neighbors[end - 1] == -1) {
      size_t i = end;
      while (i > begin && hnsw_.neighbors[i - 1] == -1) --i;
      hnsw_.neighbors[i] = dest;
      return;
    }
    const size_t degree = end - begin;
    scratch.ids[0] = dest;
    for (size_t i = 0; i < degree; ++i) scratch.ids[i + 1] = hnsw_.neighbors[begin + i];
    distance.Many(src, scratch.ids.data(), degree + 1, scratch.distances.data());
    FarthestHeap set;
    for (size_t i = 0; i <= degree; ++i) set.push({scratch.distances[i], scratch.ids[i]});
    ShrinkNeighbourList(distance, set, degree);
    size_t i = begin;
    while (!set.empty()) {
      hnsw_.neighbors[i++] = set.top().id;
      set.pop();
    }
    while (i < end) hnsw_.neighbors[i++] = -1;
  }

  void AddLinksStartingFrom(Distance& distance, storage_idx_t vertex,
                            storage_idx_t nearest, float d_nearest, int level,
                            faiss::VisitedTable& visited, Scratch& scratch) {
    FarthestHeap targets;
    SearchNeighboursToAdd(distance, targets, nearest, d_nearest, level, visited, scratch);
    ShrinkNeighbourList(distance, targets, static_cast<size_t>(hnsw_.nb_neighbors(level)));
    std::vector<storage_idx_t> linked;
    linked.reserve(targets.size());
    while (!targets.empty()) {
      const storage_idx_t other = targets.top().id;
      targets.pop();
      AddLink(distance, vertex, other, level, scratch);
      linked.push_back(other);
    }
    Unlock(scratch, vertex);
    for (storage_idx_t other : linked) {
      Lock(scratch, other);
      AddLink(distance, other, vertex, level, scratch);
      Unlock(scratch, other);
    }
    Lock(scratch, vertex);
  }

  faiss::HNSW& hnsw_;
  const Distance prototype_;
  std::vector<omp_lock_t> locks_;
  size_t max_degree_ = 0;
  bool failed_ = false;
};

// Room in hnsw.neighbors one vertex takes, enough on average: every vertex has a level-0
// list and one in M (32 by default) has upper lists too; counting one upper list per vertex
// covers that with room to spare.
size_t NeighbourSlotsPerVertex(const faiss::HNSW& hnsw) {
  const size_t levels = hnsw.cum_nneighbor_per_level.size();
  if (levels < 2) return 0;
  return static_cast<size_t>(hnsw.cum_nneighbor_per_level[std::min<size_t>(2, levels - 1)]);
}

// What the arrays of a graph over flat storage must hold to add `n` vertices: FAISS's vectors
// (bytes), HNSW's levels and offsets (entries) and, about, its neighbour lists (entries).
struct ArraySizes {
  size_t codes = 0;
  size_t levels = 0;
  size_t offsets = 0;
  size_t neighbors = 0;
};
ArraySizes SizesAfterAdding(const faiss::IndexHNSW& graph, const faiss::IndexFlat& flat,
                            size_t n) {
  const faiss::HNSW& hnsw = graph.hnsw;
  const size_t total = static_cast<size_t>(graph.ntotal) + n;
  return ArraySizes{total * flat.code_size, total, total + 1,
                    hnsw.neighbors.size() + n * NeighbourSlotsPerVertex(hnsw)};
}

bool UseInt8Copy(BuildPrecision precision) {
  return precision == BuildPrecision::kInt8Copy && CopyKernelsAvailable();
}

}  // namespace

// The arrays PrepareGrowth copied into larger memory, and after InstallGrowth the ones they
// replaced. An array that had room is not copied (nullopt).
struct GraphGrowth {
  int64_t ntotal = 0;                     // the graph's size when prepared
  const faiss::Index* storage = nullptr;  // the storage object it was prepared from
  std::optional<std::vector<uint8_t>> codes;
  std::optional<std::vector<int>> levels;
  std::optional<std::vector<size_t>> offsets;
  std::optional<std::vector<storage_idx_t>> neighbors;
  std::optional<Int8Copy> copy;
};

void GraphGrowthDeleter::operator()(GraphGrowth* growth) const { delete growth; }

GraphGrowthPtr PrepareGrowth(const faiss::IndexHNSW& graph, int64_t n,
                             BuildPrecision precision) {
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(graph.storage);
  if (flat == nullptr || n <= 0) return nullptr;
  const faiss::HNSW& hnsw = graph.hnsw;
  const ArraySizes needed = SizesAfterAdding(graph, *flat, static_cast<size_t>(n));
  GraphGrowthPtr growth(new GraphGrowth);
  growth->ntotal = graph.ntotal;
  growth->storage = graph.storage;
  bool grown = false;
  const auto grow = [&grown](const auto& from, size_t size, auto* to) {
    if (from.capacity() >= size) return;
    CopyWithRoom(from, std::max(size, 2 * from.capacity()), &to->emplace());
    grown = true;
  };
  grow(flat->codes, needed.codes, &growth->codes);
  grow(hnsw.levels, needed.levels, &growth->levels);
  grow(hnsw.offsets, needed.offsets, &growth->offsets);
  grow(hnsw.neighbors, needed.neighbors, &growth->neighbors);
  if (UseInt8Copy(precision)) {
    const size_t d = static_cast<size_t>(flat->d);
    const size_t rows = static_cast<size_t>(graph.ntotal);
    const size_t components = (rows + static_cast<size_t>(n)) * d;
    const auto* ours = dynamic_cast<const FlatStorageWithCopy*>(flat);
    const bool current = ours != nullptr && ours->copy.rows() == rows;
    if (!current) {  // released, or never made since a restart: convert every vector
      Int8Copy& copy = growth->copy.emplace();
      copy.Reserve(std::max(components, 2 * rows * d));
      copy.CatchUp(flat->get_xb(), rows, d);
      grown = true;
    } else if (ours->copy.capacity() < components) {
      growth->copy.emplace().CopyFrom(ours->copy,
                                      std::max(components, 2 * ours->copy.capacity()));
      grown = true;
    }
  }
  if (!grown) return nullptr;
  return growth;
}

bool InstallGrowth(faiss::IndexHNSW& graph, GraphGrowth& growth) {
  auto* flat = dynamic_cast<faiss::IndexFlat*>(graph.storage);
  faiss::HNSW& hnsw = graph.hnsw;
  // Copies of what the graph held then: stale if it has changed since.
  if (flat == nullptr || graph.storage != growth.storage || graph.ntotal != growth.ntotal ||
      (growth.codes && growth.codes->size() != flat->codes.size()) ||
      (growth.levels && growth.levels->size() != hnsw.levels.size()) ||
      (growth.offsets && growth.offsets->size() != hnsw.offsets.size()) ||
      (growth.neighbors && growth.neighbors->size() != hnsw.neighbors.size())) {
    return false;
  }
  if (growth.copy) {
    FlatStorageWithCopy* storage = AdoptCopyStorage(graph, *flat);
    std::swap(storage->copy, *growth.copy);
    flat = storage;
  }
  if (growth.codes) flat->codes.swap(*growth.codes);
  if (growth.levels) hnsw.levels.swap(*growth.levels);
  if (growth.offsets) hnsw.offsets.swap(*growth.offsets);
  if (growth.neighbors) hnsw.neighbors.swap(*growth.neighbors);
  return true;
}

bool AddToFlatGraph(faiss::IndexHNSW& graph, const float* vectors, int64_t n,
                    BuildPrecision precision) {
  auto* flat = dynamic_cast<faiss::IndexFlat*>(graph.storage);
  if (flat == nullptr) return false;
  const size_t n0 = static_cast<size_t>(graph.ntotal);
  const size_t d = static_cast<size_t>(flat->d);
  const int8_t* codes = nullptr;
  if (UseInt8Copy(precision)) {
    FlatStorageWithCopy* storage = AdoptCopyStorage(graph, *flat);
    flat = storage;
    flat->add(n, vectors);
    storage->copy.CatchUp(flat->get_xb(), static_cast<size_t>(flat->ntotal), d);
    if (storage->copy.usable()) codes = storage->copy.data();
  } else {
    flat->add(n, vectors);
  }
  graph.ntotal = flat->ntotal;
  const bool inner_product = flat->metric_type == faiss::METRIC_INNER_PRODUCT;
  if (codes != nullptr) {
    const BuildDistance<true> distance(flat->get_xb(), codes, d, inner_product);
    GraphBuilder(graph.hnsw, distance, static_cast<size_t>(graph.ntotal))
        .AddVertices(n0, static_cast<size_t>(n));
  } else {
    const BuildDistance<false> distance(flat->get_xb(), nullptr, d, inner_product);
    GraphBuilder(graph.hnsw, distance, static_cast<size_t>(graph.ntotal))
        .AddVertices(n0, static_cast<size_t>(n));
  }
  return true;
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
