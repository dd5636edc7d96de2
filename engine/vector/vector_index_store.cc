#include "engine/vector/vector_index_store.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/files.h"
#include "engine/common/names.h"
#include "engine/common/random_id.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"
#include "engine/vector/vector_record.h"
#include "spdlog/spdlog.h"

namespace sochdb::vector {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kScopeTag[] = "vi";  // vector-index spaces, apart from collections' spaces

std::string DefinitionKey(const std::string& tenant, const std::string& name) {
  return KeyBuilder(KeyFamily::kVectorIndex).Name(tenant).Name(name).key();
}

constexpr uint64_t kDefinitionFormat = 1;

// A field record (storage/field_record.h), as a collection's definition is.
std::string EncodeDefinition(const VectorIndexDefinition& d) {
  storage::FieldRecordWriter out;
  out.Number("format", kDefinitionFormat);
  WriteSpecFields(d.spec, &out);
  out.Signed("metric_code", d.metric_code)
      .Number("req_m", d.requested_m)
      .Number("req_m0", d.requested_m0)
      .Number("req_efc", d.requested_ef_construction)
      .Number("req_efs", d.requested_ef_search)
      .Number("created_at", d.created_at)
      .Number("incarnation", d.incarnation);
  return std::move(out).Build();
}

absl::StatusOr<VectorIndexDefinition> DecodeDefinition(std::string_view text) {
  SOCHDB_ASSIGN_OR_RETURN(const storage::FieldRecord in,
                          storage::FieldRecord::Parse(text, "vector index definition"));
  uint64_t format = 0;
  VectorIndexDefinition d;
  SOCHDB_RETURN_IF_ERROR(in.Number("format", &format));
  if (format != kDefinitionFormat) return in.Damaged("has an unknown format");
  SOCHDB_RETURN_IF_ERROR(ReadSpecFields(in, &d.spec));
  SOCHDB_RETURN_IF_ERROR(in.Signed32("metric_code", &d.metric_code));
  SOCHDB_RETURN_IF_ERROR(in.Number32("req_m", &d.requested_m));
  SOCHDB_RETURN_IF_ERROR(in.Number32("req_m0", &d.requested_m0));
  SOCHDB_RETURN_IF_ERROR(in.Number32("req_efc", &d.requested_ef_construction));
  SOCHDB_RETURN_IF_ERROR(in.Number32("req_efs", &d.requested_ef_search));
  SOCHDB_RETURN_IF_ERROR(in.Number("created_at", &d.created_at));
  SOCHDB_RETURN_IF_ERROR(in.Number("incarnation", &d.incarnation));
  return d;
}

// One batch stores each id once: with an id twice, which vector wins would be an accident of
// the order the batch is applied in, and the count a client gets back would overstate what was
// stored (InsertBatch [7, 7, 7] answered inserted_count 3 for one vector).
absl::Status RefuseDuplicateIds(absl::Span<const uint64_t> ids) {
  absl::flat_hash_map<uint64_t, size_t> first;
  first.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first.try_emplace(ids[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ids[%d] duplicates ids[%d] (%d)", i, it->second, ids[i]));
    }
  }
  return absl::OkStatus();
}

std::string EncodeMetadata(const VectorMetadata& m) {
  std::string out(1, static_cast<char>((m.parent_id ? 1 : 0) | (m.view_type ? 2 : 0)));
  if (m.parent_id) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((*m.parent_id >> (8 * i)) & 0xff));
  }
  if (m.view_type) out.append(*m.view_type);
  return out;
}

VectorMetadata DecodeMetadata(std::string_view extra) {
  VectorMetadata m;
  if (extra.empty()) return m;
  const unsigned flags = static_cast<unsigned char>(extra[0]);
  extra.remove_prefix(1);
  if ((flags & 1) && extra.size() >= 8) {
    uint64_t parent = 0;
    for (int i = 0; i < 8; ++i) parent |= uint64_t{static_cast<unsigned char>(extra[i])} << (8 * i);
    m.parent_id = parent;
    extra.remove_prefix(8);
  }
  if (flags & 2) m.view_type = std::string(extra);
  return m;
}

// Names are echoed in "not found" texts: a lookup refuses one that could never exist, rather
// than copying megabytes of it into a status message.
absl::Status ValidateLookupName(const std::string& name) {
  if (name.size() <= kMaxIndexNameBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("index name is %d bytes; the limit is %d bytes",
                                                    name.size(), kMaxIndexNameBytes));
}

