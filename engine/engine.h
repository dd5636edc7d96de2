// Engine: the database as one object. It opens the store under the data directory, owns every
// subsystem (KV, vector indexes, collections), the usage ledger the KV and collection stores
// charge, and their background work (the TTL purger, vector index maintenance), and closes them
// in order. The server holds one Engine; services borrow its subsystems.
//
// Layout of --data-dir:
//   <data-dir>/store/     the LevelDB database: all persistent state
//   <data-dir>/vectors/   vector index and collection snapshots (derived: rebuilt from the store
//                         when missing or damaged)
#ifndef SOCHDB_ENGINE_ENGINE_H_
#define SOCHDB_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/collection/collection_store.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/kv/kv_store.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"
#include "engine/vector/vector_index_store.h"

namespace sochdb {

struct EngineOptions {
  std::string data_dir = "./data";  // created (with parents) when missing
  // The store's files go through store.env (a leveldb::Env); everything else the engine keeps
  // under data_dir (the data directory itself, vector snapshots) through this. Not owned; must
  // outlive the Engine. Tests pass one that injects faults or simulates a power cut.
  FileSystem* file_system = FileSystem::Default();
  storage::StoreOptions store;
  kv::KvLimits kv_limits;
  // How often expired KV records are purged (they are invisible from the moment they expire).
  absl::Duration ttl_purge_interval = absl::Seconds(1);
  // How often vector indexes are checked for a snapshot or a compaction.
  absl::Duration vector_maintenance_interval = absl::Seconds(10);
  // A vector index is snapshotted once this many changes are not covered by its snapshot.
  uint64_t vector_snapshot_every_changes = 50'000;
  const Clock* clock = Clock::Real();  // not owned
};

struct EngineStats {
  storage::StoreStats store;
  uint64_t ttl_purged = 0;  // expired KV records removed since start
  uint64_t ttl_undecodable_index_entries = 0;  // undecodable TTL index entries removed
  uint64_t vector_indexes = 0;
  uint64_t vectors = 0;
  uint64_t vector_memory_bytes = 0;
  uint64_t vector_searches = 0;  // queries that reached a vector index
  uint64_t collections = 0;
  uint64_t documents = 0;
};

class Engine {
 public:
  // Creates the data directory if needed and opens the store (see Store::Open for errors).
  // FAILED_PRECONDITION ("inconsistent data directory"), changing nothing, when vectors/ holds
  // snapshots but store/ holds no database.
  // `vector_observer` (not owned; must outlive the Engine) sees every vector index's space at
  // the steps VectorSpaceObserver names (the seam tests hold a write with); nullptr: none.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(
      const EngineOptions& options, vector::VectorSpaceObserver* vector_observer = nullptr);
  // Stops background work, then closes the store (which fsyncs).
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  storage::Store& store() { return *store_; }
  kv::KvStore& kv() { return *kv_; }
  vector::VectorIndexStore& vector_indexes() { return *vector_indexes_; }
  collection::CollectionStore& collections() { return *collections_; }
  // What tracked namespaces hold, charged by the KV and collection stores (the namespace
  // registry decides what is tracked). Nothing is tracked when the engine opens.
  namespaces::UsageLedger& usage() { return *usage_; }
  const EngineOptions& options() const { return options_; }
  // Never waits for a writer or a drop (it feeds the metrics scrape).
  EngineStats Stats() const;

 private:
  Engine(EngineOptions options, std::unique_ptr<namespaces::UsageLedger> usage,
         std::unique_ptr<storage::Store> store,
         std::unique_ptr<vector::VectorIndexStore> vector_indexes,
         std::unique_ptr<collection::CollectionStore> collections);
  void PurgeLoop();
  // Purges until a round comes back short; returns the records removed.
  uint64_t PurgeRound();

  const EngineOptions options_;
  // Declared first, so destroyed last: the stores detach from it when they close.
  std::unique_ptr<namespaces::UsageLedger> usage_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<vector::VectorIndexStore> vector_indexes_;
  std::unique_ptr<collection::CollectionStore> collections_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t ttl_purged_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_purge_error_;  // the purger thread's own: the error it last logged
  std::thread purger_;
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_ENGINE_H_
