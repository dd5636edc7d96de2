#include "engine/collection/collection_codec.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/varint.h"
#include "engine/vector/vector_record.h"

namespace sochdb::collection::internal {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kVectorScopeTag[] = "c";  // collections' spaces, apart from vector indexes' "vi"
constexpr char kDocumentFormat = 1;
constexpr int kDefinitionFormat = 1;

// ---- the binary document record ----

void PutBytes(std::string* out, std::string_view bytes) {
  storage::PutVarint64(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

// Reads a record front to back; every getter fails (returns false) rather than read past it.
class RecordReader {
 public:
  explicit RecordReader(std::string_view data) : data_(data) {}
  bool Varint(uint64_t* v) { return storage::GetVarint64(&data_, v); }
  bool Bytes(std::string* out) {
    uint64_t n = 0;
    if (!Varint(&n) || n > data_.size()) return false;
    out->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool Byte(char* c) {
    if (data_.empty()) return false;
    *c = data_[0];
    data_.remove_prefix(1);
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

absl::Status TooLarge(const std::string& field, size_t size, size_t limit, const char* unit) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s is %d %s; the limit is %d %s", field, size, unit, limit, unit));
}

}  // namespace

// ---- keys ----

std::string IncarnationBytes(uint64_t incarnation) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((incarnation >> (56 - 8 * i)) & 0xff);
  return out;
}

bool ParseIncarnation(std::string_view bytes, uint64_t* incarnation) {
  if (bytes.size() != 8) return false;
  *incarnation = 0;
  for (char c : bytes) *incarnation = (*incarnation << 8) | static_cast<unsigned char>(c);
  return true;
}

std::string DefinitionKey(const std::string& ns, const std::string& name) {
  return KeyBuilder(KeyFamily::kCollection).Name(ns).Name(name).key();
}

std::string DocumentPrefix(const std::string& ns, const std::string& name, uint64_t incarnation) {
  return KeyBuilder(KeyFamily::kDocument).Name(ns).Name(name).Name(IncarnationBytes(incarnation))
      .key();
}

std::string DocumentKey(const std::string& prefix, std::string_view id) {
  return std::move(KeyBuilder::After(prefix).Raw(id)).Build();
}

std::string PostingScope(const std::string& ns, const std::string& name, uint64_t incarnation) {
  return KeyBuilder(KeyFamily::kPosting).Name(ns).Name(name).Name(IncarnationBytes(incarnation))
      .key();
}

std::vector<std::string> VectorScope(const std::string& ns, const std::string& name,
                                     uint64_t incarnation) {
  return {kVectorScopeTag, ns, name, IncarnationBytes(incarnation)};
}

std::string VectorId(std::string_view doc_id, uint32_t ordinal) {
  std::string id(doc_id.data(), doc_id.size());
  id.push_back('\0');
  id.push_back(static_cast<char>((ordinal >> 8) & 0xff));
  id.push_back(static_cast<char>(ordinal & 0xff));
  return id;
}

bool SplitVectorId(std::string_view id, std::string_view* doc_id, uint32_t* ordinal) {
  if (id.size() < 3 || id[id.size() - 3] != '\0') return false;
  *doc_id = id.substr(0, id.size() - 3);
  *ordinal = (uint32_t{static_cast<unsigned char>(id[id.size() - 2])} << 8) |
             static_cast<unsigned char>(id[id.size() - 1]);
  return true;
}

// ---- the definition: a field record (storage/field_record.h) ----

std::string EncodeDefinition(const CollectionDefinition& d) {
  storage::FieldRecordWriter out;
  out.Number("format", kDefinitionFormat);
  vector::WriteSpecFields(d.spec, &out);
  out.Signed("metric_code", d.metric_code)
      .Number("hybrid", d.hybrid ? 1 : 0)
      .Number("created_at", d.created_at)
      .Number("incarnation", d.incarnation)
      .Bytes("content_field", d.content_field)
      .Map("meta", d.metadata);
  return std::move(out).Build();
}

absl::StatusOr<CollectionDefinition> DecodeDefinition(std::string_view text) {
  SOCHDB_ASSIGN_OR_RETURN(const storage::FieldRecord in,
                          storage::FieldRecord::Parse(text, "collection definition"));
  uint64_t format = 0, hybrid = 0;
  CollectionDefinition d;
  SOCHDB_RETURN_IF_ERROR(in.Number("format", &format));
  if (format != kDefinitionFormat) return in.Damaged("has an unknown format");
  SOCHDB_RETURN_IF_ERROR(vector::ReadSpecFields(in, &d.spec));
  SOCHDB_RETURN_IF_ERROR(in.Signed32("metric_code", &d.metric_code));
  SOCHDB_RETURN_IF_ERROR(in.Number("hybrid", &hybrid, 0, 1));
  SOCHDB_RETURN_IF_ERROR(in.Number("created_at", &d.created_at));
  SOCHDB_RETURN_IF_ERROR(in.Number("incarnation", &d.incarnation));
  SOCHDB_RETURN_IF_ERROR(in.Bytes("content_field", &d.content_field));
  SOCHDB_RETURN_IF_ERROR(in.Map("meta", &d.metadata));
  d.hybrid = hybrid == 1;
  return d;
}

// ---- the document record ----
// format byte 0x01 | varint embeddings | varint n, content | varint entries |
// per entry: varint n, key | varint n, value.

std::string EncodeDocument(const std::string& content,
                           const std::map<std::string, std::string>& metadata,
                           uint32_t embeddings) {
  std::string out(1, kDocumentFormat);
  storage::PutVarint64(embeddings, &out);
  PutBytes(&out, content);
  storage::PutVarint64(metadata.size(), &out);
  for (const auto& [key, value] : metadata) {
    PutBytes(&out, key);
    PutBytes(&out, value);
  }
  return out;
}

absl::StatusOr<DocumentRecord> DecodeDocument(std::string_view record) {
  RecordReader in(record);
  DocumentRecord doc;
  char format = 0;
  uint64_t embeddings = 0, entries = 0;
  if (!in.Byte(&format) || format != kDocumentFormat) {
    return absl::DataLossError("document record has an unknown format");
  }
  if (!in.Varint(&embeddings) || embeddings == 0 || embeddings > kMaxEmbeddingsPerDocument ||
      !in.Bytes(&doc.content) || !in.Varint(&entries) || entries > kMaxMetadataEntries) {
    return absl::DataLossError("document record is malformed");
  }
  doc.embeddings = static_cast<uint32_t>(embeddings);
  for (uint64_t i = 0; i < entries; ++i) {
    std::string key, value;
    if (!in.Bytes(&key) || !in.Bytes(&value) ||
        !doc.metadata.emplace(std::move(key), std::move(value)).second) {
      return absl::DataLossError("document record holds malformed metadata");
    }
  }
  if (!in.empty()) return absl::DataLossError("document record has trailing bytes");
  return doc;
}

uint64_t DocumentBytes(std::string_view id, const std::string& content,
                       const std::map<std::string, std::string>& metadata, uint32_t embeddings,
                       uint32_t dimension) {
  uint64_t bytes = id.size() + content.size();
  for (const auto& [key, value] : metadata) bytes += key.size() + value.size();
  return bytes + uint64_t{embeddings} * dimension * sizeof(float);
}

// ---- validation ----

absl::Status CollectionNotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("Collection '", name, "' not found"));
}

absl::Status ValidateCollectionName(const std::string& name) {
  return ValidateName("collection name", name, kMaxCollectionNameBytes, EmptyName::kRefused);
}

absl::Status ValidateDocumentId(const std::string& field, const std::string& id) {
  if (id.size() > kMaxDocumentIdBytes) {
    return TooLarge(field, id.size(), kMaxDocumentIdBytes, "bytes");
  }
  if (id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrFormat("%s must not contain NUL bytes", field));
  }
  return absl::OkStatus();
}

