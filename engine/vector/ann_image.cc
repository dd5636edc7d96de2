// The snapshot image of an AnnIndex: a small fixed header (magic, format version, the spec, the
// phase, the label count), the tombstone bitmap, then the payload: the raw vectors in the exact
// phase, FAISS's serialisation of the graph in the graph phase. Host byte order (FAISS's own
// format is too). The owner wraps the image in a checksum; this code still treats every byte
// as untrusted, so a damaged image is DATA_LOSS, never a crash.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/vector/ann_internal.h"

namespace sochdb::vector::internal {
namespace {

constexpr char kMagic[8] = {'S', 'O', 'C', 'H', 'A', 'N', 'N', 'I'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint8_t kExactPhase = 0;
constexpr uint8_t kGraphPhase = 1;

template <typename T>
void Put(ByteSink* out, T value) {
  out->Append(std::string_view(reinterpret_cast<const char*>(&value), sizeof(value)));
}

// The spec as stored, in a fixed order; enums as their integer values.
std::vector<uint32_t> SpecFields(const IndexSpec& spec) {
  return {spec.dimension,
          static_cast<uint32_t>(spec.metric),
          spec.m,
          spec.m0,
          spec.ef_construction,
          spec.ef_search,
          static_cast<uint32_t>(spec.quantization),
          spec.pq_subvectors,
          spec.exact_threshold};
}

constexpr const char* kSpecFieldNames[] = {"dimension",    "metric",          "m",
                                           "m0",           "ef_construction", "ef_search",
                                           "quantization", "pq_subvectors",   "exact_threshold"};

absl::Status Damaged(const std::string& what) {
  return absl::DataLossError(absl::StrCat("index image: ", what));
}

absl::Status DecodeSpec(ByteCursor& cursor, const IndexSpec& spec) {
  const std::vector<uint32_t> expected = SpecFields(spec);
  for (size_t i = 0; i < expected.size(); ++i) {
    uint32_t got = 0;
    if (!cursor.Read(&got)) return Damaged("cut short in the spec");
    if (got != expected[i]) {
      return Damaged(absl::StrCat("spec differs: ", kSpecFieldNames[i], " is ", got,
                                  " in the image and ", expected[i], " in the index"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LabelBitmap> DecodeTombstones(ByteCursor& cursor, int64_t labels) {
  uint64_t words = 0;
  if (!cursor.Read(&words) || words > cursor.remaining() / sizeof(uint64_t)) {
    return Damaged("tombstone bitmap is cut short");
  }
  std::vector<uint64_t> bits(words);
  for (uint64_t& word : bits) cursor.Read(&word);
  absl::StatusOr<LabelBitmap> bitmap = LabelBitmap::FromWords(std::move(bits), labels);
  if (!bitmap.ok()) return Damaged(std::string(bitmap.status().message()));
  return bitmap;
}

absl::Status DecodeRaw(std::string_view payload, AnnState& state) {
  const uint64_t floats = static_cast<uint64_t>(state.labels) * state.spec.dimension;
  if (payload.size() != floats * sizeof(float)) {
    return Damaged(absl::StrCat("raw vectors are ", payload.size(), " bytes; expected ",
                                floats * sizeof(float)));
  }
  state.raw.resize(floats);
  if (floats > 0) std::memcpy(state.raw.data(), payload.data(), payload.size());
  absl::Status valid = ValidateFloats(state.raw, state.spec.dimension, "raw vectors");
  if (!valid.ok()) return Damaged(std::string(valid.message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status EncodeImage(const AnnState& state, ByteSink* out, uint64_t* codes_left_out) {
  if (codes_left_out != nullptr) *codes_left_out = 0;
  out->Append(std::string_view(kMagic, sizeof(kMagic)));
  Put(out, kFormatVersion);
  for (uint32_t field : SpecFields(state.spec)) Put(out, field);
  Put(out, state.graph != nullptr ? kGraphPhase : kExactPhase);
  Put(out, static_cast<uint64_t>(state.labels));
  const std::vector<uint64_t>& words = state.tombstones.words();
  Put(out, static_cast<uint64_t>(words.size()));
  out->Append(std::string_view(reinterpret_cast<const char*>(words.data()),
                               words.size() * sizeof(uint64_t)));
  if (state.graph != nullptr) {
    // The payload's length comes first: FAISS's serialisation is sized by a dry run (it only
    // hands over pointers to the graph's arrays, so counting them costs nothing).
    CountingSink counter;
    SOCHDB_RETURN_IF_ERROR(WriteGraph(*state.graph, &counter));
    Put(out, counter.count());
    SOCHDB_RETURN_IF_ERROR(WriteGraph(*state.graph, out, codes_left_out));
  } else {
    const std::string_view raw(reinterpret_cast<const char*>(state.raw.data()),
                               state.raw.size() * sizeof(float));
    Put(out, static_cast<uint64_t>(raw.size()));
    out->Append(raw);
  }
  if (out->failed()) return absl::InternalError("the index image could not be written out");
  return absl::OkStatus();
}

absl::StatusOr<AnnState> DecodeImage(std::string_view image, const IndexSpec& spec) {
  ByteCursor cursor(image);
  char magic[sizeof(kMagic)];
  if (!cursor.Read(&magic) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return Damaged("not an index image (bad magic)");
  }
  uint32_t version = 0;
  if (!cursor.Read(&version) || version != kFormatVersion) {
    return Damaged(absl::StrCat("format version ", version, " is not ", kFormatVersion));
  }
  SOCHDB_RETURN_IF_ERROR(DecodeSpec(cursor, spec));
  uint8_t phase = 0;
  uint64_t labels = 0;
  if (!cursor.Read(&phase) || !cursor.Read(&labels)) return Damaged("cut short in the header");
  if (phase != kExactPhase && phase != kGraphPhase) return Damaged("unknown phase");
  if (labels > static_cast<uint64_t>(kMaxLabels)) return Damaged("label count out of range");
  const bool graph_phase = labels >= spec.exact_threshold;
  if ((phase == kGraphPhase) != graph_phase) {
    return Damaged("phase does not match the label count and exact_threshold");
  }
  AnnState state;
  state.spec = spec;
  state.labels = static_cast<int64_t>(labels);
  SOCHDB_ASSIGN_OR_RETURN(state.tombstones, DecodeTombstones(cursor, state.labels));
  uint64_t payload_size = 0;
  std::string_view payload;
  if (!cursor.Read(&payload_size) || payload_size != cursor.remaining() ||
      !cursor.Take(payload_size, &payload)) {
    return Damaged("payload length does not match the image");
  }
  if (phase == kGraphPhase) {
    SOCHDB_ASSIGN_OR_RETURN(state.graph, ReadGraph(payload, spec, state.labels));
  } else {
    SOCHDB_RETURN_IF_ERROR(DecodeRaw(payload, state));
  }
  return state;
}

}  // namespace sochdb::vector::internal
