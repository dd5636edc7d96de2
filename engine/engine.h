// Engine: the database as one object. It opens the store under the data directory, owns every
// subsystem (KV, the graph, agent memory, the semantic caches, vector indexes, collections,
// policies and their audit log, the namespace registry), the usage ledger the stores charge, the
// governance step every data call passes, and their background work (the TTL purger, the audit
// trim, vector index, episode space and cache maintenance), and closes them in order. The server
// holds one Engine; services borrow its subsystems.
//
// Layout of --data-dir:
//   <data-dir>/store/     the LevelDB database: all persistent state
//   <data-dir>/vectors/   vector index, collection, episode and cache index snapshots (derived:
//                         rebuilt from the store when missing or damaged)
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
#include "engine/cache/semantic_cache_store.h"
#include "engine/collection/collection_store.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/context/tokenizer/tokenizers.h"
#include "engine/governance/governance.h"
#include "engine/graph/graph_store.h"
#include "engine/kv/kv_store.h"
#include "engine/memory/memory_store.h"
#include "engine/namespace/namespace_registry.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/policy/audit_log.h"
#include "engine/policy/policy_store.h"
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
  graph::GraphLimits graph_limits;
  memory::MemoryLimits memory_limits;
  cache::CacheLimits cache_limits;
  // How often expired cache entries are purged and cache hit/miss counts written (a kill -9
  // loses at most this long's counts).
  absl::Duration cache_maintenance_interval = absl::Seconds(1);
  // The HNSW search breadth of a semantic cache lookup (SemanticCacheOptions::ef_search).
  uint32_t cache_ef_search = cache::kDefaultCacheEfSearch;
  // How often expired KV records are purged (they are invisible from the moment they expire).
  absl::Duration ttl_purge_interval = absl::Seconds(1);
  // How often vector indexes are checked for a snapshot or a compaction.
  absl::Duration vector_maintenance_interval = absl::Seconds(10);
  // A vector index is snapshotted once this many changes are not covered by its snapshot.
  uint64_t vector_snapshot_every_changes = 50'000;
  const Clock* clock = Clock::Real();  // not owned
  // How long the records of LOG policies are kept, and how many per tenant (trimmed by the
  // purger's rounds).
  policy::AuditRetention audit_retention;
  // The directory of the BPE rank tables (cl100k_base.tiktoken, o200k_base.tiktoken), loaded
  // once by Open. Empty: none. A missing or bad table does not fail Open (KV and vector users
  // do not need them): tokenizers() reports it instead.
  std::string tokenizer_dir;
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
  uint64_t audit_records = 0;
  cache::CacheTotals caches;  // the semantic caches
  memory::TextIndexStats memory;  // agent memory's text indexes of the namespaces loaded
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
  graph::GraphStore& graph() { return *graph_; }
  // Agent memory (ContextService's episodes); its vector snapshots go to vectors/.
  memory::MemoryStore& memory() { return *memory_; }
  cache::SemanticCacheStore& cache() { return *cache_; }
  vector::VectorIndexStore& vector_indexes() { return *vector_indexes_; }
  collection::CollectionStore& collections() { return *collections_; }
  // The step every data operation passes (namespace rule, policies, audit).
  governance::Governance& governance() { return *governance_; }
  policy::PolicyStore& policies() { return *policies_; }
  policy::AuditLog& audit_log() { return *audit_log_; }
  namespaces::NamespaceRegistry& namespaces() { return *namespaces_; }
  // What tracked namespaces hold, charged by the KV and collection stores (the namespace
  // registry decides what is tracked). Nothing is tracked when the engine opens.
  namespaces::UsageLedger& usage() { return *usage_; }
  // The token counters (cl100k_base, o200k_base), or FAILED_PRECONDITION carrying why they
  // could not be loaded from options().tokenizer_dir (the context calls answer with it).
  absl::StatusOr<const context::Tokenizers*> tokenizers() const;
  const EngineOptions& options() const { return options_; }
  // Never waits for a writer or a drop (it feeds the metrics scrape).
  EngineStats Stats() const;

 private:
  // What Open builds, in the order it builds them.
  struct Parts {
    std::unique_ptr<namespaces::UsageLedger> usage;
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<vector::VectorIndexStore> vector_indexes;
    std::unique_ptr<collection::CollectionStore> collections;
    std::unique_ptr<kv::KvStore> kv;
    std::unique_ptr<graph::GraphStore> graph;
    std::unique_ptr<memory::MemoryStore> memory;
    std::unique_ptr<cache::SemanticCacheStore> cache;
    std::unique_ptr<policy::PolicyStore> policies;
    std::unique_ptr<policy::AuditLog> audit_log;
    std::unique_ptr<namespaces::NamespaceRegistry> namespaces;
    absl::StatusOr<std::unique_ptr<context::Tokenizers>> tokenizers;
  };
  Engine(EngineOptions options, Parts parts);
  void PurgeLoop();
  // Purges until a round comes back short; returns the records removed.
  uint64_t PurgeRound();
  // Removes audit records past their retention (errors logged once each, like the purge's).
  void TrimAuditLog();

  const EngineOptions options_;
  // Declared first, so destroyed last: the stores detach from it when they close.
  std::unique_ptr<namespaces::UsageLedger> usage_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<graph::GraphStore> graph_;
  std::unique_ptr<memory::MemoryStore> memory_;
  std::unique_ptr<cache::SemanticCacheStore> cache_;
  std::unique_ptr<vector::VectorIndexStore> vector_indexes_;
  std::unique_ptr<collection::CollectionStore> collections_;
  std::unique_ptr<policy::PolicyStore> policies_;
  std::unique_ptr<policy::AuditLog> audit_log_;
  std::unique_ptr<namespaces::NamespaceRegistry> namespaces_;
  std::unique_ptr<governance::Governance> governance_;
  const absl::StatusOr<std::unique_ptr<context::Tokenizers>> tokenizers_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t ttl_purged_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_purge_error_;  // the purger thread's own: the error it last logged
  std::string last_trim_error_;   // the same, for the audit log's trim
  std::thread purger_;
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_ENGINE_H_
