// Tests for Store::DeleteRange and Store::DeletePrefix, the one batched delete every subsystem
// drops its data with: bounds (begin inclusive, end exclusive, "" to the last key), prefixes
// that share bytes with their neighbours, many batches, an all-0xff prefix, and a refused write.
// (A delete that meets damaged data: store_damage_test.)
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::storage {
namespace {

using namespace std::string_literals;

struct Fixture {
  Fixture() {
    StoreOptions options;
    options.env = &env;
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open("/mem/delete", options);
    REQUIRE_OK(opened.status());
    store = *std::move(opened);
  }

  void Put(const std::vector<std::string>& keys) {
    WriteBatch batch;
    for (const std::string& key : keys) batch.Put(key, "v");
    REQUIRE_OK(store->Write(&batch));
  }

  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    std::unique_ptr<Iterator> it = store->NewIterator();
    for (it->Seek(""); it->Valid(); it->Next()) {
      if (it->key() != SchemaVersionKey()) keys.emplace_back(it->key());
    }
    REQUIRE_OK(it->status());
    return keys;
  }

  std::unique_ptr<leveldb::Env> mem_env{leveldb::NewMemEnv(leveldb::Env::Default())};
  testing::FaultInjectionEnv env{mem_env.get()};
  std::unique_ptr<Store> store;
};

TEST_CASE("DeleteRange deletes [begin, end) and nothing else", "[store][delete]") {
  Fixture f;
  f.Put({"a", "b", "b1", "c", "d"});
  REQUIRE_OK(f.store->DeleteRange("b", "c"));
  CHECK(f.Keys() == std::vector<std::string>{"a", "c", "d"});
  REQUIRE_OK(f.store->DeleteRange("c", ""));  // to the last key (the schema key sorts first)
  CHECK(f.Keys() == std::vector<std::string>{"a"});
  REQUIRE_OK(f.store->DeleteRange("x", "z"));  // nothing there
  CHECK(f.Keys() == std::vector<std::string>{"a"});
}

TEST_CASE("DeletePrefix deletes one prefix, not its neighbours", "[store][delete]") {
  Fixture f;
  const std::string scope = KeyBuilder(KeyFamily::kDocument).Name("ns").Name("doc").key();
  const std::string longer = KeyBuilder(KeyFamily::kDocument).Name("ns").Name("docs").key();
  f.Put({scope + "1", scope + "2", scope, longer + "1", "\x23"s, "\x24"s});
  REQUIRE_OK(f.store->DeletePrefix(scope));
  CHECK(f.Keys() == std::vector<std::string>{"\x23"s, longer + "1", "\x24"s});
}

TEST_CASE("DeletePrefix works through many batches", "[store][delete]") {
  Fixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("p" + std::to_string(10000 + i));
  f.Put(keys);
  f.Put({"o", "q"});
  const int64_t syncs_before = f.env.syncs();
  REQUIRE_OK(f.store->DeletePrefix("p", /*keys_per_batch=*/7));
  CHECK(f.Keys() == std::vector<std::string>{"o", "q"});
  // 1000 keys in batches of 7: 143 writes, each synced once (SyncMode::kFull).
  CHECK(f.env.syncs() - syncs_before == 143);
}

TEST_CASE("DeletePrefix of an all-0xff prefix runs to the last key", "[store][delete]") {
  Fixture f;
  f.Put({"\xfe"s, "\xff"s, "\xff\x01"s, "\xff\xff"s});
  REQUIRE_OK(f.store->DeletePrefix("\xff"s));
  CHECK(f.Keys() == std::vector<std::string>{"\xfe"s});
}

TEST_CASE("a refused write stops the delete with the write's error", "[store][delete]") {
  Fixture f;
  f.Put({"p1", "p2", "p3"});
  f.env.FailAppendsAfter(0);
  const absl::Status s = f.store->DeletePrefix("p", 1);
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  f.env.ClearFaults();
  CHECK(f.Keys() == std::vector<std::string>{"p1", "p2", "p3"});
}

}  // namespace
}  // namespace sochdb::storage
