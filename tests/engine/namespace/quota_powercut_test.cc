// Usage after a crash (engine/namespace/usage_ledger.h): nothing of the ledger is persisted, so
// after a power cut (what kill -9 leaves, and worse: unsynced bytes are gone too) Track counts
// what the store recovered, and agrees with a recount of it through the stores' reads. Cycles
// of KV and document writes to a tracked namespace, each cut at a different disk call. And a
// write the store fails gives back what it reserved.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "spdlog/spdlog.h"
#include "tests/common/status_testing.h"
#include "tests/engine/namespace/quota_fixture.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::namespaces {
namespace {

constexpr int kCycles = 12;
constexpr int kIds = 8;

// Writes until the power is off (a write refused), at most 200 steps.
void WriteUntilTheCut(QuotaFixture& f, int cycle) {
  for (int step = 0; step < 200; ++step) {
    const std::string key = absl::StrCat("k", (step * 7 + cycle) % 20);
    const std::string id = absl::StrCat("d", (step + cycle) % kIds);
    absl::Status s;
    switch (step % 5) {
      case 0:
        s = f.kv().Put("ns", key, std::string(step % 17, 'v'), 0);
        break;
      case 1:
        s = f.kv().Delete("ns", key).status();
        break;
      case 2:
        s = f.Add("ns", "c", {id});
        break;
      case 3:
        s = f.collections().DeleteDocument("ns", "c", id);
        if (s.code() == absl::StatusCode::kNotFound) s = absl::OkStatus();
        break;
      default:
        s = f.kv().BatchPut("ns", {{key, "batch", 0}, {absl::StrCat(key, "b"), "", 0}});
    }
    if (!s.ok()) return;
  }
}

TEST_CASE("after a power cut, Track counts what the store recovered") {
  spdlog::set_level(spdlog::level::off);  // every cut makes the store and snapshots log errors
  storage::testing::SimulatedDisk disk;
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back(absl::StrCat("d", i));
  auto f = std::make_unique<QuotaFixture>(&disk);
  f->CreateCollection("ns", "c", 2);
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    REQUIRE_OK(f->usage().Track("ns", Quota{}));
    disk.PowerCutAfter(20 + 37 * cycle);
    WriteUntilTheCut(*f, cycle);
    REQUIRE_FALSE(disk.powered());  // the cut landed among the writes
    f.reset();
    disk.Reboot();
    f = std::make_unique<QuotaFixture>(&disk);
    REQUIRE(f->usage().UsageOf("ns") == std::nullopt);
    REQUIRE_OK(f->usage().Track("ns", Quota{}));
    INFO("cycle " << cycle);
    const Usage recovered = f->UsageOf("ns");
    REQUIRE(recovered == f->Recount("ns", ids));
    f->usage().Untrack("ns");
  }
}

TEST_CASE("a write the store fails gives its reservation back") {
  spdlog::set_level(spdlog::level::off);
  storage::testing::SimulatedDisk disk;
  QuotaFixture f(&disk);
  f.CreateCollection("ns", "c", 2);
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(1000)));
  REQUIRE_OK(f.kv().Put("ns", "k1", std::string(48, 'a'), 0));
  const Usage before = f.UsageOf("ns");
  disk.FailAfter(0, storage::testing::SimulatedDisk::Persistence::kPersistent);
  REQUIRE_FALSE(f.kv().Put("ns", "k2", std::string(48, 'b'), 0).ok());
  REQUIRE_FALSE(f.kv().BatchPut("ns", {{"k3", "v", 0}}).ok());
  REQUIRE_FALSE(f.Add("ns", "c", {"d"}).ok());
  REQUIRE_FALSE(f.collections().Create(QuotaFixture::Definition("ns", "c2", 2)).ok());
  REQUIRE(f.UsageOf("ns") == before);
  REQUIRE(f.UsageOf("ns") == Usage{50, 0, 1});
}

}  // namespace
}  // namespace sochdb::namespaces
