// CollectionStore: document writes and reads. Every write builds one WriteBatch under the
// collection's write mutex (document records, BM25 postings and statistics), hands it to the
// VectorSpace, which adds the vectors and commits it, and only then updates memory.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/collection/collection_codec.h"
#include "engine/collection/collection_store.h"
#include "engine/common/random_id.h"
#include "engine/common/status_macros.h"
#include "engine/vector/vector_record.h"

namespace sochdb::collection {
namespace {

absl::Status DocumentNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("Document '", id, "' not found"));
}

// Runs `build` (which stages BM25 changes) and settles the BM25 index with its outcome.
absl::Status WithBm25(text::Bm25Index* bm25, const std::function<absl::Status()>& build) {
  absl::Status s = build();
  if (bm25 != nullptr) {
    if (s.ok()) {
      bm25->Commit();
    } else {
      bm25->Abort();
    }
  }
  return s;
}

// Checks every document, gives the id-less ones a UUID, and refuses an id given twice.
absl::Status PrepareDocuments(std::vector<Document>& documents, uint32_t dimension) {
  if (documents.size() > kMaxDocumentsPerCall) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "documents has %d items; the limit is %d", documents.size(), kMaxDocumentsPerCall));
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    SOCHDB_RETURN_IF_ERROR(internal::ValidateDocument(i, documents[i], dimension));
  }
  for (Document& doc : documents) {
    if (doc.id.empty()) doc.id = NewUuidV4();
  }
  absl::flat_hash_map<std::string_view, size_t, vector::IdHash, vector::IdEq> first;
  for (size_t i = 0; i < documents.size(); ++i) {
    auto [it, inserted] = first.try_emplace(documents[i].id, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "documents[%d].id duplicates documents[%d].id", i, it->second));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CollectionStore::StagePostings(const Collection& c, const std::string& id,
                                            const DocumentInfo* previous,
                                            const std::string* text,
                                            storage::WriteBatch* batch) const {
  if (c.bm25 == nullptr) return absl::OkStatus();
  if (previous != nullptr) {
    std::string old_text;
    if (c.definition.content_field.empty()) {
      // The content is not kept in memory: the stored record has what was indexed.
      SOCHDB_ASSIGN_OR_RETURN(std::optional<Document> old, ReadDocument(c, id, false, nullptr));
      if (!old.has_value()) return absl::InternalError("a document vanished mid-write");
      old_text = std::move(old->content);
    } else {
      old_text = IndexedText(c.definition, std::string(), previous->metadata);
    }
    c.bm25->RemoveDocument(batch, id, old_text);
  }
  if (text != nullptr) c.bm25->AddDocument(batch, id, *text);
  return absl::OkStatus();
}

std::string CollectionStore::IndexedText(const CollectionDefinition& d, const std::string& content,
                                         const std::map<std::string, std::string>& metadata) {
  if (d.content_field.empty()) return content;
  auto it = metadata.find(d.content_field);
  return it == metadata.end() ? std::string() : it->second;
}

void CollectionStore::RecordDocument(Collection& c, const std::string& id, DocumentInfo info) {
  auto [it, inserted] = c.docs.try_emplace(id);
  if (!inserted) {
    const uint32_t old = it->second.embeddings;
    c.total_vectors -= old;
    c.total_bytes -= it->second.bytes;
    if (--c.embedding_histogram[old] == 0) c.embedding_histogram.erase(old);
  }
  ++c.embedding_histogram[info.embeddings];
  c.total_vectors += info.embeddings;
  c.total_bytes += info.bytes;
  it->second = std::move(info);
}

namespaces::UsageDelta CollectionStore::AddedUsage(
    const std::vector<Document>& documents,
    const std::vector<std::optional<DocumentInfo>>& previous, uint32_t dimension,
    std::vector<uint64_t>* bytes) {
  namespaces::UsageDelta added;
  bytes->resize(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    const Document& doc = documents[i];
    (*bytes)[i] = internal::DocumentBytes(doc.id, doc.content, doc.metadata,
                                          static_cast<uint32_t>(doc.embeddings.size()), dimension);
    added.storage_bytes += static_cast<int64_t>((*bytes)[i]);
    if (previous[i].has_value()) {
      added.storage_bytes -= static_cast<int64_t>(previous[i]->bytes);
    } else {
      ++added.vectors;  // an upsert of an existing id adds no vector
    }
  }
  return added;
}

void CollectionStore::ForgetDocument(Collection& c, const std::string& id) {
  auto it = c.docs.find(id);
  if (it == c.docs.end()) return;
  const uint32_t old = it->second.embeddings;
  c.total_vectors -= old;
  c.total_bytes -= it->second.bytes;
  if (--c.embedding_histogram[old] == 0) c.embedding_histogram.erase(old);
  c.docs.erase(it);
}

