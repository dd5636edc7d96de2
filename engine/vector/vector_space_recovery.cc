// VectorSpace recovery and maintenance: opening from a snapshot file plus the change log (or
// rebuilding from the vector records), writing snapshots, trimming the log they cover, compacting
// away tombstones, and dropping a space.
//
// Snapshot file layout (all integers little-endian):
//   "SOCHVS01" | u64 covered sequence | u64 n, AnnIndex image (n bytes)
//   | u64 label count, per label: u32 n, id bytes ("" = tombstoned) | u32 CRC-32 of all before
//
// Sequence bookkeeping: the log entry of the newest snapshot's sequence is kept when the log is
// trimmed, so the last sequence is always recoverable from the log itself, and a snapshot older
// than the oldest kept entry (a gap) is detected and rebuilt over.
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/files.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/vector/vector_record.h"
#include "engine/vector/vector_space.h"
#include "spdlog/spdlog.h"

namespace sochdb::vector {
namespace {

constexpr char kSnapshotMagic[] = "SOCHVS01";
constexpr size_t kMagicBytes = 8;
constexpr size_t kRebuildChunk = 4096;      // vectors added to the index per call
constexpr int kDeleteBatch = 10000;  // keys deleted per batch when trimming or dropping
constexpr uint64_t kMinTombstonesToCompact = 1000;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

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

uint64_t SequenceOfLogKey(std::string_view key, size_t prefix) {
  uint64_t v = 0;
  for (size_t i = prefix; i < key.size() && i < prefix + 8; ++i) {
    v = (v << 8) | static_cast<unsigned char>(key[i]);
  }
  return v;
}

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

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
  std::unique_ptr<IndexState> state;
  uint64_t covered = 0;
  if (!options_.snapshot_path.empty()) {
    absl::StatusOr<std::unique_ptr<IndexState>> loaded = LoadSnapshotFile(&covered);
    if (loaded.ok() && first_logged != 0 && covered + 1 < first_logged) {
      loaded = absl::DataLossError(absl::StrCat("snapshot covers changes up to ", covered,
                                                " but the log starts at ", first_logged));
    }
    if (loaded.ok()) {
      state = *std::move(loaded);
    } else if (!absl::IsNotFound(loaded.status())) {
      spdlog::warn("vector snapshot {} is unusable ({}); rebuilding the index from its records",
                   options_.snapshot_path, loaded.status().ToString());
    }
  }
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
  last_sequence_ = std::max(last_logged, covered);
  absl::MutexLock index_lock(&index_mu_);
  state_ = std::move(state);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VectorSpace::IndexState>> VectorSpace::LoadSnapshotFile(
    uint64_t* sequence) const {
  SOCHDB_ASSIGN_OR_RETURN(const std::string file, ReadFileToString(options_.snapshot_path));
  if (file.size() < kMagicBytes + 4 || file.compare(0, kMagicBytes, kSnapshotMagic) != 0) {
    return absl::DataLossError("not a vector snapshot");
  }
  Reader crc_reader(std::string_view(file).substr(file.size() - 4));
  uint32_t crc = 0;
  crc_reader.U32(&crc);
  const std::string_view body = std::string_view(file).substr(0, file.size() - 4);
  if (Crc32(body) != crc) return absl::DataLossError("checksum mismatch");
  Reader in(body.substr(kMagicBytes));
  uint64_t image_size = 0, labels = 0;
  std::string_view image;
  if (!in.U64(sequence) || !in.U64(&image_size) || !in.Bytes(image_size, &image) ||
      !in.U64(&labels)) {
    return absl::DataLossError("truncated snapshot header");
  }
  auto state = std::make_unique<IndexState>();
  SOCHDB_ASSIGN_OR_RETURN(state->ann, AnnIndex::Deserialize(image, options_.spec));
  if (labels != state->ann->Stats().labels) {
    return absl::DataLossError("snapshot label table does not match its index");
  }
  state->id_of.resize(labels);
  for (uint64_t label = 0; label < labels; ++label) {
    uint32_t n = 0;
    std::string_view id;
    if (!in.U32(&n) || !in.Bytes(n, &id)) return absl::DataLossError("truncated label table");
    state->id_of[label].assign(id);
    if (!id.empty()) state->label_of[state->id_of[label]] = static_cast<int64_t>(label);
  }
  if (!in.empty()) return absl::DataLossError("trailing bytes in snapshot");
  return state;
}

absl::StatusOr<std::unique_ptr<VectorSpace::IndexState>> VectorSpace::BuildFromRecords(
    const storage::Snapshot* view) const {
  auto state = std::make_unique<IndexState>();
  SOCHDB_ASSIGN_OR_RETURN(state->ann, AnnIndex::Create(options_.spec));
  std::vector<std::string> ids;
  std::vector<std::vector<float>> vectors;
  const auto flush = [&]() -> absl::Status {
    std::vector<std::pair<std::string_view, absl::Span<const float>>> items;
    items.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) items.emplace_back(ids[i], vectors[i]);
    SOCHDB_RETURN_IF_ERROR(ApplyUpserts(*state, items));
    ids.clear();
    vectors.clear();
    return absl::OkStatus();
  };
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view);
  for (it->Seek(record_prefix_); it->Valid() && HasPrefix(it->key(), record_prefix_); it->Next()) {
    std::vector<float> vector;
    std::string extra;
    SOCHDB_RETURN_IF_ERROR(
        DecodeVectorRecord(it->value(), options_.spec.dimension, &vector, &extra));
    ids.emplace_back(it->key().substr(record_prefix_.size()));
    vectors.push_back(std::move(vector));
    if (ids.size() == kRebuildChunk) SOCHDB_RETURN_IF_ERROR(flush());
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  SOCHDB_RETURN_IF_ERROR(flush());
  return state;
}

absl::StatusOr<uint64_t> VectorSpace::ReplayLog(IndexState& state, uint64_t after,
                                                const storage::Snapshot* view) const {
  uint64_t replayed = 0;
  std::vector<std::string> ids;
  std::vector<std::vector<float>> vectors;
  const auto flush = [&]() -> absl::Status {
    std::vector<std::pair<std::string_view, absl::Span<const float>>> items;
    for (size_t i = 0; i < ids.size(); ++i) items.emplace_back(ids[i], vectors[i]);
    SOCHDB_RETURN_IF_ERROR(ApplyUpserts(state, items));
    ids.clear();
    vectors.clear();
    return absl::OkStatus();
  };
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view);
  for (it->Seek(LogKey(after + 1)); it->Valid() && HasPrefix(it->key(), log_prefix_); it->Next()) {
    char op = 0;
    std::string_view id;
    SOCHDB_RETURN_IF_ERROR(DecodeLogEntry(it->value(), &op, &id));
    ++replayed;
    if (op == kLogDelete) {
      SOCHDB_RETURN_IF_ERROR(flush());
      SOCHDB_RETURN_IF_ERROR(ApplyDelete(state, id));
      continue;
    }
    // The record holds the id's latest vector; a later entry for the same id re-applies it.
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, store_->Get(RecordKey(id), view));
    if (!record.has_value()) continue;  // deleted later: a later 'd' entry follows
    std::vector<float> vector;
    std::string extra;
    SOCHDB_RETURN_IF_ERROR(DecodeVectorRecord(*record, options_.spec.dimension, &vector, &extra));
    ids.emplace_back(id);
    vectors.push_back(std::move(vector));
    if (ids.size() == kRebuildChunk) SOCHDB_RETURN_IF_ERROR(flush());
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  SOCHDB_RETURN_IF_ERROR(flush());
  return replayed;
}

