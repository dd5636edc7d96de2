// Tests for SemanticCacheStore (engine/cache): exact and semantic hits, the threshold and its
// default, misses with empty fields, the dimension rule and every input limit, TTL expiry and
// the purge, Invalidate globs, LRU eviction and the capacity limit, tenants apart, Delete /
// Clear / List, counts and entries across a reopen, and start-up removing what a crash left
// half-done. A manual clock drives the TTLs.
#include "engine/cache/semantic_cache_store.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/storage/keys.h"
#include "tests/engine/cache/cache_fixture.h"

namespace sochdb::cache {
namespace {

using ::sochdb::testing::RequireError;
using ::sochdb::testing::RequireErrorContaining;
using ::sochdb::testing::ValueOrFail;

using testing::Fixture;

TEST_CASE("exact and semantic hits, the threshold and its default, empty misses", "[cache]") {
  Fixture f;
  f.Put("c", "what is the capital of France?", "Paris", {1, 0, 0});
  f.Put("c", "how tall is Everest?", "8849 m", {0, 1, 0});

  CacheHit hit = f.Get("c", {0.99f, 0.1f, 0});  // cos ~0.995
  CHECK(hit.hit);
  CHECK(hit.value == "Paris");
  CHECK(hit.key == "what is the capital of France?");
  CHECK(hit.similarity == Approx(0.995).epsilon(0.001));

  // cos(45 degrees) = 0.707: under the default 0.85, over an explicit 0.7.
  const CacheHit miss = f.Get("c", {1, 1, 0});
  CHECK_FALSE(miss.hit);
  CHECK(miss.value.empty());
  CHECK(miss.key.empty());
  CHECK(miss.similarity == 0);
  CHECK(f.Get("c", {1, 1, 0}, 0.7f).hit);
  CHECK_FALSE(f.Get("c", {1, 1, 0}, -1).hit);  // <= 0 means 0.85

  // The query text is a key: a hit before any search, with no embedding at all.
  hit = f.Get("c", {}, 0, "how tall is Everest?");
  CHECK(hit.hit);
  CHECK(hit.value == "8849 m");
  CHECK(hit.similarity == 1.0f);
  // ... and whatever the embedding says.
  CHECK(f.Get("c", {1, 0, 0}, 0.99f, "how tall is Everest?").value == "8849 m");
  CHECK_FALSE(f.Get("c", {}, 0, "unknown text").hit);  // no embedding: a miss

  // Upsert by key.
  f.Put("c", "how tall is Everest?", "8848.86 m", {0, 1, 0});
  CHECK(f.Get("c", {0, 1, 0}).value == "8848.86 m");

  const CacheStats stats = f.Stats("c");
  CHECK(stats.hits == 5);
  CHECK(stats.misses == 3);
  CHECK(stats.entry_count == 2);
  CHECK(stats.hit_rate() == Approx(5.0 / 8));
  CHECK(stats.dimension == 3);
  CHECK(stats.size_bytes == (30 + 5 + 12) + (20 + 9 + 12));
}

TEST_CASE("a Get never creates a cache: its miss is counted nowhere", "[cache]") {
  CacheLimits limits;
  limits.max_caches_per_tenant = 1;
  Fixture f(limits);
  RequireError(f.caches->Stats("t", "nope").status(), absl::StatusCode::kNotFound,
               "Cache 'nope' not found");
  CHECK_FALSE(f.Get("nope", {1, 2}).hit);
  CHECK_FALSE(f.Get("nope", {}, 0, "some text").hit);
  RequireError(f.caches->Stats("t", "nope").status(), absl::StatusCode::kNotFound,
               "Cache 'nope' not found");
  CHECK(f.caches->List("t").empty());
  // Bad input is refused all the same.
  RequireErrorContaining(
      f.caches->Get("t", "nope", CacheLookup{"", std::vector<float>{NAN}, 0}).status(),
      absl::StatusCode::kInvalidArgument, "query_embedding");
  // The lookups took nothing of the tenant's one cache.
  f.Put("real", "k", "v", {1, 0});
  f.Reopen();
  REQUIRE(f.caches->List("t").size() == 1);
  CHECK(f.caches->List("t")[0].name == "real");
}

TEST_CASE("a threshold above 1 is refused; 1 is accepted", "[cache]") {
  Fixture f;
  f.Put("c", "k", "v", {1, 0});
  RequireErrorContaining(
      f.caches->Get("t", "c", CacheLookup{"", std::vector<float>{1, 0}, 1.5f}).status(),
      absl::StatusCode::kInvalidArgument,
      "similarity_threshold is 1.5; it must be at most 1 (a cosine similarity; <= 0 means the "
      "default 0.85)");
  REQUIRE_OK(f.caches->Get("t", "c", CacheLookup{"", std::vector<float>{2, 0}, 1.0f}).status());
  CHECK_FALSE(f.Get("c", {1, 0.1f}, 1.0f).hit);
  CHECK(f.Stats("c").hits + f.Stats("c").misses == 2);  // the refused Get counts as neither
}

TEST_CASE("the dimension is fixed by the first Put; bad input names the field", "[cache]") {
  Fixture f;
  f.Put("c", "k", "v", {1, 0, 0, 0});
  RequireError(f.caches->Put("t", "c", CacheEntry{"k2", "v", std::vector<float>{1, 0}, 0}),
               absl::StatusCode::kInvalidArgument,
               "key_embedding has 2 floats; cache 'c' has dimension 4 (set by its first Put)");
  const std::vector<float> two = {1, 0};
  RequireError(f.caches->Get("t", "c", CacheLookup{"", two, 0}).status(),
               absl::StatusCode::kInvalidArgument,
               "query_embedding has 2 floats; cache 'c' has dimension 4 (set by its first Put)");
  CHECK(f.Stats("c").misses == 0);  // an error is neither a hit nor a miss

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  RequireErrorContaining(f.caches->Put("t", "c", CacheEntry{"k", "v", std::vector<float>{1, nan, 0, 0}, 0}),
                         absl::StatusCode::kInvalidArgument, "key_embedding[1] is NaN");
  RequireErrorContaining(f.caches->Put("t", "c", CacheEntry{"k", "v", std::vector<float>{inf, 0, 0, 0}, 0}),
                         absl::StatusCode::kInvalidArgument, "key_embedding[0]");
  const std::vector<float> nan_query = {nan, 0, 0, 0};
  RequireErrorContaining(f.caches->Get("t", "c", CacheLookup{"", nan_query, 0}).status(),
                         absl::StatusCode::kInvalidArgument, "query_embedding[0] is NaN");
  RequireError(f.caches->Get("t", "c", CacheLookup{"", std::vector<float>{1}, nan}).status(),
               absl::StatusCode::kInvalidArgument, "similarity_threshold is NaN");
  RequireError(f.caches->Put("t", "c", CacheEntry{"k", "v", {}, 0}),
               absl::StatusCode::kInvalidArgument, "key_embedding is empty");
  RequireErrorContaining(f.caches->Put("t", "c", CacheEntry{"k", "v", std::vector<float>{0, 0, 0, 0}, 0}),
                         absl::StatusCode::kInvalidArgument, "key_embedding is all zeros");
  RequireError(f.caches->Put("t", "c", CacheEntry{"", "v", std::vector<float>{1, 0, 0, 0}, 0}),
               absl::StatusCode::kInvalidArgument, "key must not be empty");
  RequireError(f.caches->Put("t", "", CacheEntry{"k", "v", std::vector<float>{1, 0, 0, 0}, 0}),
               absl::StatusCode::kInvalidArgument, "cache_name must not be empty");
  const std::string long_key(8 * 1024 + 1, 'k');
  RequireError(f.caches->Put("t", "c", CacheEntry{long_key, "v", std::vector<float>{1, 0, 0, 0}, 0}),
               absl::StatusCode::kInvalidArgument, "key is 8193 bytes; the limit is 8192 bytes");
  const std::string big_value((1u << 20) + 1, 'v');
  RequireError(f.caches->Put("t", "c", CacheEntry{"k", big_value, std::vector<float>{1, 0, 0, 0}, 0}),
               absl::StatusCode::kInvalidArgument,
               "value is 1048577 bytes; the limit is 1048576 bytes");
  const std::vector<float> wide(4097, 1.0f);
  RequireError(f.caches->Put("t", "d", CacheEntry{"k", "v", wide, 0}),
               absl::StatusCode::kInvalidArgument, "key_embedding has 4097 floats; the limit is 4096");
  CHECK(f.Stats("c").entry_count == 1);  // nothing above was written
}

TEST_CASE("expired entries never hit, are not counted and are purged", "[cache]") {
  Fixture f;
  f.Put("c", "short", "s", {1, 0}, /*ttl=*/10);
  f.Put("c", "forever", "f", {0, 1});
  f.Put("c", "huge ttl", "h", {-1, 0}, std::numeric_limits<uint64_t>::max());  // no overflow
  CHECK(f.Get("c", {1, 0}).hit);
  f.clock.AdvanceSeconds(9);
  CHECK(f.Get("c", {}, 0, "short").hit);
  f.clock.AdvanceSeconds(1);  // expires at exactly 10 s
  CHECK_FALSE(f.Get("c", {1, 0}).hit);
  CHECK_FALSE(f.Get("c", {}, 0, "short").hit);
  CHECK(f.Stats("c").entry_count == 2);
  CHECK(f.Stats("c").size_bytes == (7 + 1 + 8) + (8 + 1 + 8));
  CHECK(ValueOrFail(f.caches->RunMaintenance()) == 1);
  CHECK(ValueOrFail(f.caches->RunMaintenance()) == 0);
  const std::string prefix =
      storage::KeyBuilder(storage::KeyFamily::kCacheEntry).Name("t").Name("c").key();
  CHECK_FALSE(ValueOrFail(f.store->Get(prefix + "short")).has_value());
  CHECK(ValueOrFail(f.store->Get(prefix + "forever")).has_value());
  // A Put renews the entry's life.
  f.Put("c", "short", "s2", {1, 0}, 10);
  CHECK(f.Get("c", {1, 0}).value == "s2");
}

TEST_CASE("Invalidate: empty = all, globs through RE2, a bad pattern is refused", "[cache]") {
  Fixture f;
  f.Put("c", "user:1:name", "a", {1, 0});
  f.Put("c", "user:2:name", "b", {0, 1});
  f.Put("c", "user:10:name", "c", {1, 1});
  f.Put("c", "order.7", "d", {-1, 0});
  f.Put("c", "orderx7", "e", {0, -1});
  CHECK(ValueOrFail(f.caches->Invalidate("t", "c", "user:?:name")) == 2);
  CHECK(ValueOrFail(f.caches->Invalidate("t", "c", "order.*")) == 1);  // '.' is literal
  CHECK(f.Get("c", {}, 0, "orderx7").hit);
  CHECK(f.Get("c", {}, 0, "user:10:name").hit);
  CHECK_FALSE(f.Get("c", {}, 0, "user:1:name").hit);
  RequireErrorContaining(f.caches->Invalidate("t", "c", "[a-").status(),
                         absl::StatusCode::kInvalidArgument, "pattern");
  CHECK(ValueOrFail(f.caches->Invalidate("t", "c", "nothing*")) == 0);
  CHECK(ValueOrFail(f.caches->Invalidate("t", "c", "")) == 2);
  CHECK(f.Stats("c").entry_count == 0);
  CHECK(f.Stats("c").hits == 2);  // stats are kept
  CHECK(ValueOrFail(f.caches->Invalidate("t", "absent", "")) == 0);
}

TEST_CASE("max_entries evicts the least recently used; a hit makes an entry recent", "[cache]") {
  Fixture f;
  CHECK(ValueOrFail(f.caches->Configure("t", "c", 3)).max_entries == 3);
  f.Put("c", "a", "1", {1, 0, 0});
  f.Put("c", "b", "2", {0, 1, 0});
  f.Put("c", "c", "3", {0, 0, 1});
  CHECK(f.Get("c", {1, 0, 0}).hit);  // a is now the most recent: b is the least
  f.Put("c", "d", "4", {1, 1, 0});
  CHECK(f.Stats("c").entry_count == 3);
  CHECK_FALSE(f.Get("c", {}, 0, "b").hit);
  CHECK(f.Get("c", {}, 0, "a").hit);
  f.Put("c", "a", "1b", {1, 0, 0});  // an upsert evicts nothing
  CHECK(f.Stats("c").entry_count == 3);
  // Lowering the capacity evicts at once, least recent first (c, then d).
  CHECK(ValueOrFail(f.caches->Configure("t", "c", 1)).entry_count == 1);
  CHECK(f.Get("c", {}, 0, "a").hit);
  RequireError(f.caches->Configure("t", "c", 1'000'001).status(),
               absl::StatusCode::kInvalidArgument, "max_entries is 1000001; the limit is 1000000");
  // The order survives a reopen as the order of the last Puts.
  REQUIRE_OK(f.caches->Configure("t", "c", 2).status());
  f.Put("c", "e", "5", {0, 1, 1});
  f.clock.AdvanceSeconds(1);
  f.Put("c", "a", "1c", {1, 0, 0});
  f.Reopen();
  CHECK(f.Stats("c").max_entries == 2);
  f.Put("c", "g", "7", {1, 1, 1});
  CHECK(f.Get("c", {}, 0, "a").hit);
  CHECK_FALSE(f.Get("c", {}, 0, "e").hit);
}

TEST_CASE("a cache without max_entries refuses past the limit, expired entries give way",
          "[cache]") {
  CacheLimits limits;
  limits.max_entries_per_cache = 2;
  Fixture f(limits);
  f.Put("c", "a", "1", {1, 0}, 5);
  f.Put("c", "b", "2", {0, 1});
  RequireErrorContaining(f.caches->Put("t", "c", CacheEntry{"c", "3", std::vector<float>{1, 1}, 0}),
                         absl::StatusCode::kResourceExhausted,
                         "cache 'c' holds 2 entries, the limit (max_entries_per_cache)");
  f.Put("c", "b", "2b", {0, 1});  // replacing is not adding
  f.clock.AdvanceSeconds(5);
  f.Put("c", "c", "3", {1, 1});  // the expired "a" makes room
  CHECK(f.Stats("c").entry_count == 2);
}

TEST_CASE("tenants hold the same cache name apart; Delete, Clear and List", "[cache]") {
  Fixture f;
  f.Put("shared", "k", "alpha's", {1, 0}, 0, "alpha");
  f.Put("shared", "k", "beta's", {1, 0}, 0, "beta");
  f.Put("other", "x", "y", {1, 0, 0}, 0, "alpha");
  CHECK(f.Get("shared", {1, 0}, 0, "", "alpha").value == "alpha's");
  CHECK(f.Get("shared", {1, 0}, 0, "", "beta").value == "beta's");
  CHECK(ValueOrFail(f.caches->Invalidate("beta", "shared", "")) == 1);
  CHECK(f.Get("shared", {1, 0}, 0, "", "alpha").hit);

  const std::vector<CacheStats> listed = f.caches->List("alpha");
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].name == "other");
  CHECK(listed[1].name == "shared");
  CHECK(listed[1].hits == 2);
  CHECK(f.caches->List("gamma").empty());

