#include "engine/engine.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace sochdb {
namespace {

// Records purged per store write; the purger loops while a round comes back full.
constexpr size_t kPurgeBatch = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  std::error_code error;
  const std::filesystem::path store_dir = std::filesystem::path(options.data_dir) / "store";
  std::filesystem::create_directories(store_dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data directory ", store_dir.string(), ": ", error.message()));
  }
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store,
                          storage::Store::Open(store_dir.string(), options.store));
  vector::VectorIndexStoreOptions vector_options;
  vector_options.snapshot_dir = (std::filesystem::path(options.data_dir) / "vectors").string();
  vector_options.maintenance_interval = options.vector_maintenance_interval;
  vector_options.snapshot_every_changes = options.vector_snapshot_every_changes;
  vector_options.clock = options.clock;
  vector_options.adjust_space = options.adjust_vector_space;
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<vector::VectorIndexStore> vector_indexes,
                          vector::VectorIndexStore::Open(store.get(), vector_options));
  collection::CollectionStoreOptions collection_options;
  collection_options.snapshot_dir = vector_options.snapshot_dir;
  collection_options.maintenance_interval = options.vector_maintenance_interval;
  collection_options.snapshot_every_changes = options.vector_snapshot_every_changes;
  collection_options.clock = options.clock;
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<collection::CollectionStore> collections,
                          collection::CollectionStore::Open(store.get(), collection_options));
  return std::unique_ptr<Engine>(new Engine(options, std::move(store), std::move(vector_indexes),
                                            std::move(collections)));
}

Engine::Engine(EngineOptions options, std::unique_ptr<storage::Store> store,
               std::unique_ptr<vector::VectorIndexStore> vector_indexes,
               std::unique_ptr<collection::CollectionStore> collections)
    : options_(std::move(options)),
      store_(std::move(store)),
      vector_indexes_(std::move(vector_indexes)),
      collections_(std::move(collections)) {
  kv_ = std::make_unique<kv::KvStore>(store_.get(), options_.clock, options_.kv_limits);
  purger_ = std::thread([this] { PurgeLoop(); });
}

Engine::~Engine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  purger_.join();
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
    absl::MutexLock lock(&mu_);
    ttl_purged_ += purged;
  }
}

uint64_t Engine::PurgeRound() {
  uint64_t purged = 0;
  for (;;) {
    absl::StatusOr<size_t> n = kv_->PurgeExpired(kPurgeBatch);
    if (!n.ok()) {
      // Storage errors (a fault state, say) are reported once per round, not per key.
      spdlog::warn("TTL purge stopped: {}", n.status().ToString());
      return purged;
    }
    purged += *n;
    if (*n < kPurgeBatch) return purged;
  }
}

EngineStats Engine::Stats() const {
  EngineStats stats;
  stats.store = store_->Stats();
  stats.vector_indexes = vector_indexes_->IndexCount();
  stats.vectors = vector_indexes_->TotalVectors();
  stats.vector_memory_bytes = vector_indexes_->TotalMemoryBytes();
  stats.collections = collections_->CollectionCount();
  stats.documents = collections_->TotalDocuments();
  absl::MutexLock lock(&mu_);
  stats.ttl_purged = ttl_purged_;
  return stats;
}

}  // namespace sochdb
