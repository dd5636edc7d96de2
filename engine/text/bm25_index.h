// Bm25Index: BM25 keyword search over postings stored in the shared LevelDB. A collection store
// owns one index per collection; the index writes its postings into the owner's WriteBatch, so a
// document and its postings commit together (DESIGN.md "Atomicity"), and answers ranked keyword
// queries from a consistent snapshot.
//
// Keyspace. The owner passes `scope`, an already-encoded key prefix that names the collection,
// built from Name() components only, e.g.
//   storage::KeyBuilder(storage::KeyFamily::kPosting).Name(ns).Name(collection).key()
// Because names are length-prefixed, no scope is a prefix of another, so scopes never share keys.
// Under a scope the index writes exactly two kinds of record:
//   scope + Name(term) + Raw(doc_id) -> varint32 term frequency, varint32 document length (in
//                                       tokens): scoring needs no read beyond the posting.
//   scope + Name("")                 -> statistics: format byte 0x01, varint64 document count,
//                                       varint64 total token count.
// Terms are at least kMinTokenBytes (2) long, so a posting key never starts with scope + Name("")
// (the byte after the scope is a length >= 2, never 0): the statistics key is unambiguous.
//
// Scoring: BM25 with k1 = 1.2, b = 0.75 and idf = ln(1 + (N - df + 0.5) / (df + 0.5)), where N is
// the scope's document count (documents without any token count too), df the number of documents
// holding the term, and the average document length is total tokens / N. A term repeated in the
// query counts once: the query is a set of terms, so repeating a word cannot outweigh the others.
//
// Statistics and writers. The document count and token total live in memory (loaded by Open)
// and in the statistics record. Every AddDocument/RemoveDocument puts the updated, absolute
// record into the caller's batch; the in-memory value changes only on Commit(). Because the
// record is absolute, two batches built at the same time would each overwrite the other's update:
// callers must serialise writes per scope, holding one lock (the collection store's per-collection
// mutex) from the first AddDocument/RemoveDocument of a batch until the Commit() or Abort() after
// its Store::Write. Search takes no such lock.
//
// Thread safety: every method may be called from any thread; the write sequence above must be
// serialised per scope by the caller for the statistics to stay exact. Search runs concurrently
// with writers and with other searches.
#ifndef SOCHDB_ENGINE_TEXT_BM25_INDEX_H_
#define SOCHDB_ENGINE_TEXT_BM25_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/storage/store.h"
#include "engine/text/bm25_scoring.h"

namespace sochdb::text {

// Search limits: k must be in [1, kMaxSearchResults]; a query may hold at most kMaxQueryTerms
// distinct terms (after tokenizing). Both bound the work one request can ask for.
inline constexpr size_t kMaxSearchResults = 10000;
inline constexpr size_t kMaxQueryTerms = 256;

struct Bm25Stats {
  uint64_t document_count = 0;  // N: indexed documents, including ones without tokens
  uint64_t total_tokens = 0;    // sum of the indexed documents' lengths in tokens
  bool operator==(const Bm25Stats& other) const {
    return document_count == other.document_count && total_tokens == other.total_tokens;
  }
};

struct ScoredDoc {
  std::string doc_id;
  double score = 0;
};

class Bm25Index {
 public:
  // Opens the index of `scope` on `store` (not owned; must outlive the index) and loads its
  // statistics (zero when the scope holds no record yet). Fails with INVALID_ARGUMENT when
  // `scope` does not start with a posting family byte (kPosting, or kEpisodePosting for agent
  // memory's own family) or holds nothing after it (a guard: an
  // empty scope would address the whole keyspace), DATA_LOSS when the statistics record is
  // malformed, or the Store's error.
  static absl::StatusOr<std::unique_ptr<Bm25Index>> Open(storage::Store* store, std::string scope);

  Bm25Index(const Bm25Index&) = delete;
  Bm25Index& operator=(const Bm25Index&) = delete;

  // Puts the postings of `content` (tokenized with Tokenize) under `doc_id` and the updated
  // statistics record into `*batch`. Precondition: `doc_id` is not indexed in this scope (to
  // replace a document, call RemoveDocument with its old content first, in the same batch: the
  // batch applies in order, so a posting deleted and put again ends up put).
  void AddDocument(storage::WriteBatch* batch, std::string_view doc_id, std::string_view content);

  // Deletes the postings `old_content` created for `doc_id` and puts the updated statistics
  // record into `*batch`. Precondition: `old_content` is exactly the content last added for
  // `doc_id` (the owner re-reads its stored document). Statistics never go below zero.
  void RemoveDocument(storage::WriteBatch* batch, std::string_view doc_id,
                      std::string_view old_content);

  // After Store::Write of the batch returned OK: the batch's statistics become the index's.
  void Commit();
  // After the batch was dropped or its write failed: forgets the batch's statistics changes.
  // (A failed write latches the Store's fault state; the record on disk and the postings agree
  // either way, and a reopen reloads them together.)
  void Abort();

  // The committed statistics.
  Bm25Stats stats() const;

  // The best `k` documents for `query`, by BM25 score descending, then doc_id ascending (bytewise).
  // Only documents holding at least one query term score, so an empty query or one of unknown
  // terms answers an empty list. `filter`, when given, is called at most once per candidate, in
  // rank order, until k candidates passed it, on this thread with no index lock held; rejected
  // candidates are skipped. Statistics and postings are read from `snapshot` (or one snapshot
  // taken now), so results are consistent with one point in time.
  // Cost: reads every posting of every query term once (exact df needs the count); documents are
  // scored one by one only when they hold a rare term, unless the pruning of bm25_search.h
  // cannot prove the top k; memory is O(postings of the query terms).
  // Errors: INVALID_ARGUMENT when k is 0 or above kMaxSearchResults, or the query has more than
  // kMaxQueryTerms distinct terms; DATA_LOSS for a malformed posting or statistics record; the
  // Store's errors.
  absl::StatusOr<std::vector<ScoredDoc>> Search(
      std::string_view query, size_t k,
      const std::function<bool(std::string_view doc_id)>* filter = nullptr,
      const storage::Snapshot* snapshot = nullptr) const;

  // Deletes every key under `scope` (postings and statistics), in batches of up to 1000 keys, for
  // DeleteCollection. Not atomic: when it fails part-way, calling it again finishes the job.
  // Destroy every Bm25Index of the scope first (their in-memory statistics would be stale), and
  // finish it before the scope is used again (or put a generation number into the scope). Same
  // scope checks and INVALID_ARGUMENT as Open; the Store's errors otherwise.
  static absl::Status DropAll(storage::Store* store, std::string_view scope);

  // The layout above, for tests and tools that inspect the keyspace.
  static std::string StatsKey(std::string_view scope);
  static std::string TermPrefix(std::string_view scope, std::string_view term);
  static std::string PostingKey(std::string_view scope, std::string_view term,
                                std::string_view doc_id);

  const std::string& scope() const { return scope_; }

 private:
  Bm25Index(storage::Store* store, std::string scope, Bm25Stats stats);

  // Updates the pending statistics by one document of `length` tokens and puts the record.
  void StageStats(storage::WriteBatch* batch, bool add, uint64_t length);

  storage::Store* const store_;
  const std::string scope_;
  const std::string stats_key_;

  mutable absl::Mutex mu_;
  Bm25Stats committed_ ABSL_GUARDED_BY(mu_);
  // The statistics of the batch being built, from its first Add/Remove until Commit or Abort.
  std::optional<Bm25Stats> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::text

#endif  // SOCHDB_ENGINE_TEXT_BM25_INDEX_H_
