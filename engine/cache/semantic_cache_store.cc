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
// HNSW parameters of every cache's index. The search breadth a lookup uses is
// SemanticCacheOptions::ef_search, passed per search: the spec's stays 128 because it is part of
// the snapshot's identity (a different one would rebuild every cache's index at start-up).
constexpr uint32_t kHnswM = 16;
constexpr uint32_t kEfConstruction = 200;
constexpr uint32_t kSpecEfSearch = 128;
// Cache records one count flush writes at once (each cache's write lock is held until the write;
// absl tracks at most 40 held locks per thread for its deadlock detection).
constexpr size_t kFlushBatch = 32;

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SemanticCacheStore>> SemanticCacheStore::Open(
    storage::Store* store, SemanticCacheOptions options) {
  if (options.ef_search < 1 || options.ef_search > vector::kMaxEf) {
    return absl::InvalidArgumentError(absl::StrCat("ef_search is ", options.ef_search,
                                                   "; it must be 1..", vector::kMaxEf));
  }
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
  const std::vector<CachePtr> caches = AllCaches();
  absl::Status flushed = FlushCounts(caches);
  if (!flushed.ok()) spdlog::warn("cache counts at shutdown: {}", flushed.ToString());
  for (const CachePtr& cache : caches) {
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

std::vector<std::string> SemanticCacheStore::SpaceScope(const Cache& cache,
                                                        uint64_t incarnation) {
  return {kScopeTag, cache.tenant, cache.name, vector::EncodeVectorId(incarnation)};
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
  spec.ef_search = kSpecEfSearch;
  // Any failure, the spec's included (a damaged record's dimension), puts the cache out of
  // service: a cache with a dimension and no index would answer misses and take Puts.
  absl::StatusOr<vector::IndexSpec> resolved = vector::ResolveSpec(spec);
  absl::StatusOr<std::unique_ptr<vector::VectorSpace>> opened;
  if (!resolved.ok()) {
    opened = resolved.status();
  } else {
    vector::VectorSpaceOptions space;
    space.scope = SpaceScope(cache, incarnation);
    space.spec = *resolved;
    space.snapshot_path = SnapshotPath(incarnation);
    space.file_system = options_.file_system;
    space.snapshot_every_changes = options_.snapshot_every_changes;
    opened = vector::VectorSpace::Open(store_, std::move(space));
  }
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
      cache->hits.store(record->hits, std::memory_order_relaxed);
      cache->misses.store(record->misses, std::memory_order_relaxed);
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
  absl::ReaderMutexLock lock(&mu_);
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
  absl::ReaderMutexLock lock(&mu_);
  std::vector<CachePtr> all;
  all.reserve(caches_.size());
  for (const auto& [key, cache] : caches_) all.push_back(cache);
  return all;
}

absl::Status SemanticCacheStore::WriteRecord(Cache& cache, storage::WriteBatch* batch) {
  std::string record;
  {
    absl::ReaderMutexLock lock(&cache.mu);
    record = EncodeCacheRecord(cache.RecordNow());
  }
  batch->Put(CacheRecordKey(cache.tenant, cache.name), record);
  SOCHDB_RETURN_IF_ERROR(store_->Write(batch));
  absl::MutexLock lock(&cache.mu);
  cache.record_stale = false;
  return absl::OkStatus();
}

absl::Status SemanticCacheStore::FlushCounts(const std::vector<CachePtr>& caches) {
  absl::Status first;
  for (size_t begin = 0; begin < caches.size(); begin += kFlushBatch) {
    std::vector<Cache*> held;
    storage::WriteBatch batch;
    for (size_t i = begin; i < std::min(caches.size(), begin + kFlushBatch); ++i) {
      Cache& cache = *caches[i];
      // Held until the write: no writer's newer record of this cache can land before it.
      cache.write_mu.Lock();
      absl::ReaderMutexLock lock(&cache.mu);
      // Cleared before the counts are read: a Get counting meanwhile sets it again.
      const bool counts =
          !cache.dropped && cache.counts_dirty.exchange(false, std::memory_order_relaxed);
      if (cache.dropped || (!counts && !cache.record_stale)) {
        cache.write_mu.Unlock();
        continue;
      }
      batch.Put(CacheRecordKey(cache.tenant, cache.name), EncodeCacheRecord(cache.RecordNow()));
      held.push_back(&cache);
    }
    const absl::Status written = held.empty() ? absl::OkStatus() : store_->Write(&batch);
    for (Cache* cache : held) {
      if (written.ok()) {
        absl::MutexLock lock(&cache->mu);
        cache->record_stale = false;
      } else {
        cache->counts_dirty.store(true, std::memory_order_relaxed);
      }
      cache->write_mu.Unlock();
    }
    if (!written.ok() && first.ok()) first = written;
  }
  return first;
}

absl::StatusOr<CacheStats> SemanticCacheStore::Stats(std::string_view tenant,
                                                     std::string_view name) const {
  CachePtr cache = Find(tenant, name);
  if (cache == nullptr) return absl::NotFoundError(absl::StrCat("Cache '", AbslView(name), "' not found"));
  const int64_t now = options_.clock->NowMillis();
  absl::ReaderMutexLock lock(&cache->mu);
  return cache->StatsLocked(now);
}

std::vector<CacheStats> SemanticCacheStore::List(std::string_view tenant) const {
  std::vector<CachePtr> mine;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (auto t = caches_.lower_bound(Key(tenant, ""));
         t != caches_.end() && t->first.first == tenant; ++t) {
      mine.push_back(t->second);
    }
  }
  const int64_t now = options_.clock->NowMillis();
  std::vector<CacheStats> stats;
  for (const CachePtr& cache : mine) {
    absl::ReaderMutexLock lock(&cache->mu);
    stats.push_back(cache->StatsLocked(now));
  }
  return stats;
}

CacheTotals SemanticCacheStore::Totals() const {
  CacheTotals totals;
  const int64_t now = options_.clock->NowMillis();
  for (const CachePtr& cache : AllCaches()) {
    absl::ReaderMutexLock lock(&cache->mu);
    ++totals.caches;
    totals.entries += cache->LiveTotals(now).first;
  }
  totals.hits = gets_hit_.load(std::memory_order_relaxed);
  totals.misses = gets_missed_.load(std::memory_order_relaxed);
  return totals;
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
      if (max_entries > 0) evicted = cache->PlanShrink(options_.clock->NowMillis(), max_entries);
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
  uint64_t incarnation = 0;
  {
    absl::MutexLock lock(&cache->mu);
    if (cache->dropped) return false;
    space = cache->space;
    incarnation = cache->record.incarnation;
  }
  absl::Status removed = RemoveCacheData(*cache, space.get(), incarnation);
  if (!removed.ok()) {
    // The index is retired (DropAll's first step, never undone): the cache stays out of
    // service until a ClearCache succeeds, which removes what is left (or a restart, which
    // opens what is left).
    absl::MutexLock lock(&cache->mu);
    if (space != nullptr) {
      cache->space = nullptr;
      cache->open_error = absl::UnavailableError(absl::StrCat(
          "cache '", AbslView(name), "' is out of service: ClearCache failed part-way (",
          removed.message(), "); call ClearCache again"));
    }
    return removed;
  }
  {
    absl::MutexLock lock(&cache->mu);
    cache->dropped = true;
  }
  absl::MutexLock lock(&mu_);
  caches_.erase(Key(tenant, name));
  return true;
}

absl::Status SemanticCacheStore::RemoveCacheData(Cache& cache, vector::VectorSpace* space,
                                                 uint64_t incarnation) {
  // The embeddings first, the record last: a crash part-way leaves a cache whose entries have
  // lost their embeddings, which the next start-up removes (LoadEntries). An index that is not
  // open (it failed to, or a Clear before failed part-way) is removed by its scope.
  if (space != nullptr) {
    SOCHDB_RETURN_IF_ERROR(space->DropAll());
  } else {
    SOCHDB_RETURN_IF_ERROR(vector::VectorSpace::DropScope(
        store_, SpaceScope(cache, incarnation), options_.file_system, SnapshotPath(incarnation)));
  }
  SOCHDB_RETURN_IF_ERROR(store_->DeletePrefix(cache.entry_prefix));
  storage::WriteBatch batch;
  batch.Delete(CacheRecordKey(cache.tenant, cache.name));
  return store_->Write(&batch);
}

absl::StatusOr<uint64_t> SemanticCacheStore::RunMaintenance() {
  uint64_t purged = 0;
  absl::Status first;
  const std::vector<CachePtr> caches = AllCaches();
  for (const CachePtr& cache : caches) {
    absl::StatusOr<uint64_t> n = PurgeExpired(*cache);
    if (n.ok()) purged += *n;
    if (!n.ok() && first.ok()) first = n.status();
    std::shared_ptr<vector::VectorSpace> space;
    {
      absl::MutexLock lock(&cache->mu);
      space = cache->space;
    }
    if (space == nullptr) continue;
    absl::Status maintained = space->Maintain();
    if (!maintained.ok() && first.ok()) first = maintained;
  }
  absl::Status flushed = FlushCounts(caches);
  if (!flushed.ok() && first.ok()) first = flushed;
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
