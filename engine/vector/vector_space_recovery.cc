// VectorSpace recovery and maintenance: opening from a snapshot file plus the change log (or
// rebuilding from the vector records), writing snapshots, trimming the log they cover, compacting
// away tombstones, and dropping a space.
//
// Snapshot file layout (all integers little-endian):
//   "SOCHVS03" | u32 n, identity (n bytes) | u64 covered sequence | u64 n, AnnIndex image
//   | u64 label count, per label: u32 n, id bytes ("" = tombstoned), u32 m, extra bytes
//   | u32 CRC-32 of all before
// The identity is the space's scope (for an index: tenant, name and incarnation, the creation
// id) and its spec, as SnapshotIdentity encodes them: a file copied or restored over another
// index's path, even another tenant's, does not match and is rebuilt over, never served.
// (Format 01 had no extras and 02 no identity; such a file is treated as unusable and the index
// rebuilt from its records once.)
//
// Sequence bookkeeping: the log entry of the newest snapshot's sequence is kept when the log is
// trimmed, so the last sequence is always recoverable from the log itself: the store's last
// entry is how far the store has got (it commits in the batch of its change). A snapshot older
// than the oldest kept entry (a gap) is rebuilt over; so is one that covers more than the
// store's last entry (store/ restored from an older backup beside newer snapshots, or a
// write-ahead log cut short by a power cut or dropped with --accept-log-loss): it holds
// vectors the store does not. Such a snapshot is deleted before the space takes a write: the
// sequences it covers are given out again, and it would then pass for a current one.
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/common/files.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/vector/vector_record.h"
#include "engine/vector/vector_space.h"
#include "spdlog/spdlog.h"

namespace sochdb::vector {
namespace {

constexpr char kSnapshotMagic[] = "SOCHVS03";
constexpr size_t kMagicBytes = 8;
constexpr size_t kRebuildChunk = 4096;      // vectors added to the index per call
constexpr uint64_t kMinTombstonesToCompact = 1000;

// Reads fixed-size little-endian fields from a byte string, failing (not crashing) past its end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U64(uint64_t* v) { return Fixed(8, v); }
  bool U32(uint32_t* v) {
    uint64_t wide = 0;
    if (!Fixed(4, &wide)) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool Bytes(uint64_t n, std::string_view* out) {
    if (n > data_.size()) return false;
    *out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  bool Fixed(int n, uint64_t* v) {
    if (data_.size() < static_cast<size_t>(n)) return false;
    *v = 0;
    for (int i = 0; i < n; ++i) *v |= uint64_t{static_cast<unsigned char>(data_[i])} << (8 * i);
    data_.remove_prefix(n);
    return true;
  }
  std::string_view data_;
};

// The U64(sequence) after a log key's scope prefix; 0 for a key too short to hold one.
uint64_t SequenceOfLogKey(std::string_view key, size_t prefix) {
  uint64_t sequence = 0;
  storage::KeyReader(key.substr(prefix)).U64(&sequence);
  return sequence;
}

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

// The identity's scope names, readable in a log line ("vi/acme/docs/\000\001...").
std::string DescribeIdentity(std::string_view identity) {
  Reader in(identity);
  uint32_t names = 0;
  if (!in.U32(&names)) return "(unreadable)";
  std::vector<std::string> parts;
  for (uint32_t i = 0; i < names; ++i) {
    uint32_t n = 0;
    std::string_view name;
    if (!in.U32(&n) || !in.Bytes(n, &name)) return "(unreadable)";
    parts.push_back(absl::CHexEscape(absl::string_view(name.data(), name.size())));
  }
  return absl::StrJoin(parts, "/");
}

// The bytes of a snapshot file the checksum covers (all but its last 4), once the magic and
// the checksum are verified.
absl::StatusOr<std::string_view> CheckedSnapshotBody(std::string_view file) {
  if (file.size() < kMagicBytes + 4 || file.compare(0, kMagicBytes, kSnapshotMagic) != 0) {
    return absl::DataLossError("not a vector snapshot");
  }
  Reader crc_reader(file.substr(file.size() - 4));
  uint32_t crc = 0;
  crc_reader.U32(&crc);
  const std::string_view body = file.substr(0, file.size() - 4);
  if (Crc32(body) != crc) return absl::DataLossError("checksum mismatch");
  return body;
}

}  // namespace

std::string SnapshotIdentity(const std::vector<std::string>& scope, const IndexSpec& spec) {
  std::string identity;
  StringSink out(&identity);
  AppendU32(&out, static_cast<uint32_t>(scope.size()));
  for (const std::string& name : scope) {
    AppendU32(&out, static_cast<uint32_t>(name.size()));
    out.Append(name);
  }
  for (const uint32_t field :
       {spec.dimension, static_cast<uint32_t>(spec.metric),
        static_cast<uint32_t>(spec.quantization), spec.m, spec.m0, spec.ef_construction,
        spec.ef_search, spec.pq_subvectors, spec.exact_threshold}) {
    AppendU32(&out, field);
  }
  return identity;
}

// Vectors decoded from records, added to an index state in chunks (rebuild and log replay).
class VectorSpace::PendingUpserts {
 public:
  absl::Status Add(std::string_view id, std::string_view record, uint32_t dimension) {
    Entry entry;
    entry.id.assign(id);
    SOCHDB_RETURN_IF_ERROR(DecodeVectorRecord(record, dimension, &entry.vector, &entry.extra));
    entries_.push_back(std::move(entry));
    return absl::OkStatus();
  }
  size_t size() const { return entries_.size(); }
  absl::Status Flush(IndexState& state) {
    std::vector<VectorItem> items;
    items.reserve(entries_.size());
    for (const Entry& e : entries_) items.push_back(VectorItem{e.id, e.vector, e.extra});
    SOCHDB_RETURN_IF_ERROR(ApplyUpserts(state, items));
    entries_.clear();
    return absl::OkStatus();
  }

