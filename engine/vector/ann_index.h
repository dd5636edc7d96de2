// AnnIndex: one in-memory approximate-nearest-neighbour index over FAISS, the only code (with
// its implementation files, engine/vector/ann_*.cc) that includes FAISS. It owns the vectors of
// one space under dense internal labels (0, 1, 2, ... in insertion order); mapping labels to
// user ids, persistence and metadata belong to its owner (VectorSpace, engine/vector/vector_space.h).
//
// Two phases. While the index holds fewer than `exact_threshold` vectors it keeps them raw and
// every search is exact (brute force): small indexes are exact and cheap. When an Add crosses the
// threshold the FAISS HNSW index is built (training the quantizer first for SCALAR and PQ) and
// searches become approximate with `ef`. The ordering contract is the same in both phases.
//
// Distances follow the upstream sochdb.v1 conventions, always lower-is-better:
//   L2      sqrt(sum((a - b)^2))
//   COSINE  1 - cos(a, b)   (vectors are normalised at Add, queries at Search; a zero query gives 1)
//   DOT     -(a . b)
// Results are sorted by (distance, label) ascending.
//
// Deletion: HNSW cannot remove a node, so Remove() tombstones the label; searches never return a
// tombstoned label (they ask FAISS for more candidates when tombstones or a filter reject some).
// The owner rebuilds the index (a new AnnIndex from live vectors) past a tombstone ratio.
//
// Input validation is the caller's first line (see ValidateVectors) and is repeated here: a wrong
// length, NaN or Inf is INVALID_ARGUMENT, never passed to FAISS (FAISS 1.7.3 corrupts HNSW on
// NaN). FAISS exceptions are caught here and become INTERNAL.
//
// Thread safety: all methods may be called concurrently. Searches share a reader lock; Add,
// Remove and the phase change take it exclusively.
#ifndef SOCHDB_ENGINE_VECTOR_ANN_INDEX_H_
#define SOCHDB_ENGINE_VECTOR_ANN_INDEX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/common/byte_sink.h"

namespace sochdb::vector {

enum class Metric { kL2, kCosine, kDot };
std::string_view MetricName(Metric metric);  // "euclidean" | "cosine" | "dot_product"

enum class Quantization {
  kNone,     // IndexHNSWFlat: full-precision floats
  kScalar8,  // IndexHNSWSQ with 8-bit scalar quantization (QT_8bit)
  kProduct,  // IndexHNSWPQ: pq_subvectors codes of 8 bits; L2 and COSINE only
};

// Documented limits (docs/services.md "Limits"); ResolveSpec, ValidateVectors and Search
// enforce them.
inline constexpr uint32_t kMaxDimension = 4096;
inline constexpr uint32_t kMaxK = 10'000;           // k per query
inline constexpr uint64_t kMaxResultsPerCall = 1'000'000;  // nq * k per call
inline constexpr uint32_t kMaxEf = 65'536;          // ef_construction, ef_search, Search's ef
// Largest accepted |component|: with it, squared L2 sums and dot products over kMaxDimension
// components stay finite in float, so no distance is ever Inf - Inf = NaN.
inline constexpr float kMaxAbsComponent = 1e16f;

struct IndexSpec {
  uint32_t dimension = 0;  // 1..kMaxDimension
  Metric metric = Metric::kCosine;
  // HNSW parameters; 0 means the upstream default (M 32, M0 64, efConstruction 256,
  // efSearch 500). M in 2..256, M0 in M..512 (0 = 2*M, which is 64 at the default M),
  // ef in 1..kMaxEf.
  uint32_t m = 0;
  uint32_t m0 = 0;
  uint32_t ef_construction = 0;
  uint32_t ef_search = 0;
  Quantization quantization = Quantization::kNone;
  // PQ: number of sub-vectors; must divide `dimension`; 0 = the largest of 32, 16, 8, 4, 2, 1
  // that divides it (and is <= dimension).
  uint32_t pq_subvectors = 0;
  // Vectors below which search stays exact. 0 = the upstream default for the dimension:
  // 10,000 for dimension <= 128, 4,000 for <= 384, 1,000 above. Must be >= 256 for PQ (training).
  uint32_t exact_threshold = 0;
};

// Fills the zeros of `spec` with the defaults above; INVALID_ARGUMENT naming the field and limit
// for anything out of range (e.g. "m is 1000; the range is 2..256").
absl::StatusOr<IndexSpec> ResolveSpec(const IndexSpec& spec);

// `vectors` must hold a whole number of `dimension`-long vectors, all finite and within
// +-kMaxAbsComponent. Messages name the position: "vectors[3][17] is NaN", "vectors has 130
// floats; expected a multiple of 64" (`field` replaces "vectors", e.g. "queries").
absl::Status ValidateVectors(absl::Span<const float> vectors, uint32_t dimension,
                             const char* field = "vectors");
// One vector of exactly `dimension` floats, as above: "vector has 8 floats; the dimension is
// 4", "vector[2] is NaN" (`field` = "vector").
absl::Status ValidateVector(absl::Span<const float> vector, uint32_t dimension, const char* field);

struct Neighbor {
  int64_t label = -1;
  float distance = 0;
};

// Restricts a search to some labels (a metadata filter, say). `Accept` must be thread-safe and
// cheap; `selectivity_hint` (0..1, the expected fraction accepted; negative = unknown, and the
// index then estimates it from a sample of 512 labels) lets the index switch to an exact scan of
// the accepted labels when few pass (fewer than max(10k, 1000) expected), so a selective filter
// never returns fewer than k results when k exist.
struct LabelFilter {
  std::function<bool(int64_t label)> accept;
  double selectivity_hint = -1;
};

struct AnnStats {
  uint64_t labels = 0;      // vectors ever added (live + tombstoned)
  uint64_t live = 0;
  uint64_t tombstones = 0;
  bool exact_phase = true;  // still below the threshold
  uint32_t max_level = 0;   // HNSW top level (0 in the exact phase)
  double avg_connections = 0;  // mean level-0 neighbours per node (0 in the exact phase)
  uint64_t memory_bytes = 0;   // vectors/codes + graph links + bookkeeping, measured
};

class AnnIndex {
 public:
  // An empty index. `spec` must come from ResolveSpec.
  static absl::StatusOr<std::unique_ptr<AnnIndex>> Create(const IndexSpec& spec);
  virtual ~AnnIndex() = default;

