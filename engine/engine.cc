#include "engine/engine.h"

#include <algorithm>
#include <filesystem>
#include <future>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace sochdb {
namespace {

// Records purged per store write; the purger loops while a round comes back full.
constexpr size_t kPurgeBatch = 1000;

// The names of the vector snapshot files in `vectors_dir`, or why it cannot be listed.
absl::StatusOr<std::vector<std::string>> SnapshotFileNames(
    const std::filesystem::path& vectors_dir,
    FileSystem* file_system) {
  SOCHDB_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                          file_system->ListDir(vectors_dir.string()));
  std::vector<std::string> snapshots;
  for (const std::string& name : names) {
    if (absl::EndsWith(name, ".snap")) snapshots.push_back(name);
  }
  return snapshots;
}

// Vector snapshots are derived from the store: beside a store that holds no database they are
// not data that can be served, they are evidence that the store is missing. Opening would create
// an empty store and sweep every snapshot away as belonging to no index. FAILED_PRECONDITION
// when `vectors_dir` holds snapshots and `store_dir` no store files.
absl::Status CheckSnapshotsHaveTheirStore(const std::filesystem::path& store_dir,
                                          const std::filesystem::path& vectors_dir,
                                          leveldb::Env* env, FileSystem* file_system) {
  if (!storage::ListStoreFiles(store_dir.string(), env).empty()) return absl::OkStatus();
  // A directory that cannot be listed (absent, most often) shows no snapshots to object to.
  std::vector<std::string> snapshots =
      SnapshotFileNames(vectors_dir, file_system).value_or(std::vector<std::string>());
  if (snapshots.empty()) return absl::OkStatus();
  std::sort(snapshots.begin(), snapshots.end());
  return absl::FailedPreconditionError(absl::StrCat(
      "inconsistent data directory: ", vectors_dir.string(), " holds ", snapshots.size(),
      " vector snapshot files (", snapshots.front(), snapshots.size() > 1 ? ", ..." : "", ") but ",
      store_dir.string(),
      " holds no store; the snapshots are derived from the store and cannot stand alone. "
      "Nothing was changed. Restore ",
      store_dir.string(), " from a backup, or, to start empty, move ", vectors_dir.string(),
      " away"));
}

// Before an open that --accept-log-loss lets drop write-ahead log data: the snapshots may cover
// writes the drop takes away, and one that covers a batch lost from the middle of a log is not
// seen as newer than the store (later batches survive), so every snapshot goes, durably, before
// the store changes; each space is then rebuilt from its records.
absl::Status RemoveSnapshots(const std::filesystem::path& vectors_dir, FileSystem* file_system) {
  // Here a listing that fails must stop the open: the drop is safe only once they are gone. The
  // directory is created first, so that its absence is not such a failure.
  SOCHDB_RETURN_IF_ERROR(file_system->CreateDirs(vectors_dir.string()));
  SOCHDB_ASSIGN_OR_RETURN(const std::vector<std::string> snapshots,
                          SnapshotFileNames(vectors_dir, file_system));
  if (snapshots.empty()) return absl::OkStatus();
  for (const std::string& name : snapshots) {
    SOCHDB_RETURN_IF_ERROR(file_system->RemoveFile((vectors_dir / name).string()));
  }
  SOCHDB_RETURN_IF_ERROR(file_system->SyncDir(vectors_dir.string()));
  spdlog::warn(
      "accepted write-ahead log loss: removed {} vector snapshots (they may cover the "
      "lost writes); their indexes are rebuilt from the store",
      snapshots.size());
  return absl::OkStatus();
}

