// The persistent shapes of a collection and the checks on what callers send: the keys of its
// records, the definition record (key=value text), the document record (versioned binary),
// vector ids (document id + NUL + ordinal), request validation with messages that name the field
// and the limit, UUID generation and the mapping from index distances to scores. Private to
// engine/collection (the store's .cc files and its tests).
#ifndef SOCHDB_ENGINE_COLLECTION_COLLECTION_CODEC_H_
#define SOCHDB_ENGINE_COLLECTION_COLLECTION_CODEC_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/collection/collection_store.h"
#include "engine/storage/keys.h"
#include "engine/vector/ann_index.h"

namespace sochdb::collection::internal {

// Longest `content_field` (a metadata key).
inline constexpr size_t kMaxContentFieldBytes = 256;

// ---- keys ----

std::string DefinitionKey(const std::string& ns, const std::string& name);
// kDocument Name(ns) Name(name) Name(inc): every document of one incarnation.
std::string DocumentPrefix(const std::string& ns, const std::string& name, uint64_t incarnation);
std::string DocumentKey(const std::string& prefix, std::string_view id);
// The Bm25Index scope: kPosting Name(ns) Name(name) Name(inc).
std::string PostingScope(const std::string& ns, const std::string& name, uint64_t incarnation);
// The VectorSpace scope {"c", ns, name, inc} (its key prefixes: vector::VectorScopePrefix).
std::vector<std::string> VectorScope(const std::string& ns, const std::string& name,
                                     uint64_t incarnation);
// 8 bytes, big-endian.
std::string IncarnationBytes(uint64_t incarnation);
bool ParseIncarnation(std::string_view bytes, uint64_t* incarnation);

// Vector ids: the document id, NUL, the ordinal as u16 big-endian.
std::string VectorId(std::string_view doc_id, uint32_t ordinal);
// False when `id` is not shaped like a collection vector id.
bool SplitVectorId(std::string_view id, std::string_view* doc_id, uint32_t* ordinal);

// ---- records ----

std::string EncodeDefinition(const CollectionDefinition& d);
// The ns and name are not in the record (they are in its key). DATA_LOSS for anything malformed.
absl::StatusOr<CollectionDefinition> DecodeDefinition(std::string_view text);

struct DocumentRecord {
  std::string content;
  std::map<std::string, std::string> metadata;
  uint32_t embeddings = 0;  // 1..kMaxEmbeddingsPerDocument
};
std::string EncodeDocument(const std::string& content,
                           const std::map<std::string, std::string>& metadata,
                           uint32_t embeddings);
// DATA_LOSS for a malformed record (never reads past `record`).
absl::StatusOr<DocumentRecord> DecodeDocument(std::string_view record);

// The storage bytes a document counts for in its namespace's usage (usage_ledger.h): its id,
// content, metadata keys and values, and its embeddings' floats (4 bytes each).
uint64_t DocumentBytes(std::string_view id, const std::string& content,
                       const std::map<std::string, std::string>& metadata, uint32_t embeddings,
                       uint32_t dimension);

// ---- validation (INVALID_ARGUMENT naming the field and the limit) ----

absl::Status ValidateCollectionName(const std::string& name);
// NOT_FOUND "Collection '<name>' not found" (upstream's text): absent, or dropped meanwhile.
absl::Status CollectionNotFound(const std::string& name);
// `field` names the id in messages ("documents[2].id", "id"). Empty ids are the caller's case.
absl::Status ValidateDocumentId(const std::string& field, const std::string& id);
absl::Status ValidateMetadata(const std::string& field,
                              const std::map<std::string, std::string>& metadata);
// Length == dimension, every component finite and within +-vector::kMaxAbsComponent.
absl::Status ValidateEmbedding(const std::string& field, absl::Span<const float> values,
                               uint32_t dimension);
// The per-document checks of AddDocuments; `index` names it ("documents[3]...").
absl::Status ValidateDocument(size_t index, const Document& document, uint32_t dimension);

// ---- scores ----

// The similarity (higher is better) of an index distance under `metric`:
// COSINE 1 - d, DOT -d, L2 1 / (1 + d).
float ScoreOfDistance(vector::Metric metric, float distance);
// The same score computed directly from a query and a stored vector, as the index would.
float ExactScore(vector::Metric metric, absl::Span<const float> query,
                 absl::Span<const float> stored);

}  // namespace sochdb::collection::internal

#endif  // SOCHDB_ENGINE_COLLECTION_COLLECTION_CODEC_H_