  virtual const IndexSpec& spec() const = 0;

  // Appends `vectors` (row-major, n * dimension floats) as labels first..first+n-1 and returns
  // `first`. All or nothing: validation happens before anything is added.
  virtual absl::StatusOr<int64_t> Add(absl::Span<const float> vectors) = 0;
  // Optional, before Add of `n` vectors: makes the room they need (grows the index's arrays,
  // rebuilds the construction copy after a restart or ReleaseInsertMemory) while searches go
  // on, so that Add holds them up only for the graph work. At 1M x 128 that growth copies
  // ~1 GB. Meant for one writer at a time (what a concurrent Add changed meanwhile is simply
  // not replaced); searches may run throughout.
  virtual void PrepareAdd(int64_t n) = 0;

  // Tombstones `label` (no-op when already removed; INVALID_ARGUMENT when never added).
  virtual absl::Status Remove(int64_t label) = 0;

  // The k nearest live labels to `query` (which must have `dimension` floats, all finite),
  // sorted by (distance, label). `ef` 0 = the spec's ef_search; the effective ef is
  // max(ef, k). Fewer than k results only when fewer than k live labels pass the filter.
  // k in 1..kMaxK, ef in 0..kMaxEf (INVALID_ARGUMENT otherwise).
  virtual absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, uint32_t k,
                                                       uint32_t ef,
                                                       const LabelFilter* filter = nullptr) const = 0;

  // The stored vector of `label` (normalised for COSINE; approximate for SCALAR/PQ after the
  // graph is built). INVALID_ARGUMENT for an unknown label.
  virtual absl::Status Reconstruct(int64_t label, float* out) const = 0;

  virtual AnnStats Stats() const = 0;

  // Frees memory kept only to make inserts faster (the 8-bit construction copy of a
  // full-precision graph: 1 byte per component). The next insert rebuilds it, one pass over the
  // stored vectors. Searches are unaffected.
  virtual void ReleaseInsertMemory() = 0;

  // A self-contained byte image of the index (FAISS index, phase, tombstones, spec), for
  // snapshots, appended to `out` (a snapshot file is written straight from the index's memory,
  // with no copy of the image). Runs under the reader lock: searches go on, writers wait.
  // INTERNAL when the sink fails part-way (what it holds is then unusable).
  virtual absl::Status SerializeTo(ByteSink* out) const = 0;
  // SerializeTo less the image's last `*codes_left_out` bytes: in the graph phase the stored
  // codes (vectors) of every label present now, which never change afterwards (labels are only
  // appended and a quantizer is trained once), so they can follow later, in pieces, each under
  // the reader lock, with writes going on in between: AppendStoredCodes(0, *codes_left_out, out)
  // completes the image. A snapshot then holds writers up for the graph's links only, not for
  // the vectors (two thirds of the image at d 128). Nothing is left out in the exact phase.
  virtual absl::Status SerializeHead(ByteSink* out, uint64_t* codes_left_out) const = 0;
  // Appends bytes [offset, offset + length) of the stored codes; OUT_OF_RANGE past their end.
  virtual absl::Status AppendStoredCodes(uint64_t offset, uint64_t length, ByteSink* out) const = 0;
  absl::StatusOr<std::string> Serialize() const;
  // Restores an image made by Serialize. DATA_LOSS when it is malformed or its spec differs
  // from `spec` (the owner then rebuilds from stored vectors).
  static absl::StatusOr<std::unique_ptr<AnnIndex>> Deserialize(std::string_view image,
                                                               const IndexSpec& spec);
};

