// Tests of VectorSpace: writes and reads, recovery (rebuild from records, snapshot + log replay,
// a corrupt or stale snapshot), the sequence bookkeeping across trims, compaction of tombstones
// with writes racing it, combined upsert+delete batches, and dropping a space.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/synchronization/notification.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "engine/vector/vector_space.h"
#include "tests/common/wait_until.h"
#include "tests/engine/vector/space_hooks.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::vector {
namespace {

using sochdb::testing::WaitUntil;
using namespace std::string_literals;

constexpr uint32_t kDim = 8;

std::vector<float> Vec(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

// A steady clock that moves only when the test says: a writer's chunk "takes" exactly as long as
// the test decides, and the turn it leaves searches ends when the test moves time on. Sleeping
// lets a little real time pass (so a waiting writer does not spin hot) without moving the clock,
// and is counted: a writer polling this clock is taking its turn, not waiting on the index.
class TestSteadyClock final : public SteadyClock {
 public:
  int64_t NowNanos() const override { return now_.load(); }
  void SleepNanos(int64_t) const override {
    sleeps_.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  void Advance(absl::Duration d) { now_.fetch_add(absl::ToInt64Nanoseconds(d)); }
  int sleeps() const { return sleeps_.load(); }

 private:
  std::atomic<int64_t> now_{int64_t{1} << 40};
  mutable std::atomic<int> sleeps_{0};
};

struct Fixture {
  explicit Fixture(uint32_t threshold = 0) : dir(storage::testing::FreshTestDir("space")) {
    spec_request.dimension = kDim;
    spec_request.metric = Metric::kL2;
    spec_request.exact_threshold = threshold;
    OpenStore();
  }

  void OpenStore() {
    storage::StoreOptions options;
    options.sync_mode = storage::SyncMode::kOff;
    store = *storage::Store::Open(dir + "/db", options);
  }

  std::unique_ptr<VectorSpace> OpenSpace() {
    VectorSpaceOptions options;
    options.scope = {"test", "space"};
    options.spec = *ResolveSpec(spec_request);
    options.snapshot_path = dir + "/space.snap";
    options.rebuild_tombstone_ratio = 0.3;
    options.snapshot_piece_bytes = snapshot_piece_bytes;
    options.snapshot_every_changes = snapshot_every_changes;
    options.snapshot_growth_ratio = snapshot_growth_ratio;
    options.snapshot_when_idle = snapshot_when_idle;
    options.release_insert_memory_after = release_insert_memory_after;
    options.steady_clock = steady_clock;
    auto space = VectorSpace::Open(store.get(), options, &hooks);
    REQUIRE(space.ok());
    return *std::move(space);
  }

  // Closes the space and the store, as a restart does.
  void Restart(std::unique_ptr<VectorSpace>& space) {
    space.reset();
    store.reset();
    OpenStore();
    space = OpenSpace();
  }

  // From the next OpenSpace, the index refuses a change it is given whenever refuse_next_apply
  // is set (once per setting), as an index that cannot take a committed change does.
  void RefuseApplies() {
    hooks.before_index_apply = [this] {
      if (!refuse_next_apply) return absl::OkStatus();
      refuse_next_apply = false;
      return absl::ResourceExhaustedError("injected: the index could not take the change");
    };
  }

  std::string dir;
  IndexSpec spec_request;
  bool refuse_next_apply = false;
  std::unique_ptr<storage::Store> store;
  SpaceHooks hooks;  // what the space's steps call (VectorSpaceObserver)
  uint64_t snapshot_piece_bytes = 8u << 20;
  uint64_t snapshot_every_changes = 50'000;
  double snapshot_growth_ratio = 0.1;
  absl::Duration snapshot_when_idle = absl::Seconds(30);
  absl::Duration release_insert_memory_after = absl::Minutes(30);
  const SteadyClock* steady_clock = SteadyClock::Real();
};

absl::Status Put(VectorSpace& space, const std::string& id, uint32_t seed,
                 const std::string& extra = "") {
  const std::vector<float> v = Vec(seed);
  const VectorItem item{id, v, extra};
  storage::WriteBatch batch;
  return space.Upsert({&item, 1}, &batch);
}

// ids of the k nearest by brute force over `model` (id -> seed).
std::vector<std::string> Exact(const std::map<std::string, uint32_t>& model,
                               const std::vector<float>& q, size_t k) {
  std::vector<std::pair<float, std::string>> all;
  for (const auto& [id, seed] : model) {
    const std::vector<float> v = Vec(seed);
    float d = 0;
    for (uint32_t i = 0; i < kDim; ++i) d += (v[i] - q[i]) * (v[i] - q[i]);
    all.emplace_back(std::sqrt(d), id);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> ids;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) ids.push_back(all[i].second);
  return ids;
}

std::vector<std::string> Ids(const VectorSpace& space, const std::vector<float>& q, uint32_t k) {
  auto hits = space.Search(q, k, 0);
  REQUIRE(hits.ok());
  std::vector<std::string> ids;
  for (const VectorHit& h : *hits) ids.push_back(h.id);
  return ids;
}

TEST_CASE("upsert, get, delete and search; extra bytes round-trip") {
  Fixture f;
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "a", 1, "meta-a").ok());
  REQUIRE(Put(*space, "b", 2).ok());
  CHECK(space->size() == 2);
  auto got = space->Get("a");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->vector == Vec(1));
  CHECK((*got)->extra == "meta-a");
  auto hits = space->Search(Vec(1), 1, 0, nullptr, -1, /*with_extra=*/true);
  REQUIRE(hits.ok());
  CHECK((*hits)[0].id == "a");
  CHECK((*hits)[0].distance == Approx(0).margin(1e-6));
  CHECK((*hits)[0].extra == "meta-a");

