// AnnIndex: spec resolution, input validation, the exact (brute-force) phase and the locking
// around both phases. The FAISS HNSW phase lives in ann_graph.cc and the snapshot image in
// ann_image.cc; this file decides which phase answers and owns the one mutex.
#include "engine/vector/ann_index.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/status_macros.h"
#include "engine/vector/ann_internal.h"

namespace sochdb::vector {

using internal::AnnState;
using internal::LabelBitmap;
using internal::TopK;

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "euclidean";
    case Metric::kCosine:
      return "cosine";
    case Metric::kDot:
      return "dot_product";
  }
  return "unspecified";
}

namespace {

absl::Status CheckRange(const char* field, uint64_t value, uint64_t low, uint64_t high,
                        const std::string& range_text = {}) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is ", value, "; the range is ",
                   range_text.empty() ? absl::StrCat(low, "..", high) : range_text));
}

// The upstream flat-scan thresholds: larger vectors make brute force costlier sooner.
uint32_t DefaultExactThreshold(uint32_t dimension) {
  if (dimension <= 128) return 10'000;
  if (dimension <= 384) return 4'000;
  return 1'000;
}

absl::Status ResolveEnums(const IndexSpec& spec) {
  switch (spec.metric) {
    case Metric::kL2:
    case Metric::kCosine:
    case Metric::kDot:
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("metric is ", static_cast<int>(spec.metric),
                                                     "; expected L2, COSINE or DOT"));
  }
  switch (spec.quantization) {
    case Quantization::kNone:
    case Quantization::kScalar8:
      return absl::OkStatus();
    case Quantization::kProduct:
      if (spec.metric == Metric::kDot) {
        return absl::InvalidArgumentError(
            "quantization PRODUCT supports metrics L2 and COSINE; metric is DOT");
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("quantization is ",
                                                 static_cast<int>(spec.quantization),
                                                 "; expected NONE, SCALAR or PRODUCT"));
}

absl::Status ResolveProduct(IndexSpec& spec) {
  if (spec.pq_subvectors == 0) {
    for (uint32_t candidate : {32u, 16u, 8u, 4u, 2u, 1u}) {
      if (candidate <= spec.dimension && spec.dimension % candidate == 0) {
        spec.pq_subvectors = candidate;
        break;
      }
    }
  }
  if (spec.pq_subvectors > spec.dimension || spec.dimension % spec.pq_subvectors != 0) {
    return absl::InvalidArgumentError(absl::StrCat("pq_subvectors is ", spec.pq_subvectors,
                                                   "; it must divide dimension ", spec.dimension));
  }
  if (spec.exact_threshold < 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("exact_threshold is ", spec.exact_threshold,
                     "; PRODUCT quantization needs at least 256 (vectors to train its codebooks)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IndexSpec> ResolveSpec(const IndexSpec& in) {
  IndexSpec spec = in;
  SOCHDB_RETURN_IF_ERROR(CheckRange("dimension", spec.dimension, 1, kMaxDimension));
  SOCHDB_RETURN_IF_ERROR(ResolveEnums(spec));
  if (spec.m == 0) spec.m = 32;
  SOCHDB_RETURN_IF_ERROR(CheckRange("m", spec.m, 2, 256));
  if (spec.m0 == 0) spec.m0 = std::min(2 * spec.m, 512u);
  SOCHDB_RETURN_IF_ERROR(
      CheckRange("m0", spec.m0, spec.m, 512, absl::StrCat("m..512 (", spec.m, "..512)")));
  if (spec.ef_construction == 0) spec.ef_construction = 256;
  SOCHDB_RETURN_IF_ERROR(CheckRange("ef_construction", spec.ef_construction, 1, kMaxEf));
  if (spec.ef_search == 0) spec.ef_search = 500;
  SOCHDB_RETURN_IF_ERROR(CheckRange("ef_search", spec.ef_search, 1, kMaxEf));
  if (spec.exact_threshold == 0) spec.exact_threshold = DefaultExactThreshold(spec.dimension);
  if (spec.quantization == Quantization::kProduct) {
    SOCHDB_RETURN_IF_ERROR(ResolveProduct(spec));
  }
  return spec;
}

namespace internal {

absl::Status ValidateFloats(absl::Span<const float> values, uint32_t dimension, const char* field,
                            bool one_vector) {
  if (dimension == 0 || values.size() % dimension != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " has ", values.size(), " floats; expected a multiple of ", dimension));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (std::isfinite(v) && std::fabs(v) <= kMaxAbsComponent) continue;
    const std::string where =
        one_vector ? absl::StrCat(field, "[", i, "]")
                   : absl::StrCat(field, "[", i / dimension, "][", i % dimension, "]");
    if (std::isnan(v)) return absl::InvalidArgumentError(absl::StrCat(where, " is NaN"));
    if (std::isinf(v)) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is ", v > 0 ? "+Inf" : "-Inf"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", v, "; the limit is +-", kMaxAbsComponent));
  }
  return absl::OkStatus();
}

