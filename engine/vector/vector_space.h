// VectorSpace: one persistent set of vectors with its ANN index, the building block of vector
// indexes (VectorIndexService) and collections. It keeps LevelDB as the record of truth and the
// FAISS index (AnnIndex) as a derived structure that is snapshotted and recovered:
//
//   kVector    scope... Raw(id)   -> vector record: format byte, dimension floats, caller's extra
//   kVectorLog scope... U64(seq)  -> change: op byte ('u' upsert / 'd' delete), Raw(id)
//
// Every write (Upsert/Delete) goes into ONE WriteBatch together with its change-log entries and
// whatever the caller added to the batch (a document, its postings), is committed under the
// store's sync mode, and only then applied to the in-memory index (with each vector's extra
// bytes, so that searches never read records). A snapshot file holds the space's identity (its
// scope and spec: a snapshot of another index is never loaded), the AnnIndex image, the
// label -> (id, extra) table and the last change sequence it covers, with a CRC-32 over the
// whole. It is written straight from the index into `<path>.tmp`: the links, tombstones and id
// table under the index's reader lock, then the vectors in `snapshot_piece_bytes` pieces with
// writes going on between them; the checksum, fsync, rename and directory fsync hold no lock.
// Opening a space loads the snapshot and replays the log after it; a missing, corrupt or
// mismatched snapshot means a rebuild from the vector records (never garbage, never a refusal).
// Log entries covered by a snapshot are deleted after it is durable.
//
// Ids are opaque byte strings (8 big-endian bytes for uint64 ids, a document id for collections).
// Upserting an existing id replaces its vector: the old label is tombstoned. When tombstones pass
// `rebuild_tombstone_ratio`, Maintain() rebuilds the index from the records without blocking
// searches (writers wait only for the final swap and the replay of what they wrote meanwhile).
//
// Thread safety: all methods may be called concurrently. Writes to one space are serialised (log
// order = commit order = apply order); searches run in parallel with each other and with a
// write's store commit; while a write's vectors go into the graph they alternate with it chunk
// by chunk (see Commit).
// Stats and size never wait for a writer.
#ifndef SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_H_
#define SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/common/byte_sink.h"
#include "engine/common/clock.h"
#include "engine/common/file_system.h"
#include "engine/common/files.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "engine/vector/ann_index.h"
#include "engine/vector/vector_space_observer.h"

namespace sochdb::vector {

// Hash and equality over ids that accept std::string_view lookups (Debian's Abseil has its own
// string_view type, so its default string hasher does not take std::string_view).
struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view id) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(id.data(), id.size()));
  }
};
struct IdEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

struct VectorSpaceOptions {
  // The names that identify this space in the keyspace, e.g. {"vi", tenant, index name, creation id}; they
  // are length-prefixed into every key, so spaces can never overlap.
  std::vector<std::string> scope;
  IndexSpec spec;  // resolved (ResolveSpec)
  // Snapshot file path (its directory must exist). Empty = never snapshot (always rebuild).
  std::string snapshot_path;
  // Where the snapshot file is read and written. Not owned; must outlive the space.
  FileSystem* file_system = FileSystem::Default();
  // Snapshot when this many changes are not yet covered by the last snapshot, and at least
  // `snapshot_growth_ratio` times the live vectors: a snapshot rewrites the whole index, so at
  // a fixed interval a bulk load would write its index over and over (at 10M x 128 a 7.6 GB
  // image every 50k changes); with the ratio the snapshots of a load add up to a few times the
  // index, and a crash replays at most that fraction of it.
  uint64_t snapshot_every_changes = 50'000;
  double snapshot_growth_ratio = 0.1;
  // Snapshot whatever is pending once no write has come for this long, so that an index that
  // stopped changing is covered whole (no replay at the next start) soon after.
  absl::Duration snapshot_when_idle = absl::Seconds(30);
  // A snapshot writes the index's vectors in pieces of this many bytes, each copied under the
  // reader lock (~8 ms for 32 MB here) and written after it; writes and searches go on between.
  // Each piece waits for the chunk a writer is applying, so fewer, larger pieces finish sooner.
  uint64_t snapshot_piece_bytes = 32u << 20;
  // Rebuild when tombstones exceed this fraction of labels (and at least 1,000 of them).
  double rebuild_tombstone_ratio = 0.3;
  // With no write for this long, maintenance frees what the index keeps only to speed up
  // inserts (AnnIndex::ReleaseInsertMemory: 128 MB at 1M x 128). The next write rebuilds it
  // beside searches (AnnIndex::PrepareAdd) but pays for it: at 1M x 128 the first write after
  // a restart, which does the same, took 3.2 s instead of ~0.3 s. Hence a long default: the
  // release pays off for indexes loaded once and then only read.
  absl::Duration release_insert_memory_after = absl::Minutes(30);
  // How long a write's chunk held the index and how long searches then keep it (see Commit).
  // Not owned; must outlive the space.
  const SteadyClock* steady_clock = SteadyClock::Real();
};

