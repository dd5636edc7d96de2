// HNSW construction over full-precision (flat) storage: the algorithm of FAISS 1.7.3's
// hnsw_add_vertices / HNSW::add_with_locks, step for step (levels assigned by FAISS, highest
// level first, a random order within a level, per-node locks, the same neighbour search,
// the same diversity heuristic when a neighbour list overflows), with one difference in how
// distances are computed: the neighbours of a node are gathered first and their vectors are
// prefetched a few ahead of the distance being computed.
//
// Why: FAISS computes one distance at a time, each on a vector at a random address. Past a
// few hundred thousand vectors the build waits on memory: counted on 100k x 128 (M 32, efC
// 256), an insert computes ~2,400 distances, and the ~430 us it took on one core is ~180 ns
// per distance, ten times what the AVX2 kernel needs once the vector is in cache. The graph
// this builds is the one FAISS would build (same candidates, same order of decisions).
// Quantized storage (SCALAR, PQ) keeps FAISS's own path.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/random.h>
#include <omp.h>

#include <algorithm>
#include <exception>
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

// Vectors fetched this many ahead of the one whose distance is being computed.
constexpr size_t kPrefetchAhead = 12;

// Distances as HNSW minimises them: squared L2, or the negated inner product.
class BuildDistance {
 public:
  BuildDistance(const float* vectors, size_t d, bool inner_product)
      : vectors_(vectors), d_(d), inner_product_(inner_product) {}

  void SetQuery(const float* query) { query_ = query; }
  float ToQuery(storage_idx_t id) const { return Between(query_, Vector(id)); }
  float Symmetric(storage_idx_t a, storage_idx_t b) const { return Between(Vector(a), Vector(b)); }

  // out[j] = distance from `from` (the query when null) to ids[j].
  void Many(const float* from, const storage_idx_t* ids, size_t n, float* out) const {
    if (from == nullptr) from = query_;
    for (size_t j = 0; j < n && j < kPrefetchAhead; ++j) Prefetch(ids[j]);
    for (size_t j = 0; j < n; ++j) {
      if (j + kPrefetchAhead < n) Prefetch(ids[j + kPrefetchAhead]);
      out[j] = Between(from, Vector(ids[j]));
    }
  }
  const float* Vector(storage_idx_t id) const { return vectors_ + static_cast<size_t>(id) * d_; }

 private:
  void Prefetch(storage_idx_t id) const {
    const char* p = reinterpret_cast<const char*>(Vector(id));
    for (size_t offset = 0; offset < d_ * sizeof(float); offset += 64) {
      __builtin_prefetch(p + offset);
    }
  }
  float Between(const float* a, const float* b) const {
    return inner_product_ ? -InnerProduct(a, b, d_) : L2Squared(a, b, d_);
  }

  const float* const vectors_;
  const size_t d_;
  const bool inner_product_;
  const float* query_ = nullptr;
};

