// Namespace quotas at engine level (engine/namespace/usage_ledger.h): for each quota, exactly at
// the limit, one past it (upstream's text, nothing written), an overwrite at the limit, delete
// then re-add; TTL expiry giving bytes back once purged; the same usage after a restart; and
// writers racing for the last unit of a quota. The ledger's counts are checked against what the
// test wrote (sizes computed here, not by the engine's code).
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/namespace/usage_ledger.h"
#include "tests/common/status_testing.h"
#include "tests/common/wait_until.h"
#include "tests/engine/namespace/quota_fixture.h"

namespace sochdb::namespaces {
namespace {

using ::sochdb::testing::RequireError;
using ::sochdb::testing::ValueOrFail;
using ::sochdb::testing::WaitUntil;

constexpr absl::StatusCode kExhausted = absl::StatusCode::kResourceExhausted;

TEST_CASE("storage quota on KV writes: at the limit, past it, overwrite, delete, re-add") {
  QuotaFixture f("kv_storage_quota");
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(100)));
  REQUIRE(f.UsageOf("ns") == Usage{});
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(48, 'a'), 0));  // 2 + 48 bytes
  REQUIRE_OK(f.kv().Put("ns", "k2", std::string(48, 'b'), 0));  // exactly at the limit
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);

  RequireError(f.kv().Put("ns", "k3", "", 0), kExhausted,
               "Namespace 'ns' storage quota exceeded (100 + 2 > 100 bytes)");
  REQUIRE(ValueOrFail(f.kv().Get("ns", "k3")) == std::nullopt);
  // An overwrite that adds nothing passes at the limit; one that adds a byte does not.
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(48, 'c'), 0));
  RequireError(f.kv().Put("ns", "k1", std::string(49, 'd'), 0), kExhausted,
               "Namespace 'ns' storage quota exceeded (100 + 1 > 100 bytes)");
  REQUIRE(ValueOrFail(f.kv().Get("ns", "k1")) == std::string(48, 'c'));
  // A TTL changes the stored record, not what it counts.
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(48, 'e'), 3600));
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(10, 'f'), 0));  // shrinks: frees 38
  REQUIRE(f.UsageOf("ns").storage_bytes == 62);

  REQUIRE(ValueOrFail(f.kv().Delete("ns", "k2")));
  REQUIRE(f.UsageOf("ns").storage_bytes == 12);
  REQUIRE_FALSE(ValueOrFail(f.kv().Delete("ns", "k2")));
  REQUIRE(f.UsageOf("ns").storage_bytes == 12);
  REQUIRE_OK(f.kv().Put("ns", "k2", std::string(86, 'g'), 0));  // re-added, to the limit
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
  // An untracked namespace has no quota and no usage.
  REQUIRE_OK(f.kv().Put("other", "k", std::string(1000, 'x'), 0));
  REQUIRE(f.usage().UsageOf("other") == std::nullopt);
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
}

TEST_CASE("storage quota on BatchPut: all or nothing, net of what the batch replaces") {
  QuotaFixture f("kv_batch_quota");
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(100)));
  const std::string v40(40, 'v');
  REQUIRE_OK(f.kv().Put("ns", "a1", v40, 0));  // 42
  // a1 replaced (42 -> 42), b1 and a repeated c1 (its last value counts): 42 + 2 + 56 = 100.
  const std::string first(30, 'x'), last(54, 'z');
  std::vector<kv::KvPutEntry> fits = {{"a1", v40, 0}, {"b1", "", 0}, {"c1", first, 0},
                                      {"c1", last, 0}};
  REQUIRE_OK(f.kv().BatchPut("ns", fits));
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
  std::vector<kv::KvPutEntry> past = {{"a1", "", 0}, {"d1", std::string(41, 'y'), 0}};
  RequireError(f.kv().BatchPut("ns", past), kExhausted,
               "Namespace 'ns' storage quota exceeded (100 + 3 > 100 bytes)");
  REQUIRE(ValueOrFail(f.kv().Get("ns", "a1")) == v40);
  REQUIRE(ValueOrFail(f.kv().Get("ns", "d1")) == std::nullopt);
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
  // Freeing 40 bytes and adding 40 adds nothing: it passes at the limit.
  std::vector<kv::KvPutEntry> shrinking = {{"a1", "", 0}, {"d1", std::string(38, 'y'), 0}};
  REQUIRE_OK(f.kv().BatchPut("ns", shrinking));
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
}

