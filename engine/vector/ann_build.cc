// HNSW construction over full-precision (flat) storage: the algorithm of FAISS 1.7.3's
// hnsw_add_vertices / HNSW::add_with_locks, step for step (levels assigned by FAISS, highest
// level first, a random order within a level, a lock per neighbour list (striped here), the
// same neighbour search, the same diversity heuristic when a neighbour list overflows; threads
// take a level's vertices dynamically where FAISS splits them statically), with two
// differences in how distances are computed:
// - the neighbours of a node are gathered first (their visited flags and row offsets
//   prefetched), and their vectors are prefetched a few ahead of the distance being computed;
//   a candidate's neighbour row is prefetched when it enters the queue;
// - distances are computed on an 8-bit copy of the vectors (ann_construction_copy.h).
//
// Why: FAISS computes one distance at a time, each on a vector at a random address. Past a
// few hundred thousand vectors the build waits on memory: counted on 100k x 128 (M 32, efC
// 256, 100 clusters), an insert computes ~2,400 distances, and the ~430 us it took on one core
// is ~180 ns per distance, ten times what the AVX2 kernel needs once the vector is in cache
// (on 1,000 clusters: 4,000-6,000 in the neighbour search and ~1,400 in pruning). With full
// precision (BuildPrecision::kFull) the graph this builds is the one FAISS would build (same
// candidates, same order of decisions; a test compares them link for link, and another fails
// when the installed FAISS is not the release mirrored, testing::kMirroredFaissVersion).
// Quantized storage (SCALAR, PQ) keeps FAISS's own path. Kept because it is faster than
// FAISS's builder even on the same distance kernels (tools/bench/ann_build_compare.sh,
// docs/benchmarks.md).
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/random.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "engine/vector/ann_construction_copy.h"
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
    std::vector<int> per_level;
    std::vector<storage_idx_t> order = OrderByLevel(n0, n, &per_level);
    faiss::RandomGenerator shuffle(789);
    int end = static_cast<int>(n);
    for (int level = static_cast<int>(per_level.size()) - 1; level >= 0; --level) {
      const int begin = end - per_level[level];
      // A random order within the level removes any bias of the caller's order.
      for (int j = begin; j < end; ++j) {
        std::swap(order[j], order[j + shuffle.rand_int(end - j)]);
      }
      LinkLevel(level, order.data() + begin, end - begin, ntotal);
      end = begin;
    }
  }

 private:
  // The new vertices n0 .. n0 + n - 1 bucketed by level, lowest level first (AddVertices links
  // from the back); per_level[l] counts those at level l.
  std::vector<storage_idx_t> OrderByLevel(size_t n0, size_t n, std::vector<int>* per_level) {
    for (size_t i = 0; i < n; ++i) {
      const size_t level = static_cast<size_t>(hnsw_.levels[n0 + i] - 1);
      if (level >= per_level->size()) per_level->resize(level + 1, 0);
      ++(*per_level)[level];
    }
    std::vector<int> start(per_level->size() + 1, 0);
    for (size_t l = 0; l < per_level->size(); ++l) start[l + 1] = start[l] + (*per_level)[l];
    std::vector<storage_idx_t> order(n);
    for (size_t i = 0; i < n; ++i) {
      const int level = hnsw_.levels[n0 + i] - 1;
      order[start[level]++] = static_cast<storage_idx_t>(n0 + i);
    }
    return order;
  }

  // Links the `count` vertices of `level` at `vertices`, in parallel from kMinParallelVertices.
  void LinkLevel(int level, const storage_idx_t* vertices, int count, size_t ntotal) {
    // An exception must not leave an OpenMP region (that terminates the process): the first
    // one stops the remaining work and is rethrown after it.
    std::exception_ptr failure;
#pragma omp parallel if (count >= kMinParallelVertices)
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
        for (int i = 0; i < count; ++i) {
          bool stop = false;
#pragma omp atomic read
          stop = failed_;
          if (stop) continue;
          try {
            distance.SetQuery(vertices[i]);
            AddVertex(distance, level, vertices[i], visited, scratch);
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
  }

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

}  // namespace

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

}  // namespace sochdb::vector::internal

namespace sochdb::vector::testing {

std::string InstalledFaissVersion() {
  return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
         std::to_string(FAISS_VERSION_PATCH);
}

}  // namespace sochdb::vector::testing
