// The namespace registry behind namespace_registry.h: records, their codec, and the deletion of a
// namespace's data family by family.
#include "engine/namespace/namespace_registry.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/common/absl_view.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"
#include "spdlog/spdlog.h"

namespace sochdb::namespaces {
namespace {

using storage::KeyFamily;

absl::Status NotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("Namespace '", AbslView(name), "' not found"));
}

absl::Status BeingDeleted(std::string_view name) {
  return absl::FailedPreconditionError(
      absl::StrCat("Namespace '", AbslView(name), "' is being deleted"));
}

absl::Status TooLarge(std::string_view field, size_t size, size_t limit, const char* unit) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s is %d %s; the limit is %d %s", AbslView(field), size, unit, limit, unit));
}

absl::Status ValidateDefinition(const NamespaceDefinition& d) {
  SOCHDB_RETURN_IF_ERROR(ValidateName("name", d.name, kMaxNamespaceBytes, EmptyName::kRefused));
  if (d.description.size() > kMaxDescriptionBytes) {
    return TooLarge("description", d.description.size(), kMaxDescriptionBytes, "bytes");
  }
  if (d.metadata.size() > kMaxMetadataEntries) {
    return TooLarge("metadata", d.metadata.size(), kMaxMetadataEntries, "entries");
  }
  size_t bytes = 0;
  for (const auto& [key, value] : d.metadata) bytes += key.size() + value.size();
  if (bytes > kMaxMetadataBytes) return TooLarge("metadata", bytes, kMaxMetadataBytes, "bytes");
  return absl::OkStatus();
}

// Record fields: state (0 live, 1 deleting), description, created_at, has_quota and, when it is
// 1, the three quota fields, then one "metadata.<hex key>" field per entry.
std::string EncodeRecord(const NamespaceDefinition& d, bool deleting) {
  storage::FieldRecordWriter w;
  w.Number("state", deleting ? 1 : 0)
      .Bytes("description", d.description)
      .Number("created_at", d.created_at)
      .Number("has_quota", d.quota.has_value() ? 1 : 0);
  if (d.quota.has_value()) {
    w.Number("max_storage_bytes", d.quota->max_storage_bytes)
        .Number("max_vectors", d.quota->max_vectors)
        .Number("max_collections", d.quota->max_collections);
  }
  w.Map("metadata", d.metadata);
  return std::move(w).Build();
}

absl::Status DecodeRecord(std::string_view name, std::string_view text, NamespaceDefinition* d,
                          bool* deleting) {
  SOCHDB_ASSIGN_OR_RETURN(
      const storage::FieldRecord r,
      storage::FieldRecord::Parse(text, absl::StrCat("the namespace record of ",
                                                     storage::QuotedKey(name))));
  d->name = std::string(name);
  uint64_t state = 0, has_quota = 0;
  SOCHDB_RETURN_IF_ERROR(r.Number("state", &state, 0, 1));
  SOCHDB_RETURN_IF_ERROR(r.Bytes("description", &d->description));
  SOCHDB_RETURN_IF_ERROR(r.Number("created_at", &d->created_at));
  SOCHDB_RETURN_IF_ERROR(r.Number("has_quota", &has_quota, 0, 1));
  if (has_quota == 1) {
    Quota q;
    SOCHDB_RETURN_IF_ERROR(r.Number("max_storage_bytes", &q.max_storage_bytes));
    SOCHDB_RETURN_IF_ERROR(r.Number("max_vectors", &q.max_vectors));
    SOCHDB_RETURN_IF_ERROR(r.Number("max_collections", &q.max_collections));
    d->quota = q;
  }
  SOCHDB_RETURN_IF_ERROR(r.Map("metadata", &d->metadata));
  *deleting = state == 1;
  return absl::OkStatus();
}

// True when some key starts with `prefix`.
absl::StatusOr<bool> HasKeys(const storage::Store& store, const std::string& prefix) {
  std::unique_ptr<storage::Iterator> it = store.NewIterator();
  it->Seek(prefix);
  const bool found = it->Valid() && it->key().substr(0, prefix.size()) == prefix;
  SOCHDB_RETURN_IF_ERROR(it->status());
  return found;
}

}  // namespace

