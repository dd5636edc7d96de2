// KvStore over damaged storage: a flipped byte in a table makes Get, BatchGet and Delete answer
// DATA_LOSS naming the namespace and the key, and a Scan stop with DATA_LOSS naming the last key
// it returned (never a wrong value, never a skipped key); undecodable TTL index entries are
// counted and removed by the purger once, not stepped over by every round.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "engine/kv/kv_store.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/damage.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::kv {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::testing::FileNamed;
using storage::testing::FlipByteAfter;
using storage::testing::FreshTestDir;
using storage::testing::NumberedValue;

constexpr int kKeys = 100;

std::string KeyOf(int i) {
  char key[16];
  std::snprintf(key, sizeof(key), "k%03d", i);
  return key;
}

std::unique_ptr<storage::Store> OpenStore(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(dir, storage::StoreOptions());
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// A store whose table holds ns/k000..k099, with a byte of k042's value flipped.
std::string DamagedStore(const std::string& name) {
  const std::string dir = FreshTestDir(name);
  {
    std::unique_ptr<storage::Store> store = OpenStore(dir);
    KvStore kv(store.get(), Clock::Real());
    for (int i = 0; i < kKeys; ++i) REQUIRE_OK(kv.Put("ns", KeyOf(i), NumberedValue(i), 0));
  }
  OpenStore(dir);  // recovery moves the log into a table
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  return dir;
}

TEST_CASE("a damaged record answers DATA_LOSS naming the namespace and key", "[kv][damage]") {
  const std::string dir = DamagedStore("kv_damage_get");
  std::unique_ptr<storage::Store> store = OpenStore(dir);
  KvStore kv(store.get(), Clock::Real());
  const std::string expected =
      "the stored record of key \"k042\" in namespace \"ns\" is damaged and cannot be read; see "
      "the server log";

  const absl::StatusOr<std::optional<std::string>> got = kv.Get("ns", KeyOf(42));
  INFO(got.status().ToString());
  REQUIRE_FALSE(got.ok());  // before: found, with a wrong value
  CHECK(got.status().code() == absl::StatusCode::kDataLoss);
  CHECK(got.status().message() == expected);

  const std::vector<std::string_view> keys = {"k000", "k042"};
  const auto batch = kv.BatchGet("ns", keys);
  REQUIRE_FALSE(batch.ok());
  CHECK(batch.status().code() == absl::StatusCode::kDataLoss);
  CHECK(batch.status().message() == expected);

  CHECK(kv.Delete("ns", KeyOf(42)).status().message() == expected);
  const absl::StatusOr<std::optional<std::string>> intact = kv.Get("ns", KeyOf(99));
  REQUIRE_OK(intact.status());
  CHECK(*intact == NumberedValue(99));
}

TEST_CASE("a scan stops at damage with DATA_LOSS naming the last key returned", "[kv][damage]") {
  const std::string dir = DamagedStore("kv_damage_scan");
  std::unique_ptr<storage::Store> store = OpenStore(dir);
  KvStore kv(store.get(), Clock::Real());
  const std::string prefix = GENERATE(std::string(""), std::string("k0"));
  const uint64_t limit = GENERATE(uint64_t{0}, uint64_t{60});
  INFO("prefix \"" << prefix << "\" limit " << limit);

  absl::StatusOr<std::unique_ptr<KvScanCursor>> cursor = kv.Scan("ns", prefix, limit);
  REQUIRE_OK(cursor.status());
  std::vector<std::string> keys;
  std::string key, value;
  absl::StatusOr<bool> more = true;
  while ((more = (*cursor)->Next(&key, &value)).ok() && *more) {
    CHECK(value == NumberedValue(static_cast<int>(keys.size())));
    keys.push_back(key);
  }
  INFO(more.status().ToString());
  // Before: every key came back, k042 with a wrong value.
  REQUIRE(more.status().code() == absl::StatusCode::kDataLoss);
  REQUIRE(keys.size() < 43);
  for (size_t i = 0; i < keys.size(); ++i) CHECK(keys[i] == KeyOf(static_cast<int>(i)));
  const std::string after = keys.empty() ? std::string(" from the start of the scan")
                                         : " after key \"" + keys.back() + "\"";
  const std::string within = prefix.empty() ? std::string() : " (prefix \"" + prefix + "\")";
  CHECK(more.status().message() == "the stored keys of namespace \"ns\"" + after + within +
                                       " are damaged and cannot be read; the scan stops here; "
                                       "see the server log");
}

TEST_CASE("the purger steps past a record it cannot read: its entry goes, the record stays",
          "[kv][ttl][damage]") {
  const std::string dir = FreshTestDir("kv_damage_purge");
  ManualClock clock;
  {
    std::unique_ptr<storage::Store> store = OpenStore(dir);
    KvStore kv(store.get(), &clock);
    for (int i = 0; i < kKeys; ++i) REQUIRE_OK(kv.Put("ns", KeyOf(i), NumberedValue(i), 10));
  }
  OpenStore(dir);  // recovery moves the log into a table
  REQUIRE(FlipByteAfter(FileNamed(dir, ".ldb"), NumberedValue(42).substr(0, 12)));
  std::unique_ptr<storage::Store> store = OpenStore(dir);
  KvStore kv(store.get(), &clock);
  clock.AdvanceSeconds(20);

  absl::StatusOr<size_t> purged = kv.PurgeExpired(1000);
  INFO(purged.status().ToString());
  // Without this, the round stopped at k042's unreadable record, every round, and nothing past
  // it was ever purged.
  REQUIRE_OK(purged.status());
  CHECK(*purged < kKeys);
  CHECK(*purged >= kKeys - 20);  // only the damaged block's records stay
  purged = kv.PurgeExpired(1000);
  REQUIRE_OK(purged.status());
  CHECK(*purged == 0);
  CHECK(kv.Get("ns", KeyOf(42)).status().code() == absl::StatusCode::kDataLoss);
}

// An in-memory store for the purger's tests.
struct MemKv {
  MemKv() {
    storage::StoreOptions options;
    options.env = mem_env.get();
    absl::StatusOr<std::unique_ptr<storage::Store>> opened =
        storage::Store::Open("/mem/kv", options);
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    kv = std::make_unique<KvStore>(store.get(), &clock);
  }

  void PutRaw(const std::string& key, const std::string& value) {
    storage::WriteBatch batch;
    batch.Put(key, value);
    REQUIRE_OK(store->Write(&batch));
  }

  bool Exists(const std::string& key) {
    absl::StatusOr<std::optional<std::string>> raw = store->Get(key);
    REQUIRE(raw.ok());
    return raw->has_value();
  }

  std::unique_ptr<leveldb::Env> mem_env{leveldb::NewMemEnv(leveldb::Env::Default())};
  ManualClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<KvStore> kv;
};

TEST_CASE("undecodable TTL index entries are counted and removed once", "[kv][ttl][damage]") {
  MemKv f;
  const std::string family = KeyBuilder(KeyFamily::kKvExpiry).key();
  // Too short for its expiry; a due expiry with a namespace length running past the key.
  const std::string short_key = family + std::string("\x00\x00\x01", 3);
  const std::string bad_name = KeyBuilder(KeyFamily::kKvExpiry).U64(1).key() + "\x7f" + "ab";
  // Not yet due: it may only be judged once its expiry has passed.
  const std::string future_bad_name =
      KeyBuilder(KeyFamily::kKvExpiry).U64(f.clock.NowMillis() + 3'600'000).key() + "\x7f";
  for (const std::string& key : {short_key, bad_name, future_bad_name}) f.PutRaw(key, "");
  REQUIRE_OK(f.kv->Put("ns", "expired", "v", 1));
  f.clock.AdvanceSeconds(2);

  absl::StatusOr<size_t> purged = f.kv->PurgeExpired(1000);
  REQUIRE_OK(purged.status());
  CHECK(*purged == 1);
  // Before: both stayed, and every round stepped over them again.
  CHECK_FALSE(f.Exists(short_key));
  CHECK_FALSE(f.Exists(bad_name));
  CHECK(f.Exists(future_bad_name));
  CHECK(f.kv->undecodable_index_entries() == 2);
  purged = f.kv->PurgeExpired(1000);
  REQUIRE_OK(purged.status());
  CHECK(*purged == 0);
  CHECK(f.kv->undecodable_index_entries() == 2);
}

TEST_CASE("undecodable TTL index entries count against a purge's max_keys", "[kv][ttl][damage]") {
  MemKv f;
  for (int i = 0; i < 5; ++i) {
    f.PutRaw(KeyBuilder(KeyFamily::kKvExpiry).U64(1 + i).key() + "\x7f", "");
  }
  REQUIRE_OK(f.kv->PurgeExpired(3).status());
  CHECK(f.kv->undecodable_index_entries() == 3);
  REQUIRE_OK(f.kv->PurgeExpired(3).status());
  CHECK(f.kv->undecodable_index_entries() == 5);
}

}  // namespace
}  // namespace sochdb::kv
