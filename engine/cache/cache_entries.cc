// SemanticCacheStore's entry operations: Get, Put, Invalidate, Delete and the expiry purge.
#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/cache/cache_state.h"
#include "engine/cache/semantic_cache_store.h"
#include "engine/common/names.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/policy/pattern.h"
#include "engine/vector/ann_index.h"

namespace sochdb::cache {
namespace {

// Keys removed per store write (Invalidate, the purge).
constexpr size_t kRemoveBatch = 1000;
// Candidates a lookup asks the index for first; more (x8 each time) only when every one it got
// was expired or removed meanwhile and still above the threshold.
constexpr uint32_t kFirstCandidates = 8;

absl::Status ValidateCacheName(std::string_view name, const CacheLimits& limits) {
  return ValidateName("cache_name", name, limits.max_cache_name_bytes, EmptyName::kRefused);
}

absl::Status ValidateEmbedding(absl::Span<const float> embedding, const char* field,
                               const CacheLimits& limits) {
  if (embedding.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (embedding.size() > limits.max_dimension) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has ", embedding.size(),
                                                   " floats; the limit is ",
                                                   limits.max_dimension));
  }
  SOCHDB_RETURN_IF_ERROR(vector::ValidateVector(embedding, embedding.size(), field));
  double norm = 0;
  for (float x : embedding) norm += static_cast<double>(x) * x;
  if (norm == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is all zeros: its cosine similarity to anything is undefined"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEntry(const CacheEntry& entry, const CacheLimits& limits) {
  SOCHDB_RETURN_IF_ERROR(ValidateName("key", entry.key, limits.max_key_bytes, EmptyName::kRefused));
  if (entry.value.size() > limits.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("value is ", entry.value.size(),
                                                   " bytes; the limit is ",
                                                   limits.max_value_bytes, " bytes"));
  }
  return ValidateEmbedding(entry.embedding, "key_embedding", limits);
}

absl::Status DimensionMismatch(const char* field, size_t given, std::string_view cache,
                               uint32_t dimension) {
  return absl::InvalidArgumentError(absl::StrCat(field, " has ", given, " floats; cache '", AbslView(cache),
                                                 "' has dimension ", dimension,
                                                 " (set by its first Put)"));
}

// now + ttl, saturating: a TTL of centuries means never in practice, never an overflow.
int64_t ExpiryMillis(int64_t now_ms, uint64_t ttl_seconds) {
  if (ttl_seconds == 0) return 0;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (ttl_seconds > static_cast<uint64_t>((kMax - now_ms) / 1000)) return kMax;
  return now_ms + static_cast<int64_t>(ttl_seconds) * 1000;
}

absl::Status ValidateThreshold(float threshold) {
  if (std::isnan(threshold)) return absl::InvalidArgumentError("similarity_threshold is NaN");
  // A cosine similarity is at most 1: a larger threshold could never hit (upstream accepts it
  // and misses every time, which hides the client's mistake).
  if (threshold > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "similarity_threshold is ", threshold,
        "; it must be at most 1 (a cosine similarity; <= 0 means the default 0.85)"));
  }
  return absl::OkStatus();
}

// Finite values (an empty embedding is no vector search, not an error).
absl::Status ValidateQueryEmbedding(absl::Span<const float> embedding) {
  if (embedding.empty()) return absl::OkStatus();
  return vector::ValidateVector(embedding, embedding.size(), "query_embedding");
}

}  // namespace

absl::StatusOr<CacheHit> SemanticCacheStore::Get(std::string_view tenant, std::string_view name,
                                                 const CacheLookup& lookup) {
  SOCHDB_RETURN_IF_ERROR(ValidateCacheName(name, options_.limits));
  SOCHDB_RETURN_IF_ERROR(ValidateThreshold(lookup.threshold));
  const float threshold = lookup.threshold <= 0 ? kDefaultSimilarityThreshold : lookup.threshold;
  // A read never creates a cache: a miss on a cache that does not exist is counted nowhere
  // (there is nothing to count it in; docs/services.md).
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) {
    SOCHDB_RETURN_IF_ERROR(ValidateQueryEmbedding(lookup.embedding));
    gets_missed_.fetch_add(1, std::memory_order_relaxed);
    return CacheHit{};
  }
  std::shared_ptr<vector::VectorSpace> space;
  uint32_t dimension = 0;
  {
    absl::ReaderMutexLock lock(&cache->mu);
    if (!cache->open_error.ok()) return absl::UnavailableError(cache->open_error.message());
    space = cache->space;
    dimension = cache->record.dimension;
  }
  CacheHit result;
  if (!lookup.query.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadLive(*cache, lookup.query));
    if (value.has_value()) {
      result = CacheHit{true, *std::move(value), 1.0f, std::string(lookup.query)};
    }
  }
  if (!result.hit && !lookup.embedding.empty()) {
    // After the exact match, which needs no embedding.
    SOCHDB_RETURN_IF_ERROR(ValidateQueryEmbedding(lookup.embedding));
    if (space != nullptr && lookup.embedding.size() != dimension) {
      return DimensionMismatch("query_embedding", lookup.embedding.size(), name, dimension);
    }
    if (space != nullptr) {
      SOCHDB_ASSIGN_OR_RETURN(result, NearestLive(*cache, space, lookup.embedding, threshold));
    }
  }
  (result.hit ? cache->hits : cache->misses).fetch_add(1, std::memory_order_relaxed);
  (result.hit ? gets_hit_ : gets_missed_).fetch_add(1, std::memory_order_relaxed);
  cache->counts_dirty.store(true, std::memory_order_relaxed);
  return result;
}

