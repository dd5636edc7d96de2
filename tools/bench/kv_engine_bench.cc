// sochdb-kv-engine-bench: KvStore reads in process, without gRPC, so that the cost of the store's
// own read path (checksums, iterator status checks, damage reporting) can be compared between
// builds. It fills a store, reopens it (the log becomes a table, as after a restart), then times
// random Gets (served from LevelDB's block cache after the first touch, as a warm server's are)
// and full Scans (which bypass the block cache, so every block is read and verified again), and
// random Puts (overwrites, from --put-threads threads, sync off) with the namespace usage ledger
// off, on with another namespace tracked, or on with the bench's namespace tracked (--usage).
//
//   sochdb-kv-engine-bench --dir /tmp/kvb --keys 200000 --value-size 100 --gets 2000000 --scans 20
//   sochdb-kv-engine-bench --gets 0 --scans 0 --puts 1000000 --usage tracked
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "engine/common/clock.h"
#include "engine/kv/kv_store.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kNamespace[] = "bench";

std::string KeyOf(uint64_t i) { return absl::StrFormat("key%012d", i); }

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::unique_ptr<sochdb::storage::Store> OpenStore(const std::string& dir) {
  sochdb::storage::StoreOptions options;
  options.sync_mode = sochdb::storage::SyncMode::kOff;
  auto store = sochdb::storage::Store::Open(dir, options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), store.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(store);
}

void Fill(const std::string& dir, uint64_t keys, size_t value_size) {
  auto store = OpenStore(dir);
  sochdb::kv::KvStore kv(store.get(), sochdb::Clock::Real());
  const std::string value(value_size, 'v');
  std::vector<std::string> names;
  std::vector<sochdb::kv::KvPutEntry> entries;
  for (uint64_t first = 0; first < keys; first += 1000) {
    names.clear();
    entries.clear();
    for (uint64_t i = first; i < std::min(keys, first + 1000); ++i) names.push_back(KeyOf(i));
    for (const std::string& name : names) entries.push_back({name, value, 0});
    if (absl::Status s = kv.BatchPut(kNamespace, entries); !s.ok()) {
      std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
}

void TimeGets(const sochdb::kv::KvStore& kv, uint64_t keys, uint64_t gets) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, keys - 1);
  uint64_t found = 0;
  const auto start = Clock::now();
  for (uint64_t i = 0; i < gets; ++i) {
    auto value = kv.Get(kNamespace, KeyOf(pick(rng)));
    if (value.ok() && value->has_value()) ++found;
  }
  const double s = Seconds(start);
  std::printf("get:  %llu in %.2f s, %.0f gets/s, %.0f ns each (found %llu)\n",
              static_cast<unsigned long long>(gets), s, gets / s, 1e9 * s / gets,
              static_cast<unsigned long long>(found));
}

void TimeScans(const sochdb::kv::KvStore& kv, int scans) {
  uint64_t entries = 0;
  const auto start = Clock::now();
  std::string key, value;
  for (int i = 0; i < scans; ++i) {
    auto cursor = kv.Scan(kNamespace, "", 0);
    if (!cursor.ok()) std::exit(1);
    for (;;) {
      auto more = (*cursor)->Next(&key, &value);
      if (!more.ok() || !*more) break;
      ++entries;
    }
  }
  const double s = Seconds(start);
  std::printf("scan: %d full scans, %llu entries in %.2f s, %.0f entries/s, %.0f ns each\n",
              scans, static_cast<unsigned long long>(entries), s, entries / s,
              1e9 * s / entries);
}

void TimePuts(sochdb::kv::KvStore& kv, uint64_t keys, uint64_t puts, int threads,
              size_t value_size) {
  const std::string value(value_size, 'w');
  std::vector<std::thread> writers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::uniform_int_distribution<uint64_t> pick(0, keys - 1);
      for (uint64_t i = t; i < puts; i += threads) {
        if (absl::Status s = kv.Put(kNamespace, KeyOf(pick(rng)), value, 0); !s.ok()) {
          std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  const double s = Seconds(start);
  std::printf("put:  %llu in %.2f s, %.0f puts/s, %.0f ns each (%d threads)\n",
              static_cast<unsigned long long>(puts), s, puts / s, 1e9 * s / puts, threads);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sochdb-kv-engine-bench: KvStore Get and Scan in process");
  std::string dir = "/tmp/sochdb-kv-engine-bench";
  uint64_t keys = 200'000, gets = 2'000'000;
  size_t value_size = 100;
  int scans = 20;
  uint64_t puts = 0;
  int put_threads = 4;
  std::string usage = "none";
  app.add_option("--dir", dir, "store directory (replaced)");
  app.add_option("--keys", keys, "keys to fill")->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  app.add_option("--value-size", value_size, "bytes per value");
  app.add_option("--gets", gets, "random Gets to time");
  app.add_option("--scans", scans, "full Scans to time");
  app.add_option("--puts", puts, "random Puts (overwrites) to time");
  app.add_option("--put-threads", put_threads, "threads the Puts are spread over")
      ->check(CLI::Range(1, 256));
  app.add_option("--usage", usage,
                 "namespace usage ledger: none, untracked (another namespace is tracked) or "
                 "tracked (the bench's namespace is)")
      ->check(CLI::IsMember({"none", "untracked", "tracked"}));
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  Fill(dir, keys, value_size);
  auto store = OpenStore(dir);  // reopened: the log is now a table, as after a restart
  sochdb::namespaces::UsageLedger ledger;
  sochdb::kv::KvStore kv(store.get(), sochdb::Clock::Real(), {},
                         usage == "none" ? nullptr : &ledger);
  if (usage != "none") {
    const std::string tracked = usage == "tracked" ? kNamespace : "another";
    if (absl::Status s = ledger.Track(tracked, {}); !s.ok()) {
      std::fprintf(stderr, "track: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (gets > 0) TimeGets(kv, keys, gets);
  if (scans > 0) TimeScans(kv, scans);
  if (puts > 0) TimePuts(kv, keys, puts, put_threads, value_size);
  return 0;
}
