// Power cuts while episodes are written and deleted (agent memory's part of the reliability
// suite's T2, ../shared/RELIABILITY.md): WriteEpisode (half of them with an embedding) and
// DeleteEpisode run on a SimulatedDisk in sync mode full until the power goes off at a random
// disk call (store or vector snapshot); the disk is rebooted as the cut left it and the store
// reopened. Then: every acknowledged episode is there (LOST otherwise), none is there that was
// never written or was deleted (PHANTOM), the interrupted call landed whole or not at all, and
// every index agrees with the records (SKEW: the BM25 and trigram lanes find each episode by its
// own word, the vector lane by its own embedding, the BM25 statistics count exactly the
// episodes, the time index and the vector records hold exactly theirs); and no id is reused.
// Prints one line:
//   memory powercut: cycles=40 acked_writes=... acked_deletes=... lost=0 phantom=0 skew=0 reused=0
// SOCHDB_RELIABILITY_PROFILE=long runs 400 cycles; SOCHDB_RELIABILITY_SEED=<n> replays a run.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/absl_view.h"
#include "engine/memory/memory_store.h"
#include "spdlog/spdlog.h"
#include "tests/engine/memory/memory_fixture.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::memory {
namespace {

using storage::KeyFamily;
using storage::testing::SimulatedDisk;
using testing::MemoryFixture;
using testing::ValueOrFail;

constexpr int kStepsPerCycle = 30;

struct Acked {
  std::string text;
  std::vector<float> embedding;
};
using Model = std::map<uint64_t, Acked>;

struct Tally {
  int64_t acked_writes = 0, acked_deletes = 0, lost = 0, phantom = 0, skew = 0, reused = 0;
  std::vector<std::string> problems;
  void Problem(int64_t* counter, std::string what) {
    ++*counter;
    if (problems.size() < 10) problems.push_back(std::move(what));
  }
};

// The call a cut may have interrupted.
struct InFlight {
  std::optional<Acked> write;
  std::optional<uint64_t> deleted;
};

// A word only episode `n` holds (BM25 and trigram lanes find it by this alone).
std::string Marker(int64_t n) { return absl::StrCat("mark", n, "x"); }

bool Step(MemoryFixture& f, std::mt19937& rng, int64_t* counter, Model* model, InFlight* in_flight,
          uint64_t* highest_id, Tally* tally) {
  *in_flight = InFlight{};
  if (!model->empty() && std::uniform_int_distribution<>(0, 99)(rng) < 20) {
    auto it = model->begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, model->size() - 1)(rng));
    in_flight->deleted = it->first;
    if (!f.memory().DeleteEpisode("ns", it->first).ok()) return false;
    model->erase(it);
    ++tally->acked_deletes;
    return true;
  }
  const int64_t n = ++*counter;
  Acked episode{absl::StrCat("episode ", Marker(n), " about the weather"), {}};
  if (n % 2 == 0) {
    // Directions spread over a torus: (1, n, ...) would make thousands of nearly parallel
    // vectors, whose cosine distances tie at float precision.
    const double a = 0.61 * static_cast<double>(n), b = 0.017 * static_cast<double>(n);
    episode.embedding = {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a)),
                         static_cast<float>(std::cos(b)), static_cast<float>(std::sin(b))};
  }
  in_flight->write = episode;
  EpisodeWrite write;
  write.text = episode.text;
  write.embedding = episode.embedding;
  absl::StatusOr<WrittenEpisode> written = f.memory().WriteEpisode("ns", std::move(write));
  if (!written.ok()) return false;
  if (written->id <= *highest_id) {
    tally->Problem(&tally->reused, absl::StrCat("id ", written->id, " after ", *highest_id));
  }
  *highest_id = written->id;
  (*model)[written->id] = std::move(episode);
  ++tally->acked_writes;
  return true;
}