// The key prefix under which a space with `scope` keeps its records (family kVector) or its
// change log (kVectorLog).
std::string VectorScopePrefix(storage::KeyFamily family, const std::vector<std::string>& scope);

// What a snapshot file records of the space it was taken from: `scope` and `spec`, encoded. A
// snapshot whose identity differs from the opening space's is logged and rebuilt over.
std::string SnapshotIdentity(const std::vector<std::string>& scope, const IndexSpec& spec);

struct VectorItem {
  std::string_view id;
  absl::Span<const float> vector;  // dimension floats
  std::string_view extra;          // stored with the vector, returned by Get/Search
};

struct VectorHit {
  std::string id;
  float distance = 0;
  std::string extra;
};

struct StoredVector {
  std::vector<float> vector;  // as given at Upsert (not normalised)
  std::string extra;
};

// Called by a write under the space's write lock, just before its batch commits, with the change
// sequence the space will be at once it has: the caller adds records of its own that must commit
// with the vectors (and only if they do). A non-OK status cancels the write (nothing is written)
// and is returned from it.
using BatchSeal = std::function<absl::Status(uint64_t last_sequence, storage::WriteBatch* batch)>;

struct VectorSpaceStats {
  AnnStats ann;
  uint64_t vectors = 0;           // live ids
  uint64_t last_sequence = 0;     // last committed change
  uint64_t snapshot_sequence = 0; // last change covered by the newest snapshot
  bool loaded_from_snapshot = false;
  uint64_t replayed_changes = 0;  // at open
};

class VectorSpace {
 public:
  // Opens (or creates, when nothing is stored) the space: snapshot + log replay, or a rebuild
  // from records. Errors are storage errors only; a bad snapshot is logged and rebuilt over.
  // `observer` (not owned; must outlive the space) sees the steps VectorSpaceObserver names;
  // nullptr: none.
  static absl::StatusOr<std::unique_ptr<VectorSpace>> Open(
      storage::Store* store, VectorSpaceOptions options, VectorSpaceObserver* observer = nullptr);
  ~VectorSpace();

  const IndexSpec& spec() const { return options_.spec; }

  // Stores and indexes `items` in one atomic batch that also carries whatever the caller put in
  // `batch` (may be empty, not null). Validates everything first (dimension, finite values,
  // non-empty ids, no id twice in one call: INVALID_ARGUMENT naming the item); nothing is written
  // on error. Replacing an existing id is allowed.
  // `seal` (optional): see BatchSeal.
  absl::Status Upsert(absl::Span<const VectorItem> items, storage::WriteBatch* batch,
                      const BatchSeal* seal = nullptr);

  // Deletes `ids` (absent ones are skipped) in one batch with the caller's `batch`. Returns how
  // many existed. Existence is decided by the stored records (one read per id), never by the
  // in-memory index, which may lag them (see index_stale_).
  absl::StatusOr<size_t> Delete(absl::Span<const std::string_view> ids, storage::WriteBatch* batch);

  // Both at once, in ONE batch with the caller's `batch`: deletes `deletes` (absent ones are
  // skipped), then upserts `upserts`. For replacing a multi-vector document by one with fewer
  // vectors atomically. Validation as in Upsert; an id in both lists ends up upserted.
  absl::Status Apply(absl::Span<const VectorItem> upserts,
                     absl::Span<const std::string_view> deletes, storage::WriteBatch* batch);

