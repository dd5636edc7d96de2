// The graph phase of AnnIndex: building, extending and searching a FAISS HNSW index (flat,
// 8-bit scalar or product-quantized storage), with tombstones and label filters applied inside
// the search through an IDSelector, and an exact scan of the accepted labels when a filter is
// selective or the approximate search comes back short. FAISS exceptions stop here.
//
// FAISS 1.7.3 honours SearchParameters::sel in HNSW search (checked empirically: rejected labels
// never come back), but it applies the selector to the result set only, not to the traversal:
// the beam of `ef` candidates still spends its slots on rejected nodes. A filter accepting a
// fraction f of the labels therefore leaves about f * ef accepted candidates, which is why the
// search widens ef for small f and scans exactly when f is tiny or the results come back short.
// f comes from the filter's selectivity hint or, without one, from a sample of 512 labels.
#include <faiss/IndexHNSW.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/Heap.h>
#include <omp.h>

#include "engine/vector/ann_simd.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "absl/base/config.h"
#include "absl/strings/str_format.h"
#include "engine/common/cpu.h"
#include "engine/common/status_macros.h"
#include "engine/vector/ann_internal.h"

namespace sochdb::vector {
namespace {

using idx_t = faiss::Index::idx_t;

// 0 = not set: one per usable core (the affinity mask and cgroup quota, not the host's CPUs).
std::atomic<int> faiss_threads{0};

// omp_set_num_threads changes only the calling thread's setting, and FAISS runs on whichever
// server thread called us, so every entry point that lets FAISS fan out sets it first.
void UseFaissThreads() {
  int threads = faiss_threads.load(std::memory_order_relaxed);
  if (threads <= 0) {
    static const int usable = UsableCores();
    threads = usable;
  }
#ifdef ABSL_HAVE_THREAD_SANITIZER
  // libgomp is not built with TSan: its barriers and locks are invisible to it, so a parallel
  // region would be reported as racing with itself. The TSan build (--config=tsan) runs FAISS
  // and the graph builder on the calling thread; its OpenMP regions go unchecked.
  threads = 1;
#endif
  omp_set_num_threads(threads);
}

// Below this many expected accepted labels a filtered search scans them exactly: the scan
// costs one Accept call per label and one distance per accepted label, while the graph search
// would fill its beam with rejected nodes and lose recall (see the file comment).
constexpr double kExactScanFloor = 1000;

// Labels probed to estimate a filter's selectivity when the caller gives no hint.
constexpr int64_t kSelectivitySamples = 512;

using internal::FilterAccepts;

// Tombstones and the caller's filter, as FAISS sees them.
class LiveAcceptedSelector final : public faiss::IDSelector {
 public:
  LiveAcceptedSelector(const internal::LabelBitmap& tombstones, const LabelFilter* filter)
      : tombstones_(tombstones), filter_(filter) {}
  bool is_member(idx_t id) const override {
    return !tombstones_.Test(id) && FilterAccepts(filter_, id);
  }

 private:
  const internal::LabelBitmap& tombstones_;
  const LabelFilter* filter_;
};

// HNSW minimises; for inner-product storage FAISS negates the similarity (as IndexHNSW does
// internally with a private class of its own).
class NegatedDistance final : public faiss::DistanceComputer {
 public:
  explicit NegatedDistance(faiss::DistanceComputer* inner) : inner_(inner) {}
  void set_query(const float* x) override { inner_->set_query(x); }
  float operator()(idx_t i) override { return -(*inner_)(i); }
  float symmetric_dis(idx_t i, idx_t j) override { return -inner_->symmetric_dis(i, j); }

