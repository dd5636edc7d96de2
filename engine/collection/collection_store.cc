// CollectionStore: opening (definitions, spaces, BM25 indexes, the documents' metadata), the
// collection lifecycle (create, get, list, delete), clean-up of unfinished drops, and
// maintenance. Documents are in collection_documents.cc, search in collection_search.cc.
#include "engine/collection/collection_store.h"

#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/collection/collection_codec.h"
#include "engine/common/files.h"
#include "engine/common/names.h"
#include "engine/common/random_id.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "spdlog/spdlog.h"

namespace sochdb::collection {
namespace {

using internal::DecodeDefinition;
using internal::DefinitionKey;
using storage::KeyBuilder;
using storage::KeyFamily;

uint64_t NewIncarnation() {
  return RandomUint64() | 1;  // never 0: 0 marks a definition that could not be read
}

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

CollectionStore::CollectionStore(storage::Store* store, CollectionStoreOptions options,
                                 CollectionStoreObserver* observer)
    : store_(store),
      options_(std::move(options)),
      observer_(observer != nullptr ? observer : CollectionStoreObserver::None()) {}

absl::StatusOr<std::unique_ptr<CollectionStore>> CollectionStore::Open(
    storage::Store* store, CollectionStoreOptions options, CollectionStoreObserver* observer) {
  if (absl::Status created = options.file_system->CreateDirs(options.snapshot_dir); !created.ok()) {
    return absl::FailedPreconditionError(created.message());
  }
  std::unique_ptr<CollectionStore> collections(
      new CollectionStore(store, std::move(options), observer));
  SOCHDB_RETURN_IF_ERROR(collections->LoadAll());
  namespaces::UsageLedger* usage = collections->options_.usage;
  if (usage != nullptr) usage->Attach(namespaces::UsageSource::kCollections, collections.get());
  collections->maintenance_ = std::thread([raw = collections.get()] { raw->MaintenanceLoop(); });
  return collections;
}

CollectionStore::~CollectionStore() {
  if (options_.usage != nullptr) options_.usage->Detach(namespaces::UsageSource::kCollections);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (maintenance_.joinable()) maintenance_.join();
  for (const auto& [key, c] : collections_.Live()) {
    if (c->space == nullptr) continue;
    absl::Status s = c->space->Snapshot();
    if (!s.ok()) spdlog::warn("snapshot of collection {} at shutdown: {}", key.second, s.ToString());
  }
}

std::string CollectionStore::SnapshotPath(uint64_t incarnation) const {
  return absl::StrFormat("%s/col-%016x.snap", options_.snapshot_dir, incarnation);
}

absl::Status CollectionStore::OpenCollection(Collection& c) const {
  const CollectionDefinition& d = c.definition;
  c.document_prefix = internal::DocumentPrefix(d.ns, d.name, d.incarnation);
  vector::VectorSpaceOptions space;
  space.scope = internal::VectorScope(d.ns, d.name, d.incarnation);
  space.spec = d.spec;
  space.snapshot_path = SnapshotPath(d.incarnation);
  space.file_system = options_.file_system;
  space.snapshot_every_changes = options_.snapshot_every_changes;
  SOCHDB_ASSIGN_OR_RETURN(c.space, vector::VectorSpace::Open(store_, std::move(space)));
  if (d.hybrid) {
    SOCHDB_ASSIGN_OR_RETURN(
        c.bm25, text::Bm25Index::Open(store_, internal::PostingScope(d.ns, d.name, d.incarnation)));
  }
  return absl::OkStatus();
}

absl::Status CollectionStore::LoadAll() {
  const std::string prefix = KeyBuilder(KeyFamily::kCollection).key();
  std::vector<std::shared_ptr<Collection>> loaded;
  {
    std::unique_ptr<storage::Iterator> it = store_->NewIterator();
    for (it->Seek(prefix); it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
      storage::KeyReader key(it->key());
      KeyFamily family;
      std::string_view ns, name;
      if (!key.Family(&family) || !key.Name(&ns) || !key.Name(&name) || !key.Rest().empty()) {
        spdlog::error("skipping an unreadable collection definition key");
        continue;
      }
      auto c = std::make_shared<Collection>();
      absl::StatusOr<CollectionDefinition> d = DecodeDefinition(it->value());
      if (d.ok()) {
        c->definition = *std::move(d);
      } else {
        c->open_error = d.status();  // incarnation stays 0: its data cannot be located
      }
      c->definition.ns = std::string(ns);
      c->definition.name = std::string(name);
      loaded.push_back(std::move(c));
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
  }
  std::map<std::string, std::shared_ptr<Collection>> by_prefix;
  for (std::shared_ptr<Collection>& c : loaded) {
    const CollectionDefinition& d = c->definition;
    if (c->open_error.ok()) c->open_error = OpenCollection(*c);
    if (!c->open_error.ok()) {
      c->space.reset();
      c->bm25.reset();
      spdlog::error("collection {}:{} failed to open and is out of service: {}", d.ns, d.name,
                    c->open_error.ToString());
    }
    if (d.incarnation != 0) {
      by_prefix.emplace(internal::DocumentPrefix(d.ns, d.name, d.incarnation), c);
    }
    const Key key{d.ns, d.name};
    collections_.Reserve(key);  // definition keys are unique: nothing else holds this one
    collections_.Publish(key, c);
  }
  return LoadDocuments(by_prefix);
}

// One pass over every document record. A record under a live collection's prefix feeds its
// in-memory metadata; one under an incarnation no definition names is what a drop left when
// the process stopped part-way, and is deleted now with the rest of that incarnation's data.
absl::Status CollectionStore::LoadDocuments(
    const std::map<std::string, std::shared_ptr<Collection>>& by_prefix) {
  std::set<std::tuple<std::string, std::string, uint64_t>> orphans;
  std::set<Key> unreadable;  // collections whose definition is unreadable: leave their data be
  for (const auto& [key, c] : collections_.Live()) {
    if (c->definition.incarnation == 0) unreadable.insert(key);
  }
  const std::string family = KeyBuilder(KeyFamily::kDocument).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  it->Seek(family);
  while (it->Valid() && HasPrefix(it->key(), family)) {
    storage::KeyReader key(it->key());
    KeyFamily f;
    std::string_view ns, name, inc_bytes;
    uint64_t incarnation = 0;
    if (!key.Family(&f) || !key.Name(&ns) || !key.Name(&name) || !key.Name(&inc_bytes) ||
        !internal::ParseIncarnation(inc_bytes, &incarnation)) {
      spdlog::error("skipping an unreadable document key");
      it->Next();
      continue;
    }
    const std::string_view id = key.Rest();
    const std::string prefix(it->key().substr(0, it->key().size() - id.size()));
    auto found = by_prefix.find(prefix);
    if (found == by_prefix.end() || found->second->space == nullptr) {
      if (found == by_prefix.end() &&
          unreadable.count(Key{std::string(ns), std::string(name)}) == 0) {
        orphans.emplace(std::string(ns), std::string(name), incarnation);
      }
      const std::string next = storage::PrefixSuccessor(prefix);
      if (next.empty()) break;
      it->Seek(next);
      continue;
    }
    Collection& c = *found->second;
    absl::StatusOr<internal::DocumentRecord> doc = internal::DecodeDocument(it->value());
    if (!doc.ok()) {
      c.open_error = absl::DataLossError(absl::StrFormat(
          "document record of collection '%s' is unreadable: %s", c.definition.name,
          std::string(doc.status().message())));
      spdlog::error("collection {}:{} is out of service: {}", c.definition.ns, c.definition.name,
                    c.open_error.ToString());
      c.space.reset();
      c.bm25.reset();
      continue;  // the next key is under the same prefix and is skipped above
    }
    const uint64_t bytes = internal::DocumentBytes(id, doc->content, doc->metadata,
                                                   doc->embeddings, c.definition.spec.dimension);
    absl::MutexLock docs_lock(&c.docs_mu);
    RecordDocument(c, std::string(id),
                   DocumentInfo{std::move(doc->metadata), doc->embeddings, bytes});
    it->Next();
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  for (const auto& [ns, name, incarnation] : orphans) {
    spdlog::warn("collection {}:{} (incarnation {:016x}) was dropped part-way; finishing it", ns,
                 name, incarnation);
    absl::Status s = DropData(ns, name, incarnation);
    if (!s.ok()) spdlog::error("clean-up of dropped collection {}:{}: {}", ns, name, s.ToString());
  }
  if (unreadable.empty()) RemoveStraySnapshots(by_prefix);
  return absl::OkStatus();
}

// Snapshot files of incarnations no definition names (a drop stopped before removing its file),
// and snapshots a crash cut short.
void CollectionStore::RemoveStraySnapshots(
    const std::map<std::string, std::shared_ptr<Collection>>& by_prefix) const {
  std::vector<std::string> live;
  for (const auto& [prefix, c] : by_prefix) live.push_back(SnapshotPath(c->definition.incarnation));
  for (const std::string& path :
       StraySnapshotFiles(options_.file_system, options_.snapshot_dir, "col-", live)) {
    spdlog::warn("removing {}: the snapshot of a dropped collection, or one cut short", path);
    absl::Status s = options_.file_system->RemoveFile(path);
    if (!s.ok()) spdlog::warn("cannot remove {}: {}", path, s.ToString());
  }
}

// Document records go last: while any is left, the next open sees the drop as unfinished.
absl::Status CollectionStore::DropData(const std::string& ns, const std::string& name,
                                       uint64_t incarnation) const {
  SOCHDB_RETURN_IF_ERROR(vector::VectorSpace::DropScope(
      store_, internal::VectorScope(ns, name, incarnation), options_.file_system,
      SnapshotPath(incarnation)));
  SOCHDB_RETURN_IF_ERROR(
      text::Bm25Index::DropAll(store_, internal::PostingScope(ns, name, incarnation)));
  return store_->DeletePrefix(internal::DocumentPrefix(ns, name, incarnation));
}

absl::StatusOr<std::shared_ptr<CollectionStore::Collection>> CollectionStore::Find(
    const std::string& ns, const std::string& name) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateCollectionName(name));
  std::optional<std::shared_ptr<Collection>> c = collections_.Find(Key{ns, name});
  if (!c.has_value()) {
    return internal::CollectionNotFound(name);
  }
  if ((*c)->space == nullptr) {
    return absl::UnavailableError(absl::StrCat("collection '", name, "' could not be loaded (",
                                               (*c)->open_error.message(),
                                               "); see the server log"));
  }
  return *std::move(c);
}

CollectionInfo CollectionStore::InfoOf(const Collection& c) {
  CollectionInfo info;
  info.definition = c.definition;
  absl::ReaderMutexLock docs_lock(&c.docs_mu);
  info.document_count = c.docs.size();
  return info;
}

absl::StatusOr<CollectionInfo> CollectionStore::Create(const CollectionDefinition& request) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(request.ns));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateCollectionName(request.name));
  if (request.spec.dimension == 0 || request.spec.dimension > vector::kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrFormat("dimension is %d; the range is 1..%d",
                                                      request.spec.dimension,
                                                      vector::kMaxDimension));
  }
  SOCHDB_ASSIGN_OR_RETURN(const vector::IndexSpec spec, vector::ResolveSpec(request.spec));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateMetadata("metadata", request.metadata));
  if (request.content_field.size() > internal::kMaxContentFieldBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("content_field is %d bytes; the limit is %d bytes",
                        request.content_field.size(), internal::kMaxContentFieldBytes));
  }
  auto c = std::make_shared<Collection>();
  CollectionDefinition& d = c->definition;
  d = request;
  d.spec = spec;
  d.created_at = static_cast<uint64_t>(options_.clock->NowMicros() / 1'000'000);
  d.incarnation = NewIncarnation();

  const Key key{d.ns, d.name};
  absl::ReaderMutexLock counted(&usage_mu_);
  if (collections_.Reserve(key) == CollectionCatalog::Reservation::kExists) {
    return absl::AlreadyExistsError(absl::StrCat("Collection '", d.name, "' already exists"));
  }
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kCollections);
  namespaces::UsageDelta one_collection;
  one_collection.collections = 1;
  absl::Status written = charge.Add(d.ns, one_collection);
  if (written.ok()) {
    storage::WriteBatch batch;
    batch.Put(DefinitionKey(d.ns, d.name), internal::EncodeDefinition(d));
    written = store_->Write(&batch);
  }
  if (!written.ok()) {
    collections_.Abandon(key);
    return written;
  }
  // The definition is stored: the collection counts even if it opens out of service below.
  charge.Commit();
  // A fresh incarnation holds nothing, so this fails only on storage errors; the collection
  // then exists out of service (its definition is stored) and can be deleted.
  c->open_error = OpenCollection(*c);
  if (!c->open_error.ok()) {
    c->space.reset();
    c->bm25.reset();
  }
  collections_.Publish(key, c);
  SOCHDB_RETURN_IF_ERROR(c->open_error);
  return InfoOf(*c);
}