NamespaceRegistry::NamespaceRegistry(storage::Store* store,
                                     collection::CollectionStore* collections,
                                     UsageTracker* tracker, NamespaceRegistryOptions options)
    : store_(store), collections_(collections), tracker_(tracker), options_(options) {}

absl::StatusOr<std::unique_ptr<NamespaceRegistry>> NamespaceRegistry::Open(
    storage::Store* store, collection::CollectionStore* collections, UsageTracker* tracker,
    NamespaceRegistryOptions options) {
  std::unique_ptr<NamespaceRegistry> registry(
      new NamespaceRegistry(store, collections, tracker, options));
  SOCHDB_RETURN_IF_ERROR(registry->LoadAll());
  registry->ResumeDeletes();
  return registry;
}

absl::Status NamespaceRegistry::LoadAll() {
  const std::string family = storage::KeyBuilder(KeyFamily::kNamespace).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  absl::MutexLock lock(&mu_);
  for (it->Seek(family); it->Valid() && it->key().substr(0, 1) == family; it->Next()) {
    std::string_view name;
    if (!storage::ParseNamespaceRecordKey(it->key(), &name)) {
      return absl::DataLossError(absl::StrCat("the namespace record key ",
                                              storage::QuotedKey(it->key()), " is malformed"));
    }
    Entry entry;
    SOCHDB_RETURN_IF_ERROR(DecodeRecord(name, it->value(), &entry.definition, &entry.deleting));
    entries_.emplace(entry.definition.name, std::move(entry));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  for (const auto& [name, entry] : entries_) {
    if (entry.deleting) {
      gate_.Close(name);
    } else if (tracker_ != nullptr) {
      SOCHDB_RETURN_IF_ERROR(tracker_->Track(name, entry.definition.quota.value_or(Quota{})));
    }
  }
  return absl::OkStatus();
}

void NamespaceRegistry::ResumeDeletes() {
  std::vector<std::string> pending;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : entries_) {
      if (entry.deleting) pending.push_back(name);
    }
  }
  for (const std::string& name : pending) {
    if (absl::Status s = DeleteDataAndRecord(name); !s.ok()) {
      spdlog::error("namespace '{}': the delete left unfinished could not be finished ({}); it "
                    "stays closed until DeleteNamespace finishes it",
                    name, s.ToString());
    } else {
      spdlog::info("namespace '{}': finished the delete left unfinished", name);
    }
  }
}

NamespaceInfo NamespaceRegistry::InfoOf(const NamespaceDefinition& definition) const {
  NamespaceInfo info;
  info.definition = definition;
  if (tracker_ != nullptr) info.usage = tracker_->UsageOf(definition.name).value_or(Usage{});
  return info;
}

absl::Status NamespaceRegistry::WriteRecord(const Entry& entry) {
  storage::WriteBatch batch;
  batch.Put(storage::NamespaceRecordKey(entry.definition.name),
            EncodeRecord(entry.definition, entry.deleting));
  return store_->Write(&batch);
}

absl::StatusOr<NamespaceInfo> NamespaceRegistry::Create(NamespaceDefinition definition) {
  SOCHDB_RETURN_IF_ERROR(ValidateDefinition(definition));
  definition.created_at = static_cast<uint64_t>(options_.clock->NowMicros() / 1'000'000);
  const std::string& name = definition.name;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (gate_.IsClosed(name) || (it != entries_.end() && it->second.deleting)) {
      return BeingDeleted(name);
    }
    if (it != entries_.end()) {
      return absl::AlreadyExistsError(absl::StrCat("Namespace '", name, "' already exists"));
    }
    // Tracked first, so that no write to the namespace goes uncounted once it is registered.
    if (tracker_ != nullptr) {
      SOCHDB_RETURN_IF_ERROR(tracker_->Track(name, definition.quota.value_or(Quota{})));
    }
    Entry entry{definition, false};
    if (absl::Status written = WriteRecord(entry); !written.ok()) {
      if (tracker_ != nullptr) tracker_->Untrack(name);
      return written;
    }
    entries_.emplace(name, std::move(entry));
  }
  return InfoOf(definition);
}