absl::Status ValidateMetadata(const std::string& field,
                              const std::map<std::string, std::string>& metadata) {
  if (metadata.size() > kMaxMetadataEntries) {
    return TooLarge(field, metadata.size(), kMaxMetadataEntries, "entries");
  }
  size_t bytes = 0;
  for (const auto& [key, value] : metadata) bytes += key.size() + value.size();
  if (bytes > kMaxMetadataBytes) return TooLarge(field, bytes, kMaxMetadataBytes, "bytes");
  return absl::OkStatus();
}

absl::Status ValidateEmbedding(const std::string& field, absl::Span<const float> values,
                               uint32_t dimension) {
  if (values.size() != dimension) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s has %d floats; the collection dimension is %d", field, values.size(), dimension));
  }
  for (size_t j = 0; j < values.size(); ++j) {
    const float v = values[j];
    if (std::isnan(v)) return absl::InvalidArgumentError(absl::StrFormat("%s[%d] is NaN", field, j));
    if (std::isinf(v)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s[%d] is %s", field, j, v > 0 ? "+Inf" : "-Inf"));
    }
    if (std::fabs(v) > vector::kMaxAbsComponent) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s[%d] is %g; the limit is +-%g", field, j, v, vector::kMaxAbsComponent));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDocument(size_t index, const Document& document, uint32_t dimension) {
  const std::string doc = absl::StrFormat("documents[%d]", index);
  absl::Status id = ValidateDocumentId(doc + ".id", document.id);
  if (!id.ok()) return id;
  if (document.embeddings.empty()) {
    return absl::InvalidArgumentError(doc + " has no embedding");
  }
  if (document.embeddings.size() > kMaxEmbeddingsPerDocument) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s has %d embeddings; the limit is %d", doc, document.embeddings.size(),
                        kMaxEmbeddingsPerDocument));
  }
  const size_t first_extra = document.first_is_embedding ? 1 : 0;
  for (size_t j = 0; j < document.embeddings.size(); ++j) {
    const std::string field =
        j < first_extra ? doc + ".embedding"
                        : absl::StrFormat("%s.extra_embeddings[%d].values", doc, j - first_extra);
    absl::Status ok = ValidateEmbedding(field, document.embeddings[j], dimension);
    if (!ok.ok()) return ok;
  }
  if (document.content.size() > kMaxContentBytes) {
    return TooLarge(doc + ".content", document.content.size(), kMaxContentBytes, "bytes");
  }
  return ValidateMetadata(doc + ".metadata", document.metadata);
}