  // The k nearest ids (distance conventions of AnnIndex), ties by id bytes. `accept` (optional)
  // restricts results by id; `selectivity_hint` as in LabelFilter. `with_extra` fills hit.extra
  // (kept in memory with the index). `live_ids` (optional) receives size() as the search saw it.
  absl::StatusOr<std::vector<VectorHit>> Search(
      absl::Span<const float> query, uint32_t k, uint32_t ef,
      const std::function<bool(std::string_view id)>* accept = nullptr,
      double selectivity_hint = -1, bool with_extra = false, size_t* live_ids = nullptr) const;

  // The stored vector and extra of `id`, or nullopt.
  absl::StatusOr<std::optional<StoredVector>> Get(std::string_view id) const;
  bool Contains(std::string_view id) const;
  // Live ids, as of the last change applied to the in-memory index. Takes no lock.
  size_t size() const { return live_ids_.load(std::memory_order_relaxed); }
  // No live id's extra is shorter than this (SIZE_MAX while the space is empty): what callers
  // bound the smallest possible answer of a search by before running it. A lower bound, not the
  // minimum: it only falls as vectors come, until the next rebuild or compaction recomputes it.
  // Takes no lock.
  size_t extra_bytes_floor() const { return extra_floor_.load(std::memory_order_relaxed); }

  // Writes a snapshot now if any change is not covered (then trims the covered log).
  absl::Status Snapshot() ABSL_LOCKS_EXCLUDED(snapshot_mu_);
  // Background maintenance: snapshot when enough changes are pending (see
  // snapshot_every_changes) or writes have stopped, rebuild when tombstones pass the ratio,
  // release insert memory when idle. Cheap when there is nothing to do.
  absl::Status Maintain() ABSL_LOCKS_EXCLUDED(snapshot_mu_);

  // Ends the space's life ahead of deleting its data: waits for a write or snapshot in
  // progress, then every later write is refused (NOT_FOUND, nothing written) and Snapshot and
  // Maintain do nothing, so nothing appears under the space's scope or at its snapshot path
  // afterwards. Searches and reads go on answering from what is left. Idempotent; never undone.
  void Retire() ABSL_LOCKS_EXCLUDED(snapshot_mu_);
  bool retired() const { return retired_.load(std::memory_order_acquire); }

  // Retire(), then deletes every record, log entry and the snapshot file of this space (in
  // several batches, with no lock held).
  absl::Status DropAll() ABSL_LOCKS_EXCLUDED(snapshot_mu_);
  // The same for a space that is not open: what a drop interrupted by a crash left behind.
  // Records go first, the change log next and the snapshot file last, so a crash part-way
  // leaves keys under `scope` for the next sweep to find.
  static absl::Status DropScope(storage::Store* store, const std::vector<std::string>& scope,
                                FileSystem* files, const std::string& snapshot_path);

  // Never waits for a writer (a large batch holds the space's write lock for seconds): the
  // vector count and sequences are the latest; the index's figures (AnnStats) are read when the
  // index lock is free, and while a writer holds or waits for it they are those of the last
  // read (at most the batch in progress behind).
  VectorSpaceStats Stats() const ABSL_LOCKS_EXCLUDED(index_mu_, stats_mu_);
  // The last committed change's sequence (Stats().last_sequence) without Stats' walk of the
  // index: cheap enough for every search to read.
  uint64_t last_sequence() const ABSL_LOCKS_EXCLUDED(stats_mu_);
  // Searches waiting for or holding the index at this moment.
  int searches_in_flight() const { return searches_in_flight_.load(std::memory_order_relaxed); }

  // The key of the record of `id` (kVector, the scope's names, Raw(id)): for a reader of the
  // records at a store snapshot of its own (a collection reading a document's vectors).
  std::string RecordKey(std::string_view id) const;

  // Calls `fn` for every live (id, extra) in id order, from one store snapshot.
  absl::Status ForEach(const std::function<void(std::string_view id, std::string_view extra)>& fn) const;