// One lock per lookup: the entry is checked and made most recent together (a read that then
// finds it removed has touched a key that is going anyway).
absl::StatusOr<std::optional<std::string>> SemanticCacheStore::ReadLive(Cache& cache,
                                                                        std::string_view key) {
  const int64_t now = options_.clock->NowMillis();
  {
    absl::MutexLock lock(&cache.mu);
    auto it = cache.entries.find(key);
    if (it == cache.entries.end() || !Cache::Live(it->second, now)) return std::nullopt;
    cache.Touch(it);
  }
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                          store_->Get(EntryKey(cache.entry_prefix, key)));
  if (!bytes.has_value()) return std::nullopt;  // removed since
  SOCHDB_ASSIGN_OR_RETURN(const EntryRecord record, DecodeEntryRecord(*bytes));
  if (record.expires_ms != 0 && record.expires_ms <= now) return std::nullopt;
  // The value is the record's tail: drop the header in place rather than copy the value out.
  bytes->erase(0, bytes->size() - record.value.size());
  return bytes;
}

absl::StatusOr<CacheHit> SemanticCacheStore::NearestLive(
    Cache& cache, const std::shared_ptr<vector::VectorSpace>& space,
    absl::Span<const float> embedding, float threshold) {
  for (uint32_t k = kFirstCandidates;; k = std::min<uint32_t>(k * 8, vector::kMaxK)) {
    size_t live = 0;
    SOCHDB_ASSIGN_OR_RETURN(
        std::vector<vector::VectorHit> hits,
        space->Search(embedding, k, options_.ef_search, nullptr, -1, false, &live));
    for (vector::VectorHit& hit : hits) {
      // Cosine distance is 1 - cos (engine/vector/ann_index.h).
      const float similarity = std::clamp(1.0f - hit.distance, -1.0f, 1.0f);
      if (similarity < threshold) return CacheHit{};
      SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadLive(cache, hit.id));
      if (value.has_value()) {
        return CacheHit{true, *std::move(value), similarity, std::move(hit.id)};
      }
    }
    if (hits.size() < k || k >= live || k == vector::kMaxK) return CacheHit{};
  }
}

bool SemanticCacheStore::Dropped(Cache& cache) {
  absl::ReaderMutexLock lock(&cache.mu);
  return cache.dropped;
}

absl::Status SemanticCacheStore::Put(std::string_view tenant, std::string_view name,
                                     const CacheEntry& entry) {
  SOCHDB_RETURN_IF_ERROR(ValidateCacheName(name, options_.limits));
  SOCHDB_RETURN_IF_ERROR(ValidateEntry(entry, options_.limits));
  for (;;) {
    SOCHDB_ASSIGN_OR_RETURN(CachePtr cache, FindOrCreate(tenant, name));
    absl::MutexLock write_lock(&cache->write_mu);
    if (Dropped(*cache)) continue;  // cleared meanwhile: a new cache of the same name
    return PutLocked(*cache, entry);
  }
}

absl::Status SemanticCacheStore::PutLocked(Cache& cache, const CacheEntry& entry) {
  const int64_t now = options_.clock->NowMillis();
  std::vector<std::string> evicted;
  bool create_space = false;
  {
    absl::MutexLock lock(&cache.mu);
    if (!cache.open_error.ok()) return absl::UnavailableError(cache.open_error.message());
    const uint32_t dimension = cache.record.dimension;
    if (dimension == 0) {
      cache.record.dimension = static_cast<uint32_t>(entry.embedding.size());
      cache.record_stale = true;
      create_space = true;
    } else if (entry.embedding.size() != dimension) {
      return DimensionMismatch("key_embedding", entry.embedding.size(), cache.name, dimension);
    }
    SOCHDB_ASSIGN_OR_RETURN(
        evicted, cache.PlanEviction(entry.key, now, options_.limits.max_entries_per_cache));
  }
  if (create_space) {
    absl::Status opened = OpenSpace(cache);
    if (!opened.ok()) {
      absl::MutexLock lock(&cache.mu);
      cache.record.dimension = 0;
      cache.open_error = absl::OkStatus();
      return opened;
    }
  }
  std::shared_ptr<vector::VectorSpace> space;
  storage::WriteBatch batch;
  {
    absl::MutexLock lock(&cache.mu);
    space = cache.space;
    if (cache.record_stale) batch.Put(CacheRecordKey(cache.tenant, cache.name),
                                      EncodeCacheRecord(cache.RecordNow()));
  }
  const int64_t expires = ExpiryMillis(now, entry.ttl_seconds);
  batch.Put(EntryKey(cache.entry_prefix, entry.key), EncodeEntryRecord(now, expires, entry.value));
  for (const std::string& key : evicted) batch.Delete(EntryKey(cache.entry_prefix, key));
  const std::vector<std::string_view> deletes(evicted.begin(), evicted.end());
  const vector::VectorItem item{entry.key, entry.embedding, ""};
  if (absl::Status applied = space->Apply({&item, 1}, deletes, &batch); !applied.ok()) {
    // Nothing was written: a first Put that failed must not fix the dimension.
    if (create_space) {
      absl::MutexLock lock(&cache.mu);
      cache.record.dimension = 0;
      cache.space = nullptr;
    }
    return applied;
  }
  absl::MutexLock lock(&cache.mu);
  cache.record_stale = false;
  for (const std::string& key : evicted) cache.Erase(key);
  cache.Insert(std::string(entry.key), expires,
               entry.key.size() + entry.value.size() + 4ull * entry.embedding.size());
  return absl::OkStatus();
}

