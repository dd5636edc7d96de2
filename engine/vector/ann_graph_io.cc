// Serialisation of the HNSW graph with FAISS's own format (faiss::write_index / read_index),
// made safe for damaged input. FAISS's reader trusts its bytes: it allocates whatever length a
// field claims (up to 2^40 elements) before reading it, dereferences the storage of an "IHNp"
// image as a PQ index whatever it really is, and a neighbour id out of range is an out-of-bounds
// read at search time. So the bytes are first walked against the layout FAISS 1.7.3 writes for
// exactly the index the spec describes (every length checked against what remains), and after
// loading the graph is checked link by link. Anything off is DATA_LOSS.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/vector/ann_internal.h"

namespace sochdb::vector::internal {
namespace {

using idx_t = faiss::Index::idx_t;

// Hands FAISS's output straight to the image's sink. Once the sink has failed (a file that
// cannot be written), FAISS is told nothing was written, so it throws and stops.
// Given `codes` (the storage's code array), the writer leaves it out when FAISS writes it in
// one piece (WRITEXBVECTOR / WRITEVECTOR hand over the vector's own buffer) and counts its
// bytes in `left_out`; anything written after it is noted, since the image is then no longer
// "everything up to the codes".
class SinkWriter final : public faiss::IOWriter {
 public:
  explicit SinkWriter(ByteSink* out, const std::vector<uint8_t>* codes = nullptr)
      : out_(out), codes_(codes) {
    name = "snapshot image";
  }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t bytes = size * nitems;
    if (codes_ != nullptr && !codes_->empty() && ptr == codes_->data() &&
        bytes == codes_->size() && left_out_ == 0) {
      left_out_ = bytes;
      return nitems;
    }
    if (left_out_ != 0 && bytes != 0) written_after_ = true;
    out_->Append(std::string_view(static_cast<const char*>(ptr), bytes));
    return out_->failed() ? 0 : nitems;
  }
  uint64_t left_out() const { return left_out_; }
  bool written_after() const { return written_after_; }

 private:
  ByteSink* out_;
  const std::vector<uint8_t>* codes_;
  uint64_t left_out_ = 0;
  bool written_after_ = false;
};

// The code array of a graph's storage when it is the last thing FAISS writes of the image:
// flat and scalar-quantized storage. Null for product quantization (IndexPQ writes its search
// settings after its codes; they are m bytes a vector, little to leave out anyway).
const std::vector<uint8_t>* TrailingCodes(const faiss::IndexHNSW& graph) {
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(graph.storage)) return &flat->codes;
  if (const auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(graph.storage)) {
    return &sq->codes;
  }
  return nullptr;
}

// Feeds FAISS from the image without a copy; short reads make FAISS throw.
class ViewReader final : public faiss::IOReader {
 public:
  explicit ViewReader(std::string_view bytes) : bytes_(bytes) { name = "snapshot image"; }
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return 0;
    const size_t items = std::min(nitems, (bytes_.size() - pos_) / size);
    std::memcpy(ptr, bytes_.data() + pos_, items * size);
    pos_ += items * size;
    return items;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

absl::Status Damaged(const std::string& what) {
  return absl::DataLossError(absl::StrCat("index image: ", what));
}

// Walks FAISS 1.7.3's layout for the one index shape `spec` gives, checking every fourcc, enum,
// bool and length before FAISS sees them.
class LayoutWalker {
 public:
  LayoutWalker(std::string_view bytes, const IndexSpec& spec, int64_t labels)
      : cursor_(bytes), spec_(spec), labels_(labels) {}

  absl::Status Walk() {
    SOCHDB_RETURN_IF_ERROR(Fourcc(OuterFourcc()));
    SOCHDB_RETURN_IF_ERROR(IndexHeader());
    SOCHDB_RETURN_IF_ERROR(Hnsw());
    SOCHDB_RETURN_IF_ERROR(Storage());
    if (cursor_.remaining() != 0) return Damaged("trailing bytes after the graph");
    return absl::OkStatus();
  }

 private:
  const char* OuterFourcc() const {
    switch (spec_.quantization) {
      case Quantization::kNone:
        return "IHNf";
      case Quantization::kScalar8:
        return "IHNs";
      case Quantization::kProduct:
        return "IHNp";
    }
    return "????";
  }

