// SemanticCacheStore: the semantic caches behind SemanticCacheService. A cache holds LLM answers
// keyed by the text of a query and by its embedding; a lookup hits when the query text is a
// stored key exactly, or else when the nearest stored embedding is similar enough (cosine).
// Caches are named per tenant: the tenant is part of every key and comes from the caller's
// credentials, never from a request.
//
// Storage (engine/storage/keys.h):
//   kCacheMeta  Name(tenant) Name(cache)            -> cache record: incarnation, dimension,
//                                                      max_entries, hits, misses
//   kCacheEntry Name(tenant) Name(cache) Raw(key)   -> entry: written and expiry times, value
//   the embeddings: one VectorSpace per cache (engine/vector/vector_space.h, scope
//   {"sc", tenant, cache, incarnation}, cosine HNSW, snapshot <snapshot_dir>/sc-<hex>.snap),
//   whose ids are the entry keys. An entry and its embedding commit in ONE batch.
// In memory, per cache: each live key's expiry, size and recency (an LRU list), and an expiry
// index; values are read from the store on a hit. Start-up rebuilds this from the records and
// drops what a crash left half-done (an entry without its embedding, or the reverse).
//
// Semantics (upstream's, ../shared/UPSTREAM.md §1.8, §2.6, and where we differ):
//  * Get: an exact match of `query` with a live key is a hit (similarity 1) before any vector
//    search; otherwise the nearest live embedding hits when its cosine similarity is at least
//    the threshold (<= 0 means kDefaultSimilarityThreshold). A miss has empty fields. An empty
//    embedding (and no exact match) is a miss; a cache nobody has Put to is a miss.
//  * An embedding whose length differs from the cache's dimension (fixed by its first Put) is
//    INVALID_ARGUMENT on Put AND on Get (upstream answers a silent miss on Get: a client that
//    changed embedding models would never learn why it stopped hitting). The check comes after
//    the exact match, which needs no embedding.
//  * TTL: an entry expires ttl_seconds after its Put (0 = never); expired entries never hit,
//    are not counted by Stats (entry_count, size_bytes) and are purged by the maintenance thread
//    (every maintenance_interval).
//  * Capacity: a cache configured with max_entries (Configure) evicts its least-recently-used
//    entries (a hit or a Put makes an entry recent) to make room; without it a cache holds at
//    most limits.max_entries_per_cache and a Put of a new key past that is RESOURCE_EXHAUSTED.
//  * Stats: hits and misses count Gets (an error is neither). They are kept in memory and
//    written with the cache record every maintenance_interval and at close: a kill -9 loses at
//    most the counts of the last interval. Entries are durable as every store write (the
//    store's sync mode). Recency is not persisted: after a restart the LRU order is the order
//    of the entries' last Puts.
//
// Errors: INVALID_ARGUMENT names the field and the limit ("key is 9000 bytes; the limit is 8192
// bytes", "key_embedding[3] is NaN"); RESOURCE_EXHAUSTED names the limit; NOT_FOUND for a cache
// that does not exist (Stats, Configure); DATA_LOSS for a record that cannot be read;
// UNAVAILABLE from a store in its fault state.
//
// Thread safety: all methods may be called concurrently. A Get takes each cache's lock briefly
// (lookups, counters, recency): the vector search and the value read hold no cache lock.
#ifndef SOCHDB_ENGINE_CACHE_SEMANTIC_CACHE_STORE_H_
#define SOCHDB_ENGINE_CACHE_SEMANTIC_CACHE_STORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/storage/store.h"

namespace sochdb::vector {
class VectorSpace;
}