// ---- scores ----

float ScoreOfDistance(vector::Metric metric, float distance) {
  switch (metric) {
    case vector::Metric::kCosine:
      return 1.0f - distance;
    case vector::Metric::kDot:
      return -distance;
    case vector::Metric::kL2:
      return 1.0f / (1.0f + distance);
  }
  return 0;
}

float ExactScore(vector::Metric metric, absl::Span<const float> query,
                 absl::Span<const float> stored) {
  double dot = 0, qq = 0, ss = 0, l2 = 0;
  for (size_t i = 0; i < query.size() && i < stored.size(); ++i) {
    const double q = query[i], s = stored[i];
    dot += q * s;
    qq += q * q;
    ss += s * s;
    l2 += (q - s) * (q - s);
  }
  switch (metric) {
    case vector::Metric::kCosine:
      // The index normalises both sides; a zero vector is at distance 1 (score 0).
      return qq > 0 && ss > 0 ? static_cast<float>(dot / (std::sqrt(qq) * std::sqrt(ss))) : 0.0f;
    case vector::Metric::kDot:
      return static_cast<float>(dot);
    case vector::Metric::kL2:
      return static_cast<float>(1.0 / (1.0 + std::sqrt(l2)));
  }
  return 0;
}

}  // namespace sochdb::collection::internal