  REQUIRE(Put(*space, "a", 3).ok());  // replace
  CHECK(space->size() == 2);
  CHECK(Ids(*space, Vec(3), 1) == std::vector<std::string>{"a"});
  storage::WriteBatch batch;
  const std::string_view del[] = {"a", "zzz"};
  auto deleted = space->Delete(del, &batch);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(!space->Contains("a"));
  CHECK(!(*space->Get("a")).has_value());

  const std::vector<float> bad(kDim + 1, 0.f);
  const VectorItem wrong{"c", bad, ""};
  storage::WriteBatch b2;
  CHECK(absl::IsInvalidArgument(space->Upsert({&wrong, 1}, &b2)));
  const VectorItem empty_id{"", Vec(4), ""};
  CHECK(absl::IsInvalidArgument(space->Upsert({&empty_id, 1}, &b2)));
}

TEST_CASE("recovery: rebuild from records, then snapshot plus log replay") {
  Fixture f;
  auto space = f.OpenSpace();
  std::map<std::string, uint32_t> model;
  for (uint32_t i = 0; i < 300; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  f.Restart(space);  // no snapshot yet
  CHECK(!space->Stats().loaded_from_snapshot);
  CHECK(space->size() == 300);
  CHECK(Ids(*space, Vec(1000), 10) == Exact(model, Vec(1000), 10));

  REQUIRE(space->Snapshot().ok());
  for (uint32_t i = 300; i < 350; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  storage::WriteBatch batch;
  const std::string_view gone[] = {"id5"};
  REQUIRE(space->Delete(gone, &batch).ok());
  model.erase("id5");
  f.Restart(space);
  const VectorSpaceStats stats = space->Stats();
  CHECK(stats.loaded_from_snapshot);
  CHECK(stats.replayed_changes == 51);
  CHECK(space->size() == 349);
  CHECK(Ids(*space, Vec(1001), 10) == Exact(model, Vec(1001), 10));

  // The sequence survives trims: more writes after another snapshot and restart all persist.
  REQUIRE(space->Snapshot().ok());
  f.Restart(space);
  REQUIRE(Put(*space, "late", 7777).ok());
  model["late"] = 7777;
  f.Restart(space);
  CHECK(space->Contains("late"));
  CHECK(space->size() == model.size());
}

TEST_CASE("a corrupt or stale snapshot is rebuilt over, never served") {
  Fixture f;
  auto space = f.OpenSpace();
  std::map<std::string, uint32_t> model;
  for (uint32_t i = 0; i < 200; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  REQUIRE(space->Snapshot().ok());
  const std::string snapshot = f.dir + "/space.snap";
  std::filesystem::copy_file(snapshot, f.dir + "/old.snap");
  for (uint32_t i = 200; i < 260; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  REQUIRE(space->Snapshot().ok());  // trims the log up to here

  SECTION("flipped bytes") {
    space.reset();
    {
      std::fstream file(snapshot, std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(40);
      file.write("\x7f\x7f\x7f\x7f", 4);
    }
    f.Restart(space);
    CHECK(!space->Stats().loaded_from_snapshot);
  }
  SECTION("an older snapshot put back: the log no longer reaches it") {
    space.reset();
    std::filesystem::copy_file(f.dir + "/old.snap", snapshot,
                               std::filesystem::copy_options::overwrite_existing);
    f.Restart(space);
    CHECK(!space->Stats().loaded_from_snapshot);
  }
  CHECK(space->size() == 260);
  CHECK(Ids(*space, Vec(4242), 10) == Exact(model, Vec(4242), 10));
}

// The store is the record: a snapshot that covers changes it lacks (store/ put back from an
// older copy, a log cut short) is rebuilt over, and deleted, so that it does not pass for
// current once the store's sequence reaches it again.
TEST_CASE("a snapshot newer than the store is rebuilt over and stays gone") {
  Fixture f;
  auto space = f.OpenSpace();
  std::map<std::string, uint32_t> model;
  for (uint32_t i = 0; i < 100; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  REQUIRE(space->Snapshot().ok());
  space.reset();
  f.store.reset();
  std::filesystem::copy(f.dir + "/db", f.dir + "/db-backup",
                        std::filesystem::copy_options::recursive);
  f.OpenStore();
  space = f.OpenSpace();
  for (uint32_t i = 100; i < 160; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  REQUIRE(space->Snapshot().ok());  // covers 160 changes; the backup's log ends at 100
  space.reset();
  f.store.reset();
  std::filesystem::remove_all(f.dir + "/db");
  std::filesystem::rename(f.dir + "/db-backup", f.dir + "/db");
  f.OpenStore();
  space = f.OpenSpace();
  // Before: loaded from the snapshot, 160 vectors, id150 found by its own vector.
  CHECK(!space->Stats().loaded_from_snapshot);
  CHECK(space->size() == 100);
  CHECK(!space->Contains("id150"));
  CHECK(Ids(*space, Vec(150), 1) == Exact(model, Vec(150), 1));
  CHECK(!std::filesystem::exists(f.dir + "/space.snap"));

  // The store's sequence passes the old snapshot's again; no snapshot is taken before the
  // restart (a crash). Rejected but left in place, the old file would now be loaded.
  for (uint32_t i = 0; i < 80; ++i) {
    REQUIRE(Put(*space, "new" + std::to_string(i), 1000 + i).ok());
    model["new" + std::to_string(i)] = 1000 + i;
  }
  f.Restart(space);
  CHECK(space->size() == model.size());
  CHECK(!space->Contains("id150"));
  CHECK(Ids(*space, Vec(150), 1) == Exact(model, Vec(150), 1));
}

TEST_CASE("a snapshot that fails part-way leaves the previous one and loses nothing") {
  Fixture f(/*threshold=*/64);  // a graph, so the image comes from FAISS's serialisation
  auto space = f.OpenSpace();
  std::map<std::string, uint32_t> model;
  auto put_range = [&](uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i) {
      REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
      model["id" + std::to_string(i)] = i;
    }
  };
  put_range(0, 200);
  REQUIRE(space->Snapshot().ok());
  const std::string snapshot = f.dir + "/space.snap";
  const uintmax_t first_size = std::filesystem::file_size(snapshot);
  std::ifstream first_in(snapshot, std::ios::binary);
  const std::string first((std::istreambuf_iterator<char>(first_in)),
                          std::istreambuf_iterator<char>());
  put_range(200, 2000);
  {
    // The next image is ten times larger: writing it fails as a full disk would.
    storage::testing::FileSizeLimit limit(first_size + 4096);
    const absl::Status failed = space->Snapshot();
    INFO(failed.ToString());
    CHECK(failed.code() == absl::StatusCode::kUnavailable);
    CHECK(failed.message().find("cannot write") != std::string_view::npos);
  }
  std::ifstream after_in(snapshot, std::ios::binary);
  CHECK(std::string((std::istreambuf_iterator<char>(after_in)), std::istreambuf_iterator<char>()) ==
        first);
  CHECK(!std::filesystem::exists(snapshot + ".tmp"));
  CHECK(space->Stats().snapshot_sequence == 200);

  // Writes go on; a restart loads the old snapshot and replays everything after it.
  put_range(2000, 2100);
  f.Restart(space);
  CHECK(space->Stats().loaded_from_snapshot);
  CHECK(space->Stats().replayed_changes == 1900);
  CHECK(space->size() == 2100);
  CHECK(Ids(*space, Vec(5151), 10) == Exact(model, Vec(5151), 10));
  // And the next snapshot succeeds.
  REQUIRE(space->Snapshot().ok());
  f.Restart(space);
  CHECK(space->Stats().replayed_changes == 0);
  CHECK(space->size() == 2100);
}

TEST_CASE("compaction drops tombstones and keeps writes that race it") {
  Fixture f(/*threshold=*/256);  // build the HNSW graph early
  auto space = f.OpenSpace();
  std::map<std::string, uint32_t> model;
  for (uint32_t i = 0; i < 4000; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  std::vector<std::string> victims;
  for (uint32_t i = 0; i < 2000; ++i) victims.push_back("id" + std::to_string(i * 2));
  std::vector<std::string_view> views(victims.begin(), victims.end());
  storage::WriteBatch batch;
  REQUIRE(space->Delete(views, &batch).ok());
  for (const std::string& v : victims) model.erase(v);
  CHECK(space->Stats().ann.tombstones == 2000);

  int failed_puts = 0;  // Catch2's assertions are not thread-safe: checked after the join
  std::thread writer([&] {
    for (uint32_t i = 5000; i < 5200; ++i) {
      if (!Put(*space, "w" + std::to_string(i), i).ok()) ++failed_puts;
    }
  });
  REQUIRE(space->Maintain().ok());
  writer.join();
  REQUIRE(failed_puts == 0);
  for (uint32_t i = 5000; i < 5200; ++i) model["w" + std::to_string(i)] = i;
  CHECK(space->Stats().ann.tombstones < 2000);
  CHECK(space->size() == model.size());
  for (uint32_t i = 5000; i < 5200; ++i) CHECK(space->Contains("w" + std::to_string(i)));
  size_t agree = 0;
  for (uint32_t q = 0; q < 20; ++q) {
    const auto exact = Exact(model, Vec(90'000 + q), 10);
    const auto got = Ids(*space, Vec(90'000 + q), 10);
    for (const std::string& id : got) agree += std::count(exact.begin(), exact.end(), id);
  }
  CHECK(agree >= 190);  // recall@10 >= 0.95 over 20 queries
}

// The extra bytes of each hit for `q` (with_extra), by id.
std::map<std::string, std::string> Extras(const VectorSpace& space, const std::vector<float>& q,
                                          uint32_t k) {
  auto hits = space.Search(q, k, 0, nullptr, -1, /*with_extra=*/true);
  REQUIRE(hits.ok());
  std::map<std::string, std::string> out;
  for (const VectorHit& h : *hits) out[h.id] = h.extra;
  return out;
}

TEST_CASE("extras are served from memory and survive replace, delete, snapshot and rebuild") {
  Fixture f(/*threshold=*/64);  // the graph phase, so snapshots carry a FAISS image
  auto space = f.OpenSpace();
  std::map<std::string, std::string> expected;  // id -> extra, for every live id
  for (uint32_t i = 0; i < 120; ++i) {
    const std::string id = "id" + std::to_string(i);
    const std::string extra = i % 3 == 0 ? "" : "meta" + std::to_string(i);
    REQUIRE(Put(*space, id, i, extra).ok());
    expected[id] = extra;
  }
  REQUIRE(Put(*space, "id1", 1, "").ok());  // replaced without an extra: the old one goes
  expected["id1"] = "";
  REQUIRE(Put(*space, "id3", 3, "now-meta").ok());
  expected["id3"] = "now-meta";
  storage::WriteBatch batch;
  const std::string_view gone[] = {"id2"};
  REQUIRE(space->Delete(gone, &batch).ok());
  expected.erase("id2");

  const auto check_all = [&](const char* when) {
    INFO(when);
    const auto all = Extras(*space, Vec(777), 200);
    CHECK(all.size() == expected.size());
    for (const auto& [id, extra] : all) CHECK(expected.at(id) == extra);
  };
  check_all("live");
  REQUIRE(space->Snapshot().ok());
  REQUIRE(Put(*space, "tail", 500, "tail-meta").ok());  // replayed from the log
  expected["tail"] = "tail-meta";
  f.Restart(space);
  CHECK(space->Stats().loaded_from_snapshot);
  check_all("snapshot + replay");
  space.reset();
  std::filesystem::remove(f.dir + "/space.snap");
  f.Restart(space);
  CHECK(!space->Stats().loaded_from_snapshot);
  check_all("rebuilt from records");
}

TEST_CASE("writes that race a snapshot are all kept, whichever side of it they fall") {
  Fixture f(/*threshold=*/256);
  auto space = f.OpenSpace();
  for (uint32_t i = 0; i < 3000; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  std::atomic<bool> done{false};
  int failed_puts = 0;  // Catch2's assertions are not thread-safe: checked after the join
  std::thread writer([&] {
    for (uint32_t i = 0; i < 400; ++i) {
      if (!Put(*space, "w" + std::to_string(i), 10'000 + i, "x").ok()) ++failed_puts;
    }
    done = true;
  });
  int snapshots = 0;
  while (!done) {
    REQUIRE(space->Snapshot().ok());
    ++snapshots;
  }
  writer.join();
  REQUIRE(failed_puts == 0);
  INFO("snapshots taken during the writes: " << snapshots);
  f.Restart(space);
  CHECK(space->Stats().loaded_from_snapshot);
  CHECK(space->size() == 3400);
  for (uint32_t i = 0; i < 400; ++i) CHECK(space->Contains("w" + std::to_string(i)));
  const auto mine = Extras(*space, Vec(10'000 + 17), 1);
  REQUIRE(mine.size() == 1);
  CHECK(mine.begin()->first == "w17");
  CHECK(mine.begin()->second == "x");
}

TEST_CASE("searches during a large batch see every replaced id once, old or new") {
  // The batch goes into the index in chunks with the lock released between them, so a search
  // may see part of it; it must never see an id twice or miss one.
  Fixture f(/*threshold=*/100000);  // exact phase: k = every id returns every live id
  auto space = f.OpenSpace();
  constexpr uint32_t kIds = 1500;  // several chunks
  std::vector<VectorItem> items;
  std::vector<std::vector<float>> old_vectors, new_vectors;
  for (uint32_t i = 0; i < kIds; ++i) {
    old_vectors.push_back(Vec(i));
    new_vectors.push_back(Vec(i + 100000));
  }
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < kIds; ++i) ids.push_back("id" + std::to_string(i));
  auto upsert_all = [&](const std::vector<std::vector<float>>& vectors, const std::string& extra) {
    std::vector<VectorItem> batch_items;
    for (uint32_t i = 0; i < kIds; ++i) batch_items.push_back(VectorItem{ids[i], vectors[i], extra});
    storage::WriteBatch batch;
    return space->Upsert(batch_items, &batch);
  };
  REQUIRE(upsert_all(old_vectors, "old").ok());

  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, mixed{0}, wrong{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto hits = space->Search(Vec(4242), kIds, 0, nullptr, -1, /*with_extra=*/true);
      if (!hits.ok()) {
        ++wrong;
        continue;
      }
      std::map<std::string, int> seen;
      int fresh = 0;
      for (const VectorHit& h : *hits) {
        ++seen[h.id];
        if (h.extra == "new") ++fresh;
      }
      bool ok = hits->size() == kIds && seen.size() == kIds;
      for (const auto& [id, count] : seen) ok = ok && count == 1;
      if (!ok) ++wrong;
      if (fresh > 0 && fresh < static_cast<int>(kIds)) ++mixed;
      ++searches;
    }
  });
  for (int round = 0; round < 10; ++round) {
    REQUIRE(upsert_all(round % 2 == 0 ? new_vectors : old_vectors, round % 2 == 0 ? "new" : "old")
                .ok());
  }
  done = true;
  reader.join();
  INFO(searches.load() << " searches, " << mixed.load() << " saw part of a batch");
  CHECK(searches.load() > 0);
  CHECK(wrong.load() == 0);
  CHECK(space->size() == kIds);
}

TEST_CASE("a large batch goes in in big chunks alone and small ones beside searches") {
  Fixture f;
  std::vector<size_t> chunks;
  f.hooks.in_index_chunk = [&](size_t n) { chunks.push_back(n); };
  auto space = f.OpenSpace();
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> ids, more_ids;
  std::vector<VectorItem> items;
  for (uint32_t i = 0; i < 600; ++i) {
    vectors.push_back(Vec(i));
    ids.push_back("a" + std::to_string(i));
    more_ids.push_back("b" + std::to_string(i));
  }
  for (uint32_t i = 0; i < 600; ++i) items.push_back({ids[i], vectors[i], ""});
  storage::WriteBatch first;
  REQUIRE(space->Upsert(items, &first).ok());
  CHECK(chunks == std::vector<size_t>{256, 256, 88});
  // Asking for the size is not a search.
  CHECK(space->size() == 600);
  chunks.clear();
  for (uint32_t i = 0; i < 300; ++i) items[i].vector = vectors[599 - i];
  storage::WriteBatch replace;
  REQUIRE(space->Upsert(absl::MakeConstSpan(items).subspan(0, 300), &replace).ok());
  CHECK(chunks == std::vector<size_t>{256, 44});

  chunks.clear();
  REQUIRE(space->Search(Vec(7), 3, 0).ok());  // searches are active for a while now
  for (uint32_t i = 0; i < 150; ++i) items[i].id = more_ids[i];
  storage::WriteBatch second;
  REQUIRE(space->Upsert(absl::MakeConstSpan(items).subspan(0, 150), &second).ok());
  CHECK(chunks == std::vector<size_t>{64, 64, 22});
  CHECK(space->size() == 750);
}

TEST_CASE("searches that keep coming get the index between chunks, not one each") {
  // A search that arrives while the writer applies a chunk runs when the chunk is done, and the
  // searches that follow it keep the index until none has come for 2 ms (kSearchGap) or the
  // turn (as long as the chunk held the index) is over: the writer must not take the index
  // straight back, which a mutex would let it do. Time is the test's clock, so the chunk's
  // length, the turn and the gap are exact whatever this machine's speed.
  Fixture f;
  TestSteadyClock clock;
  f.steady_clock = &clock;
  std::atomic<int> chunks_started{0};
  std::unique_ptr<VectorSpace> space;
  f.hooks.in_index_chunk = [&](size_t) {
    if (chunks_started.fetch_add(1) == 0) {
      // The first search waits for the index; this chunk holds it for 30 ms of the test's time.
      WaitUntil([&] { return space->searches_in_flight() == 1; });
      clock.Advance(absl::Milliseconds(30));
    }
  };
  space = f.OpenSpace();
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> ids;  // VectorItem views them
  std::vector<VectorItem> items;
  for (uint32_t i = 0; i < 200; ++i) {
    vectors.push_back(Vec(1000 + i));
    ids.push_back("n" + std::to_string(i));
  }
  for (uint32_t i = 0; i < 200; ++i) items.push_back({ids[i], vectors[i], ""});
  REQUIRE(space->Search(Vec(1), 5, 0).ok());  // searches active: chunks of 64

  // What each search saw: how many chunks had started when it held the index.
  std::atomic<int> first_saw{-1}, second_saw{-1};
  std::atomic<bool> writer_took_turn{false};
  auto search_noting = [&](uint32_t seed, std::atomic<int>* saw) {
    const std::function<bool(std::string_view)> note = [&](std::string_view) {
      int unset = -1;
      saw->compare_exchange_strong(unset, chunks_started.load());
      return true;
    };
    if (!space->Search(Vec(seed), 5, 0, &note).ok()) *saw = -2;
  };
  std::thread searcher([&] {
    while (chunks_started.load() == 0) std::this_thread::yield();
    search_noting(1, &first_saw);  // waits behind the first chunk
    // The writer polls its clock, its turn not over: it is not queued on the index.
    const int sleeps = clock.sleeps();
    writer_took_turn = WaitUntil([&] { return clock.sleeps() > sleeps; });
    search_noting(2, &second_saw);
    clock.Advance(absl::Milliseconds(3));  // no search for over 2 ms: the turn ends
  });
  storage::WriteBatch batch;
  REQUIRE(space->Upsert(items, &batch).ok());
  searcher.join();
  CHECK(writer_took_turn.load());
  CHECK(first_saw.load() == 1);   // before the second chunk
  CHECK(second_saw.load() == 1);  // still before it
  CHECK(chunks_started.load() == 4);  // 64 + 64 + 64 + 8
  CHECK(space->size() == 200);
}

TEST_CASE("searches are not held up by a writer waiting for a snapshot") {
  // A snapshot reads the index under the reader lock; a writer that queued for the exclusive
  // lock meanwhile would hold every new search behind it until the image was written.
  Fixture f;
  absl::Notification snapshot_reading, let_snapshot_finish;
  f.hooks.in_snapshot_read = [&] {
    snapshot_reading.Notify();
    let_snapshot_finish.WaitForNotification();
  };
  auto space = f.OpenSpace();
  for (uint32_t i = 0; i < 300; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  // Each thread keeps its status; Catch2's assertions are not thread-safe.
  absl::Status snapshotted, put, search;
  std::thread snapshot([&] { snapshotted = space->Snapshot(); });
  snapshot_reading.WaitForNotification();
  std::thread writer([&] { put = Put(*space, "late", 4242); });
  // The write has committed (Stats shows its sequence): the writer is on its way to the index,
  // which the snapshot holds, and stays there until the snapshot is let go.
  REQUIRE(WaitUntil([&] { return space->Stats().last_sequence == 301; }));

  absl::Notification searched;
  std::thread searcher([&] {
    search = space->Search(Vec(1), 5, 0).status();
    searched.Notify();
  });
  // A search held behind the writer would wait for the snapshot, which waits for this test: the
  // guard turns that hang into a failure.
  const bool in_time = searched.WaitForNotificationWithTimeout(absl::Seconds(20));
  let_snapshot_finish.Notify();
  searcher.join();
  writer.join();
  snapshot.join();
  CHECK(snapshotted.ok());
  CHECK(put.ok());
  CHECK(search.ok());
  CHECK(in_time);
  CHECK(space->Contains("late"));
  CHECK(space->size() == 301);
}

TEST_CASE("a snapshot's vectors are written while writes and searches go on") {
  // After the links, a snapshot writes the vectors in pieces with no lock held in between:
  // writes (and the growth of the index's arrays they cause) and searches complete there, and
  // the file still holds the index as it was at its sequence; a restart replays the rest.
  const Quantization quantization = GENERATE(Quantization::kNone, Quantization::kScalar8);
  INFO("quantization " << static_cast<int>(quantization));
  Fixture f(/*threshold=*/64);
  f.spec_request.quantization = quantization;
  // 32 pieces of 16 vectors: kDim (8) floats each, or 8 one-byte codes.
  f.snapshot_piece_bytes = quantization == Quantization::kNone ? 512 : 128;
  std::map<std::string, uint32_t> model;
  VectorSpace* live = nullptr;
  int pieces = 0;
  uint32_t next = 500;
  f.hooks.between_snapshot_pieces = [&] {
    ++pieces;
    if (pieces % 4 != 1) return;
    for (uint32_t i = 0; i < 40; ++i, ++next) {  // in place of writers racing the snapshot
      REQUIRE(Put(*live, "late" + std::to_string(next), next).ok());
      model["late" + std::to_string(next)] = next;
    }
    REQUIRE(Put(*live, "id7", 7'007).ok());  // an overwrite: the old label is tombstoned
    model["id7"] = 7'007;
    CHECK(live->Search(Vec(3), 5, 0).ok());
  };
  auto space = f.OpenSpace();
  live = space.get();
  for (uint32_t i = 0; i < 500; ++i) {
    REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    model["id" + std::to_string(i)] = i;
  }
  REQUIRE(space->Snapshot().ok());
  CHECK(pieces == 32);
  CHECK(space->Stats().snapshot_sequence == 500);
  CHECK(model.size() - 500 == 8 * 40);

  f.hooks.between_snapshot_pieces = nullptr;
  f.Restart(space);
  const VectorSpaceStats stats = space->Stats();
  CHECK(stats.loaded_from_snapshot);
  CHECK(stats.snapshot_sequence == 500);
  CHECK(stats.replayed_changes == 8 * 41);
  CHECK(space->size() == model.size());
  size_t found = 0;
  for (uint32_t q : {1u, 7'007u, 523u, 9'999u}) {
    const std::vector<std::string> exact = Exact(model, Vec(q), 10);
    const std::vector<std::string> got = Ids(*space, Vec(q), 10);
    if (quantization == Quantization::kNone) CHECK(got == exact);
    for (const std::string& id : got) found += std::count(exact.begin(), exact.end(), id);
  }
  CHECK(found >= 36);  // 8-bit codes rank approximately; a lost or garbled vector costs more
  auto got = space->Get("id7");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->vector == Vec(7'007));
}

TEST_CASE("a snapshot that fails once its vectors are being written leaves the last one") {
  // Past the head, with the locks let go, a failing file must still leave the previous
  // snapshot in place and lose nothing. (This small file fails when its buffer is flushed;
  // a large one, whose pieces are written as they come, fails at the piece.)
  Fixture f(/*threshold=*/64);
  f.snapshot_piece_bytes = 512;
  std::optional<storage::testing::FileSizeLimit> limit;
  int pieces = 0;
  auto space = f.OpenSpace();
  for (uint32_t i = 0; i < 300; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  REQUIRE(space->Snapshot().ok());
  const std::string snapshot = f.dir + "/space.snap";
  const uintmax_t first_size = std::filesystem::file_size(snapshot);
  for (uint32_t i = 300; i < 600; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  f.hooks.between_snapshot_pieces = [&] {
    // Part-way through the vectors the disk is full.
    if (++pieces == 10) limit.emplace(std::filesystem::file_size(snapshot + ".tmp") + 100);
  };
  f.Restart(space);  // reopened with the hook
  const absl::Status failed = space->Snapshot();
  limit.reset();
  INFO(failed.ToString());
  CHECK(failed.code() == absl::StatusCode::kUnavailable);
  CHECK(pieces >= 10);
  CHECK(std::filesystem::file_size(snapshot) == first_size);
  CHECK(!std::filesystem::exists(snapshot + ".tmp"));
  CHECK(space->Stats().snapshot_sequence == 300);
  f.hooks.between_snapshot_pieces = nullptr;
  f.Restart(space);
  CHECK(space->Stats().loaded_from_snapshot);
  CHECK(space->Stats().replayed_changes == 300);
  CHECK(space->size() == 600);
}

TEST_CASE("maintenance snapshots after enough changes for the index's size, or when idle") {
  Fixture f(/*threshold=*/64);
  f.snapshot_every_changes = 100;
  f.snapshot_growth_ratio = 0.5;
  f.snapshot_when_idle = absl::Hours(1);
  auto space = f.OpenSpace();
  auto put_range = [&](uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  };
  put_range(0, 99);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 0);  // under snapshot_every_changes
  put_range(99, 100);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 100);  // 100 >= max(100, 0.5 x 100)
  put_range(100, 1000);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 1000);  // 900 >= max(100, 0.5 x 1000)
  put_range(1000, 1400);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 1000);  // 400 < 0.5 x 1400: the index grew too little
  put_range(1400, 1500);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 1000);  // 500 < 750
  put_range(1500, 2000);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 2000);  // 1000 >= 0.5 x 2000

  // Writes that stopped are covered once the space has been idle long enough.
  f.snapshot_when_idle = absl::ZeroDuration();
  f.Restart(space);
  put_range(2000, 2010);
  REQUIRE(space->Maintain().ok());
  CHECK(space->Stats().snapshot_sequence == 2010);
  REQUIRE(space->Maintain().ok());  // nothing pending: no snapshot, no error
  CHECK(space->Stats().snapshot_sequence == 2010);
}

TEST_CASE("an idle space gives back its insert memory; writes rebuild it") {
  __builtin_cpu_init();
  const bool copies = __builtin_cpu_supports("avx2");
  Fixture f(/*threshold=*/64);
  SECTION("idle past the limit") {
    f.release_insert_memory_after = absl::ZeroDuration();
    auto space = f.OpenSpace();
    for (uint32_t i = 0; i < 500; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    const uint64_t busy = space->Stats().ann.memory_bytes;
    REQUIRE(space->Maintain().ok());
    const uint64_t idle = space->Stats().ann.memory_bytes;
    if (copies) CHECK(busy - idle >= 500u * kDim * 1u);
    REQUIRE(Put(*space, "late", 9999).ok());
    if (copies) CHECK(space->Stats().ann.memory_bytes >= idle + 501u * kDim * 1u);
    CHECK(space->Contains("late"));
  }
  SECTION("written to recently") {
    auto space = f.OpenSpace();  // the default: thirty minutes
    for (uint32_t i = 0; i < 500; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
    const uint64_t busy = space->Stats().ann.memory_bytes;
    REQUIRE(space->Maintain().ok());
    CHECK(space->Stats().ann.memory_bytes == busy);
  }
}

TEST_CASE("record and change-log keys keep the bytes written before they came from KeyBuilder") {
  // Captured from the code that spelled them by hand (prefix + id; prefix + 8 bytes
  // big-endian): data directories written then must still be found.
  Fixture f;
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "v1", 1).ok());
  std::vector<std::string> keys;
  auto it = f.store->NewIterator();
  for (it->Seek("\x21"); it->Valid() && it->key()[0] <= '\x25'; it->Next()) {
    keys.emplace_back(it->key());
  }
  REQUIRE(it->status().ok());
  CHECK(keys == std::vector<std::string>{
                    "\x21\x04test\x05spacev1"s,
                    "\x25\x04test\x05space\x00\x00\x00\x00\x00\x00\x00\x01"s,
                });
}

TEST_CASE("Apply upserts and deletes in one batch; DropAll leaves nothing") {
  Fixture f;
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "doc\0" "1", 1).ok());
  REQUIRE(Put(*space, "keep", 2).ok());
  const std::vector<float> v = Vec(3);
  const VectorItem add{"new", v, ""};
  const std::string_view del[] = {"keep"};
  storage::WriteBatch batch;
  batch.Put("caller-record", "x");  // commits with the vectors
  REQUIRE(space->Apply({&add, 1}, del, &batch).ok());
  CHECK(space->Contains("new"));
  CHECK(!space->Contains("keep"));
  CHECK((*f.store->Get("caller-record")).has_value());

  REQUIRE(space->Snapshot().ok());
  REQUIRE(space->DropAll().ok());
  space.reset();
  CHECK(!std::filesystem::exists(f.dir + "/space.snap"));
  auto it = f.store->NewIterator();
  size_t vector_keys = 0;
  for (it->Seek(""); it->Valid(); it->Next()) {
    const auto family = static_cast<storage::KeyFamily>(it->key()[0]);
    if (family == storage::KeyFamily::kVector || family == storage::KeyFamily::kVectorLog) {
      ++vector_keys;
    }
  }
  CHECK(vector_keys == 0);
}

TEST_CASE("Stats and size answer while a writer holds the index") {
  // A writer inside its chunk holds the space's write lock and the index lock exclusively.
  Fixture f;
  absl::Notification writing, stats_done;
  std::atomic<bool> armed{false};
  bool let_go_by_stats = false;
  f.hooks.in_index_chunk = [&](size_t) {
    if (!armed.exchange(false)) return;
    writing.Notify();
    let_go_by_stats = stats_done.WaitForNotificationWithTimeout(absl::Seconds(20));
  };
  auto space = f.OpenSpace();
  for (uint32_t i = 0; i < 10; ++i) REQUIRE(Put(*space, "id" + std::to_string(i), i).ok());
  const VectorSpaceStats before = space->Stats();
  armed = true;
  absl::Status late;
  std::thread writer([&] { late = Put(*space, "late", 99); });
  writing.WaitForNotification();
  const VectorSpaceStats during = space->Stats();
  const size_t size = space->size();
  stats_done.Notify();
  writer.join();
  REQUIRE(late.ok());
  CHECK(let_go_by_stats);
  CHECK(during.vectors == 10);
  CHECK(size == 10);
  CHECK(during.last_sequence == 11);  // committed; the index is being updated
  CHECK(during.ann.labels == before.ann.labels);
  CHECK(space->Stats().vectors == 11);
  CHECK(space->Stats().ann.labels == 11);
}

TEST_CASE("a dropped space refuses writes and writes no snapshot") {
  // What a holder of the space does after DropAll (an insert or a maintenance pass that looked
  // the index up before the drop): nothing may reappear under its scope or at its path.
  Fixture f;
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "a", 1).ok());
  REQUIRE(space->DropAll().ok());
  CHECK(space->retired());
  const absl::Status put = Put(*space, "b", 2);
  CHECK(put.code() == absl::StatusCode::kNotFound);
  const std::string_view del[] = {"a"};
  storage::WriteBatch batch;
  batch.Put("caller-record", "x");
  CHECK(space->Delete(del, &batch).status().code() == absl::StatusCode::kNotFound);
  CHECK_FALSE((*f.store->Get("caller-record")).has_value());  // the caller's batch neither
  CHECK(space->Snapshot().ok());
  CHECK(space->Maintain().ok());
  CHECK(space->Search(Vec(1), 1, 0).ok());  // reads still answer
  space.reset();
  CHECK_FALSE(std::filesystem::exists(f.dir + "/space.snap"));
  auto it = f.store->NewIterator();
  size_t vector_keys = 0;
  for (it->Seek(""); it->Valid(); it->Next()) {
    const auto family = static_cast<storage::KeyFamily>(it->key()[0]);
    if (family == storage::KeyFamily::kVector || family == storage::KeyFamily::kVectorLog) {
      ++vector_keys;
    }
  }
  CHECK(vector_keys == 0);
}

TEST_CASE("a committed change the index cannot take is acknowledged, then rebuilt in") {
  Fixture f;
  f.RefuseApplies();
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "a", 1).ok());
  REQUIRE(space->Snapshot().ok());
  f.refuse_next_apply = true;
  REQUIRE(Put(*space, "b", 2).ok());  // durable, so acknowledged
  auto stored = space->Get("b");
  REQUIRE(stored.ok());
  CHECK(stored->has_value());
  CHECK_FALSE(space->Contains("b"));  // not in the index yet
  // No snapshot may claim to cover "b" while the index lacks it: a restart now replays it.
  REQUIRE(space->Snapshot().ok());
  f.Restart(space);
  CHECK(space->Contains("b"));

  f.refuse_next_apply = true;
  REQUIRE(Put(*space, "c", 3).ok());
  CHECK_FALSE(space->Contains("c"));
  REQUIRE(space->Maintain().ok());  // the rebuild from records brings it in
  CHECK(space->Contains("c"));
  CHECK(Ids(*space, Vec(3), 1) == std::vector<std::string>{"c"});
  REQUIRE(Put(*space, "d", 4).ok());  // and the index takes changes again
  CHECK(space->Contains("d"));
  REQUIRE(space->Snapshot().ok());
  f.Restart(space);
  CHECK(space->size() == 4);
}

TEST_CASE("a delete is decided by the stored record, not by an index that lags it") {
  // "b" is committed but the index could not take it (stale until the next rebuild). Deleting
  // it must delete the record: decided from the index, the delete was skipped and the rebuild
  // brought "b" back.
  Fixture f;
  f.RefuseApplies();
  auto space = f.OpenSpace();
  REQUIRE(Put(*space, "a", 1).ok());
  f.refuse_next_apply = true;
  REQUIRE(Put(*space, "b", 2).ok());
  REQUIRE_FALSE(space->Contains("b"));

  const std::string_view del[] = {"b", "b", "never"};
  storage::WriteBatch batch;
  const absl::StatusOr<size_t> deleted = space->Delete(del, &batch);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  auto stored = space->Get("b");
  REQUIRE(stored.ok());
  CHECK_FALSE(stored->has_value());
  REQUIRE(space->Maintain().ok());  // the rebuild from the records
  CHECK_FALSE(space->Contains("b"));
  CHECK(space->size() == 1);
  f.Restart(space);
  CHECK_FALSE(space->Contains("b"));
  CHECK(space->size() == 1);
}

}  // namespace
}  // namespace sochdb::vector