absl::StatusOr<std::optional<Document>> CollectionStore::ReadDocument(
    const Collection& c, std::string_view id, bool with_embeddings,
    const storage::Snapshot* view) const {
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record,
                          store_->Get(internal::DocumentKey(c.document_prefix, id), view));
  if (!record.has_value()) return std::optional<Document>();
  SOCHDB_ASSIGN_OR_RETURN(internal::DocumentRecord decoded, internal::DecodeDocument(*record));
  Document doc;
  doc.id = std::string(id);
  doc.content = std::move(decoded.content);
  doc.metadata = std::move(decoded.metadata);
  if (with_embeddings) {
    // The vectors are read from the VectorSpace's records at the same snapshot, so a document
    // read while it is being replaced is wholly old or wholly new.
    doc.embeddings.resize(decoded.embeddings);
    for (uint32_t ordinal = 0; ordinal < decoded.embeddings; ++ordinal) {
      const std::string key = c.space->RecordKey(internal::VectorId(id, ordinal));
      SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(key, view));
      if (!stored.has_value()) {
        // A Delete of the collection removes its vectors before its documents: a read that
        // raced it is about a collection that no longer exists, not a damaged document.
        if (c.space->retired()) return internal::CollectionNotFound(c.definition.name);
        return absl::DataLossError(absl::StrFormat(
            "document '%s' lacks its embedding %d", std::string(id), ordinal));
      }
      std::string extra;
      SOCHDB_RETURN_IF_ERROR(vector::DecodeVectorRecord(*stored, c.definition.spec.dimension,
                                                        &doc.embeddings[ordinal], &extra));
    }
  }
  return std::optional<Document>(std::move(doc));
}

absl::StatusOr<std::vector<std::string>> CollectionStore::AddDocuments(
    const std::string& ns, const std::string& name, std::vector<Document> documents) {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  const CollectionDefinition& d = c->definition;
  SOCHDB_RETURN_IF_ERROR(PrepareDocuments(documents, d.spec.dimension));
  std::vector<std::string> vector_ids;
  for (const Document& doc : documents) {
    for (size_t j = 0; j < doc.embeddings.size(); ++j) {
      vector_ids.push_back(internal::VectorId(doc.id, static_cast<uint32_t>(j)));
    }
  }
  std::vector<vector::VectorItem> items;
  items.reserve(vector_ids.size());
  for (const Document& doc : documents) {
    for (const std::vector<float>& embedding : doc.embeddings) {
      items.push_back(vector::VectorItem{vector_ids[items.size()], embedding, {}});
    }
  }

  absl::ReaderMutexLock counted(&usage_mu_);
  absl::MutexLock write_lock(&c->write_mu);
  if (c->space->retired()) return internal::CollectionNotFound(name);  // deleted meanwhile
  // Only writers change `docs`, and they hold write_mu: what is read here stays true until the
  // batch commits.
  std::vector<std::optional<DocumentInfo>> previous(documents.size());
  {
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    for (size_t i = 0; i < documents.size(); ++i) {
      auto it = c->docs.find(documents[i].id);
      if (it != c->docs.end()) previous[i] = it->second;
    }
  }
  std::vector<uint64_t> bytes;
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kCollections);
  SOCHDB_RETURN_IF_ERROR(
      charge.Add(ns, AddedUsage(documents, previous, d.spec.dimension, &bytes)));
  storage::WriteBatch batch;
  SOCHDB_RETURN_IF_ERROR(WithBm25(c->bm25.get(), [&]() -> absl::Status {
    std::vector<std::string> removed_ids;  // old ordinals beyond a replacement's count
    for (size_t i = 0; i < documents.size(); ++i) {
      const Document& doc = documents[i];
      const auto count = static_cast<uint32_t>(doc.embeddings.size());
      batch.Put(internal::DocumentKey(c->document_prefix, doc.id),
                internal::EncodeDocument(doc.content, doc.metadata, count));
      const DocumentInfo* old = previous[i].has_value() ? &*previous[i] : nullptr;
      for (uint32_t ordinal = count; old != nullptr && ordinal < old->embeddings; ++ordinal) {
        removed_ids.push_back(internal::VectorId(doc.id, ordinal));
      }
      const std::string text = IndexedText(d, doc.content, doc.metadata);
      SOCHDB_RETURN_IF_ERROR(StagePostings(*c, doc.id, old, &text, &batch));
    }
    const std::vector<std::string_view> deletes(removed_ids.begin(), removed_ids.end());
    return c->space->Apply(items, deletes, &batch);
  }));
  charge.Commit();
  std::vector<std::string> ids;
  ids.reserve(documents.size());
  absl::MutexLock docs_lock(&c->docs_mu);
  for (size_t i = 0; i < documents.size(); ++i) {
    Document& doc = documents[i];
    RecordDocument(*c, doc.id,
                   DocumentInfo{std::move(doc.metadata),
                                static_cast<uint32_t>(doc.embeddings.size()), bytes[i]});
    ids.push_back(std::move(doc.id));
  }
  return ids;
}

