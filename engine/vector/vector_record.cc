#include "engine/vector/vector_record.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "engine/common/status_macros.h"

namespace sochdb::vector {
namespace {

constexpr char kRecordFormat = 1;

static_assert(sizeof(float) == 4, "vector records store IEEE-754 binary32");

absl::Status CheckRecord(std::string_view record, uint32_t dimension) {
  const size_t floats = static_cast<size_t>(dimension) * sizeof(float);
  if (record.size() < 1 + floats || record[0] != kRecordFormat) {
    return absl::DataLossError(absl::StrFormat(
        "vector record of %d bytes does not hold a %d-dimension vector", record.size(), dimension));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeVectorRecord(absl::Span<const float> vector, std::string_view extra) {
  std::string record;
  record.reserve(1 + vector.size() * sizeof(float) + extra.size());
  record.push_back(kRecordFormat);
  // x86-64 and every platform Debian builds FAISS for are little-endian; the bytes are the floats.
  record.append(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float));
  record.append(extra.data(), extra.size());
  return record;
}

absl::Status DecodeVectorRecord(std::string_view record, uint32_t dimension,
                                std::vector<float>* vector, std::string* extra) {
  absl::Status ok = CheckRecord(record, dimension);
  if (!ok.ok()) return ok;
  const size_t floats = static_cast<size_t>(dimension) * sizeof(float);
  vector->resize(dimension);
  std::memcpy(vector->data(), record.data() + 1, floats);
  extra->assign(record.substr(1 + floats));
  return absl::OkStatus();
}

absl::Status VectorRecordExtra(std::string_view record, uint32_t dimension,
                               std::string_view* extra) {
  absl::Status ok = CheckRecord(record, dimension);
  if (!ok.ok()) return ok;
  *extra = record.substr(1 + static_cast<size_t>(dimension) * sizeof(float));
  return absl::OkStatus();
}

std::string EncodeLogEntry(char op, std::string_view id) {
  std::string entry(1, op);
  entry.append(id.data(), id.size());
  return entry;
}

absl::Status DecodeLogEntry(std::string_view entry, char* op, std::string_view* id) {
  if (entry.empty() || (entry[0] != kLogUpsert && entry[0] != kLogDelete)) {
    return absl::DataLossError("malformed vector change-log entry");
  }
  *op = entry[0];
  *id = entry.substr(1);
  return absl::OkStatus();
}

void WriteSpecFields(const IndexSpec& spec, storage::FieldRecordWriter* out) {
  out->Number("dimension", spec.dimension)
      .Number("metric", static_cast<uint64_t>(spec.metric))
      .Number("quantization", static_cast<uint64_t>(spec.quantization))
      .Number("m", spec.m)
      .Number("m0", spec.m0)
      .Number("ef_construction", spec.ef_construction)
      .Number("ef_search", spec.ef_search)
      .Number("pq_subvectors", spec.pq_subvectors)
      .Number("exact_threshold", spec.exact_threshold);
}

absl::Status ReadSpecFields(const storage::FieldRecord& in, IndexSpec* spec) {
  uint64_t metric = 0, quantization = 0;
  SOCHDB_RETURN_IF_ERROR(in.Number32("dimension", &spec->dimension));
  SOCHDB_RETURN_IF_ERROR(in.Number("metric", &metric, 0, static_cast<uint64_t>(Metric::kDot)));
  SOCHDB_RETURN_IF_ERROR(
      in.Number("quantization", &quantization, 0, static_cast<uint64_t>(Quantization::kProduct)));
  SOCHDB_RETURN_IF_ERROR(in.Number32("m", &spec->m));
  SOCHDB_RETURN_IF_ERROR(in.Number32("m0", &spec->m0));
  SOCHDB_RETURN_IF_ERROR(in.Number32("ef_construction", &spec->ef_construction));
  SOCHDB_RETURN_IF_ERROR(in.Number32("ef_search", &spec->ef_search));
  SOCHDB_RETURN_IF_ERROR(in.Number32("pq_subvectors", &spec->pq_subvectors));
  SOCHDB_RETURN_IF_ERROR(in.Number32("exact_threshold", &spec->exact_threshold));
  spec->metric = static_cast<Metric>(metric);
  spec->quantization = static_cast<Quantization>(quantization);
  if (spec->dimension == 0 || !ResolveSpec(*spec).ok()) {
    return in.Damaged("holds an invalid index spec");
  }
  return absl::OkStatus();
}

}  // namespace sochdb::vector
