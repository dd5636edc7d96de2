// MemoryStore's writes, point reads, listings and namespace state. Search is in
// memory_search.cc.
#include "engine/memory/memory_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/common/absl_view.h"
#include "engine/common/files.h"
#include "engine/common/random_id.h"
#include "engine/common/status_macros.h"
#include "engine/filter/json_reader.h"
#include "engine/memory/memory_space.h"
#include "engine/storage/keys.h"
#include "engine/vector/vector_record.h"
#include "spdlog/spdlog.h"

namespace sochdb::memory {
namespace {

using internal::EpisodeRecord;
using internal::Meta;

std::string_view View(absl::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status TooLarge(std::string_view field, size_t bytes, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(field), " is ", bytes, " bytes; the limit is ", limit, " bytes"));
}

absl::Status EpisodeNotFound(uint64_t id) {
  return absl::NotFoundError(absl::StrCat("Episode ", id, " not found"));
}

absl::Status CheckLimit(const char* field, size_t value, size_t max) {
  if (value >= 1 && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " is ", value, "; the range is 1..", max));
}

// Puts (or deletes) episode `id`'s entry in the time index (Latest, as_of). The text lanes are
// in memory (text_index.h), the vector in its space.
void StageTimeEntry(std::string_view ns, uint64_t id, const EpisodeRecord& record, bool put,
                    storage::WriteBatch* batch) {
  const std::string time_key = internal::TimeKey(ns, record.t_valid_from_ms, id);
  if (put) {
    batch->Put(time_key, "");
  } else {
    batch->Delete(time_key);
  }
}

// What an episode counts in its namespace's usage: its key after the namespace (the id), its
// record and 4 bytes per embedding float.
int64_t EpisodeBytes(std::string_view record, size_t floats) {
  return static_cast<int64_t>(8 + record.size() + 4 * floats);
}

Episode ToEpisode(uint64_t id, EpisodeRecord record) {
  Episode episode;
  episode.id = id;
  episode.text = std::move(record.text);
  episode.t_valid_from_ms = record.t_valid_from_ms;
  episode.t_created_ms = record.t_created_ms;
  episode.metadata_json = std::move(record.metadata_json);
  return episode;
}

}  // namespace

absl::StatusOr<Lanes> ParseLanes(absl::string_view lanes) {
  if (lanes.empty() || lanes == "all" || lanes == "hybrid" || lanes == "three_lane" ||
      lanes == "lexical") {
    return Lanes::kAll;
  }
  if (lanes == "bm25") return Lanes::kBm25;
  if (lanes == "trigram") return Lanes::kTrigram;
  if (lanes == "vector") return Lanes::kVector;
  return absl::InvalidArgumentError(absl::StrCat(
      "lanes '", lanes, "' is not one of all, hybrid, three_lane, lexical, bm25, trigram, vector"));
}

MemoryStore::MemoryStore(storage::Store* store, MemoryStoreOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.snapshot_dir.empty()) SweepStraySnapshots();
  if (options_.usage != nullptr) options_.usage->Attach(namespaces::UsageSource::kMemory, this);
}

std::string MemoryStore::SnapshotPath(uint64_t space_id) const {
  if (options_.snapshot_dir.empty()) return std::string();
  return absl::StrCat(options_.snapshot_dir, "/", internal::SnapshotFile(space_id));
}

void MemoryStore::SweepStraySnapshots() const {
  // One metadata record per namespace: the live spaces are few keys away.
  std::vector<std::string> live;
  const std::string prefix = storage::KeyBuilder(storage::KeyFamily::kEpisodeMeta).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
    absl::StatusOr<Meta> meta = internal::DecodeMeta(it->value());
    if (!meta.ok()) {
      spdlog::error("episodes: {}; stray snapshots are kept", meta.status().ToString());
      return;  // its snapshot cannot be told apart
    }
    if (meta->dimension > 0) live.push_back(SnapshotPath(meta->space_id));
  }
  if (!it->status().ok()) return;
  for (const std::string& path :
       StraySnapshotFiles(options_.file_system, options_.snapshot_dir, "mem-", live)) {
    spdlog::warn("removing {}: a snapshot of no episode space, or one cut short", path);
    absl::Status s = options_.file_system->RemoveFile(path);
    if (!s.ok()) spdlog::warn("cannot remove {}: {}", path, s.ToString());
  }
}