absl::Status NotFound(const std::string& tenant, const std::string& name) {
  return absl::NotFoundError(absl::StrCat("Index not found: ", tenant, ":", name));
}

uint64_t NewIncarnation() {
  return RandomUint64() | 1;  // never 0
}

}  // namespace

absl::Status ValidateVectorMetadata(const VectorMetadata& metadata, std::string_view field,
                                    std::optional<size_t> index) {
  if (!metadata.view_type.has_value() || metadata.view_type->size() <= kMaxViewTypeBytes) {
    return absl::OkStatus();
  }
  const std::string where =
      index.has_value() ? absl::StrFormat("%s[%d]", field, *index) : std::string(field);
  return absl::InvalidArgumentError(
      absl::StrFormat("%s.view_type is %d bytes; the limit is %d bytes", where,
                      metadata.view_type->size(), kMaxViewTypeBytes));
}

std::string EncodeVectorId(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((id >> (56 - 8 * i)) & 0xff);
  return out;
}

uint64_t DecodeVectorId(std::string_view bytes) {
  uint64_t id = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return id;
}

VectorIndexStore::VectorIndexStore(storage::Store* store, VectorIndexStoreOptions options,
                                   VectorSpaceObserver* observer)
    : store_(store), options_(std::move(options)), observer_(observer) {}

absl::StatusOr<std::unique_ptr<VectorIndexStore>> VectorIndexStore::Open(
    storage::Store* store, VectorIndexStoreOptions options, VectorSpaceObserver* observer) {
  if (absl::Status created = options.file_system->CreateDirs(options.snapshot_dir); !created.ok()) {
    return absl::FailedPreconditionError(created.message());
  }
  std::unique_ptr<VectorIndexStore> indexes(
      new VectorIndexStore(store, std::move(options), observer));
  SOCHDB_RETURN_IF_ERROR(indexes->LoadAll());
  indexes->maintenance_ = std::thread([raw = indexes.get()] { raw->MaintenanceLoop(); });
  return indexes;
}

VectorIndexStore::~VectorIndexStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (maintenance_.joinable()) maintenance_.join();
  for (const auto& [key, entry] : indexes_.Live()) {
    if (entry->space == nullptr) continue;
    absl::Status s = entry->space->Snapshot();
    if (!s.ok()) spdlog::warn("snapshot of vector index {} at shutdown: {}", key.second, s.ToString());
  }
}

std::string VectorIndexStore::SnapshotPath(uint64_t incarnation) const {
  return absl::StrFormat("%s/vi-%016x.snap", options_.snapshot_dir, incarnation);
}

absl::StatusOr<std::shared_ptr<VectorSpace>> VectorIndexStore::OpenSpace(
    const VectorIndexDefinition& d) const {
  VectorSpaceOptions space;
  space.scope = {kScopeTag, d.tenant, d.name, EncodeVectorId(d.incarnation)};
  space.spec = d.spec;
  space.snapshot_path = SnapshotPath(d.incarnation);
  space.file_system = options_.file_system;
  space.snapshot_every_changes = options_.snapshot_every_changes;
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<VectorSpace> opened,
                          VectorSpace::Open(store_, std::move(space), observer_));
  return std::shared_ptr<VectorSpace>(std::move(opened));
}

VectorIndexStore::EntryPtr VectorIndexStore::OpenEntry(const VectorIndexDefinition& d) const {
  auto entry = std::make_shared<Entry>();
  entry->definition = d;
  absl::StatusOr<std::shared_ptr<VectorSpace>> space = OpenSpace(d);
  if (space.ok()) {
    entry->space = *std::move(space);
  } else {
    entry->open_error = space.status();
  }
  return entry;
}

