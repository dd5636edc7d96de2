// SemanticCacheStore: opening and loading, the registry of caches, whole-cache operations
// (Stats, List, Configure, Clear) and maintenance. Entry operations: cache_entries.cc.
#include "engine/cache/semantic_cache_store.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/cache/cache_state.h"
#include "engine/common/files.h"
#include "engine/common/random_id.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/vector/ann_index.h"
#include "engine/vector/vector_index_store.h"
#include "spdlog/spdlog.h"

namespace sochdb::cache {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kScopeTag[] = "sc";
// HNSW parameters of every cache's index: M 16 and ef_search 128 keep a lookup at 100k x 384
// well under a millisecond with the nearest entry found (the threshold decides on it alone).
constexpr uint32_t kHnswM = 16;
constexpr uint32_t kEfConstruction = 200;
constexpr uint32_t kEfSearch = 128;

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SemanticCacheStore>> SemanticCacheStore::Open(
    storage::Store* store, SemanticCacheOptions options) {
  if (absl::Status created = options.file_system->CreateDirs(options.snapshot_dir);
      !created.ok()) {
    return absl::FailedPreconditionError(created.message());
  }
  std::unique_ptr<SemanticCacheStore> caches(new SemanticCacheStore(store, std::move(options)));
  SOCHDB_RETURN_IF_ERROR(caches->LoadAll());
  caches->maintenance_ = std::thread([c = caches.get()] { c->MaintenanceLoop(); });
  return caches;
}

SemanticCacheStore::SemanticCacheStore(storage::Store* store, SemanticCacheOptions options)
    : store_(store), options_(std::move(options)) {}

SemanticCacheStore::~SemanticCacheStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (maintenance_.joinable()) maintenance_.join();
  for (const CachePtr& cache : AllCaches()) {
    absl::Status flushed = FlushCounts(*cache);
    if (!flushed.ok()) spdlog::warn("cache {} counts at shutdown: {}", cache->name, flushed.ToString());
    std::shared_ptr<vector::VectorSpace> space;
    {
      absl::MutexLock lock(&cache->mu);
      space = cache->space;
    }
    if (space == nullptr) continue;
    absl::Status s = space->Snapshot();
    if (!s.ok()) spdlog::warn("snapshot of cache {} at shutdown: {}", cache->name, s.ToString());
  }
}

std::string SemanticCacheStore::SnapshotPath(uint64_t incarnation) const {
  return absl::StrFormat("%s/sc-%016x.snap", options_.snapshot_dir, incarnation);
}

absl::Status SemanticCacheStore::OpenSpace(Cache& cache) const {
  vector::IndexSpec spec;
  uint64_t incarnation = 0;
  {
    absl::MutexLock lock(&cache.mu);
    spec.dimension = cache.record.dimension;
    incarnation = cache.record.incarnation;
  }
  spec.metric = vector::Metric::kCosine;
  spec.m = kHnswM;
  spec.ef_construction = kEfConstruction;
  spec.ef_search = kEfSearch;
  SOCHDB_ASSIGN_OR_RETURN(spec, vector::ResolveSpec(spec));
  vector::VectorSpaceOptions space;
  space.scope = {kScopeTag, cache.tenant, cache.name, vector::EncodeVectorId(incarnation)};
  space.spec = spec;
  space.snapshot_path = SnapshotPath(incarnation);
  space.file_system = options_.file_system;
  space.snapshot_every_changes = options_.snapshot_every_changes;
  absl::StatusOr<std::unique_ptr<vector::VectorSpace>> opened =
      vector::VectorSpace::Open(store_, std::move(space));
  absl::MutexLock lock(&cache.mu);
  if (!opened.ok()) {
    cache.open_error = opened.status();
    return opened.status();
  }
  cache.space = std::shared_ptr<vector::VectorSpace>(*std::move(opened));
  return absl::OkStatus();
}

