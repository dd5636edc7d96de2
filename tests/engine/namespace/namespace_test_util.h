// The namespace registry's tests share this: a Store, a KvStore, a CollectionStore and a
// NamespaceRegistry under $TEST_TMPDIR/<name> that can be closed and reopened, a UsageTracker that
// records what the registry asks of it, and a scan of the whole store for a namespace's keys.
#ifndef SOCHDB_TESTS_ENGINE_NAMESPACE_NAMESPACE_TEST_UTIL_H_
#define SOCHDB_TESTS_ENGINE_NAMESPACE_NAMESPACE_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/collection/collection_store.h"
#include "engine/common/clock.h"
#include "engine/kv/kv_store.h"
#include "engine/namespace/namespace_registry.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::namespaces::testing {

using ::sochdb::testing::RequireError;
using ::sochdb::testing::ValueOrFail;

// Remembers the quota of every namespace it tracks; reports `usage` for each.
class RecordingTracker final : public UsageTracker {
 public:
  absl::Status Track(std::string_view ns, const Quota& quota) override {
    absl::MutexLock lock(&mu_);
    quotas_[std::string(ns)] = quota;
    return absl::OkStatus();
  }
  void SetQuota(std::string_view ns, const Quota& quota) override {
    absl::MutexLock lock(&mu_);
    auto it = quotas_.find(std::string(ns));
    if (it != quotas_.end()) it->second = quota;
  }
  void Untrack(std::string_view ns) override {
    absl::MutexLock lock(&mu_);
    quotas_.erase(std::string(ns));
  }
  std::optional<Usage> UsageOf(std::string_view ns) const override {
    absl::MutexLock lock(&mu_);
    if (quotas_.count(std::string(ns)) == 0) return std::nullopt;
    return Usage{7, 3, 1};
  }
  std::map<std::string, Quota> quotas() const {
    absl::MutexLock lock(&mu_);
    return quotas_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Quota> quotas_ ABSL_GUARDED_BY(mu_);
};

struct Fixture {
  explicit Fixture(const std::string& name) : dir(storage::testing::FreshTestDir(name)) { Open(); }
  ~Fixture() { Close(); }

  void Open() {
    storage::StoreOptions store_options;
    store_options.sync_mode = storage::SyncMode::kOff;
    store = ValueOrFail(storage::Store::Open(dir + "/db", store_options));
    kv = std::make_unique<kv::KvStore>(store.get(), &clock);
    collection::CollectionStoreOptions options;
    options.snapshot_dir = dir + "/snapshots";
    options.maintenance_interval = absl::Hours(1);
    options.clock = &clock;
    collections = ValueOrFail(collection::CollectionStore::Open(store.get(), options));
    NamespaceRegistryOptions registry_options;
    registry_options.clock = &clock;
    registry_options.drain_timeout = drain_timeout;
    registry = ValueOrFail(
        NamespaceRegistry::Open(store.get(), collections.get(), &tracker, registry_options));
  }
  void Close() {
    registry.reset();
    collections.reset();
    kv.reset();
    store.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  NamespaceInfo Create(const std::string& name, std::optional<Quota> quota = std::nullopt) {
    NamespaceDefinition d;
    d.name = name;
    d.quota = quota;
    return ValueOrFail(registry->Create(std::move(d)));
  }

  // A collection of two documents in `ns`.
  void AddCollection(const std::string& ns, const std::string& name) {
    collection::CollectionDefinition d;
    d.ns = ns;
    d.name = name;
    d.spec.dimension = 2;
    d.hybrid = true;
    ValueOrFail(collections->Create(d));
    std::vector<collection::Document> docs(2);
    docs[0].id = "a";
    docs[0].embeddings = {{1, 0}};
    docs[0].content = "alpha words";
    docs[1].id = "b";
    docs[1].embeddings = {{0, 1}};
    docs[1].content = "beta words";
    ValueOrFail(collections->AddDocuments(ns, name, std::move(docs)));
  }

  // Every key of the store in which the length-prefixed name `ns` occurs (the way every family
  // spells a namespace), whatever its family: what a namespace's delete must leave none of.
  // `with_vector_log` false leaves out the vector change log, which a reopen trims.
  std::vector<std::string> KeysNaming(const std::string& ns, bool with_vector_log = true) const {
    const std::string component = storage::KeyBuilder(storage::KeyFamily::kMeta).Name(ns).key();
    const std::string needle = component.substr(1);  // varint length + bytes
    std::vector<std::string> found;
    std::unique_ptr<storage::Iterator> it = store->NewIterator();
    for (it->Seek(""); it->Valid(); it->Next()) {
      if (!with_vector_log && it->key()[0] == static_cast<char>(storage::KeyFamily::kVectorLog)) {
        continue;
      }
      if (it->key().find(needle) != std::string_view::npos) found.emplace_back(it->key());
    }
    REQUIRE_OK(it->status());
    return found;
  }

  ManualClock clock;
  RecordingTracker tracker;
  absl::Duration drain_timeout = absl::Seconds(30);
  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<kv::KvStore> kv;
  std::unique_ptr<collection::CollectionStore> collections;
  std::unique_ptr<NamespaceRegistry> registry;
};

}  // namespace sochdb::namespaces::testing

#endif  // SOCHDB_TESTS_ENGINE_NAMESPACE_NAMESPACE_TEST_UTIL_H_