class GraphBuilder {
 public:
  GraphBuilder(faiss::HNSW& hnsw, const BuildDistance& distance, size_t ntotal)
      : hnsw_(hnsw), prototype_(distance), locks_(ntotal) {
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
#pragma omp parallel if (end > begin + 100)
      {
        try {
          faiss::VisitedTable visited(static_cast<int>(ntotal));
          BuildDistance distance = prototype_;
          Scratch scratch(max_degree_);
#pragma omp for schedule(static)
          for (int i = begin; i < end; ++i) {
            bool stop = false;
#pragma omp atomic read
            stop = failed_;
            if (stop) continue;
            try {
              distance.SetQuery(distance.Vector(order[i]));
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

  void Lock(Scratch& scratch, storage_idx_t vertex) {
    omp_set_lock(&locks_[vertex]);
    scratch.held.push_back(vertex);
  }
  void Unlock(Scratch& scratch, storage_idx_t vertex) {
    scratch.held.erase(std::find(scratch.held.begin(), scratch.held.end(), vertex));
    omp_unset_lock(&locks_[vertex]);
  }
  void UnlockAll(Scratch& scratch) {
    for (storage_idx_t vertex : scratch.held) omp_unset_lock(&locks_[vertex]);
    scratch.held.clear();
  }

  void AddVertex(BuildDistance& distance, int vertex_level, storage_idx_t vertex,
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

  // Gathers the neighbours of `node` at `level` (stopping at the first empty slot) that
  // `keep` accepts.
  template <typename Keep>
  size_t Neighbours(storage_idx_t node, int level, Scratch& scratch, Keep keep) const {
    size_t begin = 0, end = 0;
    Row(node, level, &begin, &end);
    size_t n = 0;
    for (size_t i = begin; i < end; ++i) {
      const storage_idx_t v = hnsw_.neighbors[i];
      if (v < 0) break;
      if (keep(v)) scratch.ids[n++] = v;
    }
    return n;
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

  void GreedyUpdateNearest(const BuildDistance& distance, int level, storage_idx_t* nearest,
                           float* d_nearest, Scratch& scratch) const {
    for (;;) {
      const storage_idx_t previous = *nearest;
      const size_t n = Neighbours(previous, level, scratch, [](storage_idx_t) { return true; });
      distance.Many(nullptr, scratch.ids.data(), n, scratch.distances.data());
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
  void SearchNeighboursToAdd(const BuildDistance& distance, FarthestHeap& results,
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
      const size_t n = Neighbours(current.id, level, scratch, [&](storage_idx_t v) {
        if (visited.get(v)) return false;
        visited.set(v);
        return true;
      });
      distance.Many(nullptr, scratch.ids.data(), n, scratch.distances.data());
      for (size_t j = 0; j < n; ++j) {
        const float d = scratch.distances[j];
        if (results.size() < ef || results.top().d > d) {
          results.push({d, scratch.ids[j]});
          candidates.push({d, scratch.ids[j]});
          // Its row offset now; its neighbour list when it comes to the top.
          __builtin_prefetch(&hnsw_.offsets[static_cast<size_t>(scratch.ids[j])]);
          if (results.size() > ef) results.pop();
        }
      }
      if (!candidates.empty()) PrefetchNeighbours(candidates.top().id, level);
    }
    visited.advance();
  }

  // Keeps at most `max_size` of `set`, nearest first, dropping a vertex when one already kept
  // is closer to it than the base vertex is (HNSW's diversity heuristic). No-op below max_size.
  static void ShrinkNeighbourList(const BuildDistance& distance, FarthestHeap& set,
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
  void AddLink(const BuildDistance& distance, storage_idx_t src, storage_idx_t dest, int level,
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
    distance.Many(distance.Vector(src), scratch.ids.data(), degree + 1,
                  scratch.distances.data());
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

  void AddLinksStartingFrom(const BuildDistance& distance, storage_idx_t vertex,
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
  const BuildDistance prototype_;
  std::vector<omp_lock_t> locks_;
  size_t max_degree_ = 0;
  bool failed_ = false;
};

}  // namespace

bool AddToFlatGraph(faiss::IndexHNSW& graph, const float* vectors, int64_t n) {
  auto* flat = dynamic_cast<faiss::IndexFlat*>(graph.storage);
  if (flat == nullptr) return false;
  const size_t n0 = static_cast<size_t>(graph.ntotal);
  flat->add(n, vectors);
  graph.ntotal = flat->ntotal;
  const BuildDistance distance(flat->get_xb(), static_cast<size_t>(flat->d),
                               flat->metric_type == faiss::METRIC_INNER_PRODUCT);
  GraphBuilder(graph.hnsw, distance, static_cast<size_t>(graph.ntotal))
      .AddVertices(n0, static_cast<size_t>(n));
  return true;
}

}  // namespace sochdb::vector::internal