absl::Status SemanticCacheStore::LoadAll() {
  const std::string prefix = KeyBuilder(KeyFamily::kCacheMeta).key();
  std::vector<std::string> live_snapshots;
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    storage::KeyReader key(it->key());
    KeyFamily family;
    std::string_view tenant, name;
    if (!key.Family(&family) || !key.Name(&tenant) || !key.Name(&name)) {
      spdlog::error("skipping a cache record with an unreadable key");
      continue;
    }
    absl::StatusOr<CacheRecord> record = DecodeCacheRecord(it->value());
    if (!record.ok()) return record.status();
    auto cache = std::make_shared<Cache>(std::string(tenant), std::string(name));
    {
      absl::MutexLock lock(&cache->mu);
      cache->record = *record;
      cache->record_stale = false;
    }
    live_snapshots.push_back(SnapshotPath(record->incarnation));
    if (record->dimension > 0) {
      absl::Status opened = OpenSpace(*cache);
      if (!opened.ok()) {
        spdlog::error("cache {}:{} is out of service: {}", tenant, name, opened.ToString());
      }
    }
    absl::MutexLock lock(&mu_);
    caches_.emplace(Key(tenant, name), std::move(cache));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  for (const std::string& path : StraySnapshotFiles(options_.file_system, options_.snapshot_dir,
                                                    "sc-", live_snapshots)) {
    spdlog::warn("removing {}: the snapshot of a cleared cache, or one cut short", path);
    absl::Status s = options_.file_system->RemoveFile(path);
    if (!s.ok()) spdlog::warn("cannot remove {}: {}", path, s.ToString());
  }
  return LoadEntries();
}

// One pass over the entry records. An entry whose cache has no record or whose embedding is
// missing (a Clear or a purge cut short by a crash), and an embedding without its entry, are
// removed: each is half of a removal.
absl::Status SemanticCacheStore::LoadEntries() {
  struct Loaded {
    int64_t written_ms;
    std::string key;
    int64_t expires_ms;
    uint64_t bytes;
  };
  std::map<Cache*, std::vector<Loaded>> loaded;
  const std::string prefix = KeyBuilder(KeyFamily::kCacheEntry).key();
  storage::WriteBatch orphans;
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  CachePtr cache;
  for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    storage::KeyReader key(it->key());
    KeyFamily family;
    std::string_view tenant, name;
    if (!key.Family(&family) || !key.Name(&tenant) || !key.Name(&name)) continue;
    if (cache == nullptr || cache->tenant != tenant || cache->name != name) {
      cache = Find(tenant, name);
    }
    absl::StatusOr<EntryRecord> record = DecodeEntryRecord(it->value());
    std::shared_ptr<vector::VectorSpace> space;
    if (cache != nullptr) {
      absl::MutexLock lock(&cache->mu);
      space = cache->space;
    }
    // A cache whose index did not open (its open_error answers its calls) keeps its entries
    // for a later start: only entries without a cache, or without their embedding in an index
    // that did open, are orphans.
    if (cache != nullptr && space == nullptr) continue;
    std::string entry_key(key.Rest());
    if (!record.ok() || cache == nullptr || !space->Contains(entry_key)) {
      orphans.Delete(it->key());
      continue;
    }
    const uint64_t bytes =
        entry_key.size() + record->value.size() + 4ull * space->spec().dimension;
    loaded[cache.get()].push_back(
        {record->written_ms, std::move(entry_key), record->expires_ms, bytes});
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  for (auto& loaded_cache : loaded) {
    Cache* const c = loaded_cache.first;
    std::vector<Loaded>& entries = loaded_cache.second;
    // Oldest first: each Insert makes its entry the most recent.
    std::sort(entries.begin(), entries.end(),
              [](const Loaded& a, const Loaded& b) { return a.written_ms < b.written_ms; });
    absl::MutexLock lock(&c->mu);
    for (const Loaded& e : entries) c->Insert(e.key, e.expires_ms, e.bytes);
  }
  SOCHDB_RETURN_IF_ERROR(RemoveStrayEmbeddings());
  if (orphans.Count() > 0) {
    spdlog::warn("removing {} cache entries left without their cache or embedding",
                 orphans.Count());
    SOCHDB_RETURN_IF_ERROR(store_->Write(&orphans));
  }
  return absl::OkStatus();
}