namespace sochdb::cache {

inline constexpr float kDefaultSimilarityThreshold = 0.85f;
inline constexpr uint32_t kDefaultCacheEfSearch = 96;

// Documented limits (docs/services.md "Limits"); defaults are the server's.
struct CacheLimits {
  size_t max_cache_name_bytes = 256;        // 1..256 bytes, no NUL
  size_t max_key_bytes = 8 * 1024;          // 1..8 KiB (the query text)
  size_t max_value_bytes = 1u << 20;        // 0..1 MiB (the answer)
  uint32_t max_dimension = 4096;            // embedding floats; at most vector::kMaxDimension
  uint64_t max_entries_per_cache = 1'000'000;  // also the largest max_entries Configure takes
  size_t max_caches_per_tenant = 1'000;
};

struct SemanticCacheOptions {
  std::string snapshot_dir;  // created if missing (the engine's vectors/ directory)
  // Where snapshot files are read and written. Not owned; must outlive the store.
  FileSystem* file_system = FileSystem::Default();
  const Clock* clock = Clock::Real();  // TTLs and written times; not owned
  // How often expired entries are purged, hit/miss counts written and indexes maintained.
  absl::Duration maintenance_interval = absl::Seconds(1);
  uint64_t snapshot_every_changes = 50'000;
  // The HNSW search breadth of a vector lookup (1..vector::kMaxEf): a Get's cost is nearly
  // proportional to it, and below it the nearest entry is missed more often (docs/benchmarks.md
  // "Semantic cache" has the sweep). The server's --cache-ef-search.
  uint32_t ef_search = kDefaultCacheEfSearch;
  CacheLimits limits;
};

struct CacheLookup {
  std::string_view query;              // the query text; "" = no exact match
  absl::Span<const float> embedding;   // empty = no vector search
  float threshold = 0;                 // <= 0: kDefaultSimilarityThreshold
};

struct CacheHit {
  bool hit = false;
  std::string value;
  float similarity = 0;  // 1 for an exact match
  std::string key;       // the matched key
};

struct CacheEntry {
  std::string_view key;
  std::string_view value;
  absl::Span<const float> embedding;
  uint64_t ttl_seconds = 0;  // 0 = never expires
};

struct CacheStats {
  std::string name;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t entry_count = 0;  // live (unexpired) entries
  uint64_t size_bytes = 0;   // keys + values + embeddings (4 bytes a float) of live entries
  uint32_t dimension = 0;    // 0 until the first Put
  uint64_t max_entries = 0;  // 0 = not configured (no eviction)
  // hits / (hits + misses); 0 before the first lookup.
  float hit_rate() const {
    return hits + misses == 0 ? 0.0f : static_cast<float>(static_cast<double>(hits) /
                                                          static_cast<double>(hits + misses));
  }
};

// Figures of every cache together (EngineStats, the server's metrics).
struct CacheTotals {
  uint64_t caches = 0;
  uint64_t entries = 0;  // live (unexpired)
  // Gets since the store opened, of every cache; a Get of a cache that does not exist is a
  // miss here (and nowhere else).
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class SemanticCacheStore {
 public:
  // Loads every cache (records, then each embedding index from its snapshot + log) and starts
  // the maintenance thread. Errors are the store's; a cache whose index cannot open is logged
  // and answers UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<SemanticCacheStore>> Open(storage::Store* store,
                                                                  SemanticCacheOptions options);
  // Stops maintenance, writes the hit/miss counts and snapshots the indexes.
  ~SemanticCacheStore();

  SemanticCacheStore(const SemanticCacheStore&) = delete;
  SemanticCacheStore& operator=(const SemanticCacheStore&) = delete;

  // See the file comment. A Get of a cache that does not exist is a miss counted nowhere: a
  // read never creates a cache (upstream's does, so that the miss counts).
  absl::StatusOr<CacheHit> Get(std::string_view tenant, std::string_view cache_name,
                               const CacheLookup& lookup);
  // Upserts the entry by key (creating the cache); may evict (see Capacity above).
  absl::Status Put(std::string_view tenant, std::string_view cache_name, const CacheEntry& entry);
  // Removes the entries whose key matches the glob `pattern` (engine/policy/pattern.h; "" =
  // every entry); returns how many live entries it removed. Stats are kept.
  absl::StatusOr<uint64_t> Invalidate(std::string_view tenant, std::string_view cache_name,
                                      std::string_view pattern);
  // Removes one entry; false when there was no live entry with that key.
  absl::StatusOr<bool> Delete(std::string_view tenant, std::string_view cache_name,
                              std::string_view key);
  // Removes the cache whole: entries, index, stats and configuration. False when it did not
  // exist.
  absl::StatusOr<bool> Clear(std::string_view tenant, std::string_view cache_name);
  // NOT_FOUND "Cache '<name>' not found" when the cache does not exist.
  absl::StatusOr<CacheStats> Stats(std::string_view tenant, std::string_view cache_name) const;
  // Every cache of `tenant`, by name.
  std::vector<CacheStats> List(std::string_view tenant) const;
  // Sets the cache's capacity (creating the cache): 0 removes it (no eviction), otherwise
  // 1..limits.max_entries_per_cache. Evicts least-recently-used entries down to it at once.
  absl::StatusOr<CacheStats> Configure(std::string_view tenant, std::string_view cache_name,
                                       uint64_t max_entries);