absl::StatusOr<NamespaceInfo> NamespaceRegistry::Get(std::string_view name) const {
  SOCHDB_RETURN_IF_ERROR(ValidateName("name", name, kMaxNamespaceBytes, EmptyName::kRefused));
  NamespaceDefinition definition;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.deleting) return NotFound(name);
    definition = it->second.definition;
  }
  return InfoOf(definition);
}

std::vector<NamespaceInfo> NamespaceRegistry::List(
    const std::function<bool(const std::string&)>& include) const {
  std::vector<NamespaceDefinition> definitions;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : entries_) {
      if (!entry.deleting && include(name)) definitions.push_back(entry.definition);
    }
  }
  std::vector<NamespaceInfo> infos;
  infos.reserve(definitions.size());
  for (const NamespaceDefinition& d : definitions) infos.push_back(InfoOf(d));
  return infos;
}

absl::Status NamespaceRegistry::SetQuota(std::string_view ns, std::optional<Quota> quota) {
  SOCHDB_RETURN_IF_ERROR(ValidateName("namespace", ns, kMaxNamespaceBytes, EmptyName::kRefused));
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(ns);
  if (it == entries_.end() || it->second.deleting) return NotFound(ns);
  Entry updated = it->second;
  updated.definition.quota = quota;
  SOCHDB_RETURN_IF_ERROR(WriteRecord(updated));
  it->second = std::move(updated);
  if (tracker_ != nullptr) tracker_->SetQuota(ns, quota.value_or(Quota{}));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> NamespaceRegistry::Holdings(std::string_view ns) const {
  std::vector<std::string> held;
  const size_t collections =
      collections_->List([&](const std::string& candidate) { return candidate == ns; }).size();
  if (collections > 0) {
    held.push_back(absl::StrCat(collections, collections == 1 ? " collection" : " collections"));
  }
  SOCHDB_ASSIGN_OR_RETURN(const bool kv,
                          HasKeys(*store_, storage::NamespacePrefix(KeyFamily::kKv, ns)));
  if (kv) held.push_back("KV keys");
  for (KeyFamily family : storage::kNamespacePrefixedFamilies) {
    if (family == KeyFamily::kKv) continue;
    const char* what = family >= KeyFamily::kEpisode ? "episodes" : "graph data";
    if (std::find(held.begin(), held.end(), what) != held.end()) continue;
    SOCHDB_ASSIGN_OR_RETURN(const bool any,
                            HasKeys(*store_, storage::NamespacePrefix(family, ns)));
    if (any) held.push_back(what);
  }
  return held;
}

absl::Status NamespaceRegistry::Delete(std::string_view name_view, bool force) {
  SOCHDB_RETURN_IF_ERROR(
      ValidateName("name", name_view, kMaxNamespaceBytes, EmptyName::kRefused));
  const std::string name(name_view);
  {
    absl::MutexLock lock(&mu_);
    if (!deletes_running_.insert(name).second) return BeingDeleted(name);
  }
  absl::Cleanup done = [this, &name] {
    absl::MutexLock lock(&mu_);
    deletes_running_.erase(name);
  };
  return CloseAndDelete(name, force);
}

absl::Status NamespaceRegistry::CloseAndDelete(const std::string& name, bool force) {
  bool registered = false, resuming = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    registered = it != entries_.end();
    resuming = registered && it->second.deleting;
  }
  const auto refusal = [&](const std::vector<std::string>& held) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Namespace '", name, "' is not empty (it holds ", absl::StrJoin(held, ", "),
        "); set force to delete it with its data"));
  };
  if (!resuming) {
    // A first look before closing: a refused delete holds up no operation on the namespace.
    SOCHDB_ASSIGN_OR_RETURN(const std::vector<std::string> held, Holdings(name));
    if (!registered && held.empty()) return NotFound(name);
    if (!force && !held.empty()) return refusal(held);
  }
  gate_.Close(name);
  if (gate_.Drain(name, options_.drain_timeout) > 0) {
    if (!resuming) gate_.Reopen(name);
    return absl::UnavailableError(absl::StrCat(
        "Namespace '", name, "' still has operations in flight after ",
        absl::FormatDuration(options_.drain_timeout),
        resuming ? "; it stays closed and marked for deletion: call DeleteNamespace again to "
                   "finish (a restart finishes it too)"
                 : "; nothing was deleted and the namespace is open again"));
  }
  if (!resuming) {
    // Data written between the first look and the close counts too.
    absl::StatusOr<std::vector<std::string>> held =
        force ? std::vector<std::string>() : Holdings(name);
    absl::Status recorded = held.ok() ? absl::OkStatus() : held.status();
    if (recorded.ok() && !held->empty()) recorded = refusal(*held);
    if (recorded.ok()) recorded = RecordDeleting(name);
    if (!recorded.ok()) {
      gate_.Reopen(name);
      return recorded;
    }
  }
  spdlog::info("namespace '{}': deleting it with its data", name);
  return DeleteDataAndRecord(name);
}