absl::Status SemanticCacheStore::RemoveStrayEmbeddings() {
  for (const CachePtr& c : AllCaches()) {
    std::shared_ptr<vector::VectorSpace> space;
    {
      absl::MutexLock lock(&c->mu);
      space = c->space;
    }
    if (space == nullptr) continue;
    std::vector<std::string> ids;
    SOCHDB_RETURN_IF_ERROR(
        space->ForEach([&](std::string_view id, std::string_view) { ids.emplace_back(id); }));
    std::vector<std::string> strays;
    {
      absl::MutexLock lock(&c->mu);
      for (std::string& id : ids) {
        if (!c->entries.contains(id)) strays.push_back(std::move(id));
      }
    }
    if (strays.empty()) continue;
    spdlog::warn("cache {}: removing {} embeddings left without their entry", c->name,
                 strays.size());
    const std::vector<std::string_view> stray_ids(strays.begin(), strays.end());
    storage::WriteBatch batch;
    SOCHDB_RETURN_IF_ERROR(space->Delete(stray_ids, &batch).status());
  }
  return absl::OkStatus();
}

SemanticCacheStore::CachePtr SemanticCacheStore::Find(std::string_view tenant,
                                                      std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = caches_.find(Key(tenant, name));
  return it == caches_.end() ? nullptr : it->second;
}

absl::StatusOr<SemanticCacheStore::CachePtr> SemanticCacheStore::FindOrCreate(
    std::string_view tenant, std::string_view name) {
  absl::MutexLock lock(&mu_);
  const Key key(tenant, name);
  auto it = caches_.find(key);
  if (it != caches_.end()) return it->second;
  // The tenant's caches are one contiguous range of the map.
  size_t held = 0;
  for (auto t = caches_.lower_bound(Key(tenant, "")); t != caches_.end() && t->first.first == tenant;
       ++t) {
    ++held;
  }
  if (held >= options_.limits.max_caches_per_tenant) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the tenant holds ", held, " caches, the limit (max_caches_per_tenant); clear one first"));
  }
  auto cache = std::make_shared<Cache>(key.first, key.second);
  {
    absl::MutexLock cache_lock(&cache->mu);
    cache->record.incarnation = RandomUint64();
  }
  caches_.emplace(key, cache);
  return cache;
}

std::vector<SemanticCacheStore::CachePtr> SemanticCacheStore::AllCaches() const {
  absl::MutexLock lock(&mu_);
  std::vector<CachePtr> all;
  all.reserve(caches_.size());
  for (const auto& [key, cache] : caches_) all.push_back(cache);
  return all;
}

absl::Status SemanticCacheStore::WriteRecord(Cache& cache, storage::WriteBatch* batch) {
  std::string record;
  {
    absl::MutexLock lock(&cache.mu);
    record = EncodeCacheRecord(cache.record);
  }
  batch->Put(CacheRecordKey(cache.tenant, cache.name), record);
  SOCHDB_RETURN_IF_ERROR(store_->Write(batch));
  absl::MutexLock lock(&cache.mu);
  cache.record_stale = false;
  return absl::OkStatus();
}

absl::Status SemanticCacheStore::FlushCounts(Cache& cache) {
  absl::MutexLock write_lock(&cache.write_mu);
  {
    absl::MutexLock lock(&cache.mu);
    if ((!cache.counts_dirty && !cache.record_stale) || cache.dropped) return absl::OkStatus();
    cache.counts_dirty = false;
  }
  storage::WriteBatch batch;
  absl::Status written = WriteRecord(cache, &batch);
  if (!written.ok()) {
    absl::MutexLock lock(&cache.mu);
    cache.counts_dirty = true;
  }
  return written;
}

absl::StatusOr<CacheStats> SemanticCacheStore::Stats(std::string_view tenant,
                                                     std::string_view name) const {
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) return absl::NotFoundError(absl::StrCat("Cache '", AbslView(name), "' not found"));
  const int64_t now = options_.clock->NowMillis();
  absl::MutexLock lock(&cache->mu);
  return cache->StatsLocked(now);
}

