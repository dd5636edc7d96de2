// Namespace quotas under concurrency (engine/namespace/usage_ledger.h): writers racing for the
// last unit of each quota never pass it together, and Track started while KV, collection and
// TTL-purge writes run ends with the same usage as a recount made once they stop.
#include <catch2/catch.hpp>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "tests/common/status_testing.h"
#include "tests/common/wait_until.h"
#include "tests/engine/namespace/quota_fixture.h"

namespace sochdb::namespaces {
namespace {

using ::sochdb::testing::ValueOrFail;
using ::sochdb::testing::WaitUntil;

constexpr int kThreads = 4;

// Runs `attempt(thread, i)` `per_thread` times on each of kThreads threads; returns how many
// attempts succeeded. Any failure other than RESOURCE_EXHAUSTED counts in `*other_errors`.
int Race(int per_thread, const std::function<absl::Status(int, int)>& attempt,
         int* other_errors) {
  std::atomic<int> passed{0}, others{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const absl::Status s = attempt(t, i);
        if (s.ok()) {
          ++passed;
        } else if (s.code() != absl::StatusCode::kResourceExhausted) {
          ++others;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  *other_errors = others.load();
  return passed.load();
}

// A 3-byte key: `first`, then i as two digits.
std::string KeyOf(int first, int i) {
  return std::string(1, static_cast<char>(first)) + absl::StrCat(i % 10, i / 10);
}

TEST_CASE("KV writers racing for the last bytes of a storage quota never pass it") {
  QuotaFixture f("race_storage");
  const Quota quota = StorageQuota(10 * 12);  // ten records of a 3-byte key, a 9-byte value
  REQUIRE_OK(f.usage().Track("ns", quota));
  int errors = 0;
  std::atomic<uint64_t> written{0};
  Race(
      25,
      [&](int t, int i) {
        const std::string key = KeyOf('a' + t, i);
        absl::Status s;
        if (t % 2 == 0) {
          s = f.kv().Put("ns", key, "123456789", 0);
          if (s.ok()) written += 12;
        } else {  // a batch of two records
          const std::string other = KeyOf('A' + t, i);
          const std::vector<kv::KvPutEntry> entries = {{key, "123456789", 0},
                                                       {other, "123456789", 0}};
          s = f.kv().BatchPut("ns", entries);
          if (s.ok()) written += 24;
        }
        return s;
      },
      &errors);
  REQUIRE(errors == 0);
  const Usage usage = f.UsageOf("ns");
  REQUIRE(usage.storage_bytes == written.load());
  REQUIRE(usage.storage_bytes <= quota.max_storage_bytes);
  REQUIRE(usage.storage_bytes > quota.max_storage_bytes - 24);  // the refused ones did not fit
  REQUIRE(f.Recount("ns", {}) == usage);
}

TEST_CASE("collection creators racing for the last place of a collection quota") {
  QuotaFixture f("race_collections");
  REQUIRE_OK(f.usage().Track("ns", CollectionQuota(3)));
  int errors = 0;
  const int created = Race(
      3,
      [&](int t, int i) {
        return f.collections()
            .Create(QuotaFixture::Definition("ns", absl::StrCat("c", t, "_", i), 2))
            .status();
      },
      &errors);
  REQUIRE(errors == 0);
  REQUIRE(created == 3);
  REQUIRE(f.UsageOf("ns").collections == 3);
  REQUIRE(f.Recount("ns", {}).collections == 3);
}

TEST_CASE("document writers in two collections racing for the last vectors of a quota") {
  QuotaFixture f("race_vectors");
  REQUIRE_OK(f.usage().Track("ns", VectorQuota(10)));
  f.CreateCollection("ns", "c0", 2);
  f.CreateCollection("ns", "c1", 2);
  int errors = 0;
  const int added = Race(
      8,
      [&](int t, int i) {
        return f.Add("ns", absl::StrCat("c", t % 2), {absl::StrCat("d", t, "_", i)});
      },
      &errors);
  REQUIRE(errors == 0);
  REQUIRE(added == 10);
  REQUIRE(f.UsageOf("ns").vectors == 10);
}

// Writes of every kind to namespace "ns" until told to stop: Put (some with a TTL), Delete and
// BatchPut over 40 keys; AddDocuments, UpdateMetadata and DeleteDocument over Ids() in c0 and
// c1; c2 created and deleted; the TTL purge (here, not on the engine's thread, so that none is
// in flight once the writers are joined). Errors (a document or collection deleted meanwhile)
// are expected.
class Writers {
 public:
  static std::vector<std::string> Ids() {
    std::vector<std::string> ids;
    for (int i = 0; i < 12; ++i) ids.push_back(absl::StrCat("doc", i));
    return ids;
  }

  explicit Writers(QuotaFixture& f) : f_(f) {
    for (int t = 0; t < 2; ++t) threads_.emplace_back([this, t] { WriteKv(t); });
    threads_.emplace_back([this] { WriteDocuments(); });
    threads_.emplace_back([this] {
      while (!stop_) (void)f_.kv().PurgeExpired(100);
    });
  }
  ~Writers() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
  }
  uint64_t writes() const { return writes_.load(); }

 private:
  void WriteKv(int t) {
    std::mt19937 rng(t);
    while (!stop_) {
      const std::string key = absl::StrCat("k", rng() % 40);
      const std::string value(rng() % 30, 'v');
      switch (rng() % 4) {
        case 0:
          (void)f_.kv().Put("ns", key, value, rng() % 3);
          break;
        case 1:
          (void)f_.kv().Delete("ns", key);
          break;
        case 2: {
          const std::string second = absl::StrCat("k", rng() % 40);
          const std::vector<kv::KvPutEntry> entries = {{key, value, 0}, {second, "", 1}};
          (void)f_.kv().BatchPut("ns", entries);
          break;
        }
        default:
          (void)f_.kv().Put("ns", key, value, 0);
      }
      ++writes_;
    }
  }

  void WriteDocuments() {
    std::mt19937 rng(7);
    const std::vector<std::string> ids = Ids();
    while (!stop_) {
      const std::string collection = absl::StrCat("c", rng() % 3);
      const std::string& id = ids[rng() % ids.size()];
      switch (rng() % 5) {
        case 0:
          (void)f_.collections().DeleteDocument("ns", collection, id);
          break;
        case 1:
          (void)f_.collections().UpdateMetadata("ns", collection, id,
                                                {{"m", std::string(rng() % 20, 'm')}}, false);
          break;
        case 2:
          if (collection == "c2") {
            (void)f_.collections().Delete("ns", "c2");
            (void)f_.collections().Create(QuotaFixture::Definition("ns", "c2", 3));
            break;
          }
          [[fallthrough]];
        default:
          (void)f_.Add("ns", collection, {id, ids[rng() % ids.size()] + "x"});
      }
      ++writes_;
    }
  }

  QuotaFixture& f_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> writes_{0};
  std::vector<std::thread> threads_;
};

TEST_CASE("Track started while writers run counts exactly what a later recount finds") {
  QuotaFixture f("track_with_writers", absl::Hours(1));
  f.CreateCollection("ns", "c0", 3);
  f.CreateCollection("ns", "c1", 3);
  std::vector<std::string> ids = Writers::Ids();
  for (const std::string& id : Writers::Ids()) ids.push_back(id + "x");
  for (int round = 0; round < 8; ++round) {
    {
      Writers writers(f);
      REQUIRE(WaitUntil([&] { return writers.writes() > 200; }));
      REQUIRE_OK(f.usage().Track("ns", Quota{}));
      const uint64_t at_track = writers.writes();
      // Let TTLs pass meanwhile, so the purger gives bytes back while the writers run.
      f.clock.AdvanceSeconds(2);
      REQUIRE(WaitUntil([&] { return writers.writes() > at_track + 500; }));
    }
    // Purge what expired (the recount reads live records only), then compare.
    f.clock.AdvanceSeconds(5);
    while (ValueOrFail(f.kv().PurgeExpired(1000)) > 0) {
    }
    const Usage counted = f.UsageOf("ns");
    INFO("round " << round);
    REQUIRE(counted == f.Recount("ns", ids));
    f.usage().Untrack("ns");  // and a count made with nothing running agrees
    REQUIRE_OK(f.usage().Track("ns", Quota{}));
    REQUIRE(f.UsageOf("ns") == counted);
    f.usage().Untrack("ns");
  }
}

}  // namespace
}  // namespace sochdb::namespaces