absl::Status VectorIndexStore::LoadAll() {
  const std::string prefix = KeyBuilder(KeyFamily::kVectorIndex).key();
  std::vector<VectorIndexDefinition> definitions;
  std::set<Key> unreadable;
  bool unreadable_key = false;
  {
    std::unique_ptr<storage::Iterator> it = store_->NewIterator();
    for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix;
         it->Next()) {
      storage::KeyReader key(it->key());
      storage::KeyFamily family;
      std::string_view tenant, name;
      absl::StatusOr<VectorIndexDefinition> d = DecodeDefinition(it->value());
      if (!key.Family(&family) || !key.Name(&tenant) || !key.Name(&name)) {
        spdlog::error("skipping a vector index definition with an unreadable key");
        unreadable_key = true;
        continue;
      }
      if (!d.ok()) {
        spdlog::error("skipping the unreadable definition of vector index {}:{}: {}", tenant,
                      name, d.status().ToString());
        unreadable.emplace(std::string(tenant), std::string(name));
        continue;
      }
      d->tenant = std::string(tenant);
      d->name = std::string(name);
      definitions.push_back(*std::move(d));
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
  }
  if (unreadable_key) {
    spdlog::warn("not sweeping dropped vector indexes: a definition key is unreadable");
  } else {
    SOCHDB_RETURN_IF_ERROR(SweepDropped(definitions, unreadable));
  }
  for (VectorIndexDefinition& d : definitions) {
    const absl::Time started = absl::Now();
    EntryPtr entry = OpenEntry(d);
    if (entry->space != nullptr) {
      const VectorSpaceStats stats = entry->space->Stats();
      spdlog::info("vector index {}:{} open: {} vectors ({}, {} changes replayed) in {}", d.tenant,
                   d.name, stats.vectors,
                   stats.loaded_from_snapshot ? "from snapshot" : "rebuilt from records",
                   stats.replayed_changes, absl::FormatDuration(absl::Now() - started));
    } else {
      spdlog::error("vector index {}:{} failed to open and is out of service: {}", d.tenant,
                    d.name, entry->open_error.ToString());
    }
    const Key key{d.tenant, d.name};
    indexes_.Reserve(key);  // definition keys are unique: nothing else holds this one
    indexes_.Publish(key, std::move(entry));
  }
  return absl::OkStatus();
}