std::vector<CacheStats> SemanticCacheStore::List(std::string_view tenant) const {
  std::vector<CachePtr> mine;
  {
    absl::MutexLock lock(&mu_);
    for (auto t = caches_.lower_bound(Key(tenant, ""));
         t != caches_.end() && t->first.first == tenant; ++t) {
      mine.push_back(t->second);
    }
  }
  const int64_t now = options_.clock->NowMillis();
  std::vector<CacheStats> stats;
  for (const CachePtr& cache : mine) {
    absl::MutexLock lock(&cache->mu);
    stats.push_back(cache->StatsLocked(now));
  }
  return stats;
}

absl::StatusOr<CacheStats> SemanticCacheStore::Configure(std::string_view tenant,
                                                         std::string_view name,
                                                         uint64_t max_entries) {
  if (max_entries > options_.limits.max_entries_per_cache) {
    return absl::InvalidArgumentError(absl::StrCat("max_entries is ", max_entries,
                                                   "; the limit is ",
                                                   options_.limits.max_entries_per_cache));
  }
  for (;;) {
    SOCHDB_ASSIGN_OR_RETURN(CachePtr cache, FindOrCreate(tenant, name));
    absl::MutexLock write_lock(&cache->write_mu);
    std::vector<std::string> evicted;
    {
      absl::MutexLock lock(&cache->mu);
      if (cache->dropped) continue;
      cache->record.max_entries = max_entries;
      for (auto it = cache->recency.rbegin();
           max_entries > 0 && it != cache->recency.rend() &&
           cache->entries.size() - evicted.size() > max_entries;
           ++it) {
        evicted.push_back(**it);
      }
    }
    storage::WriteBatch batch;
    SOCHDB_RETURN_IF_ERROR(WriteRecord(*cache, &batch));
    SOCHDB_RETURN_IF_ERROR(RemoveKeys(*cache, evicted).status());
    const int64_t now = options_.clock->NowMillis();
    absl::MutexLock lock(&cache->mu);
    return cache->StatsLocked(now);
  }
}

absl::StatusOr<bool> SemanticCacheStore::Clear(std::string_view tenant, std::string_view name) {
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) return false;
  absl::MutexLock write_lock(&cache->write_mu);
  std::shared_ptr<vector::VectorSpace> space;
  {
    absl::MutexLock lock(&cache->mu);
    if (cache->dropped) return false;
    space = cache->space;
  }
  // The embeddings first, the record last: a crash part-way leaves a cache whose entries have
  // lost their embeddings, which the next start-up removes (LoadEntries).
  if (space != nullptr) SOCHDB_RETURN_IF_ERROR(space->DropAll());
  SOCHDB_RETURN_IF_ERROR(store_->DeletePrefix(cache->entry_prefix));
  storage::WriteBatch batch;
  batch.Delete(CacheRecordKey(cache->tenant, cache->name));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  {
    absl::MutexLock lock(&cache->mu);
    cache->dropped = true;
  }
  absl::MutexLock lock(&mu_);
  caches_.erase(Key(tenant, name));
  return true;
}

absl::StatusOr<uint64_t> SemanticCacheStore::RunMaintenance() {
  uint64_t purged = 0;
  absl::Status first;
  for (const CachePtr& cache : AllCaches()) {
    absl::StatusOr<uint64_t> n = PurgeExpired(*cache);
    if (n.ok()) purged += *n;
    if (!n.ok() && first.ok()) first = n.status();
    absl::Status flushed = FlushCounts(*cache);
    if (!flushed.ok() && first.ok()) first = flushed;
    std::shared_ptr<vector::VectorSpace> space;
    {
      absl::MutexLock lock(&cache->mu);
      space = cache->space;
    }
    if (space == nullptr) continue;
    absl::Status maintained = space->Maintain();
    if (!maintained.ok() && first.ok()) first = maintained;
  }
  if (!first.ok()) return first;
  return purged;
}

void SemanticCacheStore::MaintenanceLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.maintenance_interval);
      if (stopping_) return;
    }
    absl::StatusOr<uint64_t> round = RunMaintenance();
    // Storage errors (a fault state, say) are logged once, not every round.
    const std::string error = round.ok() ? "" : round.status().ToString();
    if (!error.empty() && error != last_maintenance_error_) {
      spdlog::warn("semantic cache maintenance stopped: {}", error);
    }
    last_maintenance_error_ = error;
  }
}

}  // namespace sochdb::cache
