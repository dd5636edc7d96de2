// Tests for the order of KvStore's writes of one key (write_lanes.h): writes queued behind a
// synced write are committed together as one store write, in arrival order, with the TTL index
// holding exactly the entry of the value that won; a BatchPut queued among them goes between; a
// failed group write acknowledges none of its writes, and in the fault state even a write with
// nothing to write is refused. Deterministic: the first write is held
// inside its log append (a FaultInjectionEnv hook), and each later writer is started only once
// the one before it has queued (KvStore::queued_writes), so the arrival order is known.
#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/clock.h"
#include "engine/kv/kv_store.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/common/wait_until.h"
#include "tests/engine/kv/expiry_index.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::kv {
namespace {

using ::sochdb::testing::WaitUntil;
using storage::testing::FaultInjectionEnv;

// An in-memory store in --sync full whose next log append can be held until released.
struct HeldWriteFixture {
  HeldWriteFixture() {
    storage::StoreOptions options;
    options.env = &env;
    options.sync_mode = storage::SyncMode::kFull;
    absl::StatusOr<std::unique_ptr<storage::Store>> opened =
        storage::Store::Open("/mem/kv", options);
    REQUIRE_OK(opened.status());
    store = std::move(opened).value();
    kv = std::make_unique<KvStore>(store.get(), &clock);
    env.SetAppendHook([this](bool) {
      if (!hold_next.exchange(false)) return;
      holding = true;
      while (!release) std::this_thread::yield();
    });
  }
  ~HeldWriteFixture() {
    release = true;
    for (std::thread& thread : threads) thread.join();
    env.SetAppendHook(nullptr);
  }

  // Runs `write` on a new thread and returns once it holds the log append (the first) or has
  // queued behind it (the others): the next one is started only then, so arrival order is call
  // order.
  void Start(std::function<void()> write) {
    const size_t queued = kv->queued_writes();
    const bool first = threads.empty();
    if (first) hold_next = true;
    threads.emplace_back(std::move(write));
    REQUIRE(WaitUntil([&] { return first ? holding.load() : kv->queued_writes() == queued + 1; }));
  }

  void ReleaseAndJoin() {
    release = true;
    for (std::thread& thread : threads) thread.join();
    threads.clear();
  }

  std::vector<std::string> ExpiryIndex() { return testing::ExpiryIndex(*store); }

  std::string IndexEntry(uint64_t ttl_seconds, const std::string& key) const {
    return std::to_string(clock.NowMillis() + ttl_seconds * 1000) + "/ns/" + key;
  }

  std::optional<std::string> Get(const std::string& key) {
    absl::StatusOr<std::optional<std::string>> value = kv->Get("ns", key);
    REQUIRE_OK(value.status());
    return *value;
  }

  std::unique_ptr<leveldb::Env> mem_env{leveldb::NewMemEnv(leveldb::Env::Default())};
  FaultInjectionEnv env{mem_env.get()};
  ManualClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<KvStore> kv;
  std::atomic<bool> hold_next{false};
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::vector<std::thread> threads;
};

TEST_CASE("writes of one key queued behind a synced write commit together, in arrival order",
          "[kv][order]") {
  HeldWriteFixture f;
  constexpr int kWriters = 16;
  std::vector<absl::Status> statuses(kWriters + 1);
  absl::StatusOr<bool> deleted = false;
  f.Start([&] { statuses[0] = f.kv->Put("ns", "hot", "v0", 50); });
  for (int i = 1; i <= kWriters; ++i) {
    if (i == kWriters / 2) {
      // The record before this Delete in the group is v<i-1>'s (live): it answers true.
      f.Start([&] { deleted = f.kv->Delete("ns", "hot"); });
    }
    // Every third value never expires; the others each have their own TTL, so a stale index
    // entry left by any of them would show.
    const uint64_t ttl = i % 3 == 0 ? 0 : 100 + i;
    f.Start([&, i, ttl] { statuses[i] = f.kv->Put("ns", "hot", "v" + std::to_string(i), ttl); });
  }
  const uint64_t batches_before = f.store->Stats().batches_written;
  f.ReleaseAndJoin();

  for (const absl::Status& status : statuses) CHECK(status.ToString() == "OK");
  REQUIRE_OK(deleted.status());
  CHECK(*deleted);
  // v0's write, then ONE write for everything that queued behind it (was one each).
  CHECK(f.store->Stats().batches_written - batches_before == 2);
  CHECK(f.Get("hot") == "v" + std::to_string(kWriters));
  CHECK(f.ExpiryIndex() == std::vector<std::string>{f.IndexEntry(100 + kWriters, "hot")});
}

TEST_CASE("a BatchPut queued among writes of its key goes between them", "[kv][order]") {
  HeldWriteFixture f;
  absl::Status first, before, batch, after;
  f.Start([&] { first = f.kv->Put("ns", "k", "first", 10); });
  f.Start([&] { before = f.kv->Put("ns", "k", "before", 20); });
  f.Start([&] {
    batch = f.kv->BatchPut("ns", {KvPutEntry{"k", "batch", 30}, KvPutEntry{"other", "o", 40}});
  });
  f.Start([&] { after = f.kv->Put("ns", "k", "after", 50); });
  f.ReleaseAndJoin();

  CHECK(first.ToString() == "OK");
  CHECK(before.ToString() == "OK");
  CHECK(batch.ToString() == "OK");
  CHECK(after.ToString() == "OK");
  CHECK(f.Get("k") == "after");
  CHECK(f.Get("other") == "o");
  // Each write removed the entry of the record it replaced: had the BatchPut read the record
  // from before "before" was committed, "before"'s entry would be left behind.
  std::vector<std::string> expected = {f.IndexEntry(40, "other"), f.IndexEntry(50, "k")};
  CHECK(f.ExpiryIndex() == expected);
}

TEST_CASE("a failed group write acknowledges none of its writes", "[kv][order]") {
  HeldWriteFixture f;
  absl::Status first;
  std::vector<absl::Status> grouped(8);
  f.Start([&] { first = f.kv->Put("ns", "hot", "first", 0); });
  for (size_t i = 0; i < grouped.size(); ++i) {
    f.Start([&, i] { grouped[i] = f.kv->Put("ns", "hot", "g" + std::to_string(i), 0); });
  }
  // One sync per store write: the held write's succeeds, the group's fails.
  f.env.FailSyncsAfter(1, FaultInjectionEnv::Persistence::kTransient);
  f.ReleaseAndJoin();

  CHECK(first.ToString() == "OK");
  for (const absl::Status& status : grouped) {
    CHECK(status.code() == absl::StatusCode::kUnavailable);
  }
  CHECK(f.Get("hot") == "first");
  CHECK(f.kv->Put("ns", "hot", "later", 0).code() == absl::StatusCode::kUnavailable);
}

// A Put that failed may still reach the disk (its record was appended before the sync failed)
// and be found after a restart; a Delete answered OK ("nothing to delete") after it would then
// be contradicted. In the fault state every write is refused, even one with nothing to write.
TEST_CASE("in the fault state a Delete of an absent key is refused too", "[kv][order]") {
  HeldWriteFixture f;
  f.env.FailSyncsAfter(0, FaultInjectionEnv::Persistence::kTransient);
  CHECK(f.kv->Put("ns", "k", "v", 0).code() == absl::StatusCode::kUnavailable);
  REQUIRE(f.store->faulted());
  absl::StatusOr<bool> deleted = f.kv->Delete("ns", "k");
  CHECK(deleted.status().code() == absl::StatusCode::kUnavailable);
  CHECK(f.kv->Delete("ns", "never-written").status().code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sochdb::kv