absl::Status VectorIndexStore::SweepDropped(const std::vector<VectorIndexDefinition>& live,
                                            const std::set<Key>& unreadable) {
  std::set<std::vector<std::string>> live_scopes;
  std::vector<std::string> live_snapshots;
  for (const VectorIndexDefinition& d : live) {
    live_scopes.insert({kScopeTag, d.tenant, d.name, EncodeVectorId(d.incarnation)});
    live_snapshots.push_back(SnapshotPath(d.incarnation));
  }
  // One seek per scope: a scope's keys are contiguous, so the sweep skips past each at once.
  std::set<std::vector<std::string>> orphans;
  for (KeyFamily family : {KeyFamily::kVector, KeyFamily::kVectorLog}) {
    const std::string prefix = KeyBuilder(family).Name(kScopeTag).key();
    std::unique_ptr<storage::Iterator> it = store_->NewIterator();
    it->Seek(prefix);
    while (it->Valid() && it->key().substr(0, prefix.size()) == prefix) {
      storage::KeyReader key(it->key());
      KeyFamily f;
      std::string_view tag, tenant, name, incarnation;
      if (!key.Family(&f) || !key.Name(&tag) || !key.Name(&tenant) || !key.Name(&name) ||
          !key.Name(&incarnation)) {
        spdlog::error("skipping an unreadable vector key");
        it->Next();
        continue;
      }
      std::vector<std::string> scope = {kScopeTag, std::string(tenant), std::string(name),
                                        std::string(incarnation)};
      const std::string next = storage::PrefixSuccessor(VectorScopePrefix(family, scope));
      if (live_scopes.count(scope) == 0 &&
          unreadable.count(Key{std::string(tenant), std::string(name)}) == 0) {
        orphans.insert(std::move(scope));
      }
      if (next.empty()) break;
      it->Seek(next);
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
  }
  for (const std::vector<std::string>& scope : orphans) {
    const uint64_t incarnation = DecodeVectorId(scope[3]);
    spdlog::warn("vector index {}:{} (incarnation {:016x}) was dropped part-way; finishing it",
                 scope[1], scope[2], incarnation);
    SOCHDB_RETURN_IF_ERROR(VectorSpace::DropScope(store_, scope, options_.file_system,
                                                  SnapshotPath(incarnation)));
  }
  if (!unreadable.empty()) return absl::OkStatus();  // their snapshot files cannot be told apart
  // Snapshot files no definition names (a drop that stopped after deleting every key), and
  // snapshots a crash cut short.
  for (const std::string& path :
       StraySnapshotFiles(options_.file_system, options_.snapshot_dir, "vi-", live_snapshots)) {
    spdlog::warn("removing {}: the snapshot of a dropped vector index, or one cut short", path);
    absl::Status s = options_.file_system->RemoveFile(path);
    if (!s.ok()) spdlog::warn("cannot remove {}: {}", path, s.ToString());
  }
  return absl::OkStatus();
}

absl::StatusOr<VectorIndexDefinition> VectorIndexStore::Create(
    const VectorIndexDefinition& request) {
  SOCHDB_RETURN_IF_ERROR(
      ValidateName("name", request.name, kMaxIndexNameBytes, EmptyName::kRefused));
  SOCHDB_ASSIGN_OR_RETURN(const IndexSpec spec, ResolveSpec(request.spec));
  VectorIndexDefinition d = request;
  d.spec = spec;
  d.created_at = static_cast<uint64_t>(options_.clock->NowMicros() / 1'000'000);
  d.incarnation = NewIncarnation();
  const Key key{d.tenant, d.name};
  if (indexes_.Reserve(key) == Catalog<Key, EntryPtr>::Reservation::kExists) {
    return absl::AlreadyExistsError(absl::StrCat("Index '", d.name, "' already exists"));
  }
  storage::WriteBatch batch;
  batch.Put(DefinitionKey(d.tenant, d.name), EncodeDefinition(d));
  const absl::Status written = store_->Write(&batch);
  if (!written.ok()) {
    indexes_.Abandon(key);
    return written;
  }
  // A fresh incarnation holds nothing, so this fails only on storage errors; the index then
  // exists out of service (its definition is stored) and can be dropped.
  EntryPtr entry = OpenEntry(d);
  const absl::Status opened = entry->open_error;
  indexes_.Publish(key, std::move(entry));
  SOCHDB_RETURN_IF_ERROR(opened);
  return d;
}

absl::Status VectorIndexStore::Drop(const std::string& tenant, const std::string& name) {
  SOCHDB_RETURN_IF_ERROR(ValidateLookupName(name));
  const Key key{tenant, name};
  std::optional<EntryPtr> entry = indexes_.BeginDrop(key);
  if (!entry.has_value()) return absl::NotFoundError(absl::StrCat("Index '", name, "' not found"));
  storage::WriteBatch batch;
  batch.Delete(DefinitionKey(tenant, name));
  const absl::Status written = store_->Write(&batch);
  indexes_.FinishDrop(key, written.ok());
  SOCHDB_RETURN_IF_ERROR(written);
  // The definition is gone, so the index is gone for every caller. Its space is retired (a
  // write or snapshot that got the space before finishes first; later ones are refused) and
  // its data, under a scope no new index can reuse (the incarnation is part of it), deleted.
  if ((*entry)->space != nullptr) SOCHDB_RETURN_IF_ERROR((*entry)->space->DropAll());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<VectorSpace>> VectorIndexStore::SpaceFor(
    const std::string& tenant, const std::string& name, int32_t* metric_code,
    std::optional<uint64_t> incarnation) const {
  SOCHDB_RETURN_IF_ERROR(ValidateLookupName(name));
  const std::optional<EntryPtr> entry = indexes_.Find(Key{tenant, name});
  if (!entry.has_value()) return NotFound(tenant, name);
  // The caller's index was dropped: the one found is another of the same name, and a later
  // drop of the caller's own is caught by its retired space.
  if (incarnation.has_value() && (*entry)->definition.incarnation != *incarnation) {
    return absl::NotFoundError(absl::StrCat(NotFound(tenant, name).message(),
                                            " (the index was dropped; one of that name was "
                                            "created since)"));
  }
  if (metric_code != nullptr) *metric_code = (*entry)->definition.metric_code;
  if ((*entry)->space == nullptr) {
    return absl::UnavailableError(absl::StrCat("index '", name, "' could not be loaded (",
                                               (*entry)->open_error.message(),
                                               "); see the server log"));
  }
  return (*entry)->space;
}

absl::StatusOr<size_t> VectorIndexStore::Insert(const std::string& tenant,
                                                const std::string& name,
                                                absl::Span<const uint64_t> ids,
                                                absl::Span<const float> vectors,
                                                absl::Span<const VectorMetadata> metadata,
                                                std::optional<uint64_t> incarnation,
                                                const BatchSeal* seal) {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<VectorSpace> space,
                          SpaceFor(tenant, name, nullptr, incarnation));
  const uint32_t dimension = space->spec().dimension;
  if (ids.size() > kMaxBatchVectors) {
    return absl::InvalidArgumentError(absl::StrFormat("ids has %d items; the limit is %d",
                                                      ids.size(), kMaxBatchVectors));
  }
  if (vectors.size() != ids.size() * dimension) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Vector data size mismatch: expected %d floats, got %d", ids.size() * dimension,
        vectors.size()));
  }
  if (!metadata.empty() && metadata.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Metadata length mismatch: expected %d entries, got %d", ids.size(), metadata.size()));
  }
  for (size_t i = 0; i < metadata.size(); ++i) {
    SOCHDB_RETURN_IF_ERROR(ValidateVectorMetadata(metadata[i], "metadata", i));
  }
  SOCHDB_RETURN_IF_ERROR(RefuseDuplicateIds(ids));
  std::vector<std::string> keys(ids.size()), extras(ids.size());
  std::vector<VectorItem> items(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    keys[i] = EncodeVectorId(ids[i]);
    if (!metadata.empty()) extras[i] = EncodeMetadata(metadata[i]);
    items[i] = VectorItem{keys[i], vectors.subspan(i * dimension, dimension), extras[i]};
  }
  storage::WriteBatch batch;
  const absl::Status upserted = space->Upsert(items, &batch, seal);
  if (absl::IsNotFound(upserted)) return NotFound(tenant, name);  // dropped meanwhile
  SOCHDB_RETURN_IF_ERROR(upserted);
  return ids.size();
}