TEST_CASE("TTL expiry gives the bytes back once the purger removes the record") {
  QuotaFixture f("kv_expiry_quota");
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(100)));
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(98, 'a'), 10));
  f.clock.AdvanceSeconds(11);
  REQUIRE(ValueOrFail(f.kv().Get("ns", "k1")) == std::nullopt);  // invisible at once
  // The record occupies the store until it is purged (every 10 ms here).
  REQUIRE(WaitUntil([&] { return f.UsageOf("ns").storage_bytes == 0; }));
  REQUIRE_OK(f.kv().Put("ns", "k2", std::string(98, 'b'), 10));  // re-added, to the limit
}

TEST_CASE("an expired record counts until it is purged; rewriting it replaces its bytes") {
  QuotaFixture f("kv_expiry_unpurged", absl::Hours(1));  // the test purges
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(100)));
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(98, 'a'), 10));
  f.clock.AdvanceSeconds(11);
  RequireError(f.kv().Put("ns", "k2", "", 0), kExhausted,
               "Namespace 'ns' storage quota exceeded (100 + 2 > 100 bytes)");
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(98, 'b'), 0));  // replaces the expired record
  REQUIRE(f.UsageOf("ns").storage_bytes == 100);
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(48, 'c'), 10));
  REQUIRE(f.UsageOf("ns").storage_bytes == 50);
  f.clock.AdvanceSeconds(11);
  REQUIRE(ValueOrFail(f.kv().PurgeExpired(1000)) == 1);
  REQUIRE(f.UsageOf("ns").storage_bytes == 0);
  REQUIRE_OK(f.kv().Put("ns", "k2", std::string(98, 'd'), 0));
}

TEST_CASE("vector quota: new document ids count, upserts do not, deletes give back") {
  QuotaFixture f("vector_quota");
  REQUIRE_OK(f.usage().Track("ns", VectorQuota(3)));
  f.CreateCollection("ns", "c1", 2);
  f.CreateCollection("ns", "c2", 2);
  REQUIRE_OK(f.Add("ns", "c1", {"a", "b"}));
  REQUIRE_OK(f.Add("ns", "c2", {"a"}));  // exactly at the limit: the same id in another collection
  REQUIRE(f.UsageOf("ns").vectors == 3);
  RequireError(f.Add("ns", "c2", {"b"}), kExhausted,
               "Namespace 'ns' vector quota exceeded (3 + 1 > 3)");
  REQUIRE_FALSE(f.collections().GetDocument("ns", "c2", "b").ok());
  REQUIRE_OK(f.Add("ns", "c1", {"a", "b"}));  // upsert at the limit
  RequireError(f.Add("ns", "c1", {"a", "x", "y"}), kExhausted,
               "Namespace 'ns' vector quota exceeded (3 + 2 > 3)");
  REQUIRE_FALSE(f.collections().GetDocument("ns", "c1", "x").ok());
  REQUIRE_OK(f.collections().DeleteDocument("ns", "c1", "b"));
  REQUIRE(f.UsageOf("ns").vectors == 2);
  REQUIRE_OK(f.Add("ns", "c1", {"b"}));  // re-added
  REQUIRE_OK(f.collections().Delete("ns", "c1"));
  REQUIRE(f.UsageOf("ns") == Usage{1 * f.DocBytes("a", 2), 1, 1});
  REQUIRE_OK(f.Add("ns", "c2", {"b", "c"}));
  REQUIRE(f.UsageOf("ns").vectors == 3);
}

TEST_CASE("collection quota: CreateCollection refused at the limit, Delete frees a place") {
  QuotaFixture f("collection_quota");
  REQUIRE_OK(f.usage().Track("ns", CollectionQuota(2)));
  f.CreateCollection("ns", "c1", 2);
  f.CreateCollection("ns", "c2", 2);
  collection::CollectionDefinition d = f.Definition("ns", "c3", 2);
  RequireError(f.collections().Create(d).status(), kExhausted,
               "Namespace 'ns' collection quota exceeded (2/2)");
  REQUIRE(f.collections().Get("ns", "c3").status().code() == absl::StatusCode::kNotFound);
  // An existing name is that error first, at the limit too.
  REQUIRE(f.collections().Create(f.Definition("ns", "c1", 2)).status().code() ==
          absl::StatusCode::kAlreadyExists);
  REQUIRE_OK(f.collections().Delete("ns", "c2"));
  REQUIRE(f.UsageOf("ns").collections == 1);
  f.CreateCollection("ns", "c3", 2);  // re-added
  REQUIRE(f.UsageOf("ns").collections == 2);
  f.CreateCollection("other", "c4", 2);  // another namespace's collections do not count
  REQUIRE(f.UsageOf("ns").collections == 2);
}