absl::StatusOr<SemanticCacheStore::Removed> SemanticCacheStore::RemoveKeys(
    Cache& cache, const std::vector<std::string>& keys) {
  Removed removed;
  for (size_t begin = 0; begin < keys.size(); begin += kRemoveBatch) {
    const int64_t now = options_.clock->NowMillis();
    std::vector<std::string_view> present;
    std::shared_ptr<vector::VectorSpace> space;
    uint64_t live = 0;
    {
      absl::MutexLock lock(&cache.mu);
      // Entries and no index: the cache is out of service (its index did not open, or a Clear
      // failed part-way), and nothing of it can be removed but whole.
      if (cache.space == nullptr && !cache.open_error.ok()) {
        return absl::UnavailableError(cache.open_error.message());
      }
      space = cache.space;
      for (size_t i = begin; i < std::min(keys.size(), begin + kRemoveBatch); ++i) {
        auto it = cache.entries.find(keys[i]);
        if (it == cache.entries.end()) continue;
        present.push_back(keys[i]);
        if (Cache::Live(it->second, now)) ++live;
      }
    }
    if (present.empty() || space == nullptr) continue;
    storage::WriteBatch batch;
    for (std::string_view key : present) batch.Delete(EntryKey(cache.entry_prefix, key));
    SOCHDB_RETURN_IF_ERROR(space->Delete(present, &batch).status());
    absl::MutexLock lock(&cache.mu);
    for (std::string_view key : present) cache.Erase(key);
    removed.all += present.size();
    removed.live += live;
  }
  return removed;
}

absl::StatusOr<uint64_t> SemanticCacheStore::Invalidate(std::string_view tenant,
                                                        std::string_view name,
                                                        std::string_view pattern) {
  SOCHDB_RETURN_IF_ERROR(ValidateCacheName(name, options_.limits));
  std::optional<policy::Pattern> glob;
  if (!pattern.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(glob, policy::Pattern::Compile(pattern));
  }
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) return 0;
  absl::MutexLock write_lock(&cache->write_mu);
  std::vector<std::string> keys;
  {
    absl::MutexLock lock(&cache->mu);
    if (cache->dropped) return 0;  // cleared meanwhile: nothing of it is left
    for (const auto& [key, info] : cache->entries) {
      if (!glob.has_value() || glob->Matches(key)) keys.push_back(key);
    }
  }
  SOCHDB_ASSIGN_OR_RETURN(const Removed removed, RemoveKeys(*cache, keys));
  return removed.live;
}

absl::StatusOr<bool> SemanticCacheStore::Delete(std::string_view tenant, std::string_view name,
                                                std::string_view key) {
  SOCHDB_RETURN_IF_ERROR(ValidateCacheName(name, options_.limits));
  SOCHDB_RETURN_IF_ERROR(ValidateName("key", key, options_.limits.max_key_bytes,
                                      EmptyName::kRefused));
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) return false;
  absl::MutexLock write_lock(&cache->write_mu);
  if (Dropped(*cache)) return false;  // cleared meanwhile
  SOCHDB_ASSIGN_OR_RETURN(const Removed removed, RemoveKeys(*cache, {std::string(key)}));
  return removed.live > 0;
}

absl::StatusOr<uint64_t> SemanticCacheStore::PurgeExpired(Cache& cache) {
  absl::MutexLock write_lock(&cache.write_mu);
  const int64_t now = options_.clock->NowMillis();
  std::vector<std::string> expired;
  {
    absl::MutexLock lock(&cache.mu);
    if (cache.dropped) return 0;  // cleared since the round listed it
    for (auto it = cache.expiry.begin(); it != cache.expiry.end() && it->first <= now; ++it) {
      expired.push_back(*it->second);
    }
  }
  SOCHDB_ASSIGN_OR_RETURN(const Removed removed, RemoveKeys(cache, expired));
  return removed.all;
}

}  // namespace sochdb::cache
