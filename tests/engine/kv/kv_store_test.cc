// Tests for KvStore: CRUD, namespace isolation, TTL visibility and purging (with a manual clock),
// the TTL index holding exactly one entry per expiring key across overwrites, scans, batches and
// their atomicity, the BatchGet answer-size limit, every validation message, malformed records,
// and a multi-threaded smoke test of writers racing the purger.
#include "engine/kv/kv_store.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/clock.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/engine/kv/expiry_index.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::kv {
namespace {

using namespace std::string_literals;
using storage::KeyBuilder;
using storage::KeyFamily;
using storage::testing::FaultInjectionEnv;

// An in-memory database and a manual clock. Members are declared so that the KvStore goes
// first, then the Store, then the Envs.
struct KvFixture {
  KvFixture() {
    storage::StoreOptions options;
    options.env = &env;
    absl::StatusOr<std::unique_ptr<storage::Store>> opened =
        storage::Store::Open("/mem/kv", options);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    kv = std::make_unique<KvStore>(store.get(), &clock);
  }

  std::optional<std::string> Get(std::string_view ns, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> value = kv->Get(ns, key);
    INFO(value.status().ToString());
    REQUIRE(value.ok());
    return *value;
  }

  std::vector<std::string> ScanKeys(std::string_view ns, std::string_view prefix,
                                    uint64_t limit = 0) {
    absl::StatusOr<std::unique_ptr<KvScanCursor>> cursor = kv->Scan(ns, prefix, limit);
    REQUIRE(cursor.ok());
    std::vector<std::string> keys;
    std::string key, value;
    for (;;) {
      absl::StatusOr<bool> more = (*cursor)->Next(&key, &value);
      REQUIRE(more.ok());
      if (!*more) break;
      keys.push_back(key);
    }
    return keys;
  }

  std::vector<std::string> ExpiryIndex() { return testing::ExpiryIndex(*store); }

  bool RecordExists(std::string_view ns, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> raw =
        store->Get(KeyBuilder(KeyFamily::kKv).Name(ns).Raw(key).key());
    REQUIRE(raw.ok());
    return raw->has_value();
  }

  int64_t NowMs() const { return clock.NowMillis(); }

