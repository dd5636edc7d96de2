// CollectionStore: namespaced document collections behind CollectionService. A collection is a
// definition record plus, per document, a document record (content + metadata), one or more
// vectors in the collection's VectorSpace (HNSW, honouring the collection's metric), and — when
// hybrid search is enabled — BM25 postings. Everything one call writes (documents, their vectors,
// their postings, the BM25 statistics) is ONE WriteBatch: a document is never half-visible.
//
// Keyspace (all names length-prefixed; `inc` = the collection's incarnation, 8 bytes, so a
// collection dropped and created again can never see its predecessor's leftovers):
//   kCollection Name(ns) Name(name)                     -> definition (text key=value fields)
//   kDocument   Name(ns) Name(name) Name(inc) Raw(id)   -> document record (content, metadata,
//                                                          number of embeddings)
//   kVector / kVectorLog  scope {"c", ns, name, inc}    -> the VectorSpace (ids: see below)
//   kPosting    Name(ns) Name(name) Name(inc) ...       -> Bm25Index (engine/text)
// Vector ids are the document id followed by a NUL byte and the embedding's ordinal (u16 BE);
// document ids therefore may not contain NUL.
//
// In memory, per collection: the VectorSpace, the Bm25Index, and every document's metadata (for
// filters: a filtered search evaluates the filter on all documents, then searches only those;
// see Search). Loaded at open; a collection that fails to open is out of service with its error
// and never blocks the others.
//
// Scores are similarities, higher is better, from the collection's metric:
//   COSINE  cos(a, b) = 1 - distance       DOT  a . b = -distance       L2  1 / (1 + distance)
//
// Errors: NOT_FOUND "Collection '<name>' not found" / "Document '<id>' not found",
// ALREADY_EXISTS "Collection '<name>' already exists" (the service turns these into the `error`
// field, as upstream); INVALID_ARGUMENT naming the field and the limit for bad input (names
// are checked on every call); UNAVAILABLE for a collection that could not be loaded.
//
// Create and Delete go through the Catalog (engine/vector/catalog.h), as vector indexes do: their
// synced definition writes hold no lock a lookup needs. Delete removes the definition first (the
// collection is gone for callers at once), retires the collection's VectorSpace once a writer in
// flight is done (later writes, snapshots and maintenance of it do nothing; a search or read
// that finds its data half-deleted answers NOT_FOUND), then deletes the vectors, postings and
// document records in batches. A drop cut short by a crash leaves data under an incarnation no
// definition names; the next Open finds it (document records are deleted last) and finishes the
// job, and removes snapshot files no collection owns.
//
// Usage (engine/namespace/usage_ledger.h): with a ledger, Create charges a collection, and
// AddDocuments and UpdateMetadata the new document ids and the bytes they add net of what they
// replace, each checked against the namespace's quota before anything is written
// (RESOURCE_EXHAUSTED with upstream's text); DeleteDocument and Delete give them back.
//
// Thread safety: all methods may be called concurrently. Writes to one collection are
// serialised by its own mutex (the BM25 statistics need it); searches run in parallel.
#ifndef SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_H_
#define SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/collection/collection_store_observer.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/filter/metadata_filter.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"
#include "engine/text/bm25_index.h"
#include "engine/vector/ann_index.h"
#include "engine/vector/catalog.h"
#include "engine/vector/vector_space.h"

