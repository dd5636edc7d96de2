// Private pieces of AnnIndex shared by its translation units (ann_index.cc: the index and its
// exact phase; ann_graph.cc: the FAISS HNSW phase; ann_build.cc, with ann_construction_copy.cc
// and ann_graph_growth.cc: the graph construction; ann_image.cc: the snapshot image;
// ann_graph_io.cc: the graph's part of it). Nothing
// outside engine/vector includes this file, and it names FAISS types only by forward
// declaration so that FAISS stays confined to those .cc files.
#ifndef SOCHDB_ENGINE_VECTOR_ANN_INTERNAL_H_
#define SOCHDB_ENGINE_VECTOR_ANN_INTERNAL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/vector/ann_index.h"

namespace faiss {
struct IndexHNSW;
}  // namespace faiss

namespace sochdb::vector::internal {

// FAISS labels are 32-bit signed inside HNSW (storage_idx_t), so no index may hold more.
inline constexpr int64_t kMaxLabels = 2'147'483'647;

// One bit per label; set = tombstoned. Words are exposed for the snapshot image.
class LabelBitmap {
 public:
  void Resize(int64_t labels) { words_.resize(static_cast<size_t>((labels + 63) / 64), 0); }
  bool Test(int64_t label) const { return (words_[label >> 6] >> (label & 63)) & 1; }
  // Returns true when the bit was clear (the label was live).
  bool Set(int64_t label) {
    uint64_t& word = words_[label >> 6];
    const uint64_t bit = uint64_t{1} << (label & 63);
    if (word & bit) return false;
    word |= bit;
    ++count_;
    return true;
  }
  int64_t count() const { return count_; }
  const std::vector<uint64_t>& words() const { return words_; }
  uint64_t MemoryBytes() const { return words_.capacity() * sizeof(uint64_t); }
  // Adopts `words` for `labels` labels; fails when the length is wrong or a bit past the last
  // label is set (a damaged image).
  static absl::StatusOr<LabelBitmap> FromWords(std::vector<uint64_t> words, int64_t labels);