MemoryStore::~MemoryStore() {
  if (options_.usage != nullptr) options_.usage->Detach(namespaces::UsageSource::kMemory);
  absl::MutexLock lock(&mu_);
  for (const auto& [ns, space] : spaces_) {
    std::shared_ptr<vector::VectorSpace> vectors = space->Vectors();
    if (vectors == nullptr) continue;
    absl::Status s = vectors->Snapshot();
    if (!s.ok()) spdlog::warn("snapshot of the episodes of '{}' at shutdown: {}", ns, s.ToString());
  }
}

void MemoryStore::Maintain() {
  std::vector<std::pair<std::string, std::shared_ptr<vector::VectorSpace>>> spaces;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [ns, space] : spaces_) {
      if (auto vectors = space->Vectors(); vectors != nullptr) spaces.emplace_back(ns, vectors);
    }
  }
  for (const auto& [ns, vectors] : spaces) {
    absl::Status s = vectors->Maintain();
    if (!s.ok()) spdlog::warn("maintenance of the episodes of '{}': {}", ns, s.ToString());
  }
}

absl::StatusOr<std::shared_ptr<MemoryStore::Space>> MemoryStore::GetSpace(std::string_view ns,
                                                                          bool create) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = spaces_.find(AbslView(ns));
    if (it != spaces_.end()) return it->second;
  }
  // Loading may rebuild an HNSW: one load at a time, outside mu_ so other namespaces go on.
  absl::MutexLock load(&load_mu_);
  {
    absl::MutexLock lock(&mu_);
    auto it = spaces_.find(AbslView(ns));
    if (it != spaces_.end()) return it->second;
  }
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> meta_record,
                          store_->Get(internal::MetaKey(ns)));
  if (!meta_record.has_value() && !create) return std::shared_ptr<Space>();
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Space> space, LoadSpace(ns, meta_record));
  absl::MutexLock lock(&mu_);
  spaces_.emplace(std::string(ns), space);
  return space;
}

absl::StatusOr<std::shared_ptr<MemoryStore::Space>> MemoryStore::LoadSpace(
    std::string_view ns, const std::optional<std::string>& meta_record) const {
  auto space = std::make_shared<Space>();
  Meta meta;
  if (meta_record.has_value()) {
    SOCHDB_ASSIGN_OR_RETURN(meta, internal::DecodeMeta(*meta_record));
  }
  if (meta_record.has_value()) {
    const int64_t started_ns = absl::GetCurrentTimeNanos();
    SOCHDB_RETURN_IF_ERROR(IndexRecords(ns, space->text));
    const TextIndexStats stats = space->text.stats();
    if (stats.episodes >= 10'000) {
      spdlog::info("episodes of '{}': {} indexed in {} ms ({} MiB in memory)", ns, stats.episodes,
                   (absl::GetCurrentTimeNanos() - started_ns) / 1'000'000,
                   stats.memory_bytes >> 20);
    }
  }
  if (meta.dimension > 0) {
    SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<vector::VectorSpace> vectors, OpenVectors(ns, meta));
    absl::MutexLock lock(&space->vectors_mu);
    space->vectors = std::move(vectors);
  }
  absl::MutexLock lock(&space->write_mu);
  space->meta = meta;
  return space;
}

