// NamespaceRegistry: the namespaces created through the NamespaceService, with their description,
// metadata and quota, persisted in the store (one record per namespace, KeyFamily::kNamespace),
// and the deletion of a namespace together with its data in every family.
//
// A namespace exists for data without being registered (KV and collections create theirs on
// first use, as upstream); registering one gives it a quota and statistics (the UsageTracker
// counts what it holds) and an entry in ListNamespaces.
//
// Deletion (Delete): a namespace that holds data is refused unless `force` is set. Otherwise the
// namespace is closed to new operations (Enter refuses it), the operations in flight on it are
// drained, its record is rewritten in the state "deleting" (synced), then its data goes: every
// collection through CollectionStore::Delete (vectors, postings, documents and snapshots, each
// crash-safe), its KV TTL index entries, what the data owners keep (options.data_owners), and
// by prefix its keys in kNamespacePrefixedFamilies (KV, graph, episodes; every namespaced
// family is keyed namespace-first: storage/keys.h). The record goes last. A delete cut short
// (a crash, a storage error) leaves the record "deleting": the next Open finishes it before
// anything is served, and a DeleteNamespace call in the meantime resumes it. Deleting an
// unregistered namespace that holds data writes a "deleting" record first, so that it resumes
// too. A namespace stays closed while its delete is unfinished and opens again once it
// is gone (it may then be used or created anew).
//
// Errors: ALREADY_EXISTS "Namespace '<name>' already exists", NOT_FOUND "Namespace '<name>' not
// found" (the service puts these in the response's `error` field, as upstream); INVALID_ARGUMENT
// naming the field and the limit; FAILED_PRECONDITION "Namespace '<name>' is being deleted" and
// for a refused delete of a namespace that holds data (naming what it holds and `force`);
// UNAVAILABLE when operations on a namespace being deleted did not end within drain_timeout;
// storage errors pass through.
//
// Thread safety: all methods may be called concurrently. Create, SetQuota and the steps of Delete
// that write a record hold the registry's lock across their (synced) write, and Create across
// the tracker's Track (which counts what the namespace already holds): Get and List wait for
// them; Enter never does. Measured: Enter plus the guard's release take 64 ns on one thread
// (117 ns each with two threads on one namespace, 2 shared cores), 243 ns while some other
// namespace is being deleted (the closed set is looked up under a mutex).
#ifndef SOCHDB_ENGINE_NAMESPACE_NAMESPACE_REGISTRY_H_
#define SOCHDB_ENGINE_NAMESPACE_NAMESPACE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/collection/collection_store.h"
#include "engine/common/clock.h"
#include "engine/namespace/namespace_data_owner.h"
#include "engine/namespace/namespace_gate.h"
#include "engine/namespace/quota.h"
#include "engine/storage/store.h"

namespace sochdb::namespaces {

// Documented limits (docs/services.md "NamespaceService"). Names: 1..kMaxNamespaceBytes
// (engine/common/names.h), no NUL.
inline constexpr size_t kMaxDescriptionBytes = 4096;
inline constexpr size_t kMaxMetadataEntries = 256;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;  // keys + values

struct NamespaceDefinition {
  std::string name;
  std::string description;
  std::optional<Quota> quota;  // unset: no limits (and none reported)
  std::map<std::string, std::string> metadata;
  uint64_t created_at = 0;  // Unix seconds; set by Create
};

struct NamespaceInfo {
  NamespaceDefinition definition;
  Usage usage;  // from the UsageTracker; zeros when it does not track the namespace
};

struct NamespaceRegistryOptions {
  // How long Delete waits for the operations in flight on the namespace to end.
  absl::Duration drain_timeout = absl::Seconds(30);
  const Clock* clock = Clock::Real();  // not owned
  // Told of every namespace delete before its prefixed families go (agent memory's vectors).
  // Not owned; must outlive the registry.
  std::vector<NamespaceDataOwner*> data_owners;
};

class NamespaceRegistry {
 public:
  using Guard = NamespaceGate::Guard;

  // Loads every record, tracks every live namespace (tracker->Track) and finishes every delete
  // left unfinished. `store`, `collections` and `tracker` are not owned and must outlive the
  // registry; `tracker` may be nullptr (no quotas, zero statistics). DATA_LOSS for a record that
  // cannot be read. A delete that cannot be finished now is logged and stays pending (the
  // namespace stays closed; DeleteNamespace retries it).
  static absl::StatusOr<std::unique_ptr<NamespaceRegistry>> Open(
      storage::Store* store, collection::CollectionStore* collections, UsageTracker* tracker,
      NamespaceRegistryOptions options = {});

  // Registers `definition.name` (created_at is set here). INVALID_ARGUMENT for an empty or bad
  // name ("name ..."), description or metadata over its limit; ALREADY_EXISTS; FAILED_PRECONDITION
  // while the name is being deleted.
  absl::StatusOr<NamespaceInfo> Create(NamespaceDefinition definition);
  // NOT_FOUND for a namespace that is not registered or is being deleted.
  absl::StatusOr<NamespaceInfo> Get(std::string_view name) const;
  // The live registered namespaces that `include` accepts, ordered by name.
  std::vector<NamespaceInfo> List(const std::function<bool(const std::string&)>& include) const;
  // Replaces the quota of `ns` (std::nullopt clears it). NOT_FOUND "Namespace '<ns>' not found".
  absl::Status SetQuota(std::string_view ns, std::optional<Quota> quota);
  // Deletes `name` and its data (see the file comment). NOT_FOUND for a namespace neither
  // registered nor holding data; FAILED_PRECONDITION when it holds data and `force` is false,
  // or another Delete of it is running.
  absl::Status Delete(std::string_view name, bool force);

  // Admits one operation on `ns` until the guard is destroyed. FAILED_PRECONDITION "Namespace
  // '<ns>' is being deleted" while a delete of it is unfinished. Lock-free while no namespace is
  // being deleted; never allocates.
  absl::StatusOr<Guard> Enter(std::string_view ns) { return gate_.Enter(ns); }

  // What `ns` holds, as the refusal of a delete names it ("2 collections", "KV keys", "graph
  // data", "episodes"); empty when it holds nothing.
  absl::StatusOr<std::vector<std::string>> Holdings(std::string_view ns) const;

 private:
  struct Entry {
    NamespaceDefinition definition;
    bool deleting = false;
  };

  NamespaceRegistry(storage::Store* store, collection::CollectionStore* collections,
                    UsageTracker* tracker, NamespaceRegistryOptions options);

  absl::Status LoadAll();
  // Finishes the deletes Open found unfinished.
  void ResumeDeletes();
  // The delete once the namespace is closed: drains, refuses (unless `force`) when it holds
  // data, records "deleting", deletes the data and the record.
  absl::Status CloseAndDelete(const std::string& name, bool force);
  // Marks `name` deleting in memory and in its (synced) record, registering it when it is not.
  absl::Status RecordDeleting(const std::string& name);
  // Deletes the data of `name`, then its record, and forgets it.
  absl::Status DeleteDataAndRecord(const std::string& name);
  absl::Status DeleteKvExpiryEntries(std::string_view ns) const;
  absl::Status WriteRecord(const Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NamespaceInfo InfoOf(const NamespaceDefinition& definition) const;

  storage::Store* const store_;
  collection::CollectionStore* const collections_;
  UsageTracker* const tracker_;  // may be null
  const NamespaceRegistryOptions options_;
  NamespaceGate gate_;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> deletes_running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_ENGINE_NAMESPACE_NAMESPACE_REGISTRY_H_