// The tables of options.tokenizer_dir, or FAILED_PRECONDITION saying why there are none.
absl::StatusOr<std::unique_ptr<context::Tokenizers>> LoadTokenizers(const std::string& dir) {
  if (dir.empty()) {
    return absl::FailedPreconditionError(
        "token counting is unavailable: no tokenizer directory is configured");
  }
  const absl::Time start = absl::Now();
  auto tokenizers = context::Tokenizers::Load(dir);
  if (!tokenizers.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token counting is unavailable: ", tokenizers.status().message()));
  }
  spdlog::info("token tables cl100k_base and o200k_base loaded from {} in {} ms", dir,
               absl::ToInt64Milliseconds(absl::Now() - start));
  return tokenizers;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options,
                                                     vector::VectorSpaceObserver* vector_observer) {
  // The token tables load while the store and the indexes open (they take ~0.2 s of CPU).
  auto tokenizers = std::async(std::launch::async, LoadTokenizers, options.tokenizer_dir);
  const std::filesystem::path store_dir = std::filesystem::path(options.data_dir) / "store";
  const std::filesystem::path vectors_dir = std::filesystem::path(options.data_dir) / "vectors";
  SOCHDB_RETURN_IF_ERROR(CheckSnapshotsHaveTheirStore(store_dir, vectors_dir, options.store.env,
                                                      options.file_system));
  if (absl::Status created = options.file_system->CreateDirs(store_dir.string()); !created.ok()) {
    return absl::FailedPreconditionError(created.message());
  }
  storage::StoreOptions store_options = options.store;
  store_options.before_dropping_log_data = [vectors_dir, file_system = options.file_system] {
    return RemoveSnapshots(vectors_dir, file_system);
  };
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store,
                          storage::Store::Open(store_dir.string(), store_options));
  auto usage = std::make_unique<namespaces::UsageLedger>();
  vector::VectorIndexStoreOptions vector_options;
  vector_options.snapshot_dir = vectors_dir.string();
  vector_options.file_system = options.file_system;
  vector_options.maintenance_interval = options.vector_maintenance_interval;
  vector_options.snapshot_every_changes = options.vector_snapshot_every_changes;
  vector_options.clock = options.clock;
  SOCHDB_ASSIGN_OR_RETURN(
      std::unique_ptr<vector::VectorIndexStore> vector_indexes,
      vector::VectorIndexStore::Open(store.get(), vector_options, vector_observer));
  collection::CollectionStoreOptions collection_options;
  collection_options.snapshot_dir = vector_options.snapshot_dir;
  collection_options.file_system = options.file_system;
  collection_options.maintenance_interval = options.vector_maintenance_interval;
  collection_options.snapshot_every_changes = options.vector_snapshot_every_changes;
  collection_options.clock = options.clock;
  collection_options.usage = usage.get();
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<collection::CollectionStore> collections,
                          collection::CollectionStore::Open(store.get(), collection_options));
  Parts parts;
  parts.usage = std::move(usage);
  parts.store = std::move(store);
  parts.vector_indexes = std::move(vector_indexes);
  parts.collections = std::move(collections);
  // Before the registry: its Track counts what a namespace holds through the KV store.
  parts.kv = std::make_unique<kv::KvStore>(parts.store.get(), options.clock, options.kv_limits,
                                           parts.usage.get());
  parts.graph = std::make_unique<graph::GraphStore>(parts.store.get(), options.clock,
                                                    options.graph_limits, parts.usage.get());
  memory::MemoryStoreOptions memory_options;
  memory_options.limits = options.memory_limits;
  memory_options.snapshot_dir = vectors_dir.string();
  memory_options.file_system = options.file_system;
  memory_options.clock = options.clock;
  memory_options.usage = parts.usage.get();
  parts.memory = std::make_unique<memory::MemoryStore>(parts.store.get(), memory_options);
  cache::SemanticCacheOptions cache_options;
  cache_options.snapshot_dir = vectors_dir.string();
  cache_options.file_system = options.file_system;
  cache_options.clock = options.clock;
  cache_options.maintenance_interval = options.cache_maintenance_interval;
  cache_options.snapshot_every_changes = options.vector_snapshot_every_changes;
  cache_options.limits = options.cache_limits;
  cache_options.ef_search = options.cache_ef_search;
  SOCHDB_ASSIGN_OR_RETURN(parts.cache,
                          cache::SemanticCacheStore::Open(parts.store.get(), cache_options));
  SOCHDB_ASSIGN_OR_RETURN(parts.policies, policy::PolicyStore::Open(parts.store.get()));
  SOCHDB_ASSIGN_OR_RETURN(parts.audit_log, policy::AuditLog::Open(parts.store.get(), options.clock,
                                                                  options.audit_retention));
  // Opened last: it finishes the namespace deletes a crash interrupted, through the stores
  // above, and has the ledger count every registered namespace.
  namespaces::NamespaceRegistryOptions namespace_options;
  namespace_options.clock = options.clock;
  namespace_options.data_owners = {parts.memory.get()};
  SOCHDB_ASSIGN_OR_RETURN(
      parts.namespaces,
      namespaces::NamespaceRegistry::Open(parts.store.get(), parts.collections.get(),
                                          parts.usage.get(), namespace_options));
  parts.tokenizers = tokenizers.get();
  return std::unique_ptr<Engine>(new Engine(options, std::move(parts)));
}