absl::Status MemoryStore::IndexRecords(std::string_view ns,
                                       internal::EpisodeTextIndex& index) const {
  const std::string prefix = internal::EpisodePrefix(ns);
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  size_t unreadable = 0;
  for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
    uint64_t id = 0;
    absl::StatusOr<EpisodeRecord> record =
        internal::ParseEpisodeKeyId(it->key(), prefix.size(), &id)
            ? internal::DecodeEpisode(it->value(), id)
            : absl::DataLossError("an episode key is malformed");
    // One bad record must not take the namespace down: reading it still answers DATA_LOSS.
    if (record.ok()) {
      SOCHDB_RETURN_IF_ERROR(index.Add(id, record->text, record->t_valid_from_ms));
    } else if (unreadable++ == 0) {
      spdlog::error("episodes of '{}': {}; left out of search", ns, record.status().ToString());
    }
  }
  return it->status();
}

absl::StatusOr<std::unique_ptr<vector::VectorSpace>> MemoryStore::OpenVectors(
    std::string_view ns, const Meta& meta) const {
  vector::IndexSpec spec;
  spec.dimension = meta.dimension;
  spec.metric = vector::Metric::kCosine;
  spec.m = options_.hnsw_m;
  spec.ef_construction = options_.hnsw_ef_construction;
  spec.ef_search = options_.hnsw_ef_search;
  vector::VectorSpaceOptions space;
  SOCHDB_ASSIGN_OR_RETURN(space.spec, vector::ResolveSpec(spec));
  space.scope = internal::VectorScope(ns, meta.space_id);
  space.snapshot_path = SnapshotPath(meta.space_id);
  space.file_system = options_.file_system;
  return vector::VectorSpace::Open(store_, std::move(space));
}

absl::Status MemoryStore::Validate(const EpisodeWrite& write) const {
  const MemoryLimits& limits = options_.limits;
  if (write.text.empty()) return absl::InvalidArgumentError("text must not be empty");
  if (write.text.size() > limits.max_text_bytes) {
    return TooLarge("text", write.text.size(), limits.max_text_bytes);
  }
  if (write.metadata_json.size() > limits.max_metadata_bytes) {
    return TooLarge("metadata_json", write.metadata_json.size(), limits.max_metadata_bytes);
  }
  if (!write.metadata_json.empty()) {
    absl::StatusOr<filter::JsonValue> json =
        filter::ReadJson(write.metadata_json, limits.max_metadata_depth);
    if (!json.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid metadata_json: ", json.status().message()));
    }
  }
  if (write.embedding.size() > limits.max_dimension) {
    return absl::InvalidArgumentError(absl::StrCat("embedding has ", write.embedding.size(),
                                                   " floats; the limit is ", limits.max_dimension));
  }
  if (write.embedding.empty()) return absl::OkStatus();
  return vector::ValidateVector(write.embedding, write.embedding.size(), "embedding");
}

absl::Status MemoryStore::CheckDimension(uint32_t dimension, size_t floats,
                                         const char* field) const {
  if (dimension == 0 || floats == dimension) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " has ", floats, " floats; the namespace's dimension is ", dimension));
}

absl::StatusOr<WrittenEpisode> MemoryStore::WriteEpisode(absl::string_view ns_view,
                                                         EpisodeWrite write) {
  const int64_t started_ns = absl::GetCurrentTimeNanos();
  const std::string_view ns = View(ns_view);
  SOCHDB_RETURN_IF_ERROR(Validate(write));
  const uint64_t now_ms = static_cast<uint64_t>(options_.clock->NowMicros() / 1000);
  EpisodeRecord record;
  record.t_valid_from_ms = write.t_valid_from_ms.value_or(now_ms);
  record.t_created_ms = now_ms;
  record.text = std::move(write.text);
  record.metadata_json = std::move(write.metadata_json);
  record.has_embedding = !write.embedding.empty();
  for (;;) {
    SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Space> space, GetSpace(ns, /*create=*/true));
    absl::ReaderMutexLock barrier(&count_barrier_);
    absl::MutexLock lock(&space->write_mu);
    if (space->dropped) continue;  // the namespace was deleted meanwhile: start it anew
    SOCHDB_ASSIGN_OR_RETURN(const uint64_t id, Commit(ns, *space, record, write.embedding));
    WrittenEpisode written;
    written.id = id;
    written.t_created_ms = record.t_created_ms;
    written.t_valid_from_ms = record.t_valid_from_ms;
    written.ingestion_lag_us =
        static_cast<uint64_t>((absl::GetCurrentTimeNanos() - started_ns) / 1000);
    return written;
  }
}