// Sets the OpenMP threads FAISS may use for batch adds and graph builds (searches of one query
// are single-threaded). 0 (the default) = one per usable core (engine/common/cpu.h).
void SetFaissThreads(int threads);

namespace testing {
// The FAISS release whose HNSW construction engine/vector/ann_build.cc rebuilds step for step,
// and the release installed (FAISS_VERSION_* of faiss/Index.h), as "major.minor.patch". A
// test fails when they differ: the construction must then be checked against the new release.
inline constexpr std::string_view kMirroredFaissVersion = "1.7.3";
std::string InstalledFaissVersion();

// Builds an HNSW graph over the n = vectors.size() / dimension vectors of a resolved
// full-precision L2 or DOT spec twice on one thread, in two batches: with FAISS's own
// construction and with ours (ann_build.cc). OK when the two graphs are identical link for
// link (they must be: same algorithm, same level draws); otherwise the first difference.
absl::Status CompareFlatBuildWithFaiss(const IndexSpec& spec, absl::Span<const float> vectors);
// Builds a graph of a resolved full-precision L2 or DOT spec from `first`, then `second`, as
// inserts do; true when the last build's distances were computed on the 8-bit construction
// copy, false when it fell back to full precision (or the CPU lacks AVX2).
absl::StatusOr<bool> BuildUsesConstructionCopy(const IndexSpec& spec,
                                               absl::Span<const float> first,
                                               absl::Span<const float> second);

// Who links the vertices of a full-precision graph (tools/bench/ann_build_bench.cc compares
// them; the engine serves kEngine).
enum class Construction {
  kFaiss,             // faiss::IndexHNSWFlat::add as installed, FAISS's own distance code
  kFaissOurKernels,   // the same add, its distances from this engine's AVX2 kernels
  kEngineFull,        // ann_build.cc on full-precision distances (FAISS's graph, link for link)
  kEngine,            // ann_build.cc as served: distances on the 8-bit construction copy
};
// An index in the graph phase over the n = vectors.size() / dimension vectors of a resolved
// full-precision L2 or DOT spec, linked by `construction` in batches of `batch` vectors (0 =
// all at once) on SetFaissThreads' threads, and searched as the engine searches whoever built
// it, so that only construction differs.
absl::StatusOr<std::unique_ptr<AnnIndex>> BuildGraphIndex(const IndexSpec& spec,
                                                          absl::Span<const float> vectors,
                                                          Construction construction,
                                                          int64_t batch = 0);

// FAISS's own HNSW, for benchmarks to compare with: the index NewGraph makes for `spec`,
// resolved as ResolveSpec does (IndexHNSWFlat with its M, M0, efConstruction), filled by
// FAISS's add and searched by IndexHNSW::search: none of this engine's kernels, prefetching or
// graph construction. Full precision, L2 or DOT only. Searches may run concurrently with each other (not with Add); each
// runs on its caller's thread alone (one OpenMP thread, as FAISS advises for callers that
// search from several threads). FAISS 1.7.3 counts every search in its global hnsw_stats
// without a lock: concurrent searches race on those counters (harmless to the results, but a
// data race TSan reports), as they would in any application calling FAISS that way.
class StockFaissHnsw {
 public:
  static absl::StatusOr<std::unique_ptr<StockFaissHnsw>> Create(const IndexSpec& spec);
  ~StockFaissHnsw();
  // Appends `vectors` (n * dimension floats) as the next labels.
  absl::Status Add(absl::Span<const float> vectors);
  // The k nearest labels with FAISS's distances (squared L2, ascending; the inner product,
  // descending, unlike the engine's negated one), with efSearch max(ef, k) (0 = the spec's).
  absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, uint32_t k,
                                               uint32_t ef) const;

 private:
  struct Graph;
  explicit StockFaissHnsw(std::unique_ptr<Graph> graph);
  std::unique_ptr<Graph> graph_;
};
}  // namespace testing

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_ANN_INDEX_H_