  CHECK(ValueOrFail(f.caches->Delete("alpha", "shared", "k")));
  CHECK_FALSE(ValueOrFail(f.caches->Delete("alpha", "shared", "k")));
  CHECK(ValueOrFail(f.caches->Clear("alpha", "other")));
  CHECK_FALSE(ValueOrFail(f.caches->Clear("alpha", "other")));
  RequireError(f.caches->Stats("alpha", "other").status(), absl::StatusCode::kNotFound,
               "Cache 'other' not found");
  // A cleared name starts afresh, with another dimension if it likes.
  f.Put("other", "x", "z", {1, 0}, 0, "alpha");
  CHECK(f.Stats("other", "alpha").dimension == 2);
  CHECK(f.Stats("other", "alpha").hits == 0);
  f.Reopen();
  CHECK(f.Get("other", {1, 0}, 0, "", "alpha").value == "z");
  CHECK(f.caches->List("alpha").size() == 2);
}

TEST_CASE("entries and counts survive a reopen; counts are written by maintenance", "[cache]") {
  Fixture f;
  f.Put("c", "k", "v", {1, 2, 3});
  CHECK(f.Get("c", {1, 2, 3}).hit);
  CHECK_FALSE(f.Get("c", {-3, 2, 1}).hit);  // cos 0.29
  const std::string record_key =
      storage::KeyBuilder(storage::KeyFamily::kCacheMeta).Name("t").Name("c").key();
  CHECK(ValueOrFail(f.store->Get(record_key))->find("hits=0") != std::string::npos);
  REQUIRE_OK(f.caches->RunMaintenance().status());
  CHECK(ValueOrFail(f.store->Get(record_key))->find("hits=1 misses=1") != std::string::npos);
  CHECK(f.Get("c", {1, 2, 3}).hit);
  f.Reopen();  // the close writes the last count
  CacheStats stats = f.Stats("c");
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 1);
  CHECK(stats.entry_count == 1);
  CHECK(f.Get("c", {1, 2, 3.1f}).value == "v");
}

