// The in-memory state of one semantic cache and the records it is stored as (internal to
// engine/cache). The state mirrors the store: every change is committed first, then applied
// here under `mu`, by a writer holding `write_mu` (so store order = memory order).
#ifndef SOCHDB_ENGINE_CACHE_CACHE_STATE_H_
#define SOCHDB_ENGINE_CACHE_CACHE_STATE_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/cache/semantic_cache_store.h"
#include "engine/vector/vector_space.h"

namespace sochdb::cache {

// The cache record (kCacheMeta), a field record (engine/storage/field_record.h).
struct CacheRecord {
  uint64_t incarnation = 0;  // random per creation: names the index's scope and snapshot
  uint32_t dimension = 0;    // 0 until the first Put
  uint64_t max_entries = 0;  // 0 = not configured
  uint64_t hits = 0;    // in memory: Cache::hits and ::misses (see RecordNow)
  uint64_t misses = 0;
};
std::string EncodeCacheRecord(const CacheRecord& record);
absl::StatusOr<CacheRecord> DecodeCacheRecord(std::string_view bytes);

// The entry record (kCacheEntry): format byte, varint written ms, varint expiry ms (0 = never),
// then the value's bytes.
struct EntryRecord {
  int64_t written_ms = 0;
  int64_t expires_ms = 0;
  std::string_view value;  // into the decoded bytes
};
std::string EncodeEntryRecord(int64_t written_ms, int64_t expires_ms, std::string_view value);
absl::StatusOr<EntryRecord> DecodeEntryRecord(std::string_view bytes);

std::string CacheRecordKey(std::string_view tenant, std::string_view name);
std::string EntryPrefix(std::string_view tenant, std::string_view name);
// The entry prefix + key.
std::string EntryKey(std::string_view prefix, std::string_view key);

// What memory holds of one entry.
struct EntryInfo {
  int64_t expires_ms = 0;  // 0 = never
  uint64_t bytes = 0;      // key + value + embedding
  std::list<const std::string*>::iterator recency;  // into Cache::recency
};

using EntryMap = absl::node_hash_map<std::string, EntryInfo, vector::IdHash, vector::IdEq>;

class SemanticCacheStore::Cache {
 public:
  Cache(std::string tenant, std::string name)
      : tenant(std::move(tenant)), name(std::move(name)),
        entry_prefix(EntryPrefix(this->tenant, this->name)) {}

  const std::string tenant;
  const std::string name;
  const std::string entry_prefix;

  // Held by every writer across its store commit and the update of memory: Put, Delete,
  // Invalidate, Clear, Configure, the purge and the count flush.
  absl::Mutex write_mu ABSL_ACQUIRED_BEFORE(mu);
  // The state below; held briefly (never across a store write or a search).
  mutable absl::Mutex mu;

  CacheRecord record ABSL_GUARDED_BY(mu);  // its hits and misses are those of the last load
  // The store's record lags `record` (or is absent): the next write of the cache writes it.
  bool record_stale ABSL_GUARDED_BY(mu) = true;
  // Counted by every Get without a lock (a Get on a hot cache would otherwise queue on `mu` for
  // a counter); written with the record by the maintenance round when counts_dirty is set.
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<bool> counts_dirty{false};
  bool dropped ABSL_GUARDED_BY(mu) = false;    // Clear removed it: writers look it up again
  absl::Status open_error ABSL_GUARDED_BY(mu);  // the index could not open: UNAVAILABLE
  std::shared_ptr<vector::VectorSpace> space ABSL_GUARDED_BY(mu);  // null until a dimension

  // Every key with a record (expired or not, until purged). node_hash_map: the keys' addresses
  // are stable, so the recency list and expiry index point at them.
  EntryMap entries ABSL_GUARDED_BY(mu);
  std::list<const std::string*> recency ABSL_GUARDED_BY(mu);  // front = most recently used
  std::set<std::pair<int64_t, const std::string*>> expiry ABSL_GUARDED_BY(mu);  // expiring ones
  uint64_t bytes ABSL_GUARDED_BY(mu) = 0;  // of every entry in `entries`

  // Adds or replaces `key` as most recent.
  void Insert(const std::string& key, int64_t expires_ms, uint64_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Erase(std::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Marks `it` most recently used.
  void Touch(EntryMap::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  static bool Live(const EntryInfo& info, int64_t now_ms) {
    return info.expires_ms == 0 || info.expires_ms > now_ms;
  }
  // Entries and bytes that have not expired at `now_ms`.
  std::pair<uint64_t, uint64_t> LiveTotals(int64_t now_ms) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  CacheStats StatsLocked(int64_t now_ms) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // `record` with the current hit and miss counts: what a write of the record stores.
  CacheRecord RecordNow() const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // The entries to remove so that at most `cap` live ones remain: every expired one (they wait
  // for the purge and count for nothing), then the least recently used.
  std::vector<std::string> PlanShrink(int64_t now_ms, uint64_t cap) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // The entries a Put of `key` must evict: none while the cache holds fewer than its capacity
  // (max_entries, or `limit` without one); expired entries first, then the least recently
  // used. RESOURCE_EXHAUSTED when the cache is full and has no max_entries.
  absl::StatusOr<std::vector<std::string>> PlanEviction(std::string_view key, int64_t now_ms,
                                                        uint64_t limit) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

}  // namespace sochdb::cache

#endif  // SOCHDB_ENGINE_CACHE_CACHE_STATE_H_