void Normalize(float* v, uint32_t dimension) {
  double sum = 0;
  for (uint32_t i = 0; i < dimension; ++i) sum += static_cast<double>(v[i]) * v[i];
  if (sum <= 0) return;
  const double norm = std::sqrt(sum);
  for (uint32_t i = 0; i < dimension; ++i) v[i] = static_cast<float>(v[i] / norm);
}

bool FaissUsesInnerProduct(const IndexSpec& spec) {
  return spec.metric == Metric::kDot ||
         (spec.metric == Metric::kCosine && spec.quantization != Quantization::kProduct);
}

std::vector<Neighbor> TopK::Take() {
  std::vector<Neighbor> out(heap_.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = Neighbor{heap_.top().second, heap_.top().first};
    heap_.pop();
  }
  return out;
}

absl::StatusOr<LabelBitmap> LabelBitmap::FromWords(std::vector<uint64_t> words, int64_t labels) {
  if (labels < 0 || words.size() != static_cast<size_t>((labels + 63) / 64)) {
    return absl::DataLossError("tombstone bitmap length does not match the label count");
  }
  if (labels % 64 != 0 && !words.empty() && (words.back() >> (labels % 64)) != 0) {
    return absl::DataLossError("tombstone bitmap marks labels that were never added");
  }
  LabelBitmap bitmap;
  for (uint64_t word : words) bitmap.count_ += __builtin_popcountll(word);
  bitmap.words_ = std::move(words);
  return bitmap;
}

}  // namespace internal

absl::Status ValidateVectors(absl::Span<const float> vectors, uint32_t dimension,
                             const char* field) {
  return internal::ValidateFloats(vectors, dimension, field);
}

absl::Status ValidateVector(absl::Span<const float> vector, uint32_t dimension, const char* field) {
  if (vector.size() != dimension) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " has ", vector.size(), " floats; the dimension is ", dimension));
  }
  return internal::ValidateFloats(vector, dimension, field, /*one_vector=*/true);
}

namespace {

// Exact distances in the public convention. COSINE is always 1 - a.b here (both sides are
// unit or zero), so a zero vector on either side gives exactly 1.
float ExactDistance(const IndexSpec& spec, const float* a, const float* b) {
  switch (spec.metric) {
    case Metric::kL2:
      return std::sqrt(faiss::fvec_L2sqr(a, b, spec.dimension));
    case Metric::kCosine:
      return 1.0f - faiss::fvec_inner_product(a, b, spec.dimension);
    case Metric::kDot:
      return -faiss::fvec_inner_product(a, b, spec.dimension);
  }
  return 0;
}

class AnnIndexImpl final : public AnnIndex {
 public:
  explicit AnnIndexImpl(AnnState state) : spec_(state.spec), state_(std::move(state)) {}