absl::StatusOr<CollectionInfo> CollectionStore::Get(const std::string& ns,
                                                    const std::string& name) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  return InfoOf(*c);
}

std::vector<CollectionInfo> CollectionStore::List(
    const std::function<bool(const std::string& ns)>& include) const {
  std::vector<std::shared_ptr<Collection>> selected;
  for (const auto& [key, c] : collections_.Live()) {
    // A collection whose definition cannot be read has no facts to list.
    if (c->definition.incarnation != 0 && include(key.first)) selected.push_back(c);
  }
  std::vector<CollectionInfo> out;
  out.reserve(selected.size());
  for (const std::shared_ptr<Collection>& c : selected) out.push_back(InfoOf(*c));
  return out;
}

absl::Status CollectionStore::Delete(const std::string& ns, const std::string& name) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(internal::ValidateCollectionName(name));
  SOCHDB_ASSIGN_OR_RETURN(const std::shared_ptr<Collection> c, Unpublish(ns, name));
  // Then the data (under an incarnation no new collection can reuse) is deleted.
  const CollectionDefinition& d = c->definition;
  if (d.incarnation == 0) return absl::OkStatus();  // unreadable: the next open sweeps its data
  if (c->space != nullptr) {
    SOCHDB_RETURN_IF_ERROR(c->space->DropAll());
    observer_->AfterVectorsDropped();
  }
  return DropData(d.ns, d.name, d.incarnation);
}