 private:
  struct Entry {
    std::string id;
    std::vector<float> vector;
    std::string extra;
  };
  std::vector<Entry> entries_;
};

absl::StatusOr<uint64_t> VectorSpace::LastLoggedSequence(const storage::Snapshot* view) const {
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view);
  const std::string end = storage::PrefixSuccessor(log_prefix_);
  if (end.empty()) {
    it->SeekToLast();
  } else {
    it->Seek(end);
    if (it->Valid()) {
      it->Prev();
    } else {
      it->SeekToLast();
    }
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  if (!it->Valid() || !HasPrefix(it->key(), log_prefix_)) return uint64_t{0};
  return SequenceOfLogKey(it->key(), log_prefix_.size());
}

absl::Status VectorSpace::Load() {
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  SOCHDB_ASSIGN_OR_RETURN(const uint64_t last_logged, LastLoggedSequence(view.get()));
  uint64_t first_logged = 0;
  {
    std::unique_ptr<storage::Iterator> it = store_->NewIterator(view.get());
    it->Seek(log_prefix_);
    SOCHDB_RETURN_IF_ERROR(it->status());
    if (it->Valid() && HasPrefix(it->key(), log_prefix_)) {
      first_logged = SequenceOfLogKey(it->key(), log_prefix_.size());
    }
  }
  uint64_t covered = 0;
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<IndexState> state,
                          LoadSnapshot(first_logged, last_logged, &covered));
  absl::MutexLock write_lock(&write_mu_);
  uint64_t replayed = 0;
  if (state != nullptr) {
    SOCHDB_ASSIGN_OR_RETURN(replayed, ReplayLog(*state, covered, view.get()));
    loaded_from_snapshot_ = true;
    snapshot_sequence_ = covered;
  } else {
    SOCHDB_ASSIGN_OR_RETURN(state, BuildFromRecords(view.get()));
  }
  replayed_changes_ = replayed;
  last_sequence_ = last_logged;  // a snapshot in use covers no more than the log (LoadSnapshot)
  PublishProgress();
  absl::MutexLock index_lock(&index_mu_);
  state_ = std::move(state);
  PublishCounts();
  absl::MutexLock stats_lock(&stats_mu_);
  published_.ann = state_->ann->Stats();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VectorSpace::IndexState>> VectorSpace::LoadSnapshot(
    uint64_t first_logged, uint64_t last_logged, uint64_t* covered) const {
  *covered = 0;
  if (options_.snapshot_path.empty()) return nullptr;
  uint64_t sequence = 0;
  absl::StatusOr<std::unique_ptr<IndexState>> loaded = LoadSnapshotFile(&sequence);
  if (absl::IsNotFound(loaded.status())) return nullptr;
  const bool ahead = loaded.ok() && sequence > last_logged;
  if (ahead) {
    loaded = absl::DataLossError(absl::StrCat(
        "snapshot covers changes up to ", sequence, " but the store's log ends at ", last_logged,
        ": it holds changes the store does not (store restored from an older copy, or its "
        "write-ahead log cut short)"));
  } else if (loaded.ok() && first_logged != 0 && sequence + 1 < first_logged) {
    loaded = absl::DataLossError(absl::StrCat("snapshot covers changes up to ", sequence,
                                              " but the log starts at ", first_logged));
  }
  if (loaded.ok()) {
    *covered = sequence;
    return loaded;
  }
  spdlog::warn("vector snapshot {} is unusable ({}); rebuilding the index from its records",
               options_.snapshot_path, loaded.status().ToString());
  if (ahead) {
    // The store gives the sequences it covers out again from here: left in place, the file
    // would be taken for current once they are (its ghosts served again), so it goes first.
    SOCHDB_RETURN_IF_ERROR(options_.file_system->RemoveFile(options_.snapshot_path));
    SOCHDB_RETURN_IF_ERROR(options_.file_system->SyncDir(DirectoryOf(options_.snapshot_path)));
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<VectorSpace::IndexState>> VectorSpace::LoadSnapshotFile(
    uint64_t* sequence) const {
  const absl::Time start = absl::Now();
  // Mapped, not read: the image is copied once, from the page cache into the index's arrays.
  SOCHDB_ASSIGN_OR_RETURN(const std::unique_ptr<MappedFile> mapped,
                          options_.file_system->MapFile(options_.snapshot_path));
  const std::string_view file = mapped->bytes();
  const absl::Time read = absl::Now();
  SOCHDB_ASSIGN_OR_RETURN(const std::string_view body, CheckedSnapshotBody(file));
  const absl::Time checked = absl::Now();
  Reader in(body.substr(kMagicBytes));
  uint32_t identity_size = 0;
  std::string_view identity;
  if (!in.U32(&identity_size) || !in.Bytes(identity_size, &identity)) {
    return absl::DataLossError("truncated snapshot header");
  }
  if (identity != identity_) {
    return absl::DataLossError(absl::StrCat(
        "the snapshot belongs to another index or definition (", DescribeIdentity(identity),
        "; this index is ", DescribeIdentity(identity_), ")"));
  }
  uint64_t image_size = 0, labels = 0;
  std::string_view image;
  if (!in.U64(sequence) || !in.U64(&image_size) || !in.Bytes(image_size, &image) ||
      !in.U64(&labels)) {
    return absl::DataLossError("truncated snapshot header");
  }
  auto state = std::make_unique<IndexState>();
  SOCHDB_ASSIGN_OR_RETURN(state->ann, AnnIndex::Deserialize(image, options_.spec));
  const absl::Time decoded = absl::Now();
  if (labels != state->ann->Stats().labels) {
    return absl::DataLossError("snapshot label table does not match its index");
  }
  state->id_of.resize(labels);
  state->label_of.reserve(labels);
  for (uint64_t label = 0; label < labels; ++label) {
    uint32_t n = 0, m = 0;
    std::string_view id, extra;
    if (!in.U32(&n) || !in.Bytes(n, &id) || !in.U32(&m) || !in.Bytes(m, &extra)) {
      return absl::DataLossError("truncated label table");
    }
    if (id.empty()) {
      if (!extra.empty()) return absl::DataLossError("a tombstoned label has extra bytes");
      continue;
    }
    state->id_of[label].assign(id);
    if (!state->label_of.try_emplace(state->id_of[label], static_cast<int64_t>(label)).second) {
      return absl::DataLossError("an id appears twice in the label table");
    }
    if (!extra.empty()) state->extra_of[static_cast<int64_t>(label)].assign(extra);
    state->extra_floor = std::min(state->extra_floor, extra.size());
  }
  if (!in.empty()) return absl::DataLossError("trailing bytes in snapshot");
  spdlog::debug("vector snapshot {}: {} bytes; read {}, checksum {}, index {}, label table {}",
                options_.snapshot_path, file.size(), absl::FormatDuration(read - start),
                absl::FormatDuration(checked - read), absl::FormatDuration(decoded - checked),
                absl::FormatDuration(absl::Now() - decoded));
  return state;
}

absl::StatusOr<std::unique_ptr<VectorSpace::IndexState>> VectorSpace::BuildFromRecords(
    const storage::Snapshot* view) const {
  auto state = std::make_unique<IndexState>();
  SOCHDB_ASSIGN_OR_RETURN(state->ann, AnnIndex::Create(options_.spec));
  PendingUpserts pending;
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view);
  for (it->Seek(record_prefix_); it->Valid() && HasPrefix(it->key(), record_prefix_); it->Next()) {
    SOCHDB_RETURN_IF_ERROR(
        pending.Add(it->key().substr(record_prefix_.size()), it->value(), options_.spec.dimension));
    if (pending.size() == kRebuildChunk) SOCHDB_RETURN_IF_ERROR(pending.Flush(*state));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  SOCHDB_RETURN_IF_ERROR(pending.Flush(*state));
  return state;
}

absl::StatusOr<uint64_t> VectorSpace::ReplayLog(IndexState& state, uint64_t after,
                                                const storage::Snapshot* view) const {
  uint64_t replayed = 0;
  PendingUpserts pending;
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view);
  for (it->Seek(LogKey(after + 1)); it->Valid() && HasPrefix(it->key(), log_prefix_); it->Next()) {
    char op = 0;
    std::string_view id;
    SOCHDB_RETURN_IF_ERROR(DecodeLogEntry(it->value(), &op, &id));
    ++replayed;
    if (op == kLogDelete) {
      SOCHDB_RETURN_IF_ERROR(pending.Flush(state));
      SOCHDB_RETURN_IF_ERROR(ApplyDelete(state, id));
      continue;
    }
    // The record holds the id's latest vector; a later entry for the same id re-applies it
    // (ApplyUpserts tombstones the earlier label, even within one chunk).
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, store_->Get(RecordKey(id), view));
    if (!record.has_value()) continue;  // deleted later: a later 'd' entry follows
    SOCHDB_RETURN_IF_ERROR(pending.Add(id, *record, options_.spec.dimension));
    if (pending.size() == kRebuildChunk) SOCHDB_RETURN_IF_ERROR(pending.Flush(state));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  SOCHDB_RETURN_IF_ERROR(pending.Flush(state));
  return replayed;
}

absl::Status VectorSpace::EncodeSnapshot(const IndexState& state, std::string_view identity,
                                         uint64_t sequence, ByteSink* head, uint64_t* codes,
                                         ByteSink* tail) {
  head->Append(std::string_view(kSnapshotMagic, kMagicBytes));
  AppendU32(head, static_cast<uint32_t>(identity.size()));
  head->Append(identity);
  AppendU64(head, sequence);
  CountingSink image_size;  // a dry run: the image is handed over as pointers, not copied
  SOCHDB_RETURN_IF_ERROR(state.ann->SerializeTo(&image_size));
  AppendU64(head, image_size.count());
  SOCHDB_RETURN_IF_ERROR(state.ann->SerializeHead(head, codes));
  AppendU64(tail, state.id_of.size());
  for (size_t label = 0; label < state.id_of.size(); ++label) {
    const std::string& id = state.id_of[label];
    AppendU32(tail, static_cast<uint32_t>(id.size()));
    tail->Append(id);
    auto extra = state.extra_of.find(static_cast<int64_t>(label));
    if (extra == state.extra_of.end()) {
      AppendU32(tail, 0);
    } else {
      AppendU32(tail, static_cast<uint32_t>(extra->second.size()));
      tail->Append(extra->second);
    }
  }
  return absl::OkStatus();
}

absl::Status VectorSpace::TrimLog(uint64_t through) const {
  if (through == 0) return absl::OkStatus();
  return store_->DeleteRange(log_prefix_, LogKey(through + 1));
}

// What a snapshot wrote while it held writers (see WriteSnapshotHead), and what is left.
struct VectorSpace::SnapshotHead {
  std::unique_ptr<AtomicFileWriter> file;  // null: nothing to write
  uint64_t sequence = 0;
  uint64_t codes = 0;             // bytes of stored codes that follow the head
  std::string tail;               // the id table, after the codes
  const AnnIndex* ann = nullptr;  // the index the head came from
  absl::Duration writers_held;
};

absl::Status VectorSpace::Snapshot() {
  if (options_.snapshot_path.empty()) return absl::OkStatus();
  absl::MutexLock snapshot_lock(&snapshot_mu_);  // also keeps state_ from being replaced
  // A retired space's file is deleted, or about to be.
  if (retired()) return absl::OkStatus();
  const absl::Time start = absl::Now();
  SnapshotHead head;
  SOCHDB_RETURN_IF_ERROR(WriteSnapshotHead(&head));
  if (head.file == nullptr) return absl::OkStatus();
  AtomicFileWriter* file = head.file.get();
  SOCHDB_RETURN_IF_ERROR(WriteSnapshotCodes(head.ann, head.codes, file));
  file->Append(head.tail);
  // The checksum, fsync and rename with no lock held: writes and searches go on.
  AppendU32(file, file->crc());
  SOCHDB_RETURN_IF_ERROR(file->Commit());
  {
    absl::MutexLock write_lock(&write_mu_);
    snapshot_sequence_ = std::max(snapshot_sequence_, head.sequence);
    PublishProgress();
  }
  spdlog::info("vector snapshot {}: {} MB at change {} in {} ms (index writes held {} ms)",
               options_.snapshot_path, file->size() >> 20, head.sequence,
               absl::ToInt64Milliseconds(absl::Now() - start),
               absl::ToInt64Milliseconds(head.writers_held));
  // Keep the covered sequence's own entry: the log must always show the last sequence.
  return TrimLog(head.sequence - 1);
}

absl::Status VectorSpace::WriteSnapshotHead(SnapshotHead* head) {
  absl::ReleasableMutexLock write_lock(&write_mu_);
  const absl::Time holding = absl::Now();  // from here the next writer waits
  if (last_sequence_ == snapshot_sequence_) return absl::OkStatus();
  // A stale index must not be saved as covering changes it lacks; the log keeps them until
  // the rebuild, and a restart before it replays them.
  if (index_stale_) return absl::OkStatus();
  head->sequence = last_sequence_;
  SOCHDB_ASSIGN_OR_RETURN(head->file,
                          AtomicFileWriter::Create(options_.file_system, options_.snapshot_path));
  // Holding the index's reader lock pins the state at `sequence`: the next writer may commit
  // to the store meanwhile, but it cannot touch the index until the lock is let go. What can
  // change afterwards (the graph's links, tombstones, the id table) is read now: the links go
  // from the index's own arrays into the file (the page cache), the id table into `tail`
  // (tens of MB at 1M). The stored vectors, which cannot change, follow with writes going on.
  absl::MutexLock reading(&snapshot_read_mu_);
  absl::ReaderMutexLock index_lock(&index_mu_);
  write_lock.Release();
  observer_->InSnapshotRead();
  StringSink tail_sink(&head->tail);
  head->ann = state_->ann.get();
  absl::Status encoded = EncodeSnapshot(*state_, identity_, head->sequence, head->file.get(),
                                        &head->codes, &tail_sink);
  if (!head->file->status().ok()) return head->file->status();  // the cause, not FAISS's echo
  SOCHDB_RETURN_IF_ERROR(encoded);
  head->writers_held = absl::Now() - holding;
  return absl::OkStatus();
}

absl::Status VectorSpace::WriteSnapshotCodes(const AnnIndex* ann, uint64_t codes,
                                             AtomicFileWriter* file) {
  // The vectors in pieces, each copied under the reader lock and written after it (a writer
  // waits for a copy, ~8 ms for 32 MB, not for the file); writes and searches go on in between.
  // At 1M x 128 they are 512 MB of a 760 MB image: ~0.8 s of writes no longer held up.
  std::string piece;
  for (uint64_t offset = 0; offset < codes;) {
    observer_->BetweenSnapshotPieces();
    const uint64_t length =
        std::min<uint64_t>(codes - offset, std::max<uint64_t>(options_.snapshot_piece_bytes, 1));
    piece.clear();
    StringSink piece_sink(&piece);
    {
      absl::MutexLock reading(&snapshot_read_mu_);
      absl::ReaderMutexLock index_lock(&index_mu_);
      // snapshot_mu_ keeps state_ in place (compaction replaces it under that lock too).
      if (state_->ann.get() != ann) {
        return absl::InternalError("the index was replaced mid-snapshot");
      }
      SOCHDB_RETURN_IF_ERROR(state_->ann->AppendStoredCodes(offset, length, &piece_sink));
    }
    file->Append(piece);
    if (!file->status().ok()) return file->status();
    offset += length;
  }
  return absl::OkStatus();
}

absl::Status VectorSpace::CompactIndex() {
  bool stale = false;
  {
    absl::MutexLock write_lock(&write_mu_);
    stale = index_stale_;
  }
  if (!stale) {
    absl::ReaderMutexLock index_lock(&index_mu_);
    const AnnStats stats = state_->ann->Stats();
    if (stats.tombstones < kMinTombstonesToCompact ||
        static_cast<double>(stats.tombstones) <
            options_.rebuild_tombstone_ratio * static_cast<double>(stats.labels)) {
      return absl::OkStatus();
    }
  }
  std::unique_ptr<storage::Snapshot> view;
  uint64_t at = 0;
  {
    absl::MutexLock write_lock(&write_mu_);  // no commit between the view and its sequence
    view = store_->GetSnapshot();
    at = last_sequence_;
  }
  // The long part runs without locks: searches and writes go on against the old index.
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<IndexState> fresh, BuildFromRecords(view.get()));
  absl::MutexLock snapshot_lock(&snapshot_mu_);  // a snapshot may be reading the old state
  absl::MutexLock write_lock(&write_mu_);
  if (snapshot_sequence_ > at + 1) {
    // A snapshot (from another thread) finished meanwhile and trimmed the log past `at`: the
    // changes after `at` can no longer all be replayed. The next pass starts over.
    return absl::OkStatus();
  }
  SOCHDB_RETURN_IF_ERROR(ReplayLog(*fresh, at, nullptr).status());
  absl::MutexLock index_lock(&index_mu_);
  spdlog::info("vector index {}: {} tombstones dropped",
               stale ? "rebuilt from its records" : "compacted", state_->ann->Stats().tombstones);
  state_ = std::move(fresh);
  PublishCounts();
  // The rebuild replayed every change up to now; one that failed to apply after `at` was
  // replayed into the fresh index too.
  index_stale_ = false;
  return absl::OkStatus();
}

absl::Status VectorSpace::Maintain() {
  if (retired()) return absl::OkStatus();
  SOCHDB_RETURN_IF_ERROR(CompactIndex());
  // Snapshots cost in proportion to the index, so the gap between them grows with it: the
  // writes of snapshots over a load stay in proportion to the load, and a crash replays at most
  // that fraction of the index (or snapshot_every_changes).
  const auto growth = static_cast<uint64_t>(options_.snapshot_growth_ratio *
                                            static_cast<double>(size()));
  bool due = false;
  {
    absl::MutexLock write_lock(&write_mu_);
    const uint64_t pending = last_sequence_ - snapshot_sequence_;
    due = pending >= std::max(options_.snapshot_every_changes, growth) ||
          (pending > 0 && absl::Now() - last_write_ >= options_.snapshot_when_idle);
    if (!insert_memory_released_ &&
        absl::Now() - last_write_ >= options_.release_insert_memory_after) {
      WaitOutSnapshotRead();  // as a writer does (a snapshot may be started elsewhere)
      absl::MutexLock index_lock(&index_mu_);
      state_->ann->ReleaseInsertMemory();
      insert_memory_released_ = true;
    }
  }
  return due ? Snapshot() : absl::OkStatus();
}

void VectorSpace::Retire() {
  absl::MutexLock snapshot_lock(&snapshot_mu_);  // a snapshot in progress finishes first
  absl::MutexLock write_lock(&write_mu_);        // and so does a write
  retired_.store(true, std::memory_order_release);
}

absl::Status VectorSpace::DropAll() {
  Retire();
  // Nothing can add to the scope or the snapshot path any more: no lock is needed to empty them.
  return DropScope(store_, options_.scope, options_.file_system, options_.snapshot_path);
}

absl::Status VectorSpace::DropScope(storage::Store* store, const std::vector<std::string>& scope,
                                    FileSystem* files, const std::string& snapshot_path) {
  SOCHDB_RETURN_IF_ERROR(
      store->DeletePrefix(VectorScopePrefix(storage::KeyFamily::kVector, scope)));
  SOCHDB_RETURN_IF_ERROR(
      store->DeletePrefix(VectorScopePrefix(storage::KeyFamily::kVectorLog, scope)));
  if (!snapshot_path.empty()) SOCHDB_RETURN_IF_ERROR(files->RemoveFile(snapshot_path));
  return absl::OkStatus();
}

}  // namespace sochdb::vector