absl::Status NamespaceRegistry::RecordDeleting(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  Entry entry;
  if (it != entries_.end()) {
    entry = it->second;
  } else {
    // Unregistered: a record all the same, so that a crash from here on resumes the delete.
    entry.definition.name = name;
    entry.definition.created_at =
        static_cast<uint64_t>(options_.clock->NowMicros() / 1'000'000);
  }
  entry.deleting = true;
  SOCHDB_RETURN_IF_ERROR(WriteRecord(entry));
  // Every mode: the record must be on disk before the first key of the data goes.
  SOCHDB_RETURN_IF_ERROR(store_->Sync());
  entries_[name] = std::move(entry);
  return absl::OkStatus();
}

absl::Status NamespaceRegistry::DeleteDataAndRecord(const std::string& name) {
  const auto mine = [&](const std::string& ns) { return ns == name; };
  for (const collection::CollectionInfo& info : collections_->List(mine)) {
    absl::Status dropped = collections_->Delete(name, info.definition.name);
    if (!dropped.ok() && !absl::IsNotFound(dropped)) return dropped;
  }
  SOCHDB_RETURN_IF_ERROR(DeleteKvExpiryEntries(name));
  for (NamespaceDataOwner* owner : options_.data_owners) {
    SOCHDB_RETURN_IF_ERROR(owner->DeleteNamespaceData(name));
  }
  for (KeyFamily family : storage::kNamespacePrefixedFamilies) {
    SOCHDB_RETURN_IF_ERROR(store_->DeletePrefix(storage::NamespacePrefix(family, name)));
  }
  {
    absl::MutexLock lock(&mu_);
    storage::WriteBatch batch;
    batch.Delete(storage::NamespaceRecordKey(name));
    SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
    entries_.erase(name);
  }
  if (tracker_ != nullptr) tracker_->Untrack(name);
  gate_.Reopen(name);
  return absl::OkStatus();
}

absl::Status NamespaceRegistry::DeleteKvExpiryEntries(std::string_view ns) const {
  // The TTL index is ordered by expiry time, not namespace: every entry is looked at.
  const std::string family = storage::KeyBuilder(KeyFamily::kKvExpiry).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  storage::WriteBatch batch;
  for (it->Seek(family); it->Valid() && it->key().substr(0, 1) == family; it->Next()) {
    std::string_view entry_ns;
    // Entries that do not decode belong to the purger, which removes and logs them.
    if (!storage::KvExpiryNamespace(it->key(), &entry_ns) || entry_ns != ns) continue;
    batch.Delete(it->key());
    if (batch.Count() >= storage::kDeleteBatchKeys) {
      SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
      batch.Clear();
    }
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  return store_->Write(&batch);
}

}  // namespace sochdb::namespaces