absl::Status VectorSpace::WriteSnapshotFile(const IndexState& state, uint64_t sequence) const {
  SOCHDB_ASSIGN_OR_RETURN(const std::string image, state.ann->Serialize());
  std::string file(kSnapshotMagic, kMagicBytes);
  PutU64(&file, sequence);
  PutU64(&file, image.size());
  file.append(image);
  PutU64(&file, state.id_of.size());
  for (const std::string& id : state.id_of) {
    PutU32(&file, static_cast<uint32_t>(id.size()));
    file.append(id);
  }
  PutU32(&file, Crc32(file));
  return WriteFileAtomically(options_.snapshot_path, file);
}

absl::Status VectorSpace::TrimLog(uint64_t through) const {
  if (through == 0) return absl::OkStatus();
  const std::string end = LogKey(through + 1);
  for (;;) {
    storage::WriteBatch batch;
    std::unique_ptr<storage::Iterator> it = store_->NewIterator();
    for (it->Seek(log_prefix_); it->Valid() && it->key() < end && batch.Count() < kDeleteBatch;
         it->Next()) {
      batch.Delete(it->key());
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
    if (batch.Count() == 0) return absl::OkStatus();
    SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  }
}

absl::Status VectorSpace::Snapshot() {
  if (options_.snapshot_path.empty()) return absl::OkStatus();
  absl::MutexLock write_lock(&write_mu_);
  if (last_sequence_ == snapshot_sequence_) return absl::OkStatus();
  {
    absl::ReaderMutexLock index_lock(&index_mu_);
    SOCHDB_RETURN_IF_ERROR(WriteSnapshotFile(*state_, last_sequence_));
  }
  snapshot_sequence_ = last_sequence_;
  // Keep the covered sequence's own entry: the log must always show the last sequence.
  return TrimLog(last_sequence_ - 1);
}

absl::Status VectorSpace::CompactIndex() {
  {
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
  absl::MutexLock write_lock(&write_mu_);
  SOCHDB_RETURN_IF_ERROR(ReplayLog(*fresh, at, nullptr).status());
  absl::MutexLock index_lock(&index_mu_);
  spdlog::info("vector index compacted: {} tombstones dropped",
               state_->ann->Stats().tombstones);
  state_ = std::move(fresh);
  return absl::OkStatus();
}

absl::Status VectorSpace::Maintain() {
  SOCHDB_RETURN_IF_ERROR(CompactIndex());
  bool due = false;
  {
    absl::MutexLock write_lock(&write_mu_);
    due = last_sequence_ - snapshot_sequence_ >= options_.snapshot_every_changes;
  }
  return due ? Snapshot() : absl::OkStatus();
}

absl::Status VectorSpace::DropAll() {
  absl::MutexLock write_lock(&write_mu_);
  for (const std::string& prefix : {record_prefix_, log_prefix_}) {
    for (;;) {
      storage::WriteBatch batch;
      std::unique_ptr<storage::Iterator> it = store_->NewIterator();
      for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix) &&
                             batch.Count() < kDeleteBatch;
           it->Next()) {
        batch.Delete(it->key());
      }
      SOCHDB_RETURN_IF_ERROR(it->status());
      if (batch.Count() == 0) break;
      SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
    }
  }
  if (!options_.snapshot_path.empty()) SOCHDB_RETURN_IF_ERROR(RemoveFile(options_.snapshot_path));
  return absl::OkStatus();
}

}  // namespace sochdb::vector