  const IndexSpec& spec() const override { return spec_; }
  absl::StatusOr<int64_t> Add(absl::Span<const float> vectors) override;
  void PrepareAdd(int64_t n) override;
  absl::Status Remove(int64_t label) override;
  absl::StatusOr<std::vector<Neighbor>> Search(absl::Span<const float> query, uint32_t k,
                                               uint32_t ef,
                                               const LabelFilter* filter) const override;
  absl::Status Reconstruct(int64_t label, float* out) const override;
  AnnStats Stats() const override;
  absl::Status SerializeTo(ByteSink* out) const override;
  absl::Status SerializeHead(ByteSink* out, uint64_t* codes_left_out) const override;
  absl::Status AppendStoredCodes(uint64_t offset, uint64_t length, ByteSink* out) const override;
  void ReleaseInsertMemory() override;

 private:
  // Appends prepared vectors to the raw array, building the graph when the threshold is met.
  absl::Status AddExact(std::vector<float> prepared, int64_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddToGraph(const std::vector<float>& prepared, int64_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Neighbor> SearchExact(const float* query, uint32_t k, const LabelFilter* filter) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Under COSINE a zero query is at distance 1 from everything, so the answer is the first k
  // live accepted labels; handled here because PRODUCT (L2 on unit vectors) would say 0.5.
  std::vector<Neighbor> SearchZeroCosine(uint32_t k, const LabelFilter* filter) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const IndexSpec spec_;  // a copy of state_.spec, immutable, read without the lock
  mutable absl::Mutex mu_;
  AnnState state_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<int64_t> AnnIndexImpl::Add(absl::Span<const float> vectors) {
  const uint32_t d = spec_.dimension;
  SOCHDB_RETURN_IF_ERROR(internal::ValidateFloats(vectors, d, "vectors"));
  const int64_t n = static_cast<int64_t>(vectors.size() / d);
  std::vector<float> prepared(vectors.begin(), vectors.end());
  if (spec_.metric == Metric::kCosine) {
    for (int64_t i = 0; i < n; ++i) internal::Normalize(prepared.data() + i * d, d);
  }
  absl::WriterMutexLock lock(&mu_);
  const int64_t first = state_.labels;
  if (n == 0) return first;
  if (n > internal::kMaxLabels - first) {
    return absl::ResourceExhaustedError(absl::StrCat("the index holds ", first, " vectors; adding ",
                                                     n, " would pass the limit of ",
                                                     internal::kMaxLabels));
  }
  if (state_.graph != nullptr) {
    SOCHDB_RETURN_IF_ERROR(AddToGraph(prepared, n));
  } else {
    SOCHDB_RETURN_IF_ERROR(AddExact(std::move(prepared), n));
  }
  return first;
}

void AnnIndexImpl::PrepareAdd(int64_t n) {
  internal::GraphGrowthPtr growth;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (state_.graph == nullptr || n <= 0) return;
    // Copying ~1 GB can run out of memory; Add would then fail the same way, and say so.
    const auto& graph = *state_.graph;  // the lambda runs here, under the lock
    absl::Status prepared = internal::CatchFaiss("preparing the index arrays", [&] {
      growth = internal::PrepareGrowth(graph, n);
    });
    if (!prepared.ok() || growth == nullptr) return;
  }
  {
    absl::WriterMutexLock lock(&mu_);
    if (state_.graph != nullptr) internal::InstallGrowth(*state_.graph, *growth);
  }
  // `growth` now holds the arrays it replaced: freed here, with no lock held.
}

absl::Status AnnIndexImpl::AddExact(std::vector<float> prepared, int64_t n) {
  const size_t old_size = state_.raw.size();
  if (state_.raw.empty()) {
    state_.raw = std::move(prepared);
  } else {
    state_.raw.insert(state_.raw.end(), prepared.begin(), prepared.end());
  }
  const int64_t total = state_.labels + n;
  if (total >= spec_.exact_threshold) {
    absl::StatusOr<internal::GraphPtr> graph =
        internal::BuildGraph(spec_, state_.raw.data(), total);
    if (!graph.ok()) {
      state_.raw.resize(old_size);  // all or nothing
      return graph.status();
    }
    state_.graph = std::move(graph).value();
    std::vector<float>().swap(state_.raw);  // the FAISS storage holds the vectors now
  }
  state_.labels = total;
  state_.tombstones.Resize(total);
  return absl::OkStatus();
}

absl::Status AnnIndexImpl::AddToGraph(const std::vector<float>& prepared, int64_t n) {
  const int64_t before = state_.labels;
  absl::Status status = internal::AddToGraph(*state_.graph, prepared.data(), n);
  // A failed add may leave some of the vectors in FAISS's storage (and partly linked). Labels
  // must keep matching FAISS's ids, so whatever it kept is counted and tombstoned: never
  // returned, and dropped by the next compaction.
  const int64_t total = status.ok() ? before + n : internal::GraphSize(*state_.graph);
  state_.labels = std::max(before, total);
  state_.tombstones.Resize(state_.labels);
  if (!status.ok()) {
    for (int64_t label = before; label < state_.labels; ++label) state_.tombstones.Set(label);
  }
  return status;
}

absl::Status AnnIndexImpl::Remove(int64_t label) {
  absl::WriterMutexLock lock(&mu_);
  if (label < 0 || label >= state_.labels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label ", label, " was never added (the index holds ", state_.labels, " labels)"));
  }
  state_.tombstones.Set(label);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> AnnIndexImpl::Search(absl::Span<const float> query,
                                                           uint32_t k, uint32_t ef,
                                                           const LabelFilter* filter) const {
  SOCHDB_RETURN_IF_ERROR(CheckRange("k", k, 1, kMaxK));
  SOCHDB_RETURN_IF_ERROR(CheckRange("ef", ef, 0, kMaxEf));
  const uint32_t d = spec_.dimension;
  if (query.size() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", query.size(), " floats; expected ", d));
  }
  SOCHDB_RETURN_IF_ERROR(internal::ValidateFloats(query, d, "query", /*one_vector=*/true));
  std::vector<float> prepared(query.begin(), query.end());
  bool zero_cosine = false;
  if (spec_.metric == Metric::kCosine) {
    internal::Normalize(prepared.data(), d);
    zero_cosine = std::all_of(prepared.begin(), prepared.end(), [](float v) { return v == 0; });
  }
  const uint32_t effective_ef = std::max(ef == 0 ? spec_.ef_search : ef, k);

  absl::ReaderMutexLock lock(&mu_);
  if (zero_cosine) return SearchZeroCosine(k, filter);
  if (state_.graph == nullptr) return SearchExact(prepared.data(), k, filter);
  return internal::SearchGraph(spec_, *state_.graph, state_.tombstones, prepared.data(), k,
                               effective_ef, filter);
}

std::vector<Neighbor> AnnIndexImpl::SearchExact(const float* query, uint32_t k,
                                                const LabelFilter* filter) const {
  TopK top(k);
  const uint32_t d = spec_.dimension;
  for (int64_t label = 0; label < state_.labels; ++label) {
    if (state_.tombstones.Test(label) || !internal::FilterAccepts(filter, label)) continue;
    top.Push(ExactDistance(spec_, query, state_.raw.data() + label * d), label);
  }
  return top.Take();
}

std::vector<Neighbor> AnnIndexImpl::SearchZeroCosine(uint32_t k, const LabelFilter* filter) const {
  std::vector<Neighbor> out;
  for (int64_t label = 0; label < state_.labels && out.size() < k; ++label) {
    if (state_.tombstones.Test(label) || !internal::FilterAccepts(filter, label)) continue;
    out.push_back(Neighbor{label, 1.0f});
  }
  return out;
}

absl::Status AnnIndexImpl::Reconstruct(int64_t label, float* out) const {
  absl::ReaderMutexLock lock(&mu_);
  if (label < 0 || label >= state_.labels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label ", label, " was never added (the index holds ", state_.labels, " labels)"));
  }
  if (state_.graph != nullptr) return internal::ReconstructFromGraph(*state_.graph, label, out);
  std::memcpy(out, state_.raw.data() + label * spec_.dimension, spec_.dimension * sizeof(float));
  return absl::OkStatus();
}

AnnStats AnnIndexImpl::Stats() const {
  absl::ReaderMutexLock lock(&mu_);
  AnnStats stats;
  stats.labels = static_cast<uint64_t>(state_.labels);
  stats.tombstones = static_cast<uint64_t>(state_.tombstones.count());
  stats.live = stats.labels - stats.tombstones;
  stats.exact_phase = state_.graph == nullptr;
  stats.memory_bytes =
      sizeof(*this) + state_.tombstones.MemoryBytes() + state_.raw.capacity() * sizeof(float);
  if (state_.graph != nullptr) internal::AddGraphStats(*state_.graph, &stats);
  return stats;
}

void AnnIndexImpl::ReleaseInsertMemory() {
  absl::MutexLock lock(&mu_);
  if (state_.graph != nullptr) internal::ReleaseConstructionCopy(*state_.graph);
}

absl::Status AnnIndexImpl::SerializeTo(ByteSink* out) const {
  absl::ReaderMutexLock lock(&mu_);
  return internal::EncodeImage(state_, out);
}

absl::Status AnnIndexImpl::SerializeHead(ByteSink* out, uint64_t* codes_left_out) const {
  absl::ReaderMutexLock lock(&mu_);
  return internal::EncodeImage(state_, out, codes_left_out);
}

absl::Status AnnIndexImpl::AppendStoredCodes(uint64_t offset, uint64_t length,
                                             ByteSink* out) const {
  absl::ReaderMutexLock lock(&mu_);
  if (state_.graph == nullptr) {
    if (offset == 0 && length == 0) return absl::OkStatus();
    return absl::OutOfRangeError("stored codes asked for in the exact phase");
  }
  return internal::AppendStorageCodes(*state_.graph, offset, length, out);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AnnIndex>> AnnIndex::Create(const IndexSpec& spec) {
  SOCHDB_ASSIGN_OR_RETURN(IndexSpec resolved, ResolveSpec(spec));
  AnnState state;
  state.spec = resolved;
  return std::unique_ptr<AnnIndex>(new AnnIndexImpl(std::move(state)));
}

absl::StatusOr<std::string> AnnIndex::Serialize() const {
  std::string image;
  StringSink sink(&image);
  SOCHDB_RETURN_IF_ERROR(SerializeTo(&sink));
  return image;
}

absl::StatusOr<std::unique_ptr<AnnIndex>> AnnIndex::Deserialize(std::string_view image,
                                                                const IndexSpec& spec) {
  SOCHDB_ASSIGN_OR_RETURN(IndexSpec resolved, ResolveSpec(spec));
  SOCHDB_ASSIGN_OR_RETURN(AnnState state, internal::DecodeImage(image, resolved));
  return std::unique_ptr<AnnIndex>(new AnnIndexImpl(std::move(state)));
}

namespace testing {

absl::StatusOr<std::unique_ptr<AnnIndex>> BuildGraphIndex(const IndexSpec& spec,
                                                          absl::Span<const float> vectors,
                                                          Construction construction,
                                                          int64_t batch) {
  AnnState state;
  state.spec = spec;
  SOCHDB_ASSIGN_OR_RETURN(state.graph,
                          internal::BuildFlatGraph(spec, vectors, construction, batch));
  state.labels = static_cast<int64_t>(vectors.size() / spec.dimension);
  state.tombstones.Resize(state.labels);
  return std::unique_ptr<AnnIndex>(new AnnIndexImpl(std::move(state)));
}

}  // namespace testing
}  // namespace sochdb::vector