Engine::Engine(EngineOptions options, Parts parts)
    : options_(std::move(options)),
      usage_(std::move(parts.usage)),
      store_(std::move(parts.store)),
      kv_(std::move(parts.kv)),
      graph_(std::move(parts.graph)),
      memory_(std::move(parts.memory)),
      cache_(std::move(parts.cache)),
      vector_indexes_(std::move(parts.vector_indexes)),
      collections_(std::move(parts.collections)),
      policies_(std::move(parts.policies)),
      audit_log_(std::move(parts.audit_log)),
      namespaces_(std::move(parts.namespaces)),
      governance_(std::make_unique<governance::Governance>(policies_.get(), audit_log_.get(),
                                                           namespaces_.get())),
      tokenizers_(std::move(parts.tokenizers)) {
  purger_ = std::thread([this] { PurgeLoop(); });
}

absl::StatusOr<const context::Tokenizers*> Engine::tokenizers() const {
  if (!tokenizers_.ok()) return tokenizers_.status();
  return tokenizers_->get();
}

Engine::~Engine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  purger_.join();
  governance_.reset();
  namespaces_.reset();      // uses the collections
  audit_log_.reset();
  policies_.reset();
  graph_.reset();
  memory_.reset();          // snapshots its vector spaces
  cache_.reset();           // writes hit/miss counts, snapshots cache indexes
  collections_.reset();     // snapshots vector spaces with uncovered changes
  vector_indexes_.reset();
  kv_.reset();
  store_.reset();
}

void Engine::PurgeLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.ttl_purge_interval);
      if (stopping_) return;
    }
    const uint64_t purged = PurgeRound();
    TrimAuditLog();
    memory_->Maintain();
    absl::MutexLock lock(&mu_);
    ttl_purged_ += purged;
  }
}

uint64_t Engine::PurgeRound() {
  uint64_t purged = 0;
  for (;;) {
    absl::StatusOr<size_t> n = kv_->PurgeExpired(kPurgeBatch);
    if (!n.ok()) {
      // Storage errors (a fault state, say) are reported once, not per key or per round: the
      // purger meets the same one every second until it goes away.
      const std::string error = n.status().ToString();
      if (error != last_purge_error_) spdlog::warn("TTL purge stopped: {}", error);
      last_purge_error_ = error;
      return purged;
    }
    last_purge_error_.clear();
    purged += *n;
    if (*n < kPurgeBatch) return purged;
  }
}

void Engine::TrimAuditLog() {
  absl::StatusOr<uint64_t> removed = audit_log_->Trim();
  if (removed.ok()) {
    last_trim_error_.clear();
    return;
  }
  const std::string error = removed.status().ToString();
  if (error != last_trim_error_) spdlog::warn("audit log trim stopped: {}", error);
  last_trim_error_ = error;
}

EngineStats Engine::Stats() const {
  EngineStats stats;
  stats.store = store_->Stats();
  stats.vector_indexes = vector_indexes_->IndexCount();
  stats.vectors = vector_indexes_->TotalVectors();
  stats.vector_memory_bytes = vector_indexes_->TotalMemoryBytes();
  stats.vector_searches = vector_indexes_->searches();
  stats.ttl_undecodable_index_entries = kv_->undecodable_index_entries();
  stats.collections = collections_->CollectionCount();
  stats.documents = collections_->TotalDocuments();
  stats.audit_records = audit_log_->records();
  stats.caches = cache_->Totals();
  stats.memory = memory_->IndexStats();
  absl::MutexLock lock(&mu_);
  stats.ttl_purged = ttl_purged_;
  return stats;
}

}  // namespace sochdb