absl::StatusOr<uint64_t> MemoryStore::Commit(std::string_view ns, Space& space,
                                             const EpisodeRecord& record,
                                             const std::vector<float>& embedding) {
  space.write_mu.AssertHeld();  // Space is incomplete in the header, which cannot say so
  Meta meta = space.meta;
  if (!embedding.empty()) {
    SOCHDB_RETURN_IF_ERROR(CheckDimension(meta.dimension, embedding.size(), "embedding"));
  }
  const std::string encoded = internal::EncodeEpisode(record);
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kMemory);
  SOCHDB_RETURN_IF_ERROR(charge.Add(ns, {EpisodeBytes(encoded, embedding.size()), 0, 0}));
  const uint64_t id = meta.next_id++;
  ++meta.episodes;
  std::shared_ptr<vector::VectorSpace> vectors = space.Vectors();
  std::shared_ptr<vector::VectorSpace> opened;  // the space this write creates
  if (!embedding.empty() && vectors == nullptr) {
    meta.dimension = static_cast<uint32_t>(embedding.size());
    meta.space_id = RandomUint64();
    SOCHDB_ASSIGN_OR_RETURN(opened, OpenVectors(ns, meta));
    vectors = opened;
  }
  storage::WriteBatch batch;
  const std::string id_bytes = internal::IdBytes(id);
  batch.Put(internal::EpisodeKey(ns, id), encoded);
  batch.Put(internal::MetaKey(ns), internal::EncodeMeta(meta));
  StageTimeEntry(ns, id, record, /*put=*/true, &batch);
  absl::Status written;
  if (embedding.empty()) {
    written = store_->Write(&batch);
  } else {
    // No extra: as_of reads t_valid_from from the text index.
    const vector::VectorItem item{id_bytes, embedding, ""};
    written = vectors->Upsert({item}, &batch);
  }
  if (!written.ok()) {
    if (opened != nullptr) opened->Retire();  // nothing of it was committed
    return written;
  }
  charge.Commit();
  space.meta = meta;
  if (!embedding.empty()) {
    absl::MutexLock lock(&space.vectors_mu);
    space.vectors = vectors;
  }
  // Ids grow under write_mu, so Add cannot refuse this one.
  absl::Status indexed = space.text.Add(id, record.text, record.t_valid_from_ms);
  if (!indexed.ok()) spdlog::error("episode {} of '{}': {}", id, ns, indexed.ToString());
  return id;
}

absl::StatusOr<Episode> MemoryStore::ReadEpisode(std::string_view ns, uint64_t id,
                                                 const storage::Snapshot* view,
                                                 std::optional<Meta>* meta_cache) const {
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                          store_->Get(internal::EpisodeKey(ns, id), view));
  if (!bytes.has_value()) return EpisodeNotFound(id);
  SOCHDB_ASSIGN_OR_RETURN(EpisodeRecord record, internal::DecodeEpisode(*bytes, id));
  const bool embedded = record.has_embedding;
  Episode episode = ToEpisode(id, std::move(record));
  if (!embedded) return episode;
  // The vector record is the one copy of the embedding: read at the same snapshot.
  std::optional<Meta> own_meta;
  std::optional<Meta>& cached = meta_cache != nullptr ? *meta_cache : own_meta;
  if (!cached.has_value()) {
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> meta_bytes,
                            store_->Get(internal::MetaKey(ns), view));
    if (!meta_bytes.has_value()) return absl::DataLossError("episode namespace record missing");
    SOCHDB_ASSIGN_OR_RETURN(cached, internal::DecodeMeta(*meta_bytes));
  }
  const Meta& meta = *cached;
  const std::string key = vector::VectorScopePrefix(storage::KeyFamily::kVector,
                                                    internal::VectorScope(ns, meta.space_id)) +
                          internal::IdBytes(id);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> vector_bytes, store_->Get(key, view));
  if (!vector_bytes.has_value()) {
    return absl::DataLossError(absl::StrCat("the embedding of episode ", id, " is missing"));
  }
  std::string extra;
  SOCHDB_RETURN_IF_ERROR(
      vector::DecodeVectorRecord(*vector_bytes, meta.dimension, &episode.embedding, &extra));
  return episode;
}