absl::StatusOr<uint64_t> VectorIndexStore::Generation(const std::string& tenant,
                                                      const std::string& name) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<VectorSpace> space, SpaceFor(tenant, name));
  return space->last_sequence();
}

absl::StatusOr<VectorIndexDefinition> VectorIndexStore::Definition(const std::string& tenant,
                                                                   const std::string& name) const {
  SOCHDB_RETURN_IF_ERROR(ValidateLookupName(name));
  const std::optional<EntryPtr> entry = indexes_.Find(Key{tenant, name});
  if (!entry.has_value()) return NotFound(tenant, name);
  return (*entry)->definition;
}

absl::StatusOr<VectorAnswerFloor> VectorIndexStore::AnswerFloor(const std::string& tenant,
                                                                 const std::string& name) const {
  VectorAnswerFloor floor;
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<VectorSpace> space,
                          SpaceFor(tenant, name, &floor.metric_code));
  floor.vectors = space->size();
  // An extra (EncodeMetadata) over 9 bytes holds a view_type: flags, then either the view_type
  // alone (L = extra - 1, encoded in L + 2 bytes or more) or an 8-byte parent_id and the
  // view_type (L = extra - 9; with the parent_id's field, L + 4 bytes or more). Both are at
  // least extra - 5. Shorter extras may encode in 0 bytes (none, or an empty view_type).
  const size_t extra = space->extra_bytes_floor();
  // SIZE_MAX: no vector published yet (a reader can see the count before the floor).
  if (floor.vectors > 0 && extra != SIZE_MAX && extra > 9) floor.metadata_bytes = extra - 5;
  return floor;
}

namespace {

// The first k of `raw` (best first) as hits; with `per_group`, at most that many per parent
// (the id for a vector without one), counting the groups and what the limit left out.
void KeepHits(std::vector<VectorHit>& raw, uint32_t k, std::optional<uint32_t> per_group,
              VectorSearchOutcome* out) {
  absl::flat_hash_map<uint64_t, uint32_t> kept_per_group;
  for (VectorHit& hit : raw) {
    VectorSearchHit h{DecodeVectorId(hit.id), hit.distance, DecodeMetadata(hit.extra)};
    if (per_group.has_value()) {
      uint32_t& kept = kept_per_group[h.metadata.parent_id.value_or(h.id)];
      if (kept >= *per_group) {
        ++out->excluded_by_group_limit;
        continue;
      }
      ++kept;
    }
    if (out->hits.size() < k) out->hits.push_back(std::move(h));
  }
  out->groups_considered = static_cast<uint32_t>(kept_per_group.size());
}

}  // namespace

