// VectorSpace: writes (validate -> one batch with records and change log -> commit -> apply to
// the index), searches and reads. Recovery, snapshots and compaction are in
// vector_space_recovery.cc.
#include "engine/vector/vector_space.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/vector/vector_record.h"
#include "spdlog/spdlog.h"

namespace sochdb::vector {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

// Vectors added to the index per hold of its lock (see Commit). Graph construction runs its
// threads over a chunk, so chunks stay large enough to split; at 1M x 128 (M 32) a chunk of
// 256 holds the lock for ~60-80 ms on two cores, one of 64 for a quarter of that.
constexpr size_t kApplyChunk = 256;
constexpr size_t kApplyChunkBesideSearches = 64;
// Searches count as active (smaller chunks) when one ran this recently.
constexpr absl::Duration kSearchesRecent = absl::Seconds(1);
// Between chunks, while searches are active, they get the index for as long as the last chunk
// held it, up to kMaxSearchTurn; the turn ends early once none is running or waiting and none
// has finished within kSearchGap (a client's next search arrives a round trip after its last).
constexpr absl::Duration kMaxSearchTurn = absl::Milliseconds(50);
constexpr absl::Duration kSearchGap = absl::Milliseconds(2);
constexpr absl::Duration kTurnPoll = absl::Microseconds(50);

absl::Status ValidateItems(absl::Span<const VectorItem> items, uint32_t dimension) {
  for (size_t i = 0; i < items.size(); ++i) {
    const VectorItem& item = items[i];
    if (item.id.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("ids[%d] is empty", i));
    }
    if (item.id.size() > kMaxVectorIdBytes) {
      return absl::InvalidArgumentError(absl::StrFormat("ids[%d] is %d bytes; the limit is %d",
                                                        i, item.id.size(), kMaxVectorIdBytes));
    }
    if (item.vector.size() != dimension) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "vectors[%d] has %d floats; the index dimension is %d", i, item.vector.size(), dimension));
    }
    absl::Status finite = ValidateVectors(item.vector, dimension);
    if (!finite.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("vectors[%d]: %s", i, std::string(finite.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The index lock in reader mode, taken so that a writer adding a batch in chunks sees the
// searches waiting, running and just finished, and shares the index with them (Commit).
class ABSL_SCOPED_LOCKABLE VectorSpace::SearchLock {
 public:
  explicit SearchLock(const VectorSpace* space) ABSL_SHARED_LOCK_FUNCTION(space->index_mu_)
      : space_(space) {
    space_->searches_in_flight_.fetch_add(1, std::memory_order_relaxed);
    space_->index_mu_.ReaderLock();
  }
  ~SearchLock() ABSL_UNLOCK_FUNCTION() {
    space_->index_mu_.ReaderUnlock();
    space_->last_search_end_ns_.store(space_->options_.steady_clock->NowNanos(),
                                      std::memory_order_relaxed);
    space_->searches_in_flight_.fetch_sub(1, std::memory_order_relaxed);
  }
  SearchLock(const SearchLock&) = delete;
  SearchLock& operator=(const SearchLock&) = delete;

 private:
  const VectorSpace* space_;
};

std::string VectorScopePrefix(KeyFamily family, const std::vector<std::string>& scope) {
  KeyBuilder key(family);
  for (const std::string& name : scope) key.Name(name);
  return key.key();
}

VectorSpace::VectorSpace(storage::Store* store, VectorSpaceOptions options,
                         VectorSpaceObserver* observer)
    : store_(store),
      options_(std::move(options)),
      observer_(observer != nullptr ? observer : VectorSpaceObserver::None()),
      record_prefix_(VectorScopePrefix(KeyFamily::kVector, options_.scope)),
      log_prefix_(VectorScopePrefix(KeyFamily::kVectorLog, options_.scope)),
      identity_(SnapshotIdentity(options_.scope, options_.spec)) {}

VectorSpace::~VectorSpace() = default;

absl::StatusOr<std::unique_ptr<VectorSpace>> VectorSpace::Open(storage::Store* store,
                                                               VectorSpaceOptions options,
                                                               VectorSpaceObserver* observer) {
  std::unique_ptr<VectorSpace> space(new VectorSpace(store, std::move(options), observer));
  SOCHDB_RETURN_IF_ERROR(space->Load());
  return space;
}

std::string VectorSpace::RecordKey(std::string_view id) const {
  return std::move(KeyBuilder::After(record_prefix_).Raw(id)).Build();
}

std::string VectorSpace::LogKey(uint64_t sequence) const {
  return std::move(KeyBuilder::After(log_prefix_).U64(sequence)).Build();
}

absl::Status VectorSpace::Upsert(absl::Span<const VectorItem> items, storage::WriteBatch* batch,
                                 const BatchSeal* seal) {
  return Commit(items, {}, batch, seal).status();
}

absl::StatusOr<size_t> VectorSpace::Delete(absl::Span<const std::string_view> ids,
                                           storage::WriteBatch* batch) {
  return Commit({}, ids, batch);
}

absl::Status VectorSpace::Apply(absl::Span<const VectorItem> upserts,
                                absl::Span<const std::string_view> deletes,
                                storage::WriteBatch* batch) {
  return Commit(upserts, deletes, batch).status();
}

absl::StatusOr<size_t> VectorSpace::Commit(absl::Span<const VectorItem> upserts,
                                           absl::Span<const std::string_view> deletes,
                                           storage::WriteBatch* batch, const BatchSeal* seal) {
  SOCHDB_RETURN_IF_ERROR(ValidateItems(upserts, options_.spec.dimension));
  observer_->BeforeCommit();
  absl::MutexLock write_lock(&write_mu_);
  // A write that lost the race with a drop writes nothing: its records would outlive the space.
  if (retired()) return absl::NotFoundError("the vector space was dropped");
  SOCHDB_ASSIGN_OR_RETURN(const std::vector<std::string_view> present, RecordedIds(deletes));
  SOCHDB_RETURN_IF_ERROR(WriteRecords(upserts, present, batch, seal));
  WaitOutSnapshotRead();
  // The change is durable from here on, so it is acknowledged even if the in-memory index
  // cannot take it: the index is then marked stale and rebuilt from the records.
  const absl::Status applied = ApplyToIndex(upserts, present);
  last_write_ = absl::Now();
  insert_memory_released_ = false;
  if (!applied.ok()) {
    index_stale_ = true;
    spdlog::error(
        "vector space {}: a committed change could not be applied to the in-memory index ({}); "
        "rebuilding it from the records at the next maintenance pass",
        absl::StrJoin(options_.scope, "/"), applied.ToString());
  }
  return present.size();
}

absl::StatusOr<std::vector<std::string_view>> VectorSpace::RecordedIds(
    absl::Span<const std::string_view> ids) const {
  // Whether an id exists is the record's to say, not the in-memory index's: the index may lack
  // a committed upsert (stale, until the rebuild), and a delete decided from it would be lost.
  // Records change only under write_mu_, so what is read here holds until the batch commits.
  std::vector<std::string_view> present;
  absl::flat_hash_set<std::string_view, IdHash, IdEq> seen;
  for (std::string_view id : ids) {
    if (!seen.insert(id).second) continue;
    SOCHDB_ASSIGN_OR_RETURN(const std::optional<std::string> record, store_->Get(RecordKey(id)));
    if (record.has_value()) present.push_back(id);
  }
  return present;
}

absl::Status VectorSpace::WriteRecords(absl::Span<const VectorItem> upserts,
                                       absl::Span<const std::string_view> deletes,
                                       storage::WriteBatch* batch, const BatchSeal* seal) {
  uint64_t sequence = last_sequence_;
  for (std::string_view id : deletes) {
    batch->Delete(RecordKey(id));
    batch->Put(LogKey(++sequence), EncodeLogEntry(kLogDelete, id));
  }
  for (const VectorItem& item : upserts) {
    batch->Put(RecordKey(item.id), EncodeVectorRecord(item.vector, item.extra));
    batch->Put(LogKey(++sequence), EncodeLogEntry(kLogUpsert, item.id));
  }
  if (seal != nullptr) SOCHDB_RETURN_IF_ERROR((*seal)(sequence, batch));
  SOCHDB_RETURN_IF_ERROR(store_->Write(batch));
  last_sequence_ = sequence;
  PublishProgress();
  return absl::OkStatus();
}

absl::Status VectorSpace::ApplyToIndex(absl::Span<const VectorItem> upserts,
                                       absl::Span<const std::string_view> deletes) {
  absl::Status applied;
  {
    absl::MutexLock index_lock(&index_mu_);
    applied = observer_->BeforeIndexApply();
    for (std::string_view id : deletes) {
      if (applied.ok()) applied = ApplyDelete(*state_, id);
    }
    PublishCounts();
  }
  if (!applied.ok() || upserts.empty()) return applied;
  // The room the batch needs is made first, beside searches: growing the index's arrays (a
  // copy of ~1 GB at 1M x 128 when they fill up, and after a restart) held every search of
  // the index for about a second when Add did it under the exclusive lock.
  {
    absl::ReaderMutexLock index_lock(&index_mu_);
    state_->ann->PrepareAdd(static_cast<int64_t>(upserts.size()));
  }
  return ApplyUpsertsBesideSearches(upserts);
}

absl::Status VectorSpace::ApplyUpsertsBesideSearches(absl::Span<const VectorItem> upserts) {
  // Searches wait while the graph grows, so a large batch goes in in chunks with the index
  // lock released between them: a search waits for one chunk, not the whole batch. A search
  // may see part of the batch; each replaced id is swapped within one chunk, so it finds the
  // old vector or the new one, never neither. (write_mu_ keeps other writers, snapshots and
  // compaction out until the whole batch is in.)
  absl::Status applied;
  for (size_t begin = 0; begin < upserts.size() && applied.ok();) {
    const bool searching = SearchesActive();
    if (searching) TakeSearchTurn();
    const size_t chunk = searching ? kApplyChunkBesideSearches : kApplyChunk;
    const int64_t start = options_.steady_clock->NowNanos();
    {
      absl::MutexLock index_lock(&index_mu_);
      const absl::Span<const VectorItem> items = upserts.subspan(begin, chunk);
      observer_->InIndexChunk(items.size());
      applied = ApplyUpserts(*state_, items);
      PublishCounts();
    }
    const int64_t end = options_.steady_clock->NowNanos();
    search_turn_until_ns_ = end + std::min(end - start, absl::ToInt64Nanoseconds(kMaxSearchTurn));
    begin += chunk;
  }
  return applied;
}

void VectorSpace::WaitOutSnapshotRead() const {
  // No snapshot can start while the caller holds write_mu_; one already writing its vectors may
  // copy its next piece after this, so a writer can still wait behind one copy (~8 ms).
  absl::MutexLock wait_for_snapshot(&snapshot_read_mu_);
}

bool VectorSpace::SearchesActive() const {
  return searches_in_flight_.load(std::memory_order_relaxed) > 0 ||
         options_.steady_clock->NowNanos() - last_search_end_ns_.load(std::memory_order_relaxed) <
             absl::ToInt64Nanoseconds(kSearchesRecent);
}

// Searches and a writer adding a large batch share the index about evenly: after a chunk the
// writer stays away for as long as the chunk held the lock while searches keep coming.
// Without this a mutex hands itself straight back to the writer that released it (absl queues
// new readers behind a waiting writer), and in a measured 300k load two searching clients got
// ~60 searches per second between 256-vector chunks. The writer must not wait on the mutex
// itself, for the same reason; it sleeps in short steps instead of spinning, to leave the
// cores to the searches.
void VectorSpace::TakeSearchTurn() {
  const int64_t gap = absl::ToInt64Nanoseconds(kSearchGap);
  const SteadyClock& clock = *options_.steady_clock;
  for (int64_t now = clock.NowNanos(); now < search_turn_until_ns_; now = clock.NowNanos()) {
    if (searches_in_flight_.load(std::memory_order_relaxed) == 0 &&
        now - last_search_end_ns_.load(std::memory_order_relaxed) > gap) {
      return;
    }
    clock.SleepNanos(absl::ToInt64Nanoseconds(kTurnPoll));
  }
}

absl::Status VectorSpace::ApplyUpserts(IndexState& state, absl::Span<const VectorItem> items) {
  if (items.empty()) return absl::OkStatus();
  const uint32_t dimension = state.ann->spec().dimension;
  std::vector<float> flat;
  flat.reserve(items.size() * dimension);
  for (const VectorItem& item : items) flat.insert(flat.end(), item.vector.begin(), item.vector.end());
  SOCHDB_ASSIGN_OR_RETURN(const int64_t first, state.ann->Add(flat));
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string id(items[i].id);
    const int64_t label = first + static_cast<int64_t>(i);
    auto [it, inserted] = state.label_of.try_emplace(id, label);
    if (!inserted) {  // a replaced vector: its old label goes
      SOCHDB_RETURN_IF_ERROR(state.ann->Remove(it->second));
      state.id_of[static_cast<size_t>(it->second)].clear();
      state.extra_of.erase(it->second);
      it->second = label;
    }
    if (state.id_of.size() <= static_cast<size_t>(label)) state.id_of.resize(label + 1);
    state.id_of[static_cast<size_t>(label)] = id;
    if (!items[i].extra.empty()) state.extra_of[label].assign(items[i].extra);
    state.extra_floor = std::min(state.extra_floor, items[i].extra.size());
  }
  return absl::OkStatus();
}

void VectorSpace::PublishCounts() {
  live_ids_.store(state_->label_of.size(), std::memory_order_relaxed);
  extra_floor_.store(state_->extra_floor, std::memory_order_relaxed);
}

absl::Status VectorSpace::ApplyDelete(IndexState& state, std::string_view id) {
  auto it = state.label_of.find(id);
  if (it == state.label_of.end()) return absl::OkStatus();
  SOCHDB_RETURN_IF_ERROR(state.ann->Remove(it->second));
  state.id_of[static_cast<size_t>(it->second)].clear();
  state.extra_of.erase(it->second);
  state.label_of.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<VectorHit>> VectorSpace::Nearest(
    absl::Span<const float> query, uint32_t k, uint32_t ef,
    const std::function<bool(std::string_view)>* accept, double selectivity_hint,
    bool with_extra, size_t* live_ids) const {
  SearchLock index_lock(this);
  const IndexState& state = *state_;
  if (live_ids != nullptr) *live_ids = state.label_of.size();
  LabelFilter filter;
  if (accept != nullptr) {
    filter.accept = [&state, accept](int64_t label) {
      const std::string& id = state.id_of[static_cast<size_t>(label)];
      return !id.empty() && (*accept)(id);
    };
    filter.selectivity_hint = selectivity_hint;
  }
  SOCHDB_ASSIGN_OR_RETURN(std::vector<Neighbor> neighbors,
                          state.ann->Search(query, k, ef, accept != nullptr ? &filter : nullptr));
  std::vector<VectorHit> hits;
  hits.reserve(neighbors.size());
  for (const Neighbor& n : neighbors) {
    if (n.label < 0 || static_cast<size_t>(n.label) >= state.id_of.size()) continue;
    const std::string& id = state.id_of[static_cast<size_t>(n.label)];
    if (id.empty()) continue;  // tombstoned (AnnIndex should never return these)
    hits.push_back(VectorHit{id, n.distance, {}});
    if (with_extra) {
      auto extra = state.extra_of.find(n.label);
      if (extra != state.extra_of.end()) hits.back().extra = extra->second;
    }
  }
  return hits;
}

absl::StatusOr<std::vector<VectorHit>> VectorSpace::Search(
    absl::Span<const float> query, uint32_t k, uint32_t ef,
    const std::function<bool(std::string_view id)>* accept, double selectivity_hint,
    bool with_extra, size_t* live_ids) const {
  SOCHDB_ASSIGN_OR_RETURN(std::vector<VectorHit> hits,
                          Nearest(query, k, ef, accept, selectivity_hint, with_extra, live_ids));
  // The index orders equal distances by label (insertion order); the contract is by id.
  std::stable_sort(hits.begin(), hits.end(), [](const VectorHit& a, const VectorHit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  });
  return hits;
}

absl::StatusOr<std::optional<StoredVector>> VectorSpace::Get(std::string_view id) const {
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, store_->Get(RecordKey(id)));
  if (!record.has_value()) return std::optional<StoredVector>();
  StoredVector stored;
  SOCHDB_RETURN_IF_ERROR(
      DecodeVectorRecord(*record, options_.spec.dimension, &stored.vector, &stored.extra));
  return std::optional<StoredVector>(std::move(stored));
}

bool VectorSpace::Contains(std::string_view id) const {
  absl::ReaderMutexLock index_lock(&index_mu_);
  return state_->label_of.contains(id);
}

void VectorSpace::PublishProgress() {
  absl::MutexLock stats_lock(&stats_mu_);
  published_.last_sequence = last_sequence_;
  published_.snapshot_sequence = snapshot_sequence_;
  published_.loaded_from_snapshot = loaded_from_snapshot_;
  published_.replayed_changes = replayed_changes_;
}

VectorSpaceStats VectorSpace::Stats() const {
  // A metrics scrape or GetStats must not queue behind a writer: on write_mu_ it waited for the
  // whole batch (4.5 s for a 40k-vector InsertBatch), and queued on index_mu_ it would wait for
  // the chunk being applied, holding up every search that arrives meanwhile.
  if (index_mu_.ReaderTryLock()) {
    const AnnStats ann = state_->ann->Stats();
    index_mu_.ReaderUnlock();
    absl::MutexLock stats_lock(&stats_mu_);
    published_.ann = ann;
  }
  absl::MutexLock stats_lock(&stats_mu_);
  VectorSpaceStats stats = published_;
  stats.vectors = size();
  return stats;
}

uint64_t VectorSpace::last_sequence() const {
  absl::MutexLock stats_lock(&stats_mu_);
  return published_.last_sequence;
}

absl::Status VectorSpace::ForEach(
    const std::function<void(std::string_view id, std::string_view extra)>& fn) const {
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view.get());
  for (it->Seek(record_prefix_); it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    if (key.substr(0, record_prefix_.size()) != record_prefix_) break;
    std::string_view extra;
    SOCHDB_RETURN_IF_ERROR(VectorRecordExtra(it->value(), options_.spec.dimension, &extra));
    fn(key.substr(record_prefix_.size()), extra);
  }
  return it->status();
}

}  // namespace sochdb::vector