absl::StatusOr<Episode> MemoryStore::GetEpisode(absl::string_view ns, uint64_t id) const {
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  return ReadEpisode(View(ns), id, view.get());
}

absl::Status MemoryStore::DeleteEpisode(absl::string_view ns_view, uint64_t id) {
  const std::string_view ns = View(ns_view);
  for (;;) {
    SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Space> space, GetSpace(ns, /*create=*/false));
    if (space == nullptr) return EpisodeNotFound(id);
    absl::ReaderMutexLock barrier(&count_barrier_);
    absl::MutexLock lock(&space->write_mu);
    if (space->dropped) continue;
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                            store_->Get(internal::EpisodeKey(ns, id)));
    if (!bytes.has_value()) return EpisodeNotFound(id);
    SOCHDB_ASSIGN_OR_RETURN(const EpisodeRecord record, internal::DecodeEpisode(*bytes, id));
    Meta meta = space->meta;
    meta.episodes -= std::min<uint64_t>(meta.episodes, 1);
    namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kMemory);
    const size_t floats = record.has_embedding ? meta.dimension : 0;
    charge.Release(ns, {-EpisodeBytes(*bytes, floats), 0, 0});
    storage::WriteBatch batch;
    const std::string id_bytes = internal::IdBytes(id);
    batch.Delete(internal::EpisodeKey(ns, id));
    batch.Put(internal::MetaKey(ns), internal::EncodeMeta(meta));
    StageTimeEntry(ns, id, record, /*put=*/false, &batch);
    std::shared_ptr<vector::VectorSpace> vectors = space->Vectors();
    absl::Status written;
    if (record.has_embedding && vectors != nullptr) {
      const std::string_view ids[] = {id_bytes};
      written = vectors->Delete(ids, &batch).status();
    } else {
      written = store_->Write(&batch);
    }
    if (!written.ok()) return written;
    charge.Commit();
    space->meta = meta;
    absl::Status unindexed = space->text.Remove(id, record.text);
    if (!unindexed.ok()) spdlog::error("episode {} of '{}': {}", id, ns, unindexed.ToString());
    return absl::OkStatus();
  }
}

absl::StatusOr<EpisodePage> MemoryStore::ListEpisodes(absl::string_view ns_view, uint64_t after_id,
                                                      size_t limit) const {
  SOCHDB_RETURN_IF_ERROR(CheckLimit("limit", limit, options_.limits.max_list_limit));
  const std::string_view ns = View(ns_view);
  const std::string prefix = internal::EpisodePrefix(ns);
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view.get());
  EpisodePage page;
  std::optional<Meta> meta;  // read once, by the first embedded episode
  if (after_id == UINT64_MAX) return page;
  for (it->Seek(internal::EpisodeKey(ns, after_id + 1));
       it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
    uint64_t id = 0;
    if (!internal::ParseEpisodeKeyId(it->key(), prefix.size(), &id)) {
      return absl::DataLossError("an episode key is malformed");
    }
    if (page.episodes.size() == limit) {
      page.next_after_id = page.episodes.back().id;
      break;
    }
    SOCHDB_ASSIGN_OR_RETURN(Episode episode, ReadEpisode(ns, id, view.get(), &meta));
    page.episodes.push_back(std::move(episode));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  return page;
}