 private:
  // The derived in-memory index: the ANN index and the maps between ids and its labels.
  struct IndexState {
    std::unique_ptr<AnnIndex> ann;
    absl::flat_hash_map<std::string, int64_t, IdHash, IdEq> label_of;
    std::vector<std::string> id_of;  // by label; "" once the label is tombstoned
    // The extra bytes of live labels that have any (most have none: collections never do).
    absl::flat_hash_map<int64_t, std::string> extra_of;
    // The shortest extra given to any label of this state (see extra_bytes_floor()).
    size_t extra_floor = SIZE_MAX;
  };

  class PendingUpserts;  // recovery's chunked adds (vector_space_recovery.cc)

  VectorSpace(storage::Store* store, VectorSpaceOptions options, VectorSpaceObserver* observer);

  std::string LogKey(uint64_t sequence) const;

  // Apply's body: one batch of deletes then upserts; returns how many deleted ids existed.
  absl::StatusOr<size_t> Commit(absl::Span<const VectorItem> upserts,
                                absl::Span<const std::string_view> deletes,
                                storage::WriteBatch* batch, const BatchSeal* seal = nullptr);
  // Commit's steps. The distinct `ids` that have a record (the ones a delete removes).
  absl::StatusOr<std::vector<std::string_view>> RecordedIds(
      absl::Span<const std::string_view> ids) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The records and log entries of the change, committed to the store in `batch`.
  absl::Status WriteRecords(absl::Span<const VectorItem> upserts,
                            absl::Span<const std::string_view> deletes,
                            storage::WriteBatch* batch, const BatchSeal* seal)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The committed change applied to the in-memory index: the first error, if any.
  absl::Status ApplyToIndex(absl::Span<const VectorItem> upserts,
                            absl::Span<const std::string_view> deletes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(index_mu_);
  absl::Status ApplyUpsertsBesideSearches(absl::Span<const VectorItem> upserts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(index_mu_);

  // Recovery: a fresh state from a snapshot file, or from the records of `view`, then the log.
  absl::Status Load();
  // The snapshot file's state when it is usable with the log (first_logged..last_logged), with
  // the sequence it covers; null (logged) when there is none or it is unusable. One that covers
  // more than the log holds is deleted (durably): errors are the file system's.
  absl::StatusOr<std::unique_ptr<IndexState>> LoadSnapshot(uint64_t first_logged,
                                                           uint64_t last_logged,
                                                           uint64_t* covered) const;
  absl::StatusOr<std::unique_ptr<IndexState>> LoadSnapshotFile(uint64_t* sequence) const;
  absl::StatusOr<std::unique_ptr<IndexState>> BuildFromRecords(const storage::Snapshot* view) const;
  absl::StatusOr<uint64_t> ReplayLog(IndexState& state, uint64_t after,
                                     const storage::Snapshot* view) const;
  absl::StatusOr<uint64_t> LastLoggedSequence(const storage::Snapshot* view) const;

  // Copies write_mu_'s figures for Stats.
  void PublishProgress() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) ABSL_LOCKS_EXCLUDED(stats_mu_);

  // Index updates (after a commit, or during replay).
  static absl::Status ApplyUpserts(IndexState& state, absl::Span<const VectorItem> items);
  static absl::Status ApplyDelete(IndexState& state, std::string_view id);

  // The snapshot file's bytes for `state` at `sequence`, in three parts: `head` gets
  // everything up to the index's stored codes, whose length goes to `codes`
  // (AnnIndex::SerializeHead; they go between the two), `tail` the rest (the id table).
  static absl::Status EncodeSnapshot(const IndexState& state, std::string_view identity,
                                     uint64_t sequence, ByteSink* head, uint64_t* codes,
                                     ByteSink* tail);
  // Snapshot's steps: the head (all but the stored codes) written and the id table read while
  // writers wait, then the stored codes in pieces while they go on.
  struct SnapshotHead;
  absl::Status WriteSnapshotHead(SnapshotHead* head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(snapshot_mu_)
      ABSL_LOCKS_EXCLUDED(write_mu_, index_mu_);
  absl::Status WriteSnapshotCodes(const AnnIndex* ann, uint64_t codes, AtomicFileWriter* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(snapshot_mu_) ABSL_LOCKS_EXCLUDED(index_mu_);
  absl::Status TrimLog(uint64_t through) const;
  absl::Status CompactIndex() ABSL_LOCKS_EXCLUDED(snapshot_mu_);
  absl::StatusOr<std::vector<VectorHit>> Nearest(absl::Span<const float> query, uint32_t k,
                                                 uint32_t ef,
                                                 const std::function<bool(std::string_view)>* accept,
                                                 double selectivity_hint, bool with_extra,
                                                 size_t* live_ids) const;

  storage::Store* const store_;
  const VectorSpaceOptions options_;
  VectorSpaceObserver* const observer_;  // never null (VectorSpaceObserver::None())
  const std::string record_prefix_;
  const std::string log_prefix_;
  const std::string identity_;  // SnapshotIdentity(scope, spec)

  // One snapshot (or drop) at a time; taken before write_mu_. A snapshot holds it while it
  // writes the index's vectors and its file reaches the disk, after the other locks are
  // released; a compaction holds it to replace state_, so a snapshot's state stays in place.
  mutable absl::Mutex snapshot_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);

  // Serialises writers: log sequence order = commit order = index order.
  mutable absl::Mutex write_mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::Time last_write_ ABSL_GUARDED_BY(write_mu_) = absl::Now();  // see Maintain
  bool insert_memory_released_ ABSL_GUARDED_BY(write_mu_) = false;
  uint64_t snapshot_sequence_ ABSL_GUARDED_BY(write_mu_) = 0;
  bool loaded_from_snapshot_ ABSL_GUARDED_BY(write_mu_) = false;
  // A committed change could not be applied to the in-memory index: the next maintenance pass
  // rebuilds it from the records, and no snapshot is written from it meanwhile.
  bool index_stale_ ABSL_GUARDED_BY(write_mu_) = false;
  uint64_t replayed_changes_ ABSL_GUARDED_BY(write_mu_) = 0;
  // Set by Retire holding snapshot_mu_ and write_mu_, so a writer or snapshot that holds either
  // sees it before it writes; read without locks by retired().
  std::atomic<bool> retired_{false};

  // Held by a snapshot while it reads the index (with index_mu_ in reader mode), and again for
  // each piece of the vectors it copies afterwards. A writer waits for it here before taking
  // index_mu_ (WaitOutSnapshotRead): queued on index_mu_ behind the snapshot, it would hold
  // every new search behind it until the snapshot let go (absl queues new readers behind a
  // waiting writer): up to 0.8 s at 1M.
  mutable absl::Mutex snapshot_read_mu_ ABSL_ACQUIRED_AFTER(write_mu_);

  // Readers (searches) share; writers hold write_mu_ first, then this exclusively.
  mutable absl::Mutex index_mu_ ABSL_ACQUIRED_AFTER(write_mu_, snapshot_read_mu_);
  std::unique_ptr<IndexState> state_ ABSL_GUARDED_BY(index_mu_);
  // Searches waiting for or holding index_mu_, and when the last one let go of it (steady
  // clock, ns; see SearchLock): a writer adding a batch in chunks shares the index with them.
  mutable std::atomic<int> searches_in_flight_{0};
  mutable std::atomic<int64_t> last_search_end_ns_{INT64_MIN / 2};
  // state_->label_of.size() and state_->extra_floor, stored by whoever changes them (holding
  // index_mu_ exclusively) through PublishCounts.
  std::atomic<size_t> live_ids_{0};
  std::atomic<size_t> extra_floor_{SIZE_MAX};
  void PublishCounts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(index_mu_);

  // What Stats reports without taking the writers' locks: the sequences (PublishProgress) and
  // the index's figures as last read. A leaf: nothing is taken while holding it.
  mutable absl::Mutex stats_mu_ ABSL_ACQUIRED_AFTER(write_mu_, index_mu_);
  mutable VectorSpaceStats published_ ABSL_GUARDED_BY(stats_mu_);
  // Until when (steady clock, ns) searches may keep the index after the last chunk.
  int64_t search_turn_until_ns_ ABSL_GUARDED_BY(write_mu_) = 0;
  class SearchLock;
  // Before a holder of write_mu_ takes index_mu_ exclusively: waits, off index_mu_, for a
  // snapshot reading the index (see snapshot_read_mu_).
  void WaitOutSnapshotRead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  bool SearchesActive() const;
  void TakeSearchTurn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
};

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_H_