absl::StatusOr<Document> CollectionStore::GetDocument(const std::string& ns,
                                                      const std::string& name,
                                                      const std::string& id) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateDocumentId("id", id));
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  SOCHDB_ASSIGN_OR_RETURN(std::optional<Document> doc, ReadDocument(*c, id, true, view.get()));
  if (!doc.has_value()) return DocumentNotFound(id);
  return *std::move(doc);
}

absl::Status CollectionStore::DeleteDocument(const std::string& ns, const std::string& name,
                                             const std::string& id) {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateDocumentId("id", id));
  absl::ReaderMutexLock counted(&usage_mu_);
  absl::MutexLock write_lock(&c->write_mu);
  if (c->space->retired()) return internal::CollectionNotFound(name);  // deleted meanwhile
  std::optional<DocumentInfo> previous;
  {
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    auto it = c->docs.find(id);
    if (it != c->docs.end()) previous = it->second;
  }
  if (!previous.has_value()) return DocumentNotFound(id);
  storage::WriteBatch batch;
  SOCHDB_RETURN_IF_ERROR(WithBm25(c->bm25.get(), [&]() -> absl::Status {
    SOCHDB_RETURN_IF_ERROR(StagePostings(*c, id, &*previous, nullptr, &batch));
    batch.Delete(internal::DocumentKey(c->document_prefix, id));
    std::vector<std::string> vector_ids;
    for (uint32_t ordinal = 0; ordinal < previous->embeddings; ++ordinal) {
      vector_ids.push_back(internal::VectorId(id, ordinal));
    }
    std::vector<std::string_view> deletes(vector_ids.begin(), vector_ids.end());
    return c->space->Apply({}, deletes, &batch);
  }));
  namespaces::UsageDelta given_back;
  given_back.vectors = -1;
  given_back.storage_bytes = -static_cast<int64_t>(previous->bytes);
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kCollections);
  charge.Release(ns, given_back);
  charge.Commit();
  absl::MutexLock docs_lock(&c->docs_mu);
  ForgetDocument(*c, id);
  return absl::OkStatus();
}

absl::Status CollectionStore::UpdateMetadata(const std::string& ns, const std::string& name,
                                             const std::string& id,
                                             const std::map<std::string, std::string>& metadata,
                                             bool merge) {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateDocumentId("id", id));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateMetadata("metadata", metadata));
  absl::ReaderMutexLock counted(&usage_mu_);
  absl::MutexLock write_lock(&c->write_mu);
  if (c->space->retired()) return internal::CollectionNotFound(name);  // deleted meanwhile
  SOCHDB_ASSIGN_OR_RETURN(std::optional<Document> old, ReadDocument(*c, id, false, nullptr));
  if (!old.has_value()) return DocumentNotFound(id);
  std::map<std::string, std::string> updated = metadata;
  if (merge) updated.insert(old->metadata.begin(), old->metadata.end());  // given keys win
  SOCHDB_RETURN_IF_ERROR(internal::ValidateMetadata("metadata", updated));
  uint32_t embeddings = 0;
  uint64_t old_bytes = 0;
  {
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    auto it = c->docs.find(id);
    if (it == c->docs.end()) return DocumentNotFound(id);
    embeddings = it->second.embeddings;
    old_bytes = it->second.bytes;
  }
  const CollectionDefinition& d = c->definition;
  const uint64_t bytes =
      internal::DocumentBytes(id, old->content, updated, embeddings, d.spec.dimension);
  namespaces::UsageDelta added;
  added.storage_bytes = static_cast<int64_t>(bytes) - static_cast<int64_t>(old_bytes);
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kCollections);
  SOCHDB_RETURN_IF_ERROR(charge.Add(ns, added));
  storage::WriteBatch batch;
  SOCHDB_RETURN_IF_ERROR(WithBm25(c->bm25.get(), [&]() -> absl::Status {
    batch.Put(internal::DocumentKey(c->document_prefix, id),
              internal::EncodeDocument(old->content, updated, embeddings));
    // Postings follow the metadata only when BM25 indexes a metadata field that changed.
    if (!d.content_field.empty()) {
      const std::string after = IndexedText(d, std::string(), updated);
      if (IndexedText(d, std::string(), old->metadata) != after) {
        const DocumentInfo before{old->metadata, embeddings};
        SOCHDB_RETURN_IF_ERROR(StagePostings(*c, id, &before, &after, &batch));
      }
    }
    return store_->Write(&batch);
  }));
  charge.Commit();
  absl::MutexLock docs_lock(&c->docs_mu);
  RecordDocument(*c, id, DocumentInfo{std::move(updated), embeddings, bytes});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CollectionStore::Count(const std::string& ns, const std::string& name,
                                                const filter::MetadataFilter& filter) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  absl::ReaderMutexLock docs_lock(&c->docs_mu);
  if (filter.MatchesEverything()) return c->docs.size();
  uint64_t count = 0;
  for (const auto& [id, info] : c->docs) {
    if (filter.Matches(info.metadata)) ++count;
  }
  return count;
}

}  // namespace sochdb::collection