 private:
  std::vector<uint64_t> words_;
  int64_t count_ = 0;
};

// Bounds-checked sequential reads of a byte image (host byte order, as FAISS writes).
class ByteCursor {
 public:
  explicit ByteCursor(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Read(T* out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Skip(uint64_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }
  // The next `n` bytes (empty and false when fewer remain).
  bool Take(uint64_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Keeps the k smallest (distance, label) pairs seen; ties go to the smaller label, so every
// phase orders results the same way.
class TopK {
 public:
  explicit TopK(uint32_t k) : k_(k) {}
  void Push(float distance, int64_t label) {
    if (std::isnan(distance)) distance = INFINITY;  // keeps the ordering strict
    const std::pair<float, int64_t> item(distance, label);
    if (heap_.size() < k_) {
      heap_.push(item);
    } else if (item < heap_.top()) {
      heap_.pop();
      heap_.push(item);
    }
  }
  size_t size() const { return heap_.size(); }
  // Drains the heap into ascending (distance, label) order.
  std::vector<Neighbor> Take();

 private:
  uint32_t k_;
  std::priority_queue<std::pair<float, int64_t>> heap_;
};

// Whether `filter` (null or without `accept` = everything) accepts `label`. A throwing
// filter rejects: the call may sit under FAISS frames that must not be unwound.
inline bool FilterAccepts(const LabelFilter* filter, int64_t label) {
  if (filter == nullptr || !filter->accept) return true;
  try {
    return filter->accept(label);
  } catch (...) {
    return false;
  }
}

// The metric FAISS runs with: COSINE is inner product on unit vectors, except under PRODUCT
// quantization (IndexHNSWPQ is L2-only), where it is L2 on unit vectors.
bool FaissUsesInnerProduct(const IndexSpec& spec);

// Converts a raw FAISS score (squared L2 or inner product, per FaissUsesInnerProduct) into the
// public lower-is-better distance.
inline float ToDistance(const IndexSpec& spec, float raw) {
  switch (spec.metric) {
    case Metric::kL2:
      return std::sqrt(std::max(raw, 0.0f));
    case Metric::kCosine:
      // For unit a, b: 1 - cos = 1 - a.b = |a - b|^2 / 2.
      return FaissUsesInnerProduct(spec) ? 1.0f - raw : raw * 0.5f;
    case Metric::kDot:
      return -raw;
  }
  return raw;
}

// Scales `v` to unit length in place (a zero vector stays zero). The norm is taken in double so
// that large components cannot overflow it.
void Normalize(float* v, uint32_t dimension);

// Validates `values`, named `field` in messages, as vectors of `dimension` (see
// ValidateVectors). With `one_vector` positions read "query[17]" rather than "query[0][17]".
absl::Status ValidateFloats(absl::Span<const float> values, uint32_t dimension, const char* field,
                            bool one_vector = false);

// The HNSW phase (ann_graph.cc). The deleter lives there, where faiss::IndexHNSW is complete.
struct GraphDeleter {
  void operator()(faiss::IndexHNSW* graph) const;
};
using GraphPtr = std::unique_ptr<faiss::IndexHNSW, GraphDeleter>;

// Builds the graph over `n` prepared (already normalised for COSINE) vectors, training the
// quantizer first for SCALAR and PRODUCT.
absl::StatusOr<GraphPtr> BuildGraph(const IndexSpec& spec, const float* vectors, int64_t n);
absl::Status AddToGraph(faiss::IndexHNSW& graph, const float* vectors, int64_t n);
// Adds `n` vectors to a graph over flat storage with ann_build.cc's construction (FAISS's
// algorithm with prefetched distances); false, with nothing done, for quantized storage.
// FAISS exceptions propagate (callers wrap it in CatchFaiss).
// kInt8Copy computes construction distances on an 8-bit copy kept with the storage (the
// default; full precision where the CPU lacks AVX2 or the data does not round well to 8 bits),
// kFull on the vectors themselves (FAISS's arithmetic, for the test that compares the two
// builds link for link).
enum class BuildPrecision { kInt8Copy, kFull };
bool AddToFlatGraph(faiss::IndexHNSW& graph, const float* vectors, int64_t n,
                    BuildPrecision precision = BuildPrecision::kInt8Copy);
// Growing a graph's arrays for an insert without holding up its searches. PrepareGrowth only
// reads the graph (run it under the reader lock): every array of a graph over flat storage
// that lacks room for `n` more vectors is copied into one at least twice as large, and the
// construction copy is made anew if it is not current (after a restart or a release).
// InstallGrowth (writer lock, constant time) swaps the copies in and leaves the replaced
// arrays in `growth`, to be freed after the lock is released; it installs nothing and returns
// false when the graph changed in between. PrepareGrowth returns nullptr when every array has
// room (or the storage is quantized). Without them, the arrays grow as FAISS appends, under
// the writer lock.
struct GraphGrowth;
struct GraphGrowthDeleter {
  void operator()(GraphGrowth* growth) const;
};
using GraphGrowthPtr = std::unique_ptr<GraphGrowth, GraphGrowthDeleter>;
GraphGrowthPtr PrepareGrowth(const faiss::IndexHNSW& graph, int64_t n,
                             BuildPrecision precision = BuildPrecision::kInt8Copy);
bool InstallGrowth(faiss::IndexHNSW& graph, GraphGrowth& growth);
// Bytes of the construction copy AddToFlatGraph keeps with the graph's storage (0 if none).
uint64_t ConstructionCopyBytes(const faiss::IndexHNSW& graph);
// Frees that copy; the next AddToFlatGraph makes it again (one pass over the vectors).
void ReleaseConstructionCopy(faiss::IndexHNSW& graph);
// Whether the next AddToFlatGraph would compute on that copy: it exists, is current and its
// vectors round well to 8 bits.
bool ConstructionCopyInUse(const faiss::IndexHNSW& graph);
// Vectors the graph's storage holds (FAISS's ntotal), for label bookkeeping after a failed add.
int64_t GraphSize(const faiss::IndexHNSW& graph);

// Search of a prepared query (normalised for COSINE) over the graph; see AnnIndex::Search for
// the contract and ann_graph.cc for how filters and tombstones are handled.
absl::StatusOr<std::vector<Neighbor>> SearchGraph(const IndexSpec& spec,
                                                  const faiss::IndexHNSW& graph,
                                                  const LabelBitmap& tombstones, const float* query,
                                                  uint32_t k, uint32_t ef,
                                                  const LabelFilter* filter);
absl::Status ReconstructFromGraph(const faiss::IndexHNSW& graph, int64_t label, float* out);
// Fills max_level, avg_connections and adds the graph's bytes to memory_bytes.
void AddGraphStats(const faiss::IndexHNSW& graph, AnnStats* stats);

// FAISS's own serialisation of the graph (faiss::write_index), and its validated inverse:
// the bytes are walked and every length checked before FAISS reads them, and the loaded graph
// is checked link by link, so damaged bytes give DATA_LOSS instead of a crash or a huge
// allocation.
// With `codes_left_out`, the storage's codes, which end FAISS's image for flat and scalar
// storage, are left out and their byte count is stored there (0 when nothing was left out:
// product quantization, or codes that could not be told apart); AppendStorageCodes appends
// bytes [offset, offset + length) of them (OUT_OF_RANGE past the end).
absl::Status WriteGraph(const faiss::IndexHNSW& graph, ByteSink* out,
                        uint64_t* codes_left_out = nullptr);
absl::Status AppendStorageCodes(const faiss::IndexHNSW& graph, uint64_t offset, uint64_t length,
                                ByteSink* out);
absl::StatusOr<GraphPtr> ReadGraph(std::string_view bytes, const IndexSpec& spec, int64_t labels);

// The graph behind testing::BuildGraphIndex (ann_graph.cc).
absl::StatusOr<GraphPtr> BuildFlatGraph(const IndexSpec& spec, absl::Span<const float> vectors,
                                        testing::Construction construction, int64_t batch);

// Everything an index holds; what the snapshot image captures.
struct AnnState {
  IndexSpec spec;
  int64_t labels = 0;
  LabelBitmap tombstones;
  std::vector<float> raw;  // exact phase: labels * dimension prepared floats
  GraphPtr graph;          // graph phase (then `raw` is empty)
};

// The snapshot image (ann_image.cc).
// Appends the image of `state` to `out`. With `codes_left_out`, the image's last bytes, the
// graph's stored codes, are left out (see AnnIndex::SerializeHead) and counted there.
absl::Status EncodeImage(const AnnState& state, ByteSink* out,
                         uint64_t* codes_left_out = nullptr);
absl::StatusOr<AnnState> DecodeImage(std::string_view image, const IndexSpec& spec);

// Runs `body`, turning any exception (FAISS throws faiss::FaissException, the allocator
// std::bad_alloc) into INTERNAL naming `what`, so that nothing throws out of the engine.
template <typename Body>
absl::Status CatchFaiss(std::string_view what, Body&& body) {
  try {
    body();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string(what) + " failed: " + e.what());
  } catch (...) {
    return absl::InternalError(std::string(what) + " failed");
  }
}

}  // namespace sochdb::vector::internal

#endif  // SOCHDB_ENGINE_VECTOR_ANN_INTERNAL_H_