namespace sochdb::collection {

// Documented limits (docs/services.md "Limits").
inline constexpr size_t kMaxCollectionNameBytes = 256;
inline constexpr size_t kMaxDocumentIdBytes = 512;
inline constexpr size_t kMaxContentBytes = 1u << 20;        // 1 MiB per document
inline constexpr size_t kMaxMetadataEntries = 256;          // per document / collection
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;      // keys + values per document
inline constexpr size_t kMaxDocumentsPerCall = 10'000;
inline constexpr size_t kMaxEmbeddingsPerDocument = 64;

struct CollectionDefinition {
  std::string ns;
  std::string name;
  vector::IndexSpec spec;   // effective (resolved); spec.dimension > 0
  int32_t metric_code = 0;  // the DistanceMetric the client asked for, echoed verbatim
  std::map<std::string, std::string> metadata;
  bool hybrid = false;      // maintain BM25 postings (enable_hybrid_search)
  // Which text BM25 indexes: "" = the document's content, else this metadata field.
  std::string content_field;
  uint64_t created_at = 0;  // Unix seconds
  uint64_t incarnation = 0;
};

struct CollectionInfo {
  CollectionDefinition definition;
  uint64_t document_count = 0;
};

struct Document {
  std::string id;  // empty in AddDocuments: a UUID v4 is generated
  // One or more vectors of the collection's dimension (several = a multi-vector document).
  std::vector<std::vector<float>> embeddings;
  // How errors name embeddings[j] in the request's terms: embeddings[0] is `embedding` and
  // embeddings[j] is extra_embeddings[j - 1], or, when false (the request gave extra vectors
  // only), embeddings[j] is extra_embeddings[j].
  bool first_is_embedding = true;
  std::string content;
  std::map<std::string, std::string> metadata;
};

// How a multi-vector document's score is formed from its vectors' scores. kMax and kFirst
// rank as exactly as the index does (kFirst searches only the first vectors). kMean scores are
// exact means over all of a document's vectors; the candidate documents come from an exhaustive
// scan when the accepted documents hold at most 4,096 vectors (or at most kMaxK below the
// exact threshold), else from the 2 * k * (most vectors per document) nearest vectors, which can
// miss a document none of whose vectors is near (see collection_search.cc).
enum class Aggregate { kMax, kMean, kFirst };

struct SearchQuery {
  std::vector<float> vector;           // empty: keyword-only (text_query required)
  uint32_t k = 10;                     // 0 -> no results (upstream); at most vector::kMaxK
  filter::MetadataFilter filter;       // default: everything
  std::optional<float> min_score;      // drop results scoring below (fused score for hybrid)
  bool include_embeddings = true;      // upstream returns full documents
  uint32_t ef_search = 0;              // 0 = the collection's
  std::string text_query;              // non-empty: BM25 (keyword-only or hybrid)
  // Hybrid weight: 1 = vector only, 0 = keyword only; default 0.5 when both are given.
  std::optional<float> alpha;
  uint32_t rrf_k = 60;                 // Reciprocal Rank Fusion constant (> 0)
  Aggregate aggregate = Aggregate::kMax;
  // The most bytes the answer's documents may take (see Search); the server sets its answer
  // budget. The error names `max_answer_setting` when it is given (the server's flag).
  size_t max_answer_bytes = 48u << 20;
  std::string_view max_answer_setting;  // must outlive the Search (a string literal)
};

struct ScoredDocument {
  Document document;
  float score = 0;
};

struct CollectionStoreOptions {
  std::string snapshot_dir;            // created if missing
  // Where snapshot files are read and written. Not owned; must outlive the store. Tests pass
  // one that injects faults.
  FileSystem* file_system = FileSystem::Default();
  absl::Duration maintenance_interval = absl::Seconds(10);
  uint64_t snapshot_every_changes = 50'000;
  const Clock* clock = Clock::Real();
  // Where the namespaces' usage is charged; not owned, must outlive the store. nullptr: no
  // accounting. The store attaches to it as its collections source until destroyed.
  namespaces::UsageLedger* usage = nullptr;
};

class CollectionStore final : public namespaces::UsageCounter {
 public:
  // `observer` (not owned; must outlive the store) sees the steps CollectionStoreObserver
  // names; nullptr: none.
  static absl::StatusOr<std::unique_ptr<CollectionStore>> Open(
      storage::Store* store, CollectionStoreOptions options,
      CollectionStoreObserver* observer = nullptr);
  // Stops maintenance; snapshots vector spaces with uncovered changes.
  ~CollectionStore() override;

  // INVALID_ARGUMENT for a bad name/namespace/dimension/spec; ALREADY_EXISTS.
  absl::StatusOr<CollectionInfo> Create(const CollectionDefinition& request);
  absl::StatusOr<CollectionInfo> Get(const std::string& ns, const std::string& name) const;
  // Collections of the namespaces `include(ns)` accepts, ordered by (namespace, name).
  std::vector<CollectionInfo> List(const std::function<bool(const std::string& ns)>& include) const;
  absl::Status Delete(const std::string& ns, const std::string& name);

  // Upserts `documents` (by id; a generated UUID v4 for an empty id) in one batch. Validates
  // everything first: embedding dimensions (every embedding, named "documents[3].embedding has
  // 5 floats; the collection dimension is 4"), finite values, sizes, duplicate ids in the call.
  // Returns the ids in request order.
  absl::StatusOr<std::vector<std::string>> AddDocuments(const std::string& ns,
                                                        const std::string& name,
                                                        std::vector<Document> documents);