  std::unique_ptr<leveldb::Env> mem_env{leveldb::NewMemEnv(leveldb::Env::Default())};
  FaultInjectionEnv env{mem_env.get()};
  ManualClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<KvStore> kv;
};

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("put, get, overwrite and delete", "[kv]") {
  KvFixture f;
  CHECK(f.Get("ns", "k") == std::nullopt);
  REQUIRE_OK(f.kv->Put("ns", "k", "v1", 0));
  CHECK(f.Get("ns", "k") == "v1");
  REQUIRE_OK(f.kv->Put("ns", "k", "", 0));  // empty values are values
  CHECK(f.Get("ns", "k") == "");
  const std::string binary_key = "\0\xff\x01"s;
  REQUIRE_OK(f.kv->Put("ns", binary_key, "\0bin"s, 0));
  CHECK(f.Get("ns", binary_key) == "\0bin"s);

  absl::StatusOr<bool> deleted = f.kv->Delete("ns", "k");
  REQUIRE(deleted.ok());
  CHECK(*deleted);
  CHECK(f.Get("ns", "k") == std::nullopt);
  deleted = f.kv->Delete("ns", "k");
  REQUIRE(deleted.ok());
  CHECK_FALSE(*deleted);
}

TEST_CASE("namespaces are isolated", "[kv]") {
  KvFixture f;
  REQUIRE_OK(f.kv->Put("", "k", "empty-ns", 0));
  REQUIRE_OK(f.kv->Put("default", "k", "default-ns", 0));
  REQUIRE_OK(f.kv->Put("a", "b:c", "a", 0));
  CHECK(f.Get("", "k") == "empty-ns");
  CHECK(f.Get("default", "k") == "default-ns");
  CHECK(f.Get("a:b", "c") == std::nullopt);
  CHECK(f.Get("a", "b:c") == "a");
  CHECK(f.ScanKeys("", "") == std::vector<std::string>{"k"});
  CHECK(f.ScanKeys("a", "") == std::vector<std::string>{"b:c"});
  REQUIRE(f.kv->Delete("", "k").ok());
  CHECK(f.Get("default", "k") == "default-ns");
}

TEST_CASE("an expired key is invisible at once everywhere", "[kv][ttl]") {
  KvFixture f;
  REQUIRE_OK(f.kv->Put("ns", "short", "s", 10));
  REQUIRE_OK(f.kv->Put("ns", "forever", "f", 0));
  f.clock.AdvanceSeconds(9);
  CHECK(f.Get("ns", "short") == "s");
  f.clock.AdvanceSeconds(1);  // expiry == now: expired
  CHECK(f.Get("ns", "short") == std::nullopt);
  CHECK(f.ScanKeys("ns", "") == std::vector<std::string>{"forever"});
  const std::vector<std::string_view> keys = {"short", "forever"};
  absl::StatusOr<std::vector<std::optional<std::string>>> values = f.kv->BatchGet("ns", keys);
  REQUIRE(values.ok());
  CHECK(*values == std::vector<std::optional<std::string>>{std::nullopt, "f"});
  absl::StatusOr<bool> deleted = f.kv->Delete("ns", "short");
  REQUIRE(deleted.ok());
  CHECK_FALSE(*deleted);
  // Delete also removed the record and its index entry.
  CHECK_FALSE(f.RecordExists("ns", "short"));
  CHECK(f.ExpiryIndex().empty());
}

TEST_CASE("PurgeExpired removes expired records with their index entries", "[kv][ttl]") {
  KvFixture f;
  REQUIRE_OK(f.kv->Put("ns", "k1", "1", 10));
  REQUIRE_OK(f.kv->Put("ns", "k2", "2", 100));
  REQUIRE_OK(f.kv->Put("ns", "k3", "3", 0));
  CHECK(f.ExpiryIndex().size() == 2);
  absl::StatusOr<size_t> purged = f.kv->PurgeExpired(1000);
  REQUIRE(purged.ok());
  CHECK(*purged == 0);

  f.clock.AdvanceSeconds(11);
  purged = f.kv->PurgeExpired(1000);
  REQUIRE(purged.ok());
  CHECK(*purged == 1);
  CHECK_FALSE(f.RecordExists("ns", "k1"));
  CHECK(f.RecordExists("ns", "k2"));
  CHECK(f.RecordExists("ns", "k3"));
  const std::string k2_expiry = std::to_string(f.NowMs() - 11'000 + 100'000);
  CHECK(f.ExpiryIndex() == std::vector<std::string>{k2_expiry + "/ns/k2"});
}

TEST_CASE("an overwrite is not purged by the old index entry", "[kv][ttl]") {
  KvFixture f;
  SECTION("rewritten with a longer TTL") {
    REQUIRE_OK(f.kv->Put("ns", "k", "old", 10));
    REQUIRE_OK(f.kv->Put("ns", "k", "new", 100));
    f.clock.AdvanceSeconds(11);
    absl::StatusOr<size_t> purged = f.kv->PurgeExpired(1000);
    REQUIRE(purged.ok());
    CHECK(*purged == 0);
    CHECK(f.Get("ns", "k") == "new");
    CHECK(f.ExpiryIndex().size() == 1);  // the stale entry is gone, the live one stays
  }
  SECTION("rewritten without a TTL after the old one expired") {
    REQUIRE_OK(f.kv->Put("ns", "k", "old", 1));
    f.clock.AdvanceSeconds(2);
    REQUIRE_OK(f.kv->Put("ns", "k", "new", 0));
    absl::StatusOr<size_t> purged = f.kv->PurgeExpired(1000);
    REQUIRE(purged.ok());
    CHECK(*purged == 0);
    CHECK(f.Get("ns", "k") == "new");
    CHECK(f.ExpiryIndex().empty());
  }
  SECTION("deleted before its expiry") {
    REQUIRE_OK(f.kv->Put("ns", "k", "old", 1));
    REQUIRE(f.kv->Delete("ns", "k").ok());
    CHECK(f.ExpiryIndex().empty());
  }
}

TEST_CASE("overwrites replace the TTL index entry instead of adding one", "[kv][ttl]") {
  KvFixture f;
  SECTION("1000 overwrites of a TTL key leave exactly one entry, the live record's") {
    for (int i = 0; i < 1000; ++i) {
      REQUIRE_OK(f.kv->Put("ns", "hot", "v" + std::to_string(i), 60 + i % 3));
      f.clock.AdvanceMicros(1500);  // every write gets a new expiry
    }
    const int64_t last_write_ms = (f.clock.NowMicros() - 1500) / 1000;
    const std::vector<std::string> index = f.ExpiryIndex();
    REQUIRE(index.size() == 1);
    CHECK(index[0] == std::to_string(last_write_ms + (60 + 999 % 3) * 1000) + "/ns/hot");
    CHECK(f.Get("ns", "hot") == "v999");
  }
  SECTION("the same expiry twice keeps its one entry") {
    REQUIRE_OK(f.kv->Put("ns", "k", "a", 10));
    REQUIRE_OK(f.kv->Put("ns", "k", "b", 10));  // same clock, same TTL: same index key
    CHECK(f.ExpiryIndex().size() == 1);
  }
  SECTION("dropping the TTL drops the entry; adding one back adds it") {
    REQUIRE_OK(f.kv->Put("ns", "k", "a", 10));
    REQUIRE_OK(f.kv->Put("ns", "k", "b", 0));
    CHECK(f.ExpiryIndex().empty());
    REQUIRE_OK(f.kv->Put("ns", "k", "c", 20));
    CHECK(f.ExpiryIndex() ==
          std::vector<std::string>{std::to_string(f.NowMs() + 20'000) + "/ns/k"});
  }
  SECTION("the same key in another namespace keeps its own entry") {
    REQUIRE_OK(f.kv->Put("a", "k", "1", 10));
    REQUIRE_OK(f.kv->Put("b", "k", "1", 10));
    f.clock.AdvanceSeconds(1);
    REQUIRE_OK(f.kv->Put("a", "k", "2", 10));
    const std::string now = std::to_string(f.NowMs() + 10'000);
    const std::string before = std::to_string(f.NowMs() - 1000 + 10'000);
    CHECK(f.ExpiryIndex() == std::vector<std::string>{before + "/b/k", now + "/a/k"});
  }
  SECTION("BatchPut: a key repeated in the batch ends with its last entry's index entry") {
    REQUIRE_OK(f.kv->Put("ns", "k", "stored", 5));
    REQUIRE_OK(f.kv->Put("ns", "j", "stored", 5));
    f.clock.AdvanceSeconds(1);
    const std::vector<KvPutEntry> entries = {
        {"k", "1", 10}, {"k", "2", 20}, {"k", "3", 0},                   // ends without TTL
        {"j", "1", 0},  {"j", "2", 30}, {"j", "3", 7},                   // ends with 7 s
        {"m", "1", 3},  {"m", "2", 3},                                   // new key, same expiry
        {"n", "1", 9},  {"n", "2", 0},  {"n", "3", 40}, {"n", "4", 40},  // back and forth
    };
    REQUIRE_OK(f.kv->BatchPut("ns", entries));
    const int64_t now = f.NowMs();
    std::vector<std::string> expected = {std::to_string(now + 3'000) + "/ns/m",
                                         std::to_string(now + 7'000) + "/ns/j",
                                         std::to_string(now + 40'000) + "/ns/n"};
    CHECK(f.ExpiryIndex() == expected);
    CHECK(f.Get("ns", "k") == "3");
    CHECK(f.Get("ns", "j") == "3");
    // And the purger agrees: each key expires exactly when its last entry said.
    f.clock.AdvanceSeconds(8);
    absl::StatusOr<size_t> purged = f.kv->PurgeExpired(1000);
    REQUIRE(purged.ok());
    CHECK(*purged == 2);
    CHECK(f.Get("ns", "k") == "3");
    CHECK(f.Get("ns", "n") == "4");
    CHECK(f.ExpiryIndex() == std::vector<std::string>{expected[2]});
  }
}

TEST_CASE("PurgeExpired honours max_keys and works through many chunks", "[kv][ttl]") {
  KvFixture f;
  std::vector<KvPutEntry> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back("key" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); ++i) entries.push_back({keys[i], "v", 1 + i % 7});
  REQUIRE_OK(f.kv->BatchPut("ns", entries));
  f.clock.AdvanceSeconds(10);

  absl::StatusOr<size_t> purged = f.kv->PurgeExpired(0);
  REQUIRE(purged.ok());
  CHECK(*purged == 0);
  purged = f.kv->PurgeExpired(3);
  REQUIRE(purged.ok());
  CHECK(*purged == 3);
  purged = f.kv->PurgeExpired(1'000'000);
  REQUIRE(purged.ok());
  CHECK(*purged == 2497);
  CHECK(f.ExpiryIndex().empty());
  CHECK(f.ScanKeys("ns", "").empty());
}

// The purger's read-check-delete and a writer's Put of the same key are serialised by the
// key's lane: whatever the interleaving, the rewrite must survive. Each round expires a set of
// keys, then rewrites them (without TTL) while the purger works through their index entries one
// call at a time, which gives the race many chances to strike.
TEST_CASE("a rewrite racing a purge is kept", "[kv][ttl]") {
  KvFixture f;
  constexpr int kRounds = 50;
  constexpr int kKeysPerRound = 200;
  int lost = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> keys;
    for (int i = 0; i < kKeysPerRound; ++i) {
      keys.push_back("race" + std::to_string(round) + "-" + std::to_string(i));
    }
    std::vector<KvPutEntry> entries;
    for (const std::string& key : keys) entries.push_back({key, "old", 1});
    REQUIRE_OK(f.kv->BatchPut("ns", entries));
    f.clock.AdvanceSeconds(2);
    std::atomic<int> failures{0};
    std::thread writer([&] {
      for (const std::string& key : keys) {
        if (!f.kv->Put("ns", key, "new", 0).ok()) ++failures;
      }
    });
    std::thread purger([&] {
      for (int i = 0; i < kKeysPerRound; ++i) {
        if (!f.kv->PurgeExpired(1).ok()) ++failures;
      }
    });
    writer.join();
    purger.join();
    REQUIRE(failures == 0);
    for (const std::string& key : keys) {
      if (f.Get("ns", key) != "new") ++lost;
    }
  }
  CHECK(lost == 0);
  REQUIRE(f.kv->PurgeExpired(1'000'000).ok());
  CHECK(f.ExpiryIndex().empty());
}

TEST_CASE("scan order, prefixes and limits", "[kv][scan]") {
  KvFixture f;
  for (const char* key : {"banana", "apricot", "apple", "cherry"}) {
    REQUIRE_OK(f.kv->Put("fruit", key, "x", 0));
  }
  REQUIRE_OK(f.kv->Put("fruits", "apple", "other namespace", 0));
  CHECK(f.ScanKeys("fruit", "") ==
        std::vector<std::string>{"apple", "apricot", "banana", "cherry"});
  CHECK(f.ScanKeys("fruit", "ap") == std::vector<std::string>{"apple", "apricot"});
  CHECK(f.ScanKeys("fruit", "", 2) == std::vector<std::string>{"apple", "apricot"});
  CHECK(f.ScanKeys("fruit", "b", 10) == std::vector<std::string>{"banana"});
  CHECK(f.ScanKeys("fruit", "zzz").empty());
  CHECK(f.ScanKeys("nothing", "").empty());

  SECTION("a prefix of 0xff bytes stays inside its namespace") {
    for (const std::string& key : {"\xff\xff"s, "\xff\xff\x01"s, "\xff\xfe"s, "\xff"s}) {
      REQUIRE_OK(f.kv->Put("n", key, "x", 0));
      REQUIRE_OK(f.kv->Put("o", key, "x", 0));  // the next namespace in key order
    }
    CHECK(f.ScanKeys("n", "\xff\xff") == std::vector<std::string>{"\xff\xff"s, "\xff\xff\x01"s});
    CHECK(f.ScanKeys("n", "\xff").size() == 4);
  }
  SECTION("the cursor reads the snapshot taken when the scan started") {
    absl::StatusOr<std::unique_ptr<KvScanCursor>> cursor = f.kv->Scan("fruit", "", 0);
    REQUIRE(cursor.ok());
    REQUIRE_OK(f.kv->Put("fruit", "avocado", "late", 0));
    REQUIRE(f.kv->Delete("fruit", "cherry").ok());
    std::vector<std::string> keys;
    std::string key, value;
    while (*(*cursor)->Next(&key, &value)) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"apple", "apricot", "banana", "cherry"});
    CHECK_FALSE(*(*cursor)->Next(&key, &value));  // stays at the end
  }
  SECTION("expiry is judged when the scan started") {
    REQUIRE_OK(f.kv->Put("fruit", "date", "soon", 5));
    absl::StatusOr<std::unique_ptr<KvScanCursor>> cursor = f.kv->Scan("fruit", "d", 0);
    REQUIRE(cursor.ok());
    f.clock.AdvanceSeconds(10);
    std::string key, value;
    CHECK(*(*cursor)->Next(&key, &value));
    CHECK(key == "date");
    CHECK(value == "soon");
    CHECK(f.ScanKeys("fruit", "d").empty());
  }
}

TEST_CASE("BatchGet answers in request order from one snapshot", "[kv][batch]") {
  KvFixture f;
  REQUIRE_OK(f.kv->Put("ns", "a", "1", 0));
  REQUIRE_OK(f.kv->Put("ns", "b", "2", 0));
  const std::vector<std::string_view> keys = {"b", "missing", "a", "b"};
  absl::StatusOr<std::vector<std::optional<std::string>>> values = f.kv->BatchGet("ns", keys);
  REQUIRE(values.ok());
  CHECK(*values == std::vector<std::optional<std::string>>{"2", std::nullopt, "1", "2"});
  absl::StatusOr<std::vector<std::optional<std::string>>> none = f.kv->BatchGet("ns", {});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("BatchGet stops at max_batch_get_bytes with RESOURCE_EXHAUSTED", "[kv][batch]") {
  KvFixture f;
  SECTION("10,000 copies of an 8 MiB value are refused, not built") {
    REQUIRE_OK(f.kv->Put("ns", "big", std::string(8u << 20, 'v'), 0));
    const std::vector<std::string_view> keys(10'000, "big");
    const absl::Status status = f.kv->BatchGet("ns", keys).status();
    CHECK(status.code() == absl::StatusCode::kResourceExhausted);
    CHECK(Message(status) == "BatchGet result exceeds 50331648 bytes; request fewer keys");
    // Five copies (40 MiB of values) are within the default limit.
    absl::StatusOr<std::vector<std::optional<std::string>>> five =
        f.kv->BatchGet("ns", absl::MakeConstSpan(keys).subspan(0, 5));
    REQUIRE(five.ok());
    CHECK(five->size() == 5);
    CHECK((*five)[4]->size() == (8u << 20));
  }
  SECTION("the limit counts entries as the front end sizes them, names its setting, and is "
          "inclusive") {
    // The server's measure (the wire framing) is services/kv's, tested there; here a stand-in
    // that charges each entry 2 bytes over its key and value.
    KvLimits limits;
    limits.max_batch_get_bytes = 48;
    limits.max_batch_get_setting = "--max-response-mb";
    limits.batch_get_entry_bytes = [](size_t key_bytes, const std::optional<std::string>& value) {
      return 2 + key_bytes + (value.has_value() ? value->size() : 0);
    };
    KvStore small(f.store.get(), &f.clock, limits);
    REQUIRE_OK(small.Put("ns", "a", "12345", 0));  // 2 + 1 + 5 = 8 bytes
    REQUIRE_OK(small.Put("ns", "b", "1234", 0));   // 2 + 1 + 4 = 7 bytes
    const std::vector<std::string_view> over_by_4 = {"a", "b", "a", "b", "a", "b", "b"};  // 52
    CHECK(small.BatchGet("ns", over_by_4).status().code() == absl::StatusCode::kResourceExhausted);
    // An absent key still costs its entry: the answer echoes it.
    const std::vector<std::string_view> over_by_1 = {"a", "b", "a", "b", "a", "b", "xx"};  // 49
    CHECK(small.BatchGet("ns", over_by_1).status().code() == absl::StatusCode::kResourceExhausted);
    const std::vector<std::string_view> fits = {"a", "b", "a", "b", "a", "b", "x"};  // 48
    absl::StatusOr<std::vector<std::optional<std::string>>> values = small.BatchGet("ns", fits);
    REQUIRE(values.ok());
    CHECK(values->back() == std::nullopt);
    CHECK(Message(small.BatchGet("ns", over_by_4).status()) ==
          "BatchGet result exceeds 48 bytes (--max-response-mb); request fewer keys");
  }
  SECTION("the keys' entries alone count, found or not") {
    KvLimits limits;
    limits.max_batch_get_bytes = 1000;
    KvStore small(f.store.get(), &f.clock, limits);
    // 11 absent keys of 91 bytes: 1,001 bytes of entries.
    const std::string key(91, 'k');
    const std::vector<std::string_view> keys(11, key);
    CHECK(Message(small.BatchGet("ns", keys).status()) ==
          "BatchGet result exceeds 1000 bytes; request fewer keys");
    CHECK(small.BatchGet("ns", absl::MakeConstSpan(keys).subspan(0, 10)).ok());
  }
  SECTION("expired values count as absent") {
    KvLimits limits;
    limits.max_batch_get_bytes = 10;  // "k" found: 11 bytes; two absent "k" entries: 2
    KvStore small(f.store.get(), &f.clock, limits);
    REQUIRE_OK(small.Put("ns", "k", "0123456789", 1));
    CHECK(small.BatchGet("ns", std::vector<std::string_view>{"k"}).status().code() ==
          absl::StatusCode::kResourceExhausted);
    f.clock.AdvanceSeconds(2);
    absl::StatusOr<std::vector<std::optional<std::string>>> values =
        small.BatchGet("ns", std::vector<std::string_view>{"k", "k"});
    REQUIRE(values.ok());
    CHECK(*values == std::vector<std::optional<std::string>>{std::nullopt, std::nullopt});
  }
}

TEST_CASE("BatchPut is all or nothing", "[kv][batch]") {
  KvFixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<KvPutEntry> entries;
  for (const std::string& key : keys) entries.push_back({key, "v", 0});

  SECTION("a validation failure in entry 5 writes nothing") {
    entries[5].key = "";
    const absl::Status status = f.kv->BatchPut("ns", entries);
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(status) == "entries[5].key must not be empty");
    CHECK(f.ScanKeys("ns", "").empty());
  }
  SECTION("a storage fault writes nothing") {
    f.env.FailAppendsAfter(0);
    CHECK(f.kv->BatchPut("ns", entries).code() == absl::StatusCode::kUnavailable);
    f.env.ClearFaults();
    CHECK(f.ScanKeys("ns", "").empty());
    CHECK(f.kv->Put("ns", "later", "v", 0).code() == absl::StatusCode::kUnavailable);
  }
  SECTION("a repeated key ends with its last value") {
    entries.push_back({"k1", "last", 0});
    REQUIRE_OK(f.kv->BatchPut("ns", entries));
    CHECK(f.Get("ns", "k1") == "last");
    CHECK(f.ScanKeys("ns", "").size() == 8);
  }
  SECTION("an empty batch is fine") { REQUIRE_OK(f.kv->BatchPut("ns", {})); }
}

// The status of a rejected call must be INVALID_ARGUMENT; returns its message.
std::string InvalidArgumentMessage(const absl::Status& status) {
  INFO(status.ToString());
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST_CASE("single-key calls name the field and the limit", "[kv][validation]") {
  KvFixture f;
  const std::string long_ns(300, 'n');
  const std::string long_key(20000, 'k');
  const std::string big_value(9'000'000, 'v');
  auto message_of = InvalidArgumentMessage;

  CHECK(message_of(f.kv->Put(long_ns, "k", "v", 0)) ==
        "namespace is 300 bytes; the limit is 256 bytes");
  CHECK(message_of(f.kv->Put("a\0b"s, "k", "v", 0)) == "namespace must not contain NUL bytes");
  CHECK(message_of(f.kv->Put("ns", "", "v", 0)) == "key must not be empty");
  CHECK(message_of(f.kv->Put("ns", long_key, "v", 0)) ==
        "key is 20000 bytes; the limit is 16384 bytes");
  CHECK(message_of(f.kv->Put("ns", "k", big_value, 0)) ==
        "value is 9000000 bytes; the limit is 8388608 bytes");
  CHECK(message_of(f.kv->Put("ns", "k", "v", 99999999999)) ==
        "ttl_seconds is 99999999999; the limit is 3153600000 (100 years)");
  CHECK(message_of(f.kv->Get(long_ns, "k").status()) ==
        "namespace is 300 bytes; the limit is 256 bytes");
  CHECK(message_of(f.kv->Delete("ns", "").status()) == "key must not be empty");
  CHECK(message_of(f.kv->Scan("ns", long_key, 0).status()) ==
        "prefix is 20000 bytes; the limit is 16384 bytes");
  CHECK(message_of(f.kv->Scan("a\0b"s, "", 0).status()) == "namespace must not contain NUL bytes");
  CHECK(f.ScanKeys("ns", "").empty());  // nothing was written by any rejected call
}

TEST_CASE("batch calls name the item, the field and the limit", "[kv][validation]") {
  KvFixture f;
  const std::string long_key(20000, 'k');
  const std::string big_value(9'000'000, 'v');
  auto message_of = InvalidArgumentMessage;

  const std::vector<std::string_view> too_many_keys(10001, "k");
  CHECK(message_of(f.kv->BatchGet("ns", too_many_keys).status()) ==
        "keys has 10001 items; the limit is 10000");
  const std::vector<std::string_view> bad_keys = {"a", "b", long_key};
  CHECK(message_of(f.kv->BatchGet("ns", bad_keys).status()) ==
        "keys[2] is 20000 bytes; the limit is 16384 bytes");
  const std::vector<std::string_view> empty_key = {"a", "b", ""};
  CHECK(message_of(f.kv->BatchGet("ns", empty_key).status()) == "keys[2] must not be empty");

  const std::vector<KvPutEntry> too_many_entries(10001, KvPutEntry{"k", "v", 0});
  CHECK(message_of(f.kv->BatchPut("ns", too_many_entries)) ==
        "entries has 10001 items; the limit is 10000");
  std::vector<KvPutEntry> entries(4, KvPutEntry{"k", "v", 0});
  entries[3].key = "";
  CHECK(message_of(f.kv->BatchPut("ns", entries)) == "entries[3].key must not be empty");
  entries[3] = {"k", big_value, 0};
  CHECK(message_of(f.kv->BatchPut("ns", entries)) ==
        "entries[3].value is 9000000 bytes; the limit is 8388608 bytes");
  entries[3] = {"k", "v", 99999999999};
  CHECK(message_of(f.kv->BatchPut("ns", entries)) ==
        "entries[3].ttl_seconds is 99999999999; the limit is 3153600000 (100 years)");

  // Six one-byte keys and values summing to 48 MiB + 1 - 6 bytes: one byte over the limit.
  const std::string max_value(8u << 20, 'v');
  std::vector<KvPutEntry> heavy;
  for (const char* key : {"a", "b", "c", "d", "e"}) heavy.push_back({key, max_value, 0});
  heavy.push_back({"f", std::string_view(max_value).substr(0, (8u << 20) - 5), 0});
  CHECK(message_of(f.kv->BatchPut("ns", heavy)) ==
        "entries total 50331649 bytes; the limit is 50331648 bytes");
  CHECK(f.ScanKeys("ns", "").empty());
}

TEST_CASE("malformed records are reported as DATA_LOSS, never crash", "[kv]") {
  KvFixture f;
  for (const std::string& record : {""s, "\x02value"s, "\x01short"s}) {
    storage::WriteBatch batch;
    batch.Put(KeyBuilder(KeyFamily::kKv).Name("ns").Raw("bad").key(), record);
    REQUIRE_OK(f.store->Write(&batch));
    CHECK(f.kv->Get("ns", "bad").status().code() == absl::StatusCode::kDataLoss);
    CHECK(f.kv->Delete("ns", "bad").status().code() == absl::StatusCode::kDataLoss);
    absl::StatusOr<std::unique_ptr<KvScanCursor>> cursor = f.kv->Scan("ns", "", 0);
    REQUIRE(cursor.ok());
    std::string key, value;
    CHECK((*cursor)->Next(&key, &value).status().code() == absl::StatusCode::kDataLoss);
  }
  // An index entry pointing at the damaged record is dropped without touching the record.
  storage::WriteBatch index;
  index.Put(KeyBuilder(KeyFamily::kKvExpiry).U64(1).Name("ns").Raw("bad").key(), "");
  REQUIRE_OK(f.store->Write(&index));
  absl::StatusOr<size_t> purged = f.kv->PurgeExpired(100);
  REQUIRE(purged.ok());
  CHECK(*purged == 0);
  CHECK(f.RecordExists("ns", "bad"));
  CHECK(f.ExpiryIndex().empty());
  REQUIRE_OK(f.kv->Put("ns", "bad", "repaired", 0));
  CHECK(f.Get("ns", "bad") == "repaired");
}

// One thread's share of the concurrency smoke test: it alone writes its keys, so it knows their
// exact state, except that a value written with a TTL may vanish at any moment. Catch2's
// assertions are not thread-safe, so violations are counted and checked by the main thread.
class KeyOwner {
 public:
  KeyOwner(KvStore* kv, int id) : kv_(kv), id_(id) {}

  void Run(int ops, int keys, std::atomic<int>* violations) {
    std::mt19937 random(static_cast<uint32_t>(id_));  // deterministic per owner
    for (int i = 0; i < ops; ++i) {
      const std::string key = "t" + std::to_string(id_) + "-" + std::to_string(random() % keys);
      const std::string value = "v" + std::to_string(i);
      if (!Step(static_cast<int>(random() % 4), key, value)) ++*violations;
    }
    // The test ends with a clock jump past every TTL.
    for (const auto& [key, is_expiring] : expiring_) {
      if (is_expiring) model_[key] = std::nullopt;
    }
  }

  const std::map<std::string, std::optional<std::string>>& model() const { return model_; }

 private:
  // Performs one operation; false when the store contradicts the model.
  bool Step(int operation, const std::string& key, const std::string& value) {
    std::optional<std::string>& expected = model_[key];
    bool& expiring = expiring_[key];
    if (operation == 0 || operation == 1) {
      expiring = operation == 1;
      expected = value;
      return kv_->Put("smoke", key, value, expiring ? 1 : 0).ok();
    }
    if (operation == 2) {
      absl::StatusOr<std::optional<std::string>> got = kv_->Get("smoke", key);
      if (!got.ok()) return false;
      return *got == expected || (expiring && !got->has_value());
    }
    absl::StatusOr<bool> deleted = kv_->Delete("smoke", key);
    const bool must_have_existed = expected.has_value() && !expiring;
    expected = std::nullopt;
    expiring = false;
    return deleted.ok() && (*deleted || !must_have_existed);
  }

  KvStore* const kv_;
  const int id_;
  std::map<std::string, std::optional<std::string>> model_;
  std::map<std::string, bool> expiring_;
};

TEST_CASE("concurrent writers, readers and purger agree on the final state", "[kv][threads]") {
  KvFixture f;
  constexpr int kThreads = 6;
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::thread purger([&] {
    while (!stop) {
      if (!f.kv->PurgeExpired(50).ok()) ++violations;
      f.clock.AdvanceMicros(50'000);
    }
  });
  std::vector<KeyOwner> owners;
  for (int t = 0; t < kThreads; ++t) owners.emplace_back(f.kv.get(), t);
  std::vector<std::thread> workers;
  for (KeyOwner& owner : owners) {
    workers.emplace_back([&owner, &violations] { owner.Run(1500, 40, &violations); });
  }
  for (std::thread& worker : workers) worker.join();
  stop = true;
  purger.join();
  CHECK(violations == 0);

  f.clock.AdvanceSeconds(10);
  REQUIRE(f.kv->PurgeExpired(1'000'000).ok());
  CHECK(f.ExpiryIndex().empty());
  std::vector<std::string> live_keys;
  for (const KeyOwner& owner : owners) {
    for (const auto& [key, value] : owner.model()) {
      CHECK(f.Get("smoke", key) == value);
      if (value.has_value()) live_keys.push_back(key);
    }
  }
  std::sort(live_keys.begin(), live_keys.end());
  CHECK(f.ScanKeys("smoke", "") == live_keys);
}

}  // namespace
}  // namespace sochdb::kv
