// MemoryStore: agent memory (ContextService's episodes), per namespace, persisted in the shared
// Store, with three retrieval lanes fused as upstream's sochdb-memory fuses them
// (../shared/UPSTREAM.md §2.4 "Retrieval pipeline").
//
// Model. An episode is (id, text, t_valid_from, t_created, metadata_json, embedding). Ids are
// 1, 2, 3... per namespace and never reused, even after a delete (the counter is persisted).
// Times are Unix ms; t_valid_from defaults to the Clock's now (upstream's default overflows).
//
// Storage (engine/storage/keys.h, every family namespace-first and in
// kNamespacePrefixedFamilies): the episode record (kEpisode), the namespace's metadata
// (kEpisodeMeta: next id, episode count, the vector dimension and space id), a time index for
// Latest and as_of (kEpisodeTime, newest first). Embeddings live in a vector::VectorSpace per
// namespace (kVector scope {"m", ns, space id}, snapshot <snapshot_dir>/mem-<id>.snap), the same
// HNSW and recovery as collections. A write is ONE batch: record, metadata, time entry and the
// vector record with its change-log entry. The BM25 and trigram postings are held in memory
// (internal::EpisodeTextIndex, text_index.h: why, and its cost), built from the records when a
// namespace is first used and updated after each commit. (kEpisodeTrigram and kEpisodePosting
// held them on disk before 2026-12-08; nothing writes them now, DeleteNamespace still clears
// them.)
//
// Retrieval (Search). Each lane returns up to kLaneHits (64) episodes with t_valid_from <= as_of
// (the filter runs inside the lane, so filtered episodes take no slot):
//   BM25     engine/text's formula (bm25_scoring.h: k1 1.2, b 0.75); tokens as text::Tokenize
//            (ASCII lowercased, length 2..64; upstream keeps length > 1 too). A query of more than
//            text::kMaxQueryTerms distinct terms uses its first kMaxQueryTerms.
//   trigram  case-folded (ASCII) character trigrams of the whole query, spaces included; an
//            episode matches only if its text holds EVERY one (constant score, as upstream);
//            matches come newest id first. A query of fewer than 3 characters has no trigram
//            and matches nothing in this lane (upstream: the same, an empty set of trigrams).
//   vector   the embedding given in SearchOptions, cosine, over the namespace's HNSW; skipped
//            when none is given or the namespace holds no embedding yet.
// Fusion: weighted RRF, score = sum over lanes of weight / (60 + rank + 1), rank from 0,
// weights BM25 0.4, trigram 0.2, vector 0.4; ties by id descending (newest first); the best
// `limit` (default 32, as upstream's top 32) are returned. MMR and budgets are the caller's.
//
// Namespace deletion: the registry deletes the kNamespacePrefixedFamilies by prefix after
// calling DeleteNamespaceData (namespaces::NamespaceDataOwner), which drops the namespace's
// vector space (records, log, snapshot) and its cached state.
//
// Usage (engine/namespace/usage_ledger.h): with a ledger, a write of a tracked namespace is
// charged its episode's bytes (the record's key after the namespace and value, plus 4 bytes per
// embedding float) and refused with RESOURCE_EXHAUSTED, writing nothing, past the namespace's
// storage quota; a delete gives them back.
//
// Errors: INVALID_ARGUMENT naming the field and the limit ("text is 2000000 bytes; the limit is
// 1048576 bytes", "embedding has 8 floats; the namespace's dimension is 4", "invalid
// metadata_json: ..."); NOT_FOUND "Episode <id> not found"; DATA_LOSS for a stored record that
// cannot be read; UNAVAILABLE from a store in its fault state.
//
// Thread safety: all methods may be called concurrently. Writes of one namespace are serialised
// (ids, counts and BM25 statistics stay exact); reads run on one store snapshot each.
#ifndef SOCHDB_ENGINE_MEMORY_MEMORY_STORE_H_
#define SOCHDB_ENGINE_MEMORY_MEMORY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/namespace/namespace_data_owner.h"
#include "engine/memory/text_index.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"

namespace sochdb::vector {
class VectorSpace;
}  // namespace sochdb::vector