 private:
  std::unique_ptr<faiss::DistanceComputer> inner_;
};

faiss::MetricType FaissMetric(const IndexSpec& spec) {
  return internal::FaissUsesInnerProduct(spec) ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

faiss::IndexHNSW* NewGraph(const IndexSpec& spec) {
  const int d = static_cast<int>(spec.dimension);
  const int m = static_cast<int>(spec.m);
  faiss::IndexHNSW* graph = nullptr;
  switch (spec.quantization) {
    case Quantization::kNone:
      graph = new faiss::IndexHNSWFlat(d, m, FaissMetric(spec));
      break;
    case Quantization::kScalar8:
      graph = new faiss::IndexHNSWSQ(d, faiss::ScalarQuantizer::QT_8bit, m, FaissMetric(spec));
      break;
    case Quantization::kProduct: {
      graph = new faiss::IndexHNSWPQ(d, static_cast<int>(spec.pq_subvectors), m);
      faiss::ClusteringParameters& training = static_cast<faiss::IndexPQ*>(graph->storage)->pq.cp;
      // The threshold guarantees >= 256 training vectors (one per centroid); FAISS would
      // otherwise print a warning to stderr for anything under 39 per centroid.
      training.min_points_per_centroid = 1;
      // Training runs under the writer lock. 10 k-means iterations instead of 25 cut it by
      // 2.5x (20k x 64, 32 sub-vectors: 8.7 s -> 3.3 s with Debian's reference BLAS) for a
      // recall@10 loss of about 0.01.
      training.niter = 10;
      break;
    }
  }
  graph->hnsw.set_nb_neighbors(0, static_cast<int>(spec.m0));
  graph->hnsw.efConstruction = static_cast<int>(spec.ef_construction);
  graph->hnsw.efSearch = static_cast<int>(spec.ef_search);
  return graph;
}

// FAISS's own distances over flat (full-precision) storage, computed with our SIMD kernels:
// the same values (squared L2, or the raw inner product) as IndexFlat's distance computer.
class FlatSimdDistance final : public faiss::FlatCodesDistanceComputer {
 public:
  explicit FlatSimdDistance(const faiss::IndexFlat& storage)
      : FlatCodesDistanceComputer(storage.codes.data(), storage.code_size),
        vectors_(storage.get_xb()), d_(static_cast<size_t>(storage.d)),
        inner_product_(storage.metric_type == faiss::METRIC_INNER_PRODUCT) {}
  void set_query(const float* x) override { query_ = x; }
  float distance_to_code(const uint8_t* code) override {
    return Distance(query_, reinterpret_cast<const float*>(code));
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    return Distance(vectors_ + i * d_, vectors_ + j * d_);
  }

 private:
  float Distance(const float* a, const float* b) const {
    return inner_product_ ? internal::InnerProduct(a, b, d_) : internal::L2Squared(a, b, d_);
  }
  const float* const vectors_;
  const size_t d_;
  const bool inner_product_;
  const float* query_ = nullptr;
};

// Flat storage whose distance computer is ours. Only the testing helpers use it: FAISS's own
// graph construction then computes with the same kernels, and rounds the same, as
// ann_build.cc's, so the two graphs can be compared link for link (CompareFlatBuildWithFaiss)
// and the two builders timed on equal kernels (BuildGraphIndex's kFaissOurKernels).
// (Production builds go through ann_build.cc and searches through StorageDistance, neither of
// which asks the storage.)
class SimdFlatStorage final : public faiss::IndexFlat {
 public:
  SimdFlatStorage(idx_t d, faiss::MetricType metric) : faiss::IndexFlat(d, metric) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override {
    return new FlatSimdDistance(*this);
  }
};

// Swaps a flat graph's IndexFlat storage for SimdFlatStorage (the vectors move, not copy).
void AdoptSimdStorage(faiss::IndexHNSW& graph) {
  auto* flat = dynamic_cast<faiss::IndexFlat*>(graph.storage);
  if (flat == nullptr || dynamic_cast<SimdFlatStorage*>(flat) != nullptr) return;
  auto storage = std::make_unique<SimdFlatStorage>(flat->d, flat->metric_type);
  storage->codes.swap(flat->codes);
  storage->ntotal = flat->ntotal;
  storage->is_trained = flat->is_trained;
  if (graph.own_fields) delete flat;
  graph.storage = storage.release();
  graph.own_fields = true;
}

// The storage's distance computer: ours for flat storage, FAISS's for quantized codes.
faiss::DistanceComputer* StorageDistance(const faiss::IndexHNSW& graph) {
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(graph.storage)) {
    return new FlatSimdDistance(*flat);
  }
  return graph.storage->get_distance_computer();
}

// The distance computer HNSW search needs: storage distances, negated for inner product.
std::unique_ptr<faiss::DistanceComputer> SearchDistance(const faiss::IndexHNSW& graph) {
  faiss::DistanceComputer* raw = StorageDistance(graph);
  if (graph.metric_type == faiss::METRIC_INNER_PRODUCT) {
    return std::make_unique<NegatedDistance>(raw);
  }
  return std::unique_ptr<faiss::DistanceComputer>(raw);
}

// Exact top-k over the live accepted labels, with the storage's own distances (exact for
// flat storage, the quantized approximation otherwise).
absl::StatusOr<std::vector<Neighbor>> ExactScan(const IndexSpec& spec,
                                                const faiss::IndexHNSW& graph,
                                                const internal::LabelBitmap& tombstones,
                                                const float* query, uint32_t k,
                                                const LabelFilter* filter) {
  internal::TopK top(k);
  SOCHDB_RETURN_IF_ERROR(internal::CatchFaiss("exact scan", [&] {
    std::unique_ptr<faiss::DistanceComputer> distance(StorageDistance(graph));
    distance->set_query(query);
    for (idx_t label = 0; label < graph.ntotal; ++label) {
      if (tombstones.Test(label) || !FilterAccepts(filter, label)) continue;
      top.Push(internal::ToDistance(spec, (*distance)(label)), label);
    }
  }));
  return top.Take();
}

// The fraction of labels `filter` accepts: the caller's hint, or else an estimate from a fixed
// pseudo-random sample of labels (cheap next to a search, and immune to filters that follow
// label order or stride, such as "label % 100 == 7").
double AcceptedFraction(const LabelFilter& filter, int64_t labels) {
  if (filter.selectivity_hint >= 0) return std::min(filter.selectivity_hint, 1.0);
  const int64_t samples = std::min<int64_t>(labels, kSelectivitySamples);
  int64_t accepted = 0;
  for (int64_t i = 0; i < samples; ++i) {
    const uint64_t mixed = static_cast<uint64_t>(i + 1) * 0x9e3779b97f4a7c15ull;
    const int64_t label = samples == labels ? i : static_cast<int64_t>(mixed % labels);
    if (FilterAccepts(&filter, label)) ++accepted;
  }
  return static_cast<double>(accepted) / static_cast<double>(samples);
}

// A visited-node table for one search, kept per thread: allocating and zeroing one byte per
// label on every query would cost more than the search itself on large indexes. advance()
// makes earlier marks stale, so one table serves every index this thread searches.
faiss::VisitedTable& VisitedTableFor(int64_t labels) {
  thread_local std::unique_ptr<faiss::VisitedTable> table;
  if (table == nullptr || table->visited.size() < static_cast<size_t>(labels)) {
    table = std::make_unique<faiss::VisitedTable>(static_cast<int>(labels));
  } else {
    table->advance();
  }
  return *table;
}

// ef for a search where only `fraction` of the labels can be returned: enough that about 2k
// accepted candidates are expected in the beam, within kMaxEf.
uint32_t WidenedEf(uint32_t ef, uint32_t k, double fraction) {
  if (fraction >= 1) return ef;
  const double wanted = fraction > 0 ? 2.0 * k / fraction : kMaxEf;
  return static_cast<uint32_t>(std::clamp<double>(std::ceil(wanted), ef, kMaxEf));
}

}  // namespace

void SetFaissThreads(int threads) { faiss_threads.store(threads, std::memory_order_relaxed); }

namespace testing {
namespace {

// The testing helpers below build flat graphs over the vectors as given (no normalisation).
absl::Status RequireFlatL2OrDot(const IndexSpec& spec) {
  if (spec.quantization != Quantization::kNone || spec.metric == Metric::kCosine) {
    return absl::InvalidArgumentError("full-precision L2 or DOT specs only");
  }
  return absl::OkStatus();
}

// Adds `n` vectors to `graph` the way `construction` links them.
void AddWith(Construction construction, faiss::IndexHNSW& graph, const float* vectors,
             int64_t n) {
  switch (construction) {
    case Construction::kFaiss:
    case Construction::kFaissOurKernels:
      graph.add(n, vectors);
      return;
    case Construction::kEngineFull:
      internal::AddToFlatGraph(graph, vectors, n, internal::BuildPrecision::kFull);
      return;
    case Construction::kEngine:
      internal::AddToFlatGraph(graph, vectors, n);
      return;
  }
}

}  // namespace

absl::Status CompareFlatBuildWithFaiss(const IndexSpec& spec, absl::Span<const float> vectors) {
  SOCHDB_RETURN_IF_ERROR(RequireFlatL2OrDot(spec));
  const int64_t n = static_cast<int64_t>(vectors.size() / spec.dimension);
  const int64_t first = n / 2;
  const float* second = vectors.data() + first * spec.dimension;
  internal::GraphPtr ours(NewGraph(spec));
  internal::GraphPtr theirs(NewGraph(spec));
  AdoptSimdStorage(*theirs);
  omp_set_num_threads(1);
  absl::Status built = internal::CatchFaiss("comparing graph builds", [&] {
    internal::AddToFlatGraph(*ours, vectors.data(), first, internal::BuildPrecision::kFull);
    internal::AddToFlatGraph(*ours, second, n - first, internal::BuildPrecision::kFull);
    theirs->add(first, vectors.data());
    theirs->add(n - first, second);
  });
  UseFaissThreads();
  SOCHDB_RETURN_IF_ERROR(built);
  const faiss::HNSW& a = ours->hnsw;
  const faiss::HNSW& b = theirs->hnsw;
  if (a.entry_point != b.entry_point || a.max_level != b.max_level) {
    return absl::InternalError(absl::StrFormat("entry point %d/%d, max level %d/%d",
                                               a.entry_point, b.entry_point, a.max_level,
                                               b.max_level));
  }
  if (a.levels != b.levels || a.offsets != b.offsets) {
    return absl::InternalError("level assignments differ");
  }
  for (size_t i = 0; i < a.neighbors.size() || i < b.neighbors.size(); ++i) {
    if (i >= a.neighbors.size() || i >= b.neighbors.size() || a.neighbors[i] != b.neighbors[i]) {
      return absl::InternalError(absl::StrFormat("neighbour slot %d differs", i));
    }
  }
  return absl::OkStatus();
}

struct StockFaissHnsw::Graph {
  IndexSpec spec;
  internal::GraphPtr index;
};

StockFaissHnsw::StockFaissHnsw(std::unique_ptr<Graph> graph) : graph_(std::move(graph)) {}
StockFaissHnsw::~StockFaissHnsw() = default;

absl::StatusOr<std::unique_ptr<StockFaissHnsw>> StockFaissHnsw::Create(const IndexSpec& request) {
  SOCHDB_ASSIGN_OR_RETURN(const IndexSpec spec, ResolveSpec(request));
  SOCHDB_RETURN_IF_ERROR(RequireFlatL2OrDot(spec));
  auto graph = std::make_unique<Graph>();
  graph->spec = spec;
  graph->index.reset(NewGraph(spec));
  return std::unique_ptr<StockFaissHnsw>(new StockFaissHnsw(std::move(graph)));
}

absl::Status StockFaissHnsw::Add(absl::Span<const float> vectors) {
  SOCHDB_RETURN_IF_ERROR(internal::ValidateFloats(vectors, graph_->spec.dimension, "vectors"));
  const int64_t n = static_cast<int64_t>(vectors.size() / graph_->spec.dimension);
  return internal::CatchFaiss("adding to FAISS's HNSW", [&] {
    UseFaissThreads();
    graph_->index->add(n, vectors.data());
  });
}

absl::StatusOr<std::vector<Neighbor>> StockFaissHnsw::Search(absl::Span<const float> query,
                                                             uint32_t k, uint32_t ef) const {
  if (query.size() != graph_->spec.dimension || k == 0) {
    return absl::InvalidArgumentError("query must have dimension floats and k must be >= 1");
  }
  std::vector<float> distances(k);
  std::vector<faiss::Index::idx_t> labels(k);
  faiss::SearchParametersHNSW params;
  params.efSearch = static_cast<int>(std::max(ef != 0 ? ef : graph_->spec.ef_search, k));
  SOCHDB_RETURN_IF_ERROR(internal::CatchFaiss("searching FAISS's HNSW", [&] {
    omp_set_num_threads(1);  // this thread's own setting
    graph_->index->search(1, query.data(), k, distances.data(), labels.data(), &params);
  }));
  std::vector<Neighbor> found;
  for (uint32_t i = 0; i < k && labels[i] >= 0; ++i) found.push_back({labels[i], distances[i]});
  return found;
}

absl::StatusOr<bool> BuildUsesConstructionCopy(const IndexSpec& spec,
                                               absl::Span<const float> first,
                                               absl::Span<const float> second) {
  SOCHDB_RETURN_IF_ERROR(RequireFlatL2OrDot(spec));
  internal::GraphPtr graph(NewGraph(spec));
  bool used = false;
  SOCHDB_RETURN_IF_ERROR(internal::CatchFaiss("building a graph", [&] {
    UseFaissThreads();
    const int64_t d = spec.dimension;
    internal::AddToFlatGraph(*graph, first.data(), static_cast<int64_t>(first.size()) / d);
    internal::AddToFlatGraph(*graph, second.data(), static_cast<int64_t>(second.size()) / d);
    used = internal::ConstructionCopyInUse(*graph);
  }));
  return used;
}

}  // namespace testing

namespace internal {

void GraphDeleter::operator()(faiss::IndexHNSW* graph) const { delete graph; }

absl::StatusOr<GraphPtr> BuildGraph(const IndexSpec& spec, const float* vectors, int64_t n) {
  GraphPtr graph;
  SOCHDB_RETURN_IF_ERROR(CatchFaiss("building the HNSW graph", [&] {
    graph.reset(NewGraph(spec));
    UseFaissThreads();
    if (!graph->is_trained) graph->train(n, vectors);
    if (!AddToFlatGraph(*graph, vectors, n)) graph->add(n, vectors);
  }));
  return graph;
}

int64_t GraphSize(const faiss::IndexHNSW& graph) { return graph.ntotal; }

absl::StatusOr<GraphPtr> BuildFlatGraph(const IndexSpec& spec, absl::Span<const float> vectors,
                                        testing::Construction construction, int64_t batch) {
  SOCHDB_RETURN_IF_ERROR(testing::RequireFlatL2OrDot(spec));
  SOCHDB_RETURN_IF_ERROR(ValidateFloats(vectors, spec.dimension, "vectors"));
  const int64_t d = spec.dimension;
  const int64_t n = static_cast<int64_t>(vectors.size()) / d;
  if (batch <= 0) batch = std::max<int64_t>(n, 1);
  GraphPtr graph(NewGraph(spec));
  if (construction == testing::Construction::kFaissOurKernels) AdoptSimdStorage(*graph);
  SOCHDB_RETURN_IF_ERROR(CatchFaiss("building a graph", [&] {
    UseFaissThreads();
    for (int64_t first = 0; first < n; first += batch) {
      const int64_t count = std::min(batch, n - first);
      testing::AddWith(construction, *graph, vectors.data() + first * d, count);
    }
  }));
  return graph;
}

absl::Status AddToGraph(faiss::IndexHNSW& graph, const float* vectors, int64_t n) {
  return CatchFaiss("adding to the HNSW graph", [&] {
    UseFaissThreads();
    if (!AddToFlatGraph(graph, vectors, n)) graph.add(n, vectors);
  });
}

absl::StatusOr<std::vector<Neighbor>> SearchGraph(const IndexSpec& spec,
                                                  const faiss::IndexHNSW& graph,
                                                  const LabelBitmap& tombstones, const float* query,
                                                  uint32_t k, uint32_t ef,
                                                  const LabelFilter* filter) {
  const int64_t labels = graph.ntotal;
  const int64_t live = labels - tombstones.count();
  if (live <= 0) return std::vector<Neighbor>();
  const bool filtered = filter != nullptr && filter->accept;
  double fraction = static_cast<double>(live) / static_cast<double>(labels);
  if (filtered) {
    fraction *= AcceptedFraction(*filter, labels);
    if (fraction * labels < std::max(10.0 * k, kExactScanFloor)) {
      return ExactScan(spec, graph, tombstones, query, k, filter);
    }
  }
  LiveAcceptedSelector selector(tombstones, filter);
  faiss::SearchParametersHNSW params;
  params.efSearch = static_cast<int>(WidenedEf(ef, k, fraction));
  params.sel = (filtered || tombstones.count() > 0) ? &selector : nullptr;
  std::vector<float> distances(k);
  std::vector<idx_t> ids(k);
  SOCHDB_RETURN_IF_ERROR(CatchFaiss("HNSW search", [&] {
    // Straight to HNSW::search rather than IndexHNSW::search: one query needs no OpenMP team,
    // and the latter also updates a process-wide statistics struct without synchronisation.
    std::unique_ptr<faiss::DistanceComputer> distance = SearchDistance(graph);
    distance->set_query(query);
    faiss::maxheap_heapify(k, distances.data(), ids.data());
    graph.hnsw.search(*distance, static_cast<int>(k), ids.data(), distances.data(),
                      VisitedTableFor(labels), &params);
  }));
  const bool negated = graph.metric_type == faiss::METRIC_INNER_PRODUCT;
  TopK top(k);
  for (uint32_t i = 0; i < k; ++i) {
    const idx_t id = ids[i];
    if (id < 0 || id >= labels || tombstones.Test(id)) continue;  // never FAISS's -1
    top.Push(ToDistance(spec, negated ? -distances[i] : distances[i]), id);
  }
  // Short: the beam held too few accepted labels; an exact scan finds every one that exists.
  if (top.size() < k) return ExactScan(spec, graph, tombstones, query, k, filter);
  return top.Take();
}

absl::Status ReconstructFromGraph(const faiss::IndexHNSW& graph, int64_t label, float* out) {
  return CatchFaiss("reconstruct", [&] { graph.storage->reconstruct(label, out); });
}

void AddGraphStats(const faiss::IndexHNSW& graph, AnnStats* stats) {
  const faiss::HNSW& hnsw = graph.hnsw;
  stats->max_level = static_cast<uint32_t>(std::max(hnsw.max_level, 0));
  uint64_t links = 0;
  for (idx_t node = 0; node < graph.ntotal; ++node) {
    size_t begin = 0, end = 0;
    hnsw.neighbor_range(node, 0, &begin, &end);
    for (size_t j = begin; j < end && hnsw.neighbors[j] >= 0; ++j) ++links;
  }
  stats->avg_connections =
      graph.ntotal > 0 ? static_cast<double>(links) / static_cast<double>(graph.ntotal) : 0;

  uint64_t bytes = sizeof(faiss::IndexHNSW) + hnsw.assign_probas.capacity() * sizeof(double) +
                   hnsw.cum_nneighbor_per_level.capacity() * sizeof(int) +
                   hnsw.levels.capacity() * sizeof(int) + hnsw.offsets.capacity() * sizeof(size_t) +
                   hnsw.neighbors.capacity() * sizeof(faiss::HNSW::storage_idx_t);
  if (const auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(graph.storage)) {
    bytes += sizeof(*codes) + codes->codes.capacity();
  }
  if (const auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(graph.storage)) {
    bytes += sq->sq.trained.capacity() * sizeof(float);
  }
  if (const auto* pq = dynamic_cast<const faiss::IndexPQ*>(graph.storage)) {
    bytes += (pq->pq.centroids.capacity() + pq->pq.sdc_table.capacity()) * sizeof(float);
  }
  stats->memory_bytes += bytes + ConstructionCopyBytes(graph);
}

}  // namespace internal
}  // namespace sochdb::vector