absl::StatusOr<VectorSearchOutcome> VectorIndexStore::Search(
    const std::string& tenant, const std::string& name, absl::Span<const float> query,
    const VectorSearchOptions& options) const {
  VectorSearchOutcome out;
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<VectorSpace> space,
                          SpaceFor(tenant, name, &out.metric_code));
  const IndexSpec& spec = space->spec();
  if (query.size() != spec.dimension) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Query dimension mismatch: expected %d, got %d", spec.dimension, query.size()));
  }
  const uint32_t k = options.k == 0 ? 1 : options.k;
  if (k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrFormat("k is %d; the limit is %d", k, kMaxK));
  }
  out.candidate_k = k;
  uint32_t per_group = 1;
  if (options.group_by_parent) {
    out.candidate_k = options.group_by_parent->candidate_k == 0
                          ? std::min<uint32_t>(4 * k, kMaxK)
                          : options.group_by_parent->candidate_k;
    if (out.candidate_k < k) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "candidate_k (%d) must be >= k (%d) when grouping is active", out.candidate_k, k));
    }
    if (out.candidate_k > kMaxK) {
      return absl::InvalidArgumentError(
          absl::StrFormat("candidate_k is %d; the limit is %d", out.candidate_k, kMaxK));
    }
    per_group = std::max<uint32_t>(1, options.group_by_parent->max_per_group);
  }
  // Upstream accepts any ef; it is refused past kMaxEf, the limit of the index's own ef_search
  // and of SearchCollection's, rather than silently clamped.
  if (options.ef > kMaxEf) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ef is %d; the range is 0..%d", options.ef, kMaxEf));
  }
  const uint32_t ef = options.ef == 0 ? 0 : std::max(options.ef, out.candidate_k);
  size_t live_ids = 0;
  searches_.fetch_add(1, std::memory_order_relaxed);
  SOCHDB_ASSIGN_OR_RETURN(std::vector<VectorHit> raw,
                          space->Search(query, out.candidate_k, ef, nullptr, -1, true, &live_ids));
  out.raw_candidates = static_cast<uint32_t>(raw.size());
  out.index_size = live_ids;
  KeepHits(raw, k, options.group_by_parent ? std::optional<uint32_t>(per_group) : std::nullopt,
           &out);
  return out;
}

absl::StatusOr<VectorIndexStats> VectorIndexStore::Stats(const std::string& tenant,
                                                         const std::string& name) const {
  absl::StatusOr<std::shared_ptr<VectorSpace>> space = SpaceFor(tenant, name);
  if (absl::IsNotFound(space.status())) {
    return absl::NotFoundError(absl::StrCat("Index '", name, "' not found"));
  }
  if (!space.ok()) return space.status();
  const VectorSpaceStats s = (*space)->Stats();
  VectorIndexStats out;
  out.num_vectors = s.vectors;
  out.dimension = (*space)->spec().dimension;
  out.max_layer = s.ann.max_level;
  out.memory_bytes = s.ann.memory_bytes;
  out.avg_connections = static_cast<float>(s.ann.avg_connections);
  return out;
}

void VectorIndexStore::MaintainAll() {
  // An index dropped meanwhile is retired: its Maintain does nothing.
  for (const auto& [key, entry] : indexes_.Live()) {
    if (entry->space == nullptr) continue;
    absl::Status s = entry->space->Maintain();
    if (!s.ok()) spdlog::warn("vector index {}:{} maintenance: {}", key.first, key.second, s.ToString());
  }
}

void VectorIndexStore::MaintenanceLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.maintenance_interval);
      if (stopping_) return;
    }
    MaintainAll();
  }
}

uint64_t VectorIndexStore::TotalVectors() const {
  uint64_t total = 0;
  for (const auto& [key, entry] : indexes_.Live()) {
    if (entry->space != nullptr) total += entry->space->size();
  }
  return total;
}

uint64_t VectorIndexStore::TotalMemoryBytes() const {
  uint64_t total = 0;
  for (const auto& [key, entry] : indexes_.Live()) {
    if (entry->space != nullptr) total += entry->space->Stats().ann.memory_bytes;
  }
  return total;
}

size_t VectorIndexStore::IndexCount() const { return indexes_.LiveCount(); }

}  // namespace sochdb::vector