namespace sochdb::memory {
namespace internal {
struct EpisodeRecord;
struct Meta;
}  // namespace internal

// Hits each lane contributes to the fusion (upstream's 2k with k = 32).
inline constexpr size_t kLaneHits = 64;
inline constexpr double kRrfK = 60;
inline constexpr double kBm25Weight = 0.4;
inline constexpr double kTrigramWeight = 0.2;
inline constexpr double kVectorWeight = 0.4;

// Documented limits (docs/services.md "Limits"); defaults are the server's.
struct MemoryLimits {
  size_t max_text_bytes = 1u << 20;       // text: 1..1 MiB
  size_t max_metadata_bytes = 64 * 1024;  // metadata_json: 0..64 KiB, JSON when non-empty
  size_t max_metadata_depth = 32;         // nesting of metadata_json
  size_t max_query_bytes = 16 * 1024;     // Search's query
  size_t max_search_limit = 1'000;        // SearchOptions::limit: 1..1000
  size_t max_list_limit = 10'000;         // ListEpisodes / Latest: 1..10000 per call
  uint32_t max_dimension = 4'096;         // embedding floats
};

struct MemoryStoreOptions {
  MemoryLimits limits;
  // Where the vector spaces' snapshots go (the directory must exist); empty: never snapshot
  // (the HNSW is rebuilt from the records when a namespace is first used after a start).
  std::string snapshot_dir;
  FileSystem* file_system = FileSystem::Default();  // not owned
  const Clock* clock = Clock::Real();               // not owned; t_created, default t_valid_from
  // HNSW of the episode spaces (cosine): smaller than the vector-index defaults, since the lane
  // wants 64 candidates, not exact top-k at scale.
  uint32_t hnsw_m = 16;
  uint32_t hnsw_ef_construction = 128;
  uint32_t hnsw_ef_search = 128;
  // nullptr: no accounting. Otherwise the store attaches to it as its memory source until
  // destroyed, and charges every write of a tracked namespace (see the file comment).
  namespaces::UsageLedger* usage = nullptr;  // not owned
};

struct Episode {
  uint64_t id = 0;
  std::string text;
  uint64_t t_valid_from_ms = 0;
  uint64_t t_created_ms = 0;
  std::string metadata_json;
  std::vector<float> embedding;
};

struct EpisodeWrite {
  std::string text;
  std::optional<uint64_t> t_valid_from_ms;
  std::string metadata_json;
  std::vector<float> embedding;  // optional (empty)
};

struct WrittenEpisode {
  uint64_t id = 0;
  uint64_t t_created_ms = 0;
  uint64_t t_valid_from_ms = 0;
  uint64_t ingestion_lag_us = 0;  // from the call to durable and indexed
};

enum class Lanes { kAll, kBm25, kTrigram, kVector };

// As upstream: "bm25" and "trigram" pick that lane; "" (absent), "all", "hybrid", "three_lane"
// and "lexical" are every lane (upstream maps every other text to three lanes too; we add
// "vector" and refuse the rest: INVALID_ARGUMENT "lanes '<x>' is not one of all, hybrid,
// three_lane, lexical, bm25, trigram, vector"). Case-sensitive, as upstream.
absl::StatusOr<Lanes> ParseLanes(absl::string_view lanes);

struct SearchOptions {
  Lanes lanes = Lanes::kAll;
  std::optional<uint64_t> as_of_ms;  // keep t_valid_from <= as_of
  std::vector<float> embedding;      // the vector lane's query; empty: no vector lane
  size_t limit = 32;                 // 1..limits.max_search_limit
};

struct ScoredEpisode {
  Episode episode;
  double score = 0;  // fused RRF score, best first
};

struct EpisodePage {
  std::vector<Episode> episodes;
  uint64_t next_after_id = 0;  // 0: no more
};

class MemoryStore final : public namespaces::NamespaceDataOwner, public namespaces::UsageCounter {
 public:
  // `store` is not owned and must outlive the MemoryStore. A namespace's state is read when it
  // is first used; construction only sweeps stray snapshot files (one key per namespace read).
  MemoryStore(storage::Store* store, MemoryStoreOptions options = {});
  // Snapshots the vector spaces with changes their snapshot does not cover.
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Validates (text non-empty and bounded, metadata_json JSON, embedding finite and of the
  // namespace's dimension, which its first embedded episode fixes), assigns the next id and
  // commits everything in one batch.
  absl::StatusOr<WrittenEpisode> WriteEpisode(absl::string_view ns, EpisodeWrite write);
  // NOT_FOUND "Episode <id> not found".
  absl::StatusOr<Episode> GetEpisode(absl::string_view ns, uint64_t id) const;
  // The newest `count` episodes (highest t_valid_from first, ties by id desc), as_of applied.
  // Reads only those (the time index), whatever the namespace holds.
  absl::StatusOr<std::vector<Episode>> Latest(absl::string_view ns, size_t count,
                                              std::optional<uint64_t> as_of_ms) const;
  // See the file comment. An empty query with no embedding answers nothing.
  absl::StatusOr<std::vector<ScoredEpisode>> Search(absl::string_view ns, absl::string_view query,
                                                    const SearchOptions& options) const;
  // Removes the episode with its postings, time entry and vector. NOT_FOUND as GetEpisode.
  absl::Status DeleteEpisode(absl::string_view ns, uint64_t id);
  // Episodes with id > after_id in id order, at most `limit` (1..limits.max_list_limit).
  absl::StatusOr<EpisodePage> ListEpisodes(absl::string_view ns, uint64_t after_id,
                                           size_t limit) const;

  // Snapshot or compact the vector spaces that need it (VectorSpace::Maintain); errors are
  // logged. For the engine's background loop.
  void Maintain();

  // NamespaceDataOwner: drops the vector space of `ns` and forgets its cached state; the
  // registry then deletes the memory families by prefix.
  absl::Status DeleteNamespaceData(std::string_view ns) override;

  // UsageCounter: the bytes of `ns`'s episodes, from a snapshot taken while no write is between
  // its charge and its commit. Cost: one scan of the namespace's episode records.
  absl::StatusOr<namespaces::Usage> CountUsage(std::string_view ns,
                                               absl::FunctionRef<void()> start) override;

  // The text index of `ns` (loading the namespace if it holds episodes; zeros if not).
  absl::StatusOr<TextIndexStats> IndexStats(absl::string_view ns) const;
  // The text indexes of every loaded namespace, summed.
  TextIndexStats IndexStats() const;

  const MemoryLimits& limits() const { return options_.limits; }

 private:
  struct Space;  // one namespace's write lock, metadata and indexes (memory_space.h)

  // The cached state of `ns`, loaded from the store when first used; nullptr (when !create)
  // for a namespace that holds no episode.
  absl::StatusOr<std::shared_ptr<Space>> GetSpace(std::string_view ns, bool create) const
      ABSL_LOCKS_EXCLUDED(mu_, load_mu_);
  absl::StatusOr<std::shared_ptr<Space>> LoadSpace(
      std::string_view ns, const std::optional<std::string>& meta_record) const;
  // Adds every episode record of `ns` to `index` (LoadSpace; the space is not published yet).
  absl::Status IndexRecords(std::string_view ns, internal::EpisodeTextIndex& index) const;
  absl::StatusOr<std::unique_ptr<vector::VectorSpace>> OpenVectors(
      std::string_view ns, const internal::Meta& meta) const;
  absl::Status Validate(const EpisodeWrite& write) const;
  // <snapshot_dir>/mem-<space id>.snap; "" without a snapshot_dir.
  std::string SnapshotPath(uint64_t space_id) const;
  // At construction: removes the mem- snapshots no namespace's space names, and any cut short.
  void SweepStraySnapshots() const;
  // INVALID_ARGUMENT "<field> has 8 floats; the namespace's dimension is 4" (0: any).
  absl::Status CheckDimension(uint32_t dimension, size_t floats, const char* field) const;
  // Commits episode `record` as the namespace's next id; the caller holds space.write_mu.
  absl::StatusOr<uint64_t> Commit(std::string_view ns, Space& space,
                                  const internal::EpisodeRecord& record,
                                  const std::vector<float>& embedding);

  // The vector lane (memory_search.cc): episode ids, best first, at most kLaneHits.
  absl::StatusOr<std::vector<uint64_t>> VectorLane(const Space& space,
                                                   const std::vector<float>& embedding,
                                                   std::optional<uint64_t> as_of) const;
  // NOT_FOUND "Episode <id> not found"; the embedding is read from the vector record, whose key
  // needs the namespace's metadata: read once per `*meta` (calls that read many episodes at one
  // snapshot pass the same one; nullptr: read it for this episode).
  absl::StatusOr<Episode> ReadEpisode(std::string_view ns, uint64_t id,
                                      const storage::Snapshot* view,
                                      std::optional<internal::Meta>* meta = nullptr) const;

  storage::Store* const store_;
  const MemoryStoreOptions options_;
  // Held shared by every write from its charge to its commit; CountUsage takes it exclusively
  // to find a moment with no write in flight. Taken before a space's write_mu.
  mutable absl::Mutex count_barrier_;
  // One namespace loads at a time (a load may rebuild an HNSW), outside mu_.
  mutable absl::Mutex load_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<Space>> spaces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::memory

#endif  // SOCHDB_ENGINE_MEMORY_MEMORY_STORE_H_
