// Growing a flat graph's arrays for an insert beside its searches (PrepareGrowth and
// InstallGrowth, see ann_internal.h): the larger copies are made under the reader lock, and
// only swapped in under the writer lock.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/HNSW.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "engine/vector/ann_construction_copy.h"
#include "engine/vector/ann_internal.h"

namespace sochdb::vector::internal {
namespace {

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

}  // namespace

// The arrays PrepareGrowth copied into larger memory, and after InstallGrowth the ones they
// replaced. An array that had room is not copied (nullopt).
struct GraphGrowth {
  int64_t ntotal = 0;                     // the graph's size when prepared
  const faiss::Index* storage = nullptr;  // the storage object it was prepared from
  std::optional<std::vector<uint8_t>> codes;
  std::optional<std::vector<int>> levels;
  std::optional<std::vector<size_t>> offsets;
  std::optional<std::vector<faiss::HNSW::storage_idx_t>> neighbors;
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

}  // namespace sochdb::vector::internal