  absl::Status Fourcc(const char* expected) {
    char got[4];
    if (!cursor_.Read(&got) || std::memcmp(got, expected, 4) != 0) {
      return Damaged(absl::StrCat("expected a FAISS ", expected, " record"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Expect(T expected, const char* field) {
    T got;
    if (!cursor_.Read(&got) || got != expected) return Damaged(absl::StrCat(field, " differs"));
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Field(T* out, const char* field) {
    if (!cursor_.Read(out)) return Damaged(absl::StrCat(field, " is cut short"));
    return absl::OkStatus();
  }

  // A FAISS vector: a size_t count, then count elements of `element` bytes. `expected` < 0
  // means any count that fits in what remains.
  absl::Status Vector(size_t element, int64_t expected, const char* field,
                      uint64_t* count_out = nullptr) {
    uint64_t count = 0;
    SOCHDB_RETURN_IF_ERROR(Field(&count, field));
    if (expected >= 0 && count != static_cast<uint64_t>(expected)) {
      return Damaged(absl::StrCat(field, " has ", count, " entries; expected ", expected));
    }
    if (count > cursor_.remaining() / element || !cursor_.Skip(count * element)) {
      return Damaged(absl::StrCat(field, " is cut short"));
    }
    if (count_out != nullptr) *count_out = count;
    return absl::OkStatus();
  }

  absl::Status IndexHeader() {
    const int32_t metric =
        FaissUsesInnerProduct(spec_) ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    int64_t dummy = 0;
    SOCHDB_RETURN_IF_ERROR(Expect<int32_t>(static_cast<int32_t>(spec_.dimension), "d"));
    SOCHDB_RETURN_IF_ERROR(Expect<int64_t>(labels_, "ntotal"));
    SOCHDB_RETURN_IF_ERROR(Field(&dummy, "header"));
    SOCHDB_RETURN_IF_ERROR(Field(&dummy, "header"));
    SOCHDB_RETURN_IF_ERROR(Expect<uint8_t>(1, "is_trained"));
    return Expect<int32_t>(metric, "metric_type");
  }

  absl::Status Hnsw() {
    uint64_t levels = 0;
    SOCHDB_RETURN_IF_ERROR(Vector(sizeof(double), -1, "assign_probas", &levels));
    if (levels == 0 || levels > 64) return Damaged("assign_probas has a bad length");
    SOCHDB_RETURN_IF_ERROR(
        Vector(sizeof(int32_t), static_cast<int64_t>(levels) + 1, "cum_nneighbor_per_level"));
    SOCHDB_RETURN_IF_ERROR(Vector(sizeof(int32_t), labels_, "levels"));
    SOCHDB_RETURN_IF_ERROR(Vector(sizeof(uint64_t), labels_ + 1, "offsets"));
    SOCHDB_RETURN_IF_ERROR(Vector(sizeof(int32_t), -1, "neighbors"));
    int32_t value = 0;  // entry_point, max_level, efConstruction, efSearch, upper_beam
    for (int i = 0; i < 5; ++i) SOCHDB_RETURN_IF_ERROR(Field(&value, "HNSW parameters"));
    return absl::OkStatus();
  }

  absl::Status Storage() {
    SOCHDB_RETURN_IF_ERROR(Fourcc(StorageFourcc()));
    SOCHDB_RETURN_IF_ERROR(IndexHeader());
    const int64_t d = spec_.dimension;
    switch (spec_.quantization) {
      case Quantization::kNone:  // floats, counted in 4-byte units
        return Vector(sizeof(float), labels_ * d, "flat vectors");
      case Quantization::kScalar8: {
        int32_t range_stat = 0;
        float range_arg = 0;
        SOCHDB_RETURN_IF_ERROR(Expect<int32_t>(faiss::ScalarQuantizer::QT_8bit, "qtype"));
        SOCHDB_RETURN_IF_ERROR(Field(&range_stat, "rangestat"));
        if (range_stat < 0 || range_stat > 3) return Damaged("rangestat is out of range");
        SOCHDB_RETURN_IF_ERROR(Field(&range_arg, "rangestat_arg"));
        SOCHDB_RETURN_IF_ERROR(Expect<uint64_t>(d, "scalar quantizer d"));
        SOCHDB_RETURN_IF_ERROR(Expect<uint64_t>(d, "code_size"));
        SOCHDB_RETURN_IF_ERROR(Vector(sizeof(float), 2 * d, "trained ranges"));
        return Vector(1, labels_ * d, "codes");
      }
      case Quantization::kProduct: {
        const int64_t m = spec_.pq_subvectors;
        int32_t polysemous_ht = 0;
        SOCHDB_RETURN_IF_ERROR(Expect<uint64_t>(d, "product quantizer d"));
        SOCHDB_RETURN_IF_ERROR(Expect<uint64_t>(m, "pq M"));
        SOCHDB_RETURN_IF_ERROR(Expect<uint64_t>(8, "pq nbits"));
        SOCHDB_RETURN_IF_ERROR(Vector(sizeof(float), d * 256, "centroids"));
        SOCHDB_RETURN_IF_ERROR(Vector(1, labels_ * m, "codes"));
        SOCHDB_RETURN_IF_ERROR(Expect<int32_t>(faiss::IndexPQ::ST_PQ, "search_type"));
        uint8_t encode_signs = 0;
        SOCHDB_RETURN_IF_ERROR(Field(&encode_signs, "encode_signs"));
        if (encode_signs > 1) return Damaged("encode_signs is not a bool");
        return Field(&polysemous_ht, "polysemous_ht");
      }
    }
    return Damaged("unknown quantization");
  }

  const char* StorageFourcc() const {
    switch (spec_.quantization) {
      case Quantization::kNone:
        return FaissUsesInnerProduct(spec_) ? "IxFI" : "IxF2";
      case Quantization::kScalar8:
        return "IxSQ";
      case Quantization::kProduct:
        return "IxPq";
    }
    return "????";
  }

  ByteCursor cursor_;
  const IndexSpec& spec_;
  const int64_t labels_;
};

bool AllFinite(const std::vector<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

// The per-level link counts must be the spec's (m0 at level 0, m above), and every level in
// `levels` must have a row in the table.
absl::Status CheckLevelTable(const faiss::HNSW& hnsw, const IndexSpec& spec) {
  const std::vector<int>& cum = hnsw.cum_nneighbor_per_level;
  if (cum.size() < 2 || cum[0] != 0 || cum[1] != static_cast<int>(spec.m0)) {
    return Damaged("level-0 link count differs from m0");
  }
  for (size_t level = 1; level + 1 < cum.size(); ++level) {
    if (cum[level + 1] - cum[level] != static_cast<int>(spec.m)) {
      return Damaged("upper-level link count differs from m");
    }
  }
  for (int level : hnsw.levels) {
    if (level < 1 || static_cast<size_t>(level) >= cum.size()) return Damaged("bad node level");
  }
  return absl::OkStatus();
}

// Offsets must tile the neighbour array exactly, every link must name a node (or be -1), and a
// link at level l must lead to a node that exists at level l: HNSW follows them unchecked.
absl::Status CheckLinks(const faiss::HNSW& hnsw, int64_t labels) {
  const std::vector<int>& cum = hnsw.cum_nneighbor_per_level;
  if (hnsw.offsets[0] != 0) return Damaged("offsets do not start at 0");
  for (int64_t node = 0; node < labels; ++node) {
    if (hnsw.offsets[node + 1] != hnsw.offsets[node] + cum[hnsw.levels[node]]) {
      return Damaged("offsets do not match node levels");
    }
  }
  if (hnsw.offsets[labels] != hnsw.neighbors.size()) return Damaged("neighbors length differs");
  for (int64_t node = 0; node < labels; ++node) {
    for (int level = 0; level < hnsw.levels[node]; ++level) {
      const size_t begin = hnsw.offsets[node] + cum[level];
      const size_t end = hnsw.offsets[node] + cum[level + 1];
      for (size_t j = begin; j < end; ++j) {
        const int neighbor = hnsw.neighbors[j];
        if (neighbor < -1 || neighbor >= labels) return Damaged("a link names no node");
        if (neighbor >= 0 && hnsw.levels[neighbor] <= level) {
          return Damaged("a link leads to a node absent from its level");
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHnsw(const faiss::HNSW& hnsw, const IndexSpec& spec, int64_t labels) {
  SOCHDB_RETURN_IF_ERROR(CheckLevelTable(hnsw, spec));
  SOCHDB_RETURN_IF_ERROR(CheckLinks(hnsw, labels));
  if (hnsw.efConstruction != static_cast<int>(spec.ef_construction) ||
      hnsw.efSearch != static_cast<int>(spec.ef_search) || hnsw.upper_beam != 1) {
    return Damaged("HNSW parameters differ from the spec");
  }
  if (labels == 0) return absl::OkStatus();
  int top = 0;
  for (int level : hnsw.levels) top = std::max(top, level);
  if (hnsw.entry_point < 0 || hnsw.entry_point >= labels || hnsw.max_level != top - 1 ||
      hnsw.levels[hnsw.entry_point] != top) {
    return Damaged("bad entry point");
  }
  return absl::OkStatus();
}

absl::Status CheckStorage(const faiss::IndexHNSW& graph, int64_t labels) {
  if (graph.storage == nullptr || graph.storage->ntotal != labels) {
    return Damaged("storage does not hold every label");
  }
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(graph.storage)) {
    const float* x = flat->get_xb();
    for (size_t i = 0; i < flat->codes.size() / sizeof(float); ++i) {
      if (!std::isfinite(x[i])) return Damaged("a stored vector is not finite");
    }
  } else if (const auto* sq = dynamic_cast<faiss::IndexScalarQuantizer*>(graph.storage)) {
    if (!AllFinite(sq->sq.trained)) return Damaged("scalar quantizer ranges are not finite");
  } else if (auto* pq = dynamic_cast<faiss::IndexPQ*>(graph.storage)) {
    if (!AllFinite(pq->pq.centroids)) return Damaged("PQ centroids are not finite");
    // Adds need the symmetric table; make sure it exists whatever the reader did.
    if (pq->pq.sdc_table.size() != pq->pq.M * pq->pq.ksub * pq->pq.ksub) {
      pq->pq.compute_sdc_table();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteGraph(const faiss::IndexHNSW& graph, ByteSink* out, uint64_t* codes_left_out) {
  const std::vector<uint8_t>* codes = codes_left_out != nullptr ? TrailingCodes(graph) : nullptr;
  SinkWriter writer(out, codes);
  SOCHDB_RETURN_IF_ERROR(CatchFaiss("serialising the HNSW graph",
                                    [&] { faiss::write_index(&graph, &writer); }));
  if (codes_left_out == nullptr) return absl::OkStatus();
  if (writer.written_after()) {
    // Not FAISS 1.7.3's layout (its storage's codes end the image); the bytes are unusable.
    return absl::InternalError("the graph image continues after the storage's codes");
  }
  *codes_left_out = writer.left_out();
  return absl::OkStatus();
}

absl::Status AppendStorageCodes(const faiss::IndexHNSW& graph, uint64_t offset, uint64_t length,
                                ByteSink* out) {
  const std::vector<uint8_t>* codes = TrailingCodes(graph);
  const uint64_t held = codes != nullptr ? codes->size() : 0;
  if (offset > held || length > held - offset) {
    return absl::OutOfRangeError(absl::StrCat("stored codes [", offset, ", ", offset + length,
                                              ") asked for; the index holds ", held, " bytes"));
  }
  if (length != 0) {
    out->Append(std::string_view(reinterpret_cast<const char*>(codes->data()) + offset, length));
  }
  return absl::OkStatus();
}

absl::StatusOr<GraphPtr> ReadGraph(std::string_view bytes, const IndexSpec& spec, int64_t labels) {
  SOCHDB_RETURN_IF_ERROR(LayoutWalker(bytes, spec, labels).Walk());
  GraphPtr graph;
  absl::Status read = CatchFaiss("reading the HNSW graph", [&] {
    ViewReader reader(bytes);
    faiss::Index* index = faiss::read_index(&reader);
    graph.reset(dynamic_cast<faiss::IndexHNSW*>(index));
    if (graph == nullptr) delete index;
  });
  if (!read.ok()) return absl::DataLossError(std::string(read.message()));
  if (graph == nullptr) return Damaged("not an HNSW index");
  SOCHDB_RETURN_IF_ERROR(CheckHnsw(graph->hnsw, spec, labels));
  absl::Status checked;
  SOCHDB_RETURN_IF_ERROR(
      CatchFaiss("checking the graph storage", [&] { checked = CheckStorage(*graph, labels); }));
  SOCHDB_RETURN_IF_ERROR(checked);
  return graph;
}

}  // namespace sochdb::vector::internal