  // Ranked documents. Vector search uses the HNSW index (exact below its threshold). With a
  // filter, the filter is evaluated on every document's in-memory metadata first; the search
  // then runs over the accepted documents only (an exact scan when few pass), so a selective
  // filter never returns fewer than k when k documents match. Hybrid (vector + text_query):
  // both lists are fetched (max(k * 4, 100) candidates each, filtered), fused by weighted
  // Reciprocal Rank Fusion: score = alpha / (rrf_k + rank_vector) + (1 - alpha) /
  // (rrf_k + rank_text), ranks from 1, absent = 0; ties by document id. Keyword-only: the BM25
  // score. FAILED_PRECONDITION when text_query is given for a collection without hybrid.
  // The winners are read one at a time against query.max_answer_bytes, counted as their encoded
  // size (id, content, metadata, the embeddings when included, and framing): RESOURCE_EXHAUSTED
  // "SearchCollection answer exceeds N bytes (<max_answer_setting>); ..." at the first document
  // past it, so k = 10,000 over 1 MiB documents never holds more than the budget and one
  // document in memory. When the answer is sure to hold min(k, accepted documents) documents
  // (a vector query over single-vector documents, no min_score) and that many embeddings alone
  // cannot fit, it is refused before ranking. The hint names include_embeddings only when the
  // query included them.
  absl::StatusOr<std::vector<ScoredDocument>> Search(const std::string& ns,
                                                     const std::string& name,
                                                     const SearchQuery& query) const;

  // The document with every embedding, read from one store snapshot (never half-replaced).
  // NOT_FOUND "Document '<id>' not found"; INVALID_ARGUMENT for an id over 512 bytes or with NUL.
  absl::StatusOr<Document> GetDocument(const std::string& ns, const std::string& name,
                                       const std::string& id) const;
  // Removes the document, its vectors and its postings in one batch. NOT_FOUND as GetDocument.
  absl::Status DeleteDocument(const std::string& ns, const std::string& name,
                              const std::string& id);
  // Replaces (merge = false) or merges (merge = true: keys given overwrite, others stay) the
  // document's metadata; content and vectors are untouched.
  absl::Status UpdateMetadata(const std::string& ns, const std::string& name,
                              const std::string& id,
                              const std::map<std::string, std::string>& metadata, bool merge);
  // Documents matching `filter`.
  absl::StatusOr<uint64_t> Count(const std::string& ns, const std::string& name,
                                 const filter::MetadataFilter& filter) const;

  // Snapshots and compacts the collections' vector spaces that need it.
  void MaintainAll();
  size_t CollectionCount() const;
  uint64_t TotalDocuments() const;

  // UsageCounter: the namespace's collections, documents and document bytes, from memory, with
  // every charging write held off (usage_mu_) while `start` runs and they are summed.
  absl::StatusOr<namespaces::Usage> CountUsage(std::string_view ns,
                                               absl::FunctionRef<void()> start) override;

 private:
  // What filters and multi-vector searches need of a document without reading it.
  struct DocumentInfo {
    std::map<std::string, std::string> metadata;
    uint32_t embeddings = 0;
    uint64_t bytes = 0;  // what it counts in its namespace's storage_bytes (DocumentBytes)
  };
  using DocumentMap =
      absl::flat_hash_map<std::string, DocumentInfo, vector::IdHash, vector::IdEq>;

  // One collection. Shared by the map and by calls in flight, so a Delete never frees what a
  // running search reads.
  struct Collection {
    CollectionDefinition definition;
    std::string document_prefix;                  // DocumentPrefix(ns, name, incarnation)
    std::unique_ptr<vector::VectorSpace> space;   // null when out of service
    std::unique_ptr<text::Bm25Index> bm25;        // null unless definition.hybrid
    absl::Status open_error;                      // why it is out of service

    // Held by a writer from building its batch until memory reflects the commit (the BM25
    // statistics' contract). Delete retires the space holding it, so a writer that holds it
    // and finds space->retired() false commits before the drop deletes anything.
    absl::Mutex write_mu ABSL_ACQUIRED_BEFORE(docs_mu);

    mutable absl::Mutex docs_mu;
    DocumentMap docs ABSL_GUARDED_BY(docs_mu);
    // Embeddings per document -> how many documents have that many (the max sizes searches).
    std::map<uint32_t, uint64_t> embedding_histogram ABSL_GUARDED_BY(docs_mu);
    uint64_t total_vectors ABSL_GUARDED_BY(docs_mu) = 0;
    uint64_t total_bytes ABSL_GUARDED_BY(docs_mu) = 0;  // sum of the documents' bytes
  };
  using Key = std::pair<std::string, std::string>;  // (namespace, name)