absl::StatusOr<std::vector<Episode>> MemoryStore::Latest(absl::string_view ns_view, size_t count,
                                                         std::optional<uint64_t> as_of_ms) const {
  SOCHDB_RETURN_IF_ERROR(CheckLimit("count", count, options_.limits.max_list_limit));
  const std::string_view ns = View(ns_view);
  const std::string prefix = internal::TimePrefix(ns);
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view.get());
  std::vector<Episode> latest;
  std::optional<Meta> meta;  // read once, by the first embedded episode
  // Keys hold ~t_valid_from: the first key at or after ~as_of is the newest one it keeps.
  it->Seek(as_of_ms.has_value() ? internal::TimeKey(ns, *as_of_ms, UINT64_MAX) : prefix);
  for (; it->Valid() && it->key().substr(0, prefix.size()) == prefix && latest.size() < count;
       it->Next()) {
    uint64_t t = 0, id = 0;
    if (!internal::ParseTimeKey(it->key(), prefix.size(), &t, &id)) {
      return absl::DataLossError("an episode time key is malformed");
    }
    SOCHDB_ASSIGN_OR_RETURN(Episode episode, ReadEpisode(ns, id, view.get(), &meta));
    latest.push_back(std::move(episode));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  return latest;
}

absl::StatusOr<TextIndexStats> MemoryStore::IndexStats(absl::string_view ns) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Space> space, GetSpace(View(ns), /*create=*/false));
  if (space == nullptr) return TextIndexStats{};
  return space->text.stats();
}

TextIndexStats MemoryStore::IndexStats() const {
  std::vector<std::shared_ptr<Space>> spaces;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : spaces_) spaces.push_back(entry.second);
  }
  TextIndexStats total;
  for (const std::shared_ptr<Space>& space : spaces) {
    const TextIndexStats one = space->text.stats();
    total.episodes += one.episodes;
    total.tokens += one.tokens;
    total.memory_bytes += one.memory_bytes;
  }
  return total;
}

absl::Status MemoryStore::DeleteNamespaceData(std::string_view ns) {
  std::shared_ptr<Space> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = spaces_.find(AbslView(ns));
    if (it != spaces_.end()) {
      cached = it->second;
      spaces_.erase(it);
    }
  }
  if (cached != nullptr) {
    absl::MutexLock lock(&cached->write_mu);
    cached->dropped = true;
    if (auto vectors = cached->Vectors(); vectors != nullptr) vectors->Retire();
  }
  // The metadata names the vector space; it goes (with the other families) after this returns,
  // so a delete cut short finds it again.
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> meta_bytes,
                          store_->Get(internal::MetaKey(ns)));
  if (!meta_bytes.has_value()) return absl::OkStatus();
  SOCHDB_ASSIGN_OR_RETURN(const Meta meta, internal::DecodeMeta(*meta_bytes));
  if (meta.dimension == 0) return absl::OkStatus();
  return vector::VectorSpace::DropScope(store_, internal::VectorScope(ns, meta.space_id),
                                        options_.file_system, SnapshotPath(meta.space_id));
}

absl::StatusOr<namespaces::Usage> MemoryStore::CountUsage(std::string_view ns,
                                                          absl::FunctionRef<void()> start) {
  std::unique_ptr<storage::Snapshot> view;
  {
    absl::MutexLock barrier(&count_barrier_);
    start();
    view = store_->GetSnapshot();
  }
  namespaces::Usage usage;
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> meta_bytes,
                          store_->Get(internal::MetaKey(ns), view.get()));
  if (!meta_bytes.has_value()) return usage;
  SOCHDB_ASSIGN_OR_RETURN(const Meta meta, internal::DecodeMeta(*meta_bytes));
  const std::string prefix = internal::EpisodePrefix(ns);
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(view.get());
  for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
    uint64_t id = 0;
    if (!internal::ParseEpisodeKeyId(it->key(), prefix.size(), &id)) {
      return absl::DataLossError("an episode key is malformed");
    }
    SOCHDB_ASSIGN_OR_RETURN(const EpisodeRecord record, internal::DecodeEpisode(it->value(), id));
    usage.storage_bytes +=
        static_cast<uint64_t>(EpisodeBytes(it->value(), record.has_embedding ? meta.dimension : 0));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  return usage;
}

}  // namespace sochdb::memory
