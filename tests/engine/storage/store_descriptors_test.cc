// Store and file descriptors: running out of them (EMFILE) is transient, never a store fault. A
// write (or a sync) that cannot open its new log answers UNAVAILABLE "too many open files" and the
// next one, once descriptors are back, succeeds; LevelDB's background flush waits for a descriptor
// instead of failing (LevelDB would then refuse every write until a restart). Nothing acknowledged
// is lost either way.
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/common/wait_until.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::storage {
namespace {

using ::sochdb::testing::WaitUntil;
using testing::FaultInjectionEnv;

constexpr char kPath[] = "/mem/db";

struct Fixture {
  std::unique_ptr<leveldb::Env> mem_env{leveldb::NewMemEnv(leveldb::Env::Default())};
  FaultInjectionEnv env{mem_env.get()};

  std::unique_ptr<Store> Open(SyncMode sync_mode = SyncMode::kOff) {
    StoreOptions options;
    options.sync_mode = sync_mode;
    options.sync_interval = absl::Milliseconds(1);  // kNormal: the syncer runs often
    options.env = &env;
    options.write_buffer_bytes = 64 << 10;  // LevelDB's minimum: memtables switch often
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(kPath, options);
    INFO(store.status().ToString());
    REQUIRE(store.ok());
    return std::move(store).value();
  }
};

absl::Status PutOne(Store& store, const std::string& key) {
  WriteBatch batch;
  batch.Put(key, std::string(4096, 'v'));
  return store.Write(&batch);
}

void CheckAllPresent(Store& store, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    INFO(key);
    absl::StatusOr<std::optional<std::string>> value = store.Get(key);
    REQUIRE_OK(value.status());
    CHECK(value->has_value());
  }
}

TEST_CASE("a write that finds no file descriptor is refused, retryable, and latches nothing",
          "[store][descriptors]") {
  Fixture f;
  std::vector<std::string> acked;
  {
    std::unique_ptr<Store> store = f.Open();
    f.env.FailNewWritableFilesEndingWith(".log",
                                         FaultInjectionEnv::CreateFailure::kOutOfDescriptors);
    absl::Status refused;
    for (int i = 0; i < 200 && refused.ok(); ++i) {
      const std::string key = "before" + std::to_string(i);
      refused = PutOne(*store, key);
      if (refused.ok()) acked.push_back(key);
    }
    INFO(refused.ToString());
    REQUIRE(refused.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(refused.message()) ==
          "storage is out of file descriptors (too many open files); the write was not applied "
          "and may be retried");
    CHECK_FALSE(store->faulted());  // before: latched, every later write refused until restart
    f.env.ClearFaults();
    for (int i = 0; i < 40; ++i) {
      const std::string key = "after" + std::to_string(i);
      REQUIRE_OK(PutOne(*store, key));
      acked.push_back(key);
    }
    CHECK_FALSE(store->faulted());
    CHECK(store->Stats().write_errors == 1);
  }
  std::unique_ptr<Store> reopened = f.Open();
  CheckAllPresent(*reopened, acked);
}

TEST_CASE("a sync that finds no file descriptor is refused, retried, and latches nothing",
          "[store][descriptors]") {
  // Under --sync normal the syncer's sync is a write of its own: when the memtable is full it
  // switches to a new log first, and that open can find no descriptor, as a Put's can.
  Fixture f;
  std::vector<std::string> acked;
  {
    std::unique_ptr<Store> store = f.Open(SyncMode::kNormal);
    f.env.FailNewWritableFilesEndingWith(".log",
                                         FaultInjectionEnv::CreateFailure::kOutOfDescriptors);
    absl::Status refused;
    for (int i = 0; i < 200 && refused.ok(); ++i) {
      const std::string key = "before" + std::to_string(i);
      refused = PutOne(*store, key);
      if (refused.ok()) acked.push_back(key);
    }
    REQUIRE(refused.code() == absl::StatusCode::kUnavailable);
    // The memtable is still full: a sync now must switch logs too.
    const absl::Status synced = store->Sync();
    INFO(synced.ToString());
    CHECK(synced.code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(synced.message()), Catch::Contains("too many open files"));
    // Before: latched ("storage sync failed (too many open files); writes are refused until
    // the server restarts"), and the syncer stopped for good.
    CHECK_FALSE(store->faulted());
    // The writes that sync was for are still unsynced: the syncer tries again (and fails while
    // descriptors are short), and latches nothing either.
    const int64_t failures = f.env.failures();
    REQUIRE(WaitUntil([&] { return f.env.failures() > failures; }));
    CHECK_FALSE(store->faulted());
    f.env.ClearFaults();
    const uint64_t syncs = store->Stats().syncs;
    REQUIRE(WaitUntil([&] { return store->Stats().syncs > syncs; }));  // the syncer goes on
    REQUIRE_OK(PutOne(*store, "after"));
    acked.push_back("after");
    CHECK_FALSE(store->faulted());
  }
  std::unique_ptr<Store> reopened = f.Open();
  CheckAllPresent(*reopened, acked);
}

TEST_CASE("a background flush waits for a file descriptor instead of failing",
          "[store][descriptors]") {
  Fixture f;
  std::vector<std::string> acked;
  {
    std::unique_ptr<Store> store = f.Open();
    f.env.FailNewWritableFilesEndingWith(".ldb",
                                         FaultInjectionEnv::CreateFailure::kOutOfDescriptors);
    // The writer fills memtables; each switch hands one to the background flush, which cannot
    // create its table. The writer may block on a full memtable meanwhile: it must wait, not
    // fail.
    std::atomic<int> failed_writes{0};
    std::thread writer([&] {
      for (int i = 0; i < 100; ++i) {
        const std::string key = "key" + std::to_string(i);
        if (PutOne(*store, key).ok()) {
          acked.push_back(key);
        } else {
          ++failed_writes;
        }
      }
    });
    // Two refused creations: the flush tried, and tried again.
    CHECK(WaitUntil([&] { return f.env.failures() >= 2; }));
    f.env.ClearFaults();
    writer.join();
    CHECK(failed_writes == 0);  // before: the flush's failure latched the fault state
    CHECK_FALSE(store->faulted());
    REQUIRE_OK(PutOne(*store, "last"));
    acked.push_back("last");
  }
  std::unique_ptr<Store> reopened = f.Open();
  CheckAllPresent(*reopened, acked);
}

TEST_CASE("closing while a background flush waits for a descriptor does not hang",
          "[store][descriptors]") {
  Fixture f;
  std::unique_ptr<Store> store = f.Open();
  f.env.FailNewWritableFilesEndingWith(".ldb", FaultInjectionEnv::CreateFailure::kOutOfDescriptors);
  // Enough for one memtable switch (64 KB), not for a second one that would wait for the flush.
  for (int i = 0; i < 20; ++i) REQUIRE_OK(PutOne(*store, "key" + std::to_string(i)));
  REQUIRE(WaitUntil([&] { return f.env.failures() >= 1; }));
  store.reset();  // returns: the waiting flush gives up when the store closes
  f.env.ClearFaults();
  std::unique_ptr<Store> reopened = f.Open();
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::optional<std::string>> value = reopened->Get("key" + std::to_string(i));
    REQUIRE_OK(value.status());
    CHECK(value->has_value());
  }
}

}  // namespace
}  // namespace sochdb::storage