absl::StatusOr<std::shared_ptr<CollectionStore::Collection>> CollectionStore::Unpublish(
    const std::string& ns, const std::string& name) {
  const Key key{ns, name};
  absl::ReaderMutexLock counted(&usage_mu_);
  std::optional<std::shared_ptr<Collection>> found = collections_.BeginDrop(key);
  if (!found.has_value()) {
    return internal::CollectionNotFound(name);
  }
  const std::shared_ptr<Collection> c = *std::move(found);
  storage::WriteBatch batch;
  batch.Delete(DefinitionKey(ns, name));
  const absl::Status written = store_->Write(&batch);
  collections_.FinishDrop(key, written.ok());
  SOCHDB_RETURN_IF_ERROR(written);
  // Gone for every caller now. A writer in flight finishes first; later ones, snapshots and
  // maintenance find the space retired, so the documents counted here are all it ever held.
  if (c->space != nullptr) {
    absl::MutexLock write_lock(&c->write_mu);
    c->space->Retire();
  }
  namespaces::UsageDelta given_back;
  given_back.collections = -1;
  {
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    given_back.vectors = -static_cast<int64_t>(c->docs.size());
    given_back.storage_bytes = -static_cast<int64_t>(c->total_bytes);
  }
  namespaces::UsageCharge charge(options_.usage, namespaces::UsageSource::kCollections);
  charge.Release(ns, given_back);
  charge.Commit();
  return c;
}