TEST_CASE("storage quota on documents: id, content, metadata and embedding bytes") {
  QuotaFixture f("document_storage_quota");
  f.CreateCollection("ns", "c", 4);
  const uint64_t doc = f.DocBytes("a", 4);  // 1 + 16 bytes of floats + content + metadata
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(2 * doc + 10)));
  REQUIRE_OK(f.kv().Put("ns", "k", std::string(9, 'v'), 0));  // 10 bytes
  REQUIRE_OK(f.Add("ns", "c", {"a", "b"}));                     // exactly at the limit
  REQUIRE(f.UsageOf("ns").storage_bytes == 2 * doc + 10);
  RequireError(f.Add("ns", "c", {"c"}), kExhausted,
               absl::StrCat("Namespace 'ns' storage quota exceeded (", 2 * doc + 10, " + ", doc,
                            " > ", 2 * doc + 10, " bytes)"));
  // Metadata is counted: growing it is refused at the limit, shrinking it frees bytes.
  RequireError(f.collections().UpdateMetadata("ns", "c", "a", {{"tag", "longer"}}, false),
               kExhausted,
               absl::StrCat("Namespace 'ns' storage quota exceeded (", 2 * doc + 10, " + 3 > ",
                            2 * doc + 10, " bytes)"));
  REQUIRE_OK(f.collections().UpdateMetadata("ns", "c", "a", {}, false));
  REQUIRE(f.UsageOf("ns").storage_bytes == 2 * doc + 10 - 6);
  REQUIRE_OK(f.collections().DeleteDocument("ns", "c", "b"));
  REQUIRE(f.UsageOf("ns").storage_bytes == doc + 10 - 6);
}

TEST_CASE("usage is the same after a restart, and Track counts what is already there") {
  QuotaFixture f("restart_usage");
  f.CreateCollection("ns", "c", 3);
  REQUIRE_OK(f.Add("ns", "c", {"a", "b", "c"}));
  REQUIRE_OK(f.kv().Put("ns", "k1", "value", 0));
  REQUIRE_OK(f.kv().Put("ns", "k2", "expiring", 60));
  REQUIRE_OK(f.kv().Put("other", "k", "not counted", 0));
  REQUIRE_OK(f.usage().Track("ns", Quota{}));  // counts the data written before it
  const Usage before = f.UsageOf("ns");
  REQUIRE(before == Usage{3 * f.DocBytes("a", 3) + 7 + 10, 3, 1});
  f.Reopen();
  REQUIRE(f.usage().UsageOf("ns") == std::nullopt);  // the registry tracks at start-up
  REQUIRE_OK(f.usage().Track("ns", Quota{}));
  REQUIRE(f.UsageOf("ns") == before);
  f.clock.AdvanceSeconds(61);  // k2 expires, and is purged: its bytes are given back
  REQUIRE(WaitUntil([&] { return f.UsageOf("ns").storage_bytes == before.storage_bytes - 10; }));
  REQUIRE(f.UsageOf("ns") == f.Recount("ns", {"a", "b", "c"}));
}

TEST_CASE("Track is idempotent, SetQuota changes the limit, Untrack stops counting") {
  QuotaFixture f("track_untrack");
  REQUIRE_OK(f.kv().Put("ns", "k", "12345678", 0));
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(20)));
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(10)));  // only the quota changes
  REQUIRE(f.UsageOf("ns").storage_bytes == 9);
  RequireError(f.kv().Put("ns", "k2", "", 0), kExhausted,
               "Namespace 'ns' storage quota exceeded (9 + 2 > 10 bytes)");
  f.usage().SetQuota("ns", StorageQuota(0));  // 0 = unlimited
  REQUIRE_OK(f.kv().Put("ns", "k2", std::string(100, 'x'), 0));
  f.usage().Untrack("ns");
  REQUIRE(f.usage().UsageOf("ns") == std::nullopt);
  REQUIRE_OK(f.kv().Put("ns", "k3", std::string(100, 'x'), 0));
}

}  // namespace
}  // namespace sochdb::namespaces
