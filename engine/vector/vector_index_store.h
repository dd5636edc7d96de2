// VectorIndexStore: the named, tenant-scoped HNSW indexes behind VectorIndexService. Each index
// is a definition record (kVectorIndex: Name(tenant) Name(name)) plus a VectorSpace whose ids are
// the uint64 vector ids (8 bytes big-endian) and whose extra bytes hold the optional parent_id /
// view_type metadata. Indexes of one tenant are invisible to every other tenant: the tenant is
// part of every key and comes from the caller's credentials, never from the request.
//
// Start-up opens every index (snapshot + log, or rebuild); an index that fails to open is kept
// out of service with its error (UNAVAILABLE on use) and never blocks the others. A background
// thread snapshots and compacts indexes.
//
// Create and Drop go through the Catalog (engine/vector/catalog.h): their synced definition
// writes hold no lock that a lookup needs. Drop deletes the definition first (the index is gone
// for every caller), then retires the space (a write or snapshot racing the drop finishes
// before, or is refused after: NOT_FOUND, nothing written) and deletes its data.
//
// Error texts follow the upstream server where clients may match them: NOT_FOUND
// "Index not found: <tenant>:<name>", ALREADY_EXISTS "Index '<name>' already exists", ...
// Those texts echo the name, so every call refuses a name over kMaxIndexNameBytes first
// (INVALID_ARGUMENT "index name is 300 bytes; the limit is 256 bytes").
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_VECTOR_VECTOR_INDEX_STORE_H_
#define SOCHDB_ENGINE_VECTOR_VECTOR_INDEX_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
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
#include "engine/vector/ann_index.h"
#include "engine/vector/catalog.h"
#include "engine/vector/vector_space.h"

namespace sochdb::vector {

// Names of indexes: 1..256 bytes, no NUL.
inline constexpr size_t kMaxIndexNameBytes = 256;
// Vectors per InsertBatch call and queries per SearchBatch call.
inline constexpr size_t kMaxBatchVectors = 100'000;
inline constexpr size_t kMaxBatchQueries = 10'000;
// A vector's view_type label. It is copied into every search hit of the vector, so its size
// bounds what one stored vector adds to an answer.
inline constexpr size_t kMaxViewTypeBytes = 256;

struct VectorIndexDefinition {
  std::string tenant;
  std::string name;
  IndexSpec spec;            // effective (resolved) parameters
  int32_t metric_code = 0;   // the DistanceMetric the client asked for, echoed verbatim
  // The HNSW parameters exactly as requested (zeros stay zeros), echoed verbatim.
  uint32_t requested_m = 0, requested_m0 = 0, requested_ef_construction = 0,
           requested_ef_search = 0;
  uint64_t created_at = 0;   // Unix seconds
  uint64_t incarnation = 0;  // random per creation; names the snapshot file
};

struct VectorMetadata {
  std::optional<uint64_t> parent_id;
  std::optional<std::string> view_type;
};

// INVALID_ARGUMENT "metadata[3].view_type is 300 bytes; the limit is 256 bytes" for a view_type
// over kMaxViewTypeBytes (`field` "metadata", `index` 3; without an index, "metadata.view_type").
absl::Status ValidateVectorMetadata(const VectorMetadata& metadata, std::string_view field,
                                    std::optional<size_t> index = std::nullopt);

struct GroupingOptions {
  uint32_t max_per_group = 0;  // 0 = 1
  uint32_t candidate_k = 0;    // 0 = 4 * k
};

struct VectorSearchOptions {
  uint32_t k = 10;             // 0 = 1
  uint32_t ef = 0;             // 0 = the index's ef_search; at most kMaxEf
  std::optional<GroupingOptions> group_by_parent;
};

struct VectorSearchHit {
  uint64_t id = 0;
  float distance = 0;
  VectorMetadata metadata;
};

struct VectorSearchOutcome {
  std::vector<VectorSearchHit> hits;
  int32_t metric_code = 0;           // the index's requested DistanceMetric (for the response)
  // Grouping facts (also the diagnostics' source).
  uint32_t candidate_k = 0;          // raw candidates asked for
  uint32_t raw_candidates = 0;       // raw candidates returned by the index
  uint32_t groups_considered = 0;
  uint32_t excluded_by_group_limit = 0;
  uint64_t index_size = 0;
};

// What every search of an index answers at least, known before it runs: callers refuse a
// search whose smallest possible answer cannot fit their budget without running it.
struct VectorAnswerFloor {
  // Live vectors. A search without grouping returns min(k, vectors) hits (see AnnIndex::Search);
  // one with grouping may return as few as one.
  uint64_t vectors = 0;
  // The bytes every hit's metadata (parent_id, view_type) takes at least, encoded as a
  // SearchResult's fields 4 and 5 with their tags and lengths. A lower bound (see
  // VectorSpace::extra_bytes_floor).
  size_t metadata_bytes = 0;
  int32_t metric_code = 0;  // the requested DistanceMetric, which every hit names
};

struct VectorIndexStats {
  uint64_t num_vectors = 0;
  uint32_t dimension = 0;
  uint32_t max_layer = 0;
  uint64_t memory_bytes = 0;
  float avg_connections = 0;
};

struct VectorIndexStoreOptions {
  std::string snapshot_dir;                        // created if missing
  // Where snapshot files are read and written. Not owned; must outlive the store. Tests pass
  // one that injects faults.
  FileSystem* file_system = FileSystem::Default();
  absl::Duration maintenance_interval = absl::Seconds(10);
  uint64_t snapshot_every_changes = 50'000;
  const Clock* clock = Clock::Real();
};

class VectorIndexStore {
 public:
  // `observer` (not owned; must outlive the store) sees every index's space (see
  // VectorSpaceObserver); nullptr: none.
  static absl::StatusOr<std::unique_ptr<VectorIndexStore>> Open(
      storage::Store* store, VectorIndexStoreOptions options,
      VectorSpaceObserver* observer = nullptr);
  // Stops maintenance and snapshots every index with changes not yet covered.
  ~VectorIndexStore();