TEST_CASE("start-up removes entries without embeddings and embeddings without entries",
          "[cache]") {
  Fixture f;
  f.Put("c", "kept", "v", {1, 0});
  f.Put("c", "half", "v", {0, 1});
  const std::string prefix =
      storage::KeyBuilder(storage::KeyFamily::kCacheEntry).Name("t").Name("c").key();
  // As a crash between the two halves of a removal would leave them: the entry record of
  // "half" gone (its embedding stays), and an entry of a cache that has no record.
  storage::WriteBatch batch;
  batch.Delete(prefix + "half");
  batch.Put(storage::KeyBuilder(storage::KeyFamily::kCacheEntry).Name("t").Name("gone").key() +
                "x",
            std::string("\x01\x00\x00v", 4));
  REQUIRE_OK(f.store->Write(&batch));
  f.Reopen();
  CHECK(f.Stats("c").entry_count == 1);
  CHECK(f.Get("c", {0, 1}, 0.5f).hit == false);  // no embedding of "half" is left to match
  CHECK(f.Get("c", {1, 0}).hit);
  CHECK(f.caches->List("t").size() == 1);
}

TEST_CASE("past the exact phase the HNSW index finds each entry's neighbour", "[cache]") {
  Fixture f;
  constexpr int kEntries = 4200;  // the index leaves its exact phase at 4,000 for 200 dims
  constexpr int kDim = 200;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> keys(kEntries, std::vector<float>(kDim));
  for (int i = 0; i < kEntries; ++i) {
    for (float& x : keys[i]) x = normal(rng);
    f.Put("big", "q" + std::to_string(i), "a" + std::to_string(i), keys[i]);
  }
  int found = 0;
  for (int i = 0; i < kEntries; i += 7) {
    std::vector<float> query = keys[i];
    for (float& x : query) x += 0.05f * normal(rng);
    const CacheHit hit = f.Get("big", query, 0.9f);
    found += hit.hit && hit.value == "a" + std::to_string(i);
  }
  CHECK(found >= 0.98 * (kEntries / 7));
  CHECK(f.Stats("big").entry_count == kEntries);
}