absl::StatusOr<namespaces::Usage> CollectionStore::CountUsage(std::string_view ns,
                                                              absl::FunctionRef<void()> start) {
  absl::MutexLock counting(&usage_mu_);
  start();
  namespaces::Usage usage;
  for (const auto& [key, c] : collections_.Live()) {
    if (key.first != ns) continue;
    ++usage.collections;
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    usage.vectors += c->docs.size();
    usage.storage_bytes += c->total_bytes;
  }
  return usage;
}

void CollectionStore::MaintainAll() {
  // A collection deleted meanwhile has its space retired: its Maintain does nothing.
  for (const auto& [key, c] : collections_.Live()) {
    if (c->space == nullptr) continue;
    absl::Status s = c->space->Maintain();
    if (!s.ok()) {
      spdlog::warn("collection {}:{} maintenance: {}", c->definition.ns, c->definition.name,
                   s.ToString());
    }
  }
}

void CollectionStore::MaintenanceLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.maintenance_interval);
      if (stopping_) return;
    }
    MaintainAll();
  }
}

size_t CollectionStore::CollectionCount() const { return collections_.LiveCount(); }

uint64_t CollectionStore::TotalDocuments() const {
  uint64_t total = 0;
  for (const auto& [key, c] : collections_.Live()) {
    absl::ReaderMutexLock docs_lock(&c->docs_mu);
    total += c->docs.size();
  }
  return total;
}

}  // namespace sochdb::collection
