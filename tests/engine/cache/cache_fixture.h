// What the SemanticCacheStore tests share: a store and its caches in a temporary directory (or
// on a disk the test supplies), a manual clock, and helpers that call through ValueOrFail.
#ifndef SOCHDB_TESTS_ENGINE_CACHE_CACHE_FIXTURE_H_
#define SOCHDB_TESTS_ENGINE_CACHE_CACHE_FIXTURE_H_

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cache/semantic_cache_store.h"
#include "engine/storage/store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::cache::testing {

using ::sochdb::testing::ValueOrFail;

struct Fixture {
  // `files` and `env` (nullptr = the real ones) must outlive the fixture.
  explicit Fixture(CacheLimits limits = {}, FileSystem* files = nullptr,
                   leveldb::Env* env = nullptr)
      : dir(storage::testing::FreshTestDir("cache")), limits(limits), files(files), env(env) {
    OpenStore();
    OpenCaches();
  }

  void OpenStore() {
    storage::StoreOptions options;
    options.sync_mode = storage::SyncMode::kOff;
    options.env = env;
    store = *storage::Store::Open(dir + "/db", options);
  }
  void OpenCaches() {
    SemanticCacheOptions cache_options;
    cache_options.snapshot_dir = dir + "/snapshots";
    if (files != nullptr) cache_options.file_system = files;
    cache_options.clock = &clock;
    cache_options.maintenance_interval = absl::Hours(1);  // rounds run when a test says
    cache_options.limits = limits;
    caches = ValueOrFail(SemanticCacheStore::Open(store.get(), cache_options));
  }
  void Reopen() {
    caches.reset();
    store.reset();
    OpenStore();
    OpenCaches();
  }

  void Put(std::string_view cache, std::string_view key, std::string_view value,
           std::vector<float> embedding, uint64_t ttl = 0, std::string_view tenant = "t") {
    REQUIRE_OK(caches->Put(tenant, cache, CacheEntry{key, value, embedding, ttl}));
  }
  CacheHit Get(std::string_view cache, std::vector<float> embedding, float threshold = 0,
               std::string_view query = "", std::string_view tenant = "t") {
    return ValueOrFail(caches->Get(tenant, cache, CacheLookup{query, embedding, threshold}));
  }
  CacheStats Stats(std::string_view cache, std::string_view tenant = "t") {
    return ValueOrFail(caches->Stats(tenant, cache));
  }
  // Keys in the store under `prefix`.
  size_t CountKeys(std::string_view prefix) {
    size_t n = 0;
    std::unique_ptr<storage::Iterator> it = store->NewIterator();
    for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix;
         it->Next()) {
      ++n;
    }
    REQUIRE_OK(it->status());
    return n;
  }

  std::string dir;
  CacheLimits limits;
  FileSystem* files;
  leveldb::Env* env;
  ManualClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<SemanticCacheStore> caches;
};

}  // namespace sochdb::cache::testing

#endif  // SOCHDB_TESTS_ENGINE_CACHE_CACHE_FIXTURE_H_