TEST_CASE("totals: caches, live entries, and every Get since the store opened", "[cache]") {
  Fixture f;
  f.Put("a", "k1", "v", {1, 0});
  f.Put("a", "k2", "v", {0, 1}, 5);
  f.Put("b", "k3", "v", {1, 0}, 0, "other tenant");
  CHECK(f.Get("a", {1, 0}).hit);
  CHECK_FALSE(f.Get("a", {-1, 0}).hit);
  CHECK_FALSE(f.Get("missing", {1, 0}).hit);  // no cache counts it; the totals do
  f.clock.AdvanceSeconds(5);
  const CacheTotals totals = f.caches->Totals();
  CHECK(totals.caches == 2);
  CHECK(totals.entries == 2);
  CHECK(totals.hits == 1);
  CHECK(totals.misses == 2);
}

TEST_CASE("a maintenance round writes the counts of many caches in few store writes",
          "[cache]") {
  Fixture f;
  constexpr int kCaches = 40;
  for (int i = 0; i < kCaches; ++i) {
    const std::string name = "c" + std::to_string(i);
    REQUIRE_OK(f.caches->Configure("t", name, 10).status());  // no entries: no index to maintain
    CHECK_FALSE(f.Get(name, {1, 0}).hit);
  }
  const uint64_t before = f.store->Stats().batches_written;
  REQUIRE_OK(f.caches->RunMaintenance().status());
  CHECK(f.store->Stats().batches_written - before == 2);  // 32 records a write
  f.Reopen();
  for (int i = 0; i < kCaches; ++i) CHECK(f.Stats("c" + std::to_string(i)).misses == 1);
}

TEST_CASE("ef_search is an option of the store, 1..kMaxEf", "[cache]") {
  Fixture f;
  for (uint32_t ef : {0u, 65'537u}) {
    SemanticCacheOptions options;
    options.snapshot_dir = f.dir + "/other";
    options.ef_search = ef;
    RequireErrorContaining(SemanticCacheStore::Open(f.store.get(), options).status(),
                           absl::StatusCode::kInvalidArgument, "ef_search is ");
  }
}

}  // namespace
}  // namespace sochdb::cache