  // One maintenance round now: purges expired entries, writes changed hit/miss counts. Returns
  // the entries purged.
  absl::StatusOr<uint64_t> RunMaintenance();
  const CacheLimits& limits() const { return options_.limits; }
  CacheTotals Totals() const;

  class Cache;  // one cache's state (cache_state.h)

 private:
  using CachePtr = std::shared_ptr<Cache>;
  using Key = std::pair<std::string, std::string>;  // tenant, cache name

  SemanticCacheStore(storage::Store* store, SemanticCacheOptions options);
  absl::Status LoadAll();
  absl::Status LoadEntries();
  // Embeddings whose entry is gone (a removal cut short by a crash).
  absl::Status RemoveStrayEmbeddings();
  void MaintenanceLoop();
  std::string SnapshotPath(uint64_t incarnation) const;
  // The cache's embedding index (opened when the cache has a dimension).
  absl::Status OpenSpace(Cache& cache) const;
  static std::vector<std::string> SpaceScope(const Cache& cache, uint64_t incarnation);
  // Clear's removal from the store: the index (`space`, or by its scope when not open), the
  // entries, then the record.
  absl::Status RemoveCacheData(Cache& cache, vector::VectorSpace* space, uint64_t incarnation);

  CachePtr Find(std::string_view tenant, std::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  // Find, or a new (unpersisted) cache; RESOURCE_EXHAUSTED past max_caches_per_tenant.
  absl::StatusOr<CachePtr> FindOrCreate(std::string_view tenant, std::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<CachePtr> AllCaches() const ABSL_LOCKS_EXCLUDED(mu_);

  // Clear removed the cache: a writer that found it before must not touch it (its index is
  // retired and a new cache of the same name may hold its keys).
  static bool Dropped(Cache& cache);
  // Put's body, holding the cache's write lock.
  absl::Status PutLocked(Cache& cache, const CacheEntry& entry);
  struct Removed {
    uint64_t all = 0;   // entries removed
    uint64_t live = 0;  // of which had not expired
  };
  // Removes `keys` (entries and embeddings; absent ones are skipped) in batches.
  absl::StatusOr<Removed> RemoveKeys(Cache& cache, const std::vector<std::string>& keys);
  // Writes the cache record (with the current counts).
  absl::Status WriteRecord(Cache& cache, storage::WriteBatch* batch);
  // Writes the records of the caches whose hit/miss counts changed (or whose record lags the
  // store), many per store write: one write a round, not one per cache.
  absl::Status FlushCounts(const std::vector<CachePtr>& caches) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  absl::StatusOr<uint64_t> PurgeExpired(Cache& cache);
  // The value of the live entry `key`, or nullopt (absent, expired, or gone meanwhile).
  absl::StatusOr<std::optional<std::string>> ReadLive(Cache& cache, std::string_view key);
  // Get's vector search: the nearest live entry at or above `threshold`.
  absl::StatusOr<CacheHit> NearestLive(Cache& cache,
                                       const std::shared_ptr<vector::VectorSpace>& space,
                                       absl::Span<const float> embedding, float threshold);

  storage::Store* const store_;
  const SemanticCacheOptions options_;

  mutable absl::Mutex mu_;  // the registry
  std::map<Key, CachePtr> caches_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> gets_hit_{0};  // CacheTotals::hits and ::misses
  std::atomic<uint64_t> gets_missed_{0};
  std::string last_maintenance_error_;  // the maintenance thread's own
  std::thread maintenance_;
};

}  // namespace sochdb::cache

#endif  // SOCHDB_ENGINE_CACHE_SEMANTIC_CACHE_STORE_H_
