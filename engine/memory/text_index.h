// EpisodeTextIndex: one namespace's BM25 and trigram lanes (memory_store.h), held in memory.
//
// Why in memory. The lanes first kept their postings in the store, one key per (term, episode)
// and per (trigram, episode): a write put ~200 keys for a paragraph, and a query of common words
// read every one of their postings through the LSM tree (60-140 ms at 100k episodes on the
// 2-core VM, docs/benchmarks.md "Context"). Here a posting is 4 to 8 bytes in a sorted array, so
// a query scores 100k postings in about a millisecond and a write touches no extra key. The
// index is derived data: MemoryStore builds it from the episode records when it loads the
// namespace (one scan) and updates it after each commit, in commit order, under the namespace's
// write lock. It never holds an episode the store lost; a search racing a write may see one
// its snapshot does not hold, and drops it when it reads the records.
//
// Layout. Episodes get dense slots in id order (ids only grow, so a new one appends). A term's
// postings are (slot, term frequency) sorted by slot; a trigram's are slots. A slot keeps the
// episode's id, length in tokens and t_valid_from, so the as_of filter needs no read. A deleted
// episode leaves its term postings at once (df stays exact), its trigram postings and its slot
// when dead slots outnumber live ones and the slots are renumbered (every posting rewritten:
// amortised, a delete's share is constant); searches skip dead slots meanwhile.
// Memory: ~4 bytes per distinct trigram and ~8 per distinct term of each episode, plus 21 per
// slot (a paragraph of 300 characters: ~1 KB; 100k of them: ~100 MB; stats() reports it).
//
// Scoring is Bm25Index's (engine/text/bm25_index.h): k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) /
// (df + 0.5)), N the live episodes (those without a token count too), tokens as text::Tokenize,
// the query a set of its first text::kMaxQueryTerms distinct terms; ties by id ascending.
// Trigrams are internal::Trigrams' (memory_records.h): an episode matches when it holds every
// trigram of the query; matches come newest id first.
//
// Thread safety: every method may be called concurrently; searches share a reader lock, Add and
// Remove take it exclusively. The caller serialises Add/Remove per namespace (ids in order).
#ifndef SOCHDB_ENGINE_MEMORY_TEXT_INDEX_H_
#define SOCHDB_ENGINE_MEMORY_TEXT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sochdb::memory {

// A namespace's text index (MemoryStore::IndexStats).
struct TextIndexStats {
  uint64_t episodes = 0;      // indexed: the namespace's live episodes (N)
  uint64_t tokens = 0;        // their total length in BM25 tokens
  uint64_t memory_bytes = 0;  // postings and per-episode slots, as allocated
};

namespace internal {

class EpisodeTextIndex {
 public:
  using Stats = TextIndexStats;

  // Indexes episode `id`. FAILED_PRECONDITION (nothing added) when `id` is not above every id
  // added before: ids only grow, and slots follow them.
  absl::Status Add(uint64_t id, std::string_view text, uint64_t t_valid_from_ms)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes episode `id`, whose text is `text` (its terms name its BM25 postings).
  // NOT_FOUND when it is not indexed.
  absl::Status Remove(uint64_t id, std::string_view text) ABSL_LOCKS_EXCLUDED(mu_);

  // t_valid_from of episode `id`; nullopt when it is not indexed.
  std::optional<uint64_t> ValidFrom(uint64_t id) const ABSL_LOCKS_EXCLUDED(mu_);
  // The best `k` episodes for `query` by BM25 (score desc, id asc) among those with
  // t_valid_from <= as_of.
  std::vector<uint64_t> Bm25(std::string_view query, size_t k,
                             std::optional<uint64_t> as_of) const ABSL_LOCKS_EXCLUDED(mu_);
  // The newest `k` episodes (id desc) holding every trigram of `query`, as_of applied; none for
  // a query of fewer than three characters.
  std::vector<uint64_t> Trigram(std::string_view query, size_t k,
                                std::optional<uint64_t> as_of) const ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct TermPostings {
    std::vector<uint32_t> slots;        // ascending
    std::vector<uint32_t> frequencies;  // parallel to slots
  };
  // A text's distinct trigrams, as the two maps key them.
  struct Grams {
    std::vector<uint64_t> packed;
    std::vector<std::string> long_ones;
  };
  static Grams GramsOf(std::string_view text);
  // The posting lists of `grams`; false when one of them has none.
  bool ListsOf(const Grams& grams, std::vector<const std::vector<uint32_t>*>* lists) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The slot of `id`; nullopt when it has none or it is dead.
  std::optional<uint32_t> SlotOf(uint64_t id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool Matches(uint32_t slot, std::optional<uint64_t> as_of) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  static size_t GallopDown(const std::vector<uint32_t>& list, size_t end, uint32_t target);
  // Renumbers the slots without the dead ones.
  void Compact() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Per slot, in id order.
  std::vector<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> lengths_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> valid_from_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> live_ ABSL_GUARDED_BY(mu_);
  uint64_t live_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, TermPostings> terms_ ABSL_GUARDED_BY(mu_);
  // Trigrams of at most 7 bytes (those of 1- and 2-byte characters: ASCII, Latin, Greek,
  // Cyrillic...) by a packed key; longer ones (CJK, emoji) by their bytes.
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> packed_trigrams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<uint32_t>> long_trigrams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace sochdb::memory

#endif  // SOCHDB_ENGINE_MEMORY_TEXT_INDEX_H_