bool Contains(const std::vector<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Every index agrees with the record of `id`.
void CheckIndexes(MemoryFixture& f, uint64_t id, const Episode& e, Tally* tally) {
  const std::string marker = e.text.substr(8, e.text.find(' ', 8) - 8);
  SearchOptions options;
  options.lanes = Lanes::kBm25;
  if (!Contains(f.SearchIds("ns", marker, options), id)) {
    tally->Problem(&tally->skew, absl::StrCat("bm25 misses ", id));
  }
  options.lanes = Lanes::kTrigram;
  if (!Contains(f.SearchIds("ns", marker + " ", options), id)) {
    tally->Problem(&tally->skew, absl::StrCat("trigram misses ", id));
  }
  if (e.embedding.empty()) return;
  options.lanes = Lanes::kVector;
  options.embedding = e.embedding;
  if (!Contains(f.SearchIds("ns", "", options), id)) {
    tally->Problem(&tally->skew, absl::StrCat("vector lane misses ", id));
  }
}

// Compares the store after the reboot with the model and the interrupted call; returns the new
// model (the interrupted call applied if it landed).
Model Verify(MemoryFixture& f, Model model, const InFlight& in_flight, uint64_t* highest_id,
             Tally* tally) {
  std::map<uint64_t, Episode> seen;
  for (const Episode& e : ValueOrFail(f.memory().ListEpisodes("ns", 0, 10'000)).episodes) {
    seen[e.id] = e;
  }
  if (in_flight.deleted && seen.count(*in_flight.deleted) == 0) model.erase(*in_flight.deleted);
  if (in_flight.write) {
    for (const auto& [id, e] : seen) {
      if (model.count(id) == 0 && e.text == in_flight.write->text) {
        model[id] = *in_flight.write;  // it landed
        *highest_id = std::max(*highest_id, id);
      }
    }
  }
  for (const auto& [id, acked] : model) {
    auto it = seen.find(id);
    if (it == seen.end() || it->second.text != acked.text ||
        it->second.embedding != acked.embedding) {
      tally->Problem(&tally->lost, absl::StrCat("episode ", id, " ", acked.text));
    }
  }
  size_t embedded = 0;
  for (const auto& [id, e] : seen) {
    if (model.count(id) == 0) tally->Problem(&tally->phantom, absl::StrCat("episode ", id));
    CheckIndexes(f, id, e, tally);
    embedded += !e.embedding.empty();
  }
  const TextIndexStats text = ValueOrFail(f.memory().IndexStats("ns"));
  if (text.episodes != seen.size() ||
      f.CountKeys(KeyFamily::kEpisodeTime, "ns") != seen.size() ||
      f.CountKeys(KeyFamily::kVector, "ns") != embedded) {
    tally->Problem(&tally->skew, absl::StrCat("counts: text index ", text.episodes,
                                              " time ", f.CountKeys(KeyFamily::kEpisodeTime, "ns"),
                                              " vectors ", f.CountKeys(KeyFamily::kVector, "ns"),
                                              " for ", seen.size(), " episodes"));
  }
  return model;
}

uint32_t Seed() {
  const char* seed = std::getenv("SOCHDB_RELIABILITY_SEED");
  return seed != nullptr ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)) : 20261207u;
}

TEST_CASE("memory power cut: acknowledged episodes survive, indexes agree", "[reliability]") {
  spdlog::set_level(spdlog::level::off);  // every cut makes the store log errors
  const char* profile = std::getenv("SOCHDB_RELIABILITY_PROFILE");
  const int cycles = profile != nullptr && std::string(profile) == "long" ? 400 : 40;
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  SimulatedDisk disk;
  storage::StoreOptions options;
  options.env = disk.env();
  options.sync_mode = storage::SyncMode::kFull;
  options.write_buffer_bytes = 64 << 10;  // table files, compactions and manifest edits too
  auto f = std::make_unique<MemoryFixture>("/data/memory", options, disk.files());
  Model model;
  Tally tally;
  int64_t counter = 0, calls_per_cycle = 0;
  uint64_t highest_id = 0;
  int cuts_landed = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const int64_t start = disk.calls();
    if (cycle > 0) {
      disk.PowerCutAfter(std::uniform_int_distribution<int64_t>(0, calls_per_cycle - 1)(rng));
    }
    InFlight in_flight;
    for (int step = 0; step < kStepsPerCycle; ++step) {
      if (!Step(*f, rng, &counter, &model, &in_flight, &highest_id, &tally)) break;
      in_flight = InFlight{};
    }
    if (cycle == 0) calls_per_cycle = std::max<int64_t>(disk.calls() - start, 1);
    cuts_landed += !disk.powered();
    disk.PowerCut();
    f->Close();
    disk.Reboot();
    f->Open();
    model = Verify(*f, std::move(model), in_flight, &highest_id, &tally);
  }
  std::printf(
      "memory powercut: cycles=%d cuts_in_writes=%d acked_writes=%lld acked_deletes=%lld "
      "episodes_now=%zu lost=%lld phantom=%lld skew=%lld reused=%lld seed=%u\n",
      cycles, cuts_landed, static_cast<long long>(tally.acked_writes),
      static_cast<long long>(tally.acked_deletes), model.size(), static_cast<long long>(tally.lost),
      static_cast<long long>(tally.phantom), static_cast<long long>(tally.skew),
      static_cast<long long>(tally.reused), seed);
  INFO(absl::StrJoin(tally.problems, "\n"));
  CHECK(tally.lost == 0);
  CHECK(tally.phantom == 0);
  CHECK(tally.skew == 0);
  CHECK(tally.reused == 0);
  CHECK(cuts_landed > cycles / 2);
  CHECK(tally.acked_writes > cycles);
}

}  // namespace
}  // namespace sochdb::memory
