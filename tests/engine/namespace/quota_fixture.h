// What the quota tests share: an Engine in a fresh directory on a ManualClock (reopened on
// demand), small documents of known size, and a recount of a namespace's usage through the
// stores' public reads, computed here independently of the ledger's code.
#ifndef SOCHDB_TESTS_ENGINE_NAMESPACE_QUOTA_FIXTURE_H_
#define SOCHDB_TESTS_ENGINE_NAMESPACE_QUOTA_FIXTURE_H_

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/simulated_disk.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::namespaces {

// So that Catch prints a Usage that fails a comparison.
inline std::ostream& operator<<(std::ostream& out, const Usage& usage) {
  return out << "{storage_bytes " << usage.storage_bytes << ", vectors " << usage.vectors
             << ", collections " << usage.collections << "}";
}

inline Quota StorageQuota(uint64_t bytes) {
  Quota quota;
  quota.max_storage_bytes = bytes;
  return quota;
}
inline Quota VectorQuota(uint64_t vectors) {
  Quota quota;
  quota.max_vectors = vectors;
  return quota;
}
inline Quota CollectionQuota(uint64_t collections) {
  Quota quota;
  quota.max_collections = collections;
  return quota;
}

class QuotaFixture {
 public:
  // The TTL purger runs every `purge_interval`.
  explicit QuotaFixture(const std::string& name,
                        absl::Duration purge_interval = absl::Milliseconds(10))
      : dir_(storage::testing::FreshTestDir(name)), purge_interval_(purge_interval) {
    Open();
  }
  // On `disk` (not owned), in sync mode full: a test can cut its power.
  explicit QuotaFixture(storage::testing::SimulatedDisk* disk)
      : dir_("/data"), purge_interval_(absl::Milliseconds(10)), disk_(disk) {
    Open();
  }

  void Open() {
    EngineOptions options;
    options.data_dir = dir_;
    options.clock = &clock;
    options.ttl_purge_interval = purge_interval_;
    options.vector_maintenance_interval = absl::Hours(1);
    options.store.sync_mode = storage::SyncMode::kOff;
    if (disk_ != nullptr) {
      options.store.env = disk_->env();
      options.file_system = disk_->files();
      options.store.sync_mode = storage::SyncMode::kFull;
    }
    engine = sochdb::testing::ValueOrFail(Engine::Open(options));
  }
  void Reopen() {
    engine.reset();
    Open();
  }

  kv::KvStore& kv() { return engine->kv(); }
  collection::CollectionStore& collections() { return engine->collections(); }
  UsageLedger& usage() { return engine->usage(); }
  // The usage of a namespace the test tracks.
  namespaces::Usage UsageOf(const std::string& ns) {
    std::optional<namespaces::Usage> usage = engine->usage().UsageOf(ns);
    REQUIRE(usage.has_value());
    return *usage;
  }

  static collection::CollectionDefinition Definition(const std::string& ns,
                                                     const std::string& name,
                                                     uint32_t dimension) {
    collection::CollectionDefinition d;
    d.ns = ns;
    d.name = name;
    d.spec.dimension = dimension;
    return d;
  }
  void CreateCollection(const std::string& ns, const std::string& name, uint32_t dimension) {
    REQUIRE_OK(collections().Create(Definition(ns, name, dimension)).status());
  }

  // Upserts one document per id, each of DocBytes(id, dimension) bytes.
  absl::Status Add(const std::string& ns, const std::string& name,
                   const std::vector<std::string>& ids) {
    absl::StatusOr<collection::CollectionInfo> info = collections().Get(ns, name);
    if (!info.ok()) return info.status();
    std::vector<collection::Document> docs;
    for (const std::string& id : ids) {
      collection::Document doc;
      doc.id = id;
      doc.embeddings.emplace_back(info->definition.spec.dimension, 0.5f);
      doc.content = "text";
      doc.metadata = {{"tag", "abc"}};
      docs.push_back(std::move(doc));
    }
    return collections().AddDocuments(ns, name, std::move(docs)).status();
  }
  // The bytes a document Add writes counts for: id, content, metadata, 4 bytes per float.
  static uint64_t DocBytes(const std::string& id, uint32_t dimension) {
    return id.size() + 4 + 6 + 4 * dimension;
  }

  // What `ns` holds, read back through the stores: its live KV records (so, none expired and
  // not yet purged), its collections, and those of `ids` its collections hold.
  namespaces::Usage Recount(const std::string& ns, const std::vector<std::string>& ids) {
    namespaces::Usage usage;
    std::unique_ptr<kv::KvScanCursor> scan = sochdb::testing::ValueOrFail(kv().Scan(ns, "", 0));
    std::string key, value;
    while (sochdb::testing::ValueOrFail(scan->Next(&key, &value))) {
      usage.storage_bytes += key.size() + value.size();
    }
    for (const collection::CollectionInfo& info :
         collections().List([&](const std::string& n) { return n == ns; })) {
      ++usage.collections;
      for (const std::string& id : ids) {
        absl::StatusOr<collection::Document> doc =
            collections().GetDocument(ns, info.definition.name, id);
        if (!doc.ok()) continue;
        ++usage.vectors;
        usage.storage_bytes += doc->id.size() + doc->content.size();
        for (const auto& [k, v] : doc->metadata) usage.storage_bytes += k.size() + v.size();
        for (const std::vector<float>& e : doc->embeddings) usage.storage_bytes += 4 * e.size();
      }
    }
    return usage;
  }

  ManualClock clock;
  std::unique_ptr<Engine> engine;

 private:
  const std::string dir_;
  const absl::Duration purge_interval_;
  storage::testing::SimulatedDisk* const disk_ = nullptr;
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_TESTS_ENGINE_NAMESPACE_QUOTA_FIXTURE_H_
