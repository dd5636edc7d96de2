#include "engine/collection/collection_codec.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/common/hex.h"

namespace sochdb::collection::internal {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kVectorScopeTag[] = "c";  // collections' spaces, apart from vector indexes' "vi"
constexpr char kDocumentFormat = 1;
constexpr int kDefinitionFormat = 1;

// ---- varints, for the binary document record ----

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(std::string* out, std::string_view bytes) {
  PutVarint(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Reads a record front to back; every getter fails (returns false) rather than read past it.
class RecordReader {
 public:
  explicit RecordReader(std::string_view data) : data_(data) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !data_.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(data_[0]);
      data_.remove_prefix(1);
      *v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
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
  std::string key = prefix;
  key.append(id.data(), id.size());
  return key;
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

// ---- the definition: "key=value" pairs separated by spaces; strings are hex ----

std::string EncodeDefinition(const CollectionDefinition& d) {
  const vector::IndexSpec& s = d.spec;
  std::string out = absl::StrFormat(
      "format=%d dimension=%d metric=%d quantization=%d m=%d m0=%d ef_construction=%d "
      "ef_search=%d pq_subvectors=%d exact_threshold=%d metric_code=%d hybrid=%d "
      "created_at=%d incarnation=%d content_field=%s",
      kDefinitionFormat, s.dimension, static_cast<int>(s.metric),
      static_cast<int>(s.quantization), s.m, s.m0, s.ef_construction, s.ef_search,
      s.pq_subvectors, s.exact_threshold, d.metric_code, d.hybrid ? 1 : 0, d.created_at,
      d.incarnation, BytesToHex(d.content_field));
  // One "meta.<hex key>=<hex value>" pair per metadata entry.
  for (const auto& [key, value] : d.metadata) {
    absl::StrAppendFormat(&out, " meta.%s=%s", BytesToHex(key), BytesToHex(value));
  }
  return out;
}

absl::StatusOr<CollectionDefinition> DecodeDefinition(std::string_view text) {
  CollectionDefinition d;
  std::map<std::string, uint64_t> numbers;
  int64_t metric_code = 0;
  bool has_metric_code = false;
  for (absl::string_view pair :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) {
      return absl::DataLossError("collection definition holds a field without '='");
    }
    const std::string key(pair.substr(0, eq));
    const absl::string_view value = pair.substr(eq + 1);
    const std::string_view value_view(value.data(), value.size());
    if (key.rfind("meta.", 0) == 0) {
      std::string meta_key, meta_value;
      if (!HexToBytes(std::string_view(key).substr(5), &meta_key) ||
          !HexToBytes(value_view, &meta_value) ||
          !d.metadata.emplace(std::move(meta_key), std::move(meta_value)).second) {
        return absl::DataLossError("collection definition holds a malformed metadata entry");
      }
    } else if (key == "content_field") {
      if (!HexToBytes(value_view, &d.content_field)) {
        return absl::DataLossError("collection definition holds a malformed content_field");
      }
    } else if (key == "metric_code") {
      if (!absl::SimpleAtoi(value, &metric_code) ||
          metric_code < std::numeric_limits<int32_t>::min() ||
          metric_code > std::numeric_limits<int32_t>::max()) {
        return absl::DataLossError("collection definition holds a malformed metric_code");
      }
      has_metric_code = true;
    } else {
      uint64_t number = 0;
      if (!absl::SimpleAtoi(value, &number) || !numbers.emplace(key, number).second) {
        return absl::DataLossError(
            absl::StrFormat("collection definition holds a malformed field %s", key));
      }
    }
  }
  for (const char* required : {"format", "dimension", "metric", "quantization", "incarnation"}) {
    if (numbers.count(required) == 0) {
      return absl::DataLossError(
          absl::StrFormat("collection definition lacks the field %s", required));
    }
  }
  if (numbers["format"] != kDefinitionFormat) {
    return absl::DataLossError("unknown collection definition format");
  }
  auto u32 = [&](const char* key, uint32_t* out) {
    const uint64_t v = numbers[key];
    if (v > std::numeric_limits<uint32_t>::max()) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  };
  vector::IndexSpec& s = d.spec;
  const uint64_t metric = numbers["metric"], quantization = numbers["quantization"];
  if (metric > 2 || quantization > 2 || !u32("dimension", &s.dimension) || !u32("m", &s.m) ||
      !u32("m0", &s.m0) || !u32("ef_construction", &s.ef_construction) ||
      !u32("ef_search", &s.ef_search) || !u32("pq_subvectors", &s.pq_subvectors) ||
      !u32("exact_threshold", &s.exact_threshold) || numbers["hybrid"] > 1) {
    return absl::DataLossError("collection definition holds an out-of-range field");
  }
  s.metric = static_cast<vector::Metric>(metric);
  s.quantization = static_cast<vector::Quantization>(quantization);
  // The spec was resolved before it was stored; one that no longer resolves is damage.
  absl::StatusOr<vector::IndexSpec> resolved = vector::ResolveSpec(s);
  if (!resolved.ok() || s.dimension == 0) {
    return absl::DataLossError("collection definition holds an invalid index spec");
  }
  d.metric_code = has_metric_code ? static_cast<int32_t>(metric_code) : 0;
  d.hybrid = numbers["hybrid"] == 1;
  d.created_at = numbers["created_at"];
  d.incarnation = numbers["incarnation"];
  return d;
}

// ---- the document record ----
// format byte 0x01 | varint embeddings | varint n, content | varint entries |
// per entry: varint n, key | varint n, value.

std::string EncodeDocument(const std::string& content,
                           const std::map<std::string, std::string>& metadata,
                           uint32_t embeddings) {
  std::string out(1, kDocumentFormat);
  PutVarint(&out, embeddings);
  PutBytes(&out, content);
  PutVarint(&out, metadata.size());
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

// ---- validation ----

absl::Status ValidateNamespace(const std::string& ns) {
  if (ns.size() > kMaxCollectionNameBytes) {
    return TooLarge("namespace", ns.size(), kMaxCollectionNameBytes, "bytes");
  }
  if (ns.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("namespace must not contain NUL bytes");
  }
  return absl::OkStatus();
}

absl::Status CollectionNotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("Collection '", name, "' not found"));
}

absl::Status ValidateCollectionName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("collection name must not be empty");
  if (name.size() > kMaxCollectionNameBytes) {
    return TooLarge("collection name", name.size(), kMaxCollectionNameBytes, "bytes");
  }
  if (name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("collection name must not contain NUL bytes");
  }
  return absl::OkStatus();
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