  // ALREADY_EXISTS "Index '<name>' already exists"; INVALID_ARGUMENT for a bad name or spec.
  // A Create or Drop of the same name in progress is waited for.
  absl::StatusOr<VectorIndexDefinition> Create(const VectorIndexDefinition& request);
  // NOT_FOUND "Index '<name>' not found". Waits for a write or snapshot of the index in
  // progress; the data goes in batches after the definition.
  absl::Status Drop(const std::string& tenant, const std::string& name);

  // Inserts (or replaces) `ids` with `vectors` (ids.size() * dimension floats, row-major) and the
  // optional per-id metadata (empty, or one per id; see ValidateVectorMetadata). One atomic
  // batch. An id given twice is INVALID_ARGUMENT ("ids[2] duplicates ids[0] (7)"): which of its
  // vectors should win is not for the server to guess. Returns the number of ids stored.
  // NOT_FOUND "Index not found: <tenant>:<name>", also when a Drop of the index got in first.
  // `incarnation` (VectorIndexDefinition::incarnation), when given, binds the call to that one
  // creation of the index, as a stream that looked it up once is: after a drop, an index
  // created since under the same name is not written either (NOT_FOUND "Index not found:
  // <tenant>:<name> (the index was dropped; one of that name was created since)").
  // `seal` (optional) adds the caller's records to the batch (see BatchSeal; it must not
  // return NOT_FOUND, which means the index was dropped); its `last_sequence` is the Generation
  // the index will be at.
  absl::StatusOr<size_t> Insert(const std::string& tenant, const std::string& name,
                                absl::Span<const uint64_t> ids, absl::Span<const float> vectors,
                                absl::Span<const VectorMetadata> metadata,
                                std::optional<uint64_t> incarnation = std::nullopt,
                                const BatchSeal* seal = nullptr);

  // The index's generation: the sequence of its last committed change (0 before the first).
  // Durable and never decreasing for one creation of the index, so an answer can name the
  // state it came from. Errors as Definition's.
  absl::StatusOr<uint64_t> Generation(const std::string& tenant, const std::string& name) const;

  // INVALID_ARGUMENT for a query of the wrong dimension or with a non-finite component, k over
  // kMaxK, ef over kMaxEf, a bad grouping.
  absl::StatusOr<VectorSearchOutcome> Search(const std::string& tenant, const std::string& name,
                                             absl::Span<const float> query,
                                             const VectorSearchOptions& options) const;

  absl::StatusOr<VectorIndexDefinition> Definition(const std::string& tenant,
                                                   const std::string& name) const;
  // Errors as Search's for the name. Takes no lock a writer holds.
  absl::StatusOr<VectorAnswerFloor> AnswerFloor(const std::string& tenant,
                                                const std::string& name) const;
  absl::StatusOr<VectorIndexStats> Stats(const std::string& tenant, const std::string& name) const;

  // Snapshots and compacts every index that needs it (what the background thread runs).
  void MaintainAll();
  // Every index's vector count and memory, for metrics. They never wait for a writer.
  uint64_t TotalVectors() const;
  uint64_t TotalMemoryBytes() const;
  size_t IndexCount() const;
  // Queries that reached an index (one per Search call, so nq per SearchBatch) since Open.
  uint64_t searches() const { return searches_.load(std::memory_order_relaxed); }

 private:
  // One index; immutable once in the catalog.
  struct Entry {
    VectorIndexDefinition definition;
    std::shared_ptr<VectorSpace> space;  // null when it failed to open
    absl::Status open_error;
  };
  using Key = std::pair<std::string, std::string>;  // (tenant, name)
  using EntryPtr = std::shared_ptr<const Entry>;

  VectorIndexStore(storage::Store* store, VectorIndexStoreOptions options,
                   VectorSpaceObserver* observer);
  absl::Status LoadAll();
  // Deletes the records, change log and snapshot file of every index scope that no definition
  // names: what a Drop interrupted by a crash left behind (Drop deletes the definition first).
  // `unreadable` are indexes whose definition could not be decoded: their data stays.
  absl::Status SweepDropped(const std::vector<VectorIndexDefinition>& live,
                            const std::set<Key>& unreadable);
  // The index's space (and, when asked, its requested metric) in one lookup; with
  // `incarnation`, NOT_FOUND unless the index is that creation of the name.
  absl::StatusOr<std::shared_ptr<VectorSpace>> SpaceFor(
      const std::string& tenant, const std::string& name, int32_t* metric_code = nullptr,
      std::optional<uint64_t> incarnation = std::nullopt) const;
  absl::StatusOr<std::shared_ptr<VectorSpace>> OpenSpace(const VectorIndexDefinition& d) const;
  // The index's entry with its space opened, or out of service with the error.
  EntryPtr OpenEntry(const VectorIndexDefinition& d) const;
  std::string SnapshotPath(uint64_t incarnation) const;
  void MaintenanceLoop();

  storage::Store* const store_;
  const VectorIndexStoreOptions options_;
  VectorSpaceObserver* const observer_;  // may be null

  Catalog<Key, EntryPtr> indexes_;
  mutable std::atomic<uint64_t> searches_{0};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread maintenance_;
};

// Ids are stored as 8 big-endian bytes, so byte order is numeric order.
std::string EncodeVectorId(uint64_t id);
uint64_t DecodeVectorId(std::string_view bytes);

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_VECTOR_INDEX_STORE_H_