  // A search candidate: a document and its score in one ranking.
  struct Ranked {
    std::string id;
    float score = 0;
  };
  // The filter's verdict, evaluated once per search over the in-memory metadata.
  struct Accepted {
    bool everything = true;
    absl::flat_hash_map<std::string, uint32_t, vector::IdHash, vector::IdEq> ids;  // -> embeddings
    uint64_t documents = 0;      // accepted documents
    uint64_t vectors = 0;        // embeddings of the accepted documents
    uint64_t total_vectors = 0;  // embeddings of all documents
    uint32_t max_embeddings = 0; // most embeddings of any document
  };

  CollectionStore(storage::Store* store, CollectionStoreOptions options,
                  CollectionStoreObserver* observer);

  // Start-up: definitions, then spaces and BM25 indexes, then one pass over every document
  // record (which also finds the leftovers of a drop the process did not finish).
  absl::Status LoadAll();
  absl::Status LoadDocuments(const std::map<std::string, std::shared_ptr<Collection>>& by_prefix);
  absl::Status OpenCollection(Collection& c) const;
  // Delete's first step: removes the definition, retires the space and gives the collection's
  // usage back. Returns the collection, whose data is left to delete.
  absl::StatusOr<std::shared_ptr<Collection>> Unpublish(const std::string& ns,
                                                        const std::string& name);
  // Deletes what a dropped incarnation left: vectors, log, postings, document records, snapshot.
  absl::Status DropData(const std::string& ns, const std::string& name,
                        uint64_t incarnation) const;
  void RemoveStraySnapshots(
      const std::map<std::string, std::shared_ptr<Collection>>& by_prefix) const;
  std::string SnapshotPath(uint64_t incarnation) const;

  // NOT_FOUND, or UNAVAILABLE when the collection is out of service; validates the names.
  absl::StatusOr<std::shared_ptr<Collection>> Find(const std::string& ns,
                                                   const std::string& name) const;
  static CollectionInfo InfoOf(const Collection& c);
  // Reads a document (record and vectors) from one store snapshot; nullopt when absent.
  absl::StatusOr<std::optional<Document>> ReadDocument(const Collection& c, std::string_view id,
                                                       bool with_embeddings,
                                                       const storage::Snapshot* view) const;
  // What an upsert of `documents` adds to its namespace's usage: the ids `previous` lacks, and
  // the documents' bytes (each stored in `bytes`) net of the ones they replace.
  static namespaces::UsageDelta AddedUsage(const std::vector<Document>& documents,
                                           const std::vector<std::optional<DocumentInfo>>& previous,
                                           uint32_t dimension, std::vector<uint64_t>* bytes);
  // The text BM25 indexes for a document: its content, or the configured metadata field.
  static std::string IndexedText(const CollectionDefinition& d, const std::string& content,
                                 const std::map<std::string, std::string>& metadata);
  // Stages the BM25 side of a document write into `batch`: removes the postings of its
  // previous text (when `previous` is set) and adds those of `text` (when set). No-op without
  // BM25. The caller holds c.write_mu and must Commit() or Abort() the index afterwards.
  absl::Status StagePostings(const Collection& c, const std::string& id,
                             const DocumentInfo* previous, const std::string* text,
                             storage::WriteBatch* batch) const;
  // Memory after a commit.
  static void RecordDocument(Collection& c, const std::string& id, DocumentInfo info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.docs_mu);
  static void ForgetDocument(Collection& c, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.docs_mu);

  // Search stages (collection_search.cc).
  Accepted Accept(const Collection& c, const filter::MetadataFilter& filter) const;
  absl::StatusOr<std::vector<Ranked>> VectorRanking(const Collection& c, const SearchQuery& query,
                                                    const Accepted& accepted,
                                                    uint32_t documents) const;
  // Per-document mean scores from vector hits, completed by reading the vectors that were not
  // among them.
  absl::StatusOr<std::vector<Ranked>> MeanScores(const Collection& c,
                                                 absl::Span<const float> query,
                                                 const std::vector<vector::VectorHit>& hits) const;
  absl::StatusOr<std::vector<Ranked>> TextRanking(const Collection& c, const SearchQuery& query,
                                                  const Accepted& accepted,
                                                  uint32_t documents) const;

  void MaintenanceLoop();

  storage::Store* const store_;
  const CollectionStoreOptions options_;
  CollectionStoreObserver* const observer_;  // never null (CollectionStoreObserver::None())

  using CollectionCatalog = vector::Catalog<Key, std::shared_ptr<Collection>>;
  CollectionCatalog collections_;

  // Held shared by every write that charges the ledger, from its charge to its commit and the
  // memory update after it; exclusively by CountUsage, so that it counts between writes.
  mutable absl::Mutex usage_mu_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread maintenance_;
};

}  // namespace sochdb::collection

#endif  // SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_H_
