#include "engine/cache/cache_state.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"
#include "engine/storage/varint.h"

namespace sochdb::cache {
namespace {

constexpr char kEntryFormat = 1;
constexpr std::string_view kCacheRecordName = "cache record";

}  // namespace

std::string EncodeCacheRecord(const CacheRecord& record) {
  storage::FieldRecordWriter writer;
  writer.Number("incarnation", record.incarnation)
      .Number("dimension", record.dimension)
      .Number("max_entries", record.max_entries)
      .Number("hits", record.hits)
      .Number("misses", record.misses);
  return std::move(writer).Build();
}

absl::StatusOr<CacheRecord> DecodeCacheRecord(std::string_view bytes) {
  SOCHDB_ASSIGN_OR_RETURN(const storage::FieldRecord fields,
                          storage::FieldRecord::Parse(bytes, kCacheRecordName));
  CacheRecord record;
  SOCHDB_RETURN_IF_ERROR(fields.Number("incarnation", &record.incarnation));
  SOCHDB_RETURN_IF_ERROR(fields.Number32("dimension", &record.dimension));
  SOCHDB_RETURN_IF_ERROR(fields.Number("max_entries", &record.max_entries));
  SOCHDB_RETURN_IF_ERROR(fields.Number("hits", &record.hits));
  SOCHDB_RETURN_IF_ERROR(fields.Number("misses", &record.misses));
  return record;
}

std::string EncodeEntryRecord(int64_t written_ms, int64_t expires_ms, std::string_view value) {
  std::string out(1, kEntryFormat);
  storage::PutVarint64(static_cast<uint64_t>(written_ms), &out);
  storage::PutVarint64(static_cast<uint64_t>(expires_ms), &out);
  out.append(value);
  return out;
}

absl::StatusOr<EntryRecord> DecodeEntryRecord(std::string_view bytes) {
  uint64_t written = 0, expires = 0;
  if (bytes.empty() || bytes[0] != kEntryFormat) {
    return absl::DataLossError("cache entry record has an unknown format");
  }
  bytes.remove_prefix(1);
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (!storage::GetVarint64(&bytes, &written) || !storage::GetVarint64(&bytes, &expires) ||
      written > kMax || expires > kMax) {
    return absl::DataLossError("cache entry record is truncated");
  }
  return EntryRecord{static_cast<int64_t>(written), static_cast<int64_t>(expires), bytes};
}

std::string CacheRecordKey(std::string_view tenant, std::string_view name) {
  return storage::KeyBuilder(storage::KeyFamily::kCacheMeta).Name(tenant).Name(name).key();
}

std::string EntryPrefix(std::string_view tenant, std::string_view name) {
  return storage::KeyBuilder(storage::KeyFamily::kCacheEntry).Name(tenant).Name(name).key();
}

std::string EntryKey(std::string_view prefix, std::string_view key) {
  return storage::KeyBuilder::After(prefix).Raw(key).key();
}

void SemanticCacheStore::Cache::Insert(const std::string& key, int64_t expires_ms,
                                       uint64_t entry_bytes) {
  Erase(key);
  auto [it, inserted] = entries.try_emplace(key);
  const std::string* stored = &it->first;
  it->second.expires_ms = expires_ms;
  it->second.bytes = entry_bytes;
  recency.push_front(stored);
  it->second.recency = recency.begin();
  if (expires_ms != 0) expiry.emplace(expires_ms, stored);
  bytes += entry_bytes;
}

void SemanticCacheStore::Cache::Erase(std::string_view key) {
  auto it = entries.find(key);
  if (it == entries.end()) return;
  recency.erase(it->second.recency);
  if (it->second.expires_ms != 0) expiry.erase({it->second.expires_ms, &it->first});
  bytes -= it->second.bytes;
  entries.erase(it);
}

void SemanticCacheStore::Cache::Touch(EntryMap::iterator it) {
  recency.splice(recency.begin(), recency, it->second.recency);
}

std::pair<uint64_t, uint64_t> SemanticCacheStore::Cache::LiveTotals(int64_t now_ms) const {
  uint64_t count = entries.size(), total = bytes;
  // Expired entries wait for the purge (at most one maintenance interval): subtract them.
  for (auto it = expiry.begin(); it != expiry.end() && it->first <= now_ms; ++it) {
    --count;
    total -= entries.find(*it->second)->second.bytes;
  }
  return {count, total};
}

CacheStats SemanticCacheStore::Cache::StatsLocked(int64_t now_ms) const {
  CacheStats stats;
  stats.name = name;
  stats.hits = hits.load(std::memory_order_relaxed);
  stats.misses = misses.load(std::memory_order_relaxed);
  std::tie(stats.entry_count, stats.size_bytes) = LiveTotals(now_ms);
  stats.dimension = record.dimension;
  stats.max_entries = record.max_entries;
  return stats;
}

CacheRecord SemanticCacheStore::Cache::RecordNow() const {
  CacheRecord now = record;
  now.hits = hits.load(std::memory_order_relaxed);
  now.misses = misses.load(std::memory_order_relaxed);
  return now;
}

std::vector<std::string> SemanticCacheStore::Cache::PlanShrink(int64_t now, uint64_t cap) const {
  std::vector<std::string> evicted;
  absl::flat_hash_set<const std::string*> expired;
  for (auto it = expiry.begin(); it != expiry.end() && it->first <= now; ++it) {
    evicted.push_back(*it->second);
    expired.insert(it->second);
  }
  for (auto it = recency.rbegin(); it != recency.rend() && entries.size() - evicted.size() > cap;
       ++it) {
    if (!expired.contains(*it)) evicted.push_back(**it);
  }
  return evicted;
}

absl::StatusOr<std::vector<std::string>> SemanticCacheStore::Cache::PlanEviction(
    std::string_view key, int64_t now, uint64_t limit) const {
  std::vector<std::string> evicted;
  const uint64_t max_entries = record.max_entries;
  const uint64_t cap = max_entries > 0 ? max_entries : limit;
  if (entries.contains(key) || entries.size() < cap) return evicted;
  // Expired entries go first (they are waiting for the purge anyway).
  for (auto it = expiry.begin(); it != expiry.end() && it->first <= now &&
                                       entries.size() - evicted.size() >= cap;
       ++it) {
    evicted.push_back(*it->second);
  }
  if (entries.size() - evicted.size() < cap) return evicted;
  if (max_entries == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cache '", AbslView(name), "' holds ", entries.size(),
        " entries, the limit (max_entries_per_cache); set max_entries with ConfigureCache to "
        "evict least-recently-used entries instead"));
  }
  for (auto it = recency.rbegin();
       it != recency.rend() && entries.size() - evicted.size() >= cap; ++it) {
    if (std::find(evicted.begin(), evicted.end(), **it) == evicted.end()) evicted.push_back(**it);
  }
  return evicted;
}

}  // namespace sochdb::cache
