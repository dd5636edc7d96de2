// T2 of the reliability suite (../shared/RELIABILITY.md): power cuts. Four actors write through
// one Engine in sync mode full (KV Put/Delete/BatchPut, vector InsertBatch, vector snapshots by
// the maintenance thread and by the actors) on a SimulatedDisk whose power goes off at a random
// call; the engine is closed, the disk rebooted as the cut left it (files cut back to what was
// synced, directories to their last sync), the engine reopened and every key and vector read
// back against the actors' models. Cycles follow each other on the same data. A cut lands in
// LevelDB's log, table and manifest writes and in snapshot writes alike.
//
// Pass rule: synced (acknowledged) writes lost = 0, phantoms = 0, torn batches = 0, restart
// failures = 0. Prints one line:
//   T2 powercut: cycles=300 acked=... lost=0 phantom=0 torn=0 restart_failures=0
//   cuts_in_snapshot=...
//
// Profiles: CI (default) 300 cycles; SOCHDB_RELIABILITY_PROFILE=long 5,000 cycles
// (bazel test --test_env=SOCHDB_RELIABILITY_PROFILE=long ...). SOCHDB_RELIABILITY_SEED=<n>
// replays a run (the seed is printed).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "engine/engine.h"
#include "spdlog/spdlog.h"
#include "tests/engine/reliability/engine_model.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::testing {
namespace {

using storage::testing::SimulatedDisk;

constexpr int kActors = 4;
constexpr int kStepsPerCycle = 50;

uint32_t Seed() {
  const char* seed = std::getenv("SOCHDB_RELIABILITY_SEED");
  return seed != nullptr ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)) : 20261207u;
}

// Each actor steps on its own thread until its first refused write (the power is off) or the
// end of the cycle.
void RunCycle(Engine& engine, std::vector<ModelActor>& actors, std::vector<Tally>& tallies) {
  std::vector<std::thread> threads;
  for (size_t a = 0; a < actors.size(); ++a) {
    threads.emplace_back([&engine, &actor = actors[a], &tally = tallies[a]] {
      for (int step = 0; step < kStepsPerCycle; ++step) {
        if (actor.Step(engine, &tally) == ModelActor::Outcome::kRefused) return;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

TEST_CASE("T2 power cut: no write acknowledged in sync mode full is lost", "[reliability]") {
  spdlog::set_level(spdlog::level::off);  // every cut makes the store and snapshots log errors
  const int cycles = LongProfile() ? 5000 : 300;
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  SimulatedDisk disk;
  const EngineOptions options = SimulatedEngineOptions(disk.env(), disk.files());
  std::vector<ModelActor> actors;
  for (int a = 0; a < kActors; ++a) actors.emplace_back(a, seed + static_cast<uint32_t>(a));
  {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
    REQUIRE(engine.ok());
    for (ModelActor& actor : actors) REQUIRE(actor.Setup(**engine).ok());
  }

  std::vector<Tally> tallies(kActors);
  Tally checks;
  int restart_failures = 0;
  int cuts_in_snapshot = 0;
  int64_t calls_per_cycle = 0;
  int cycle = 0;
  for (;; ++cycle) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
    if (!engine.ok()) {
      ++restart_failures;
      checks.problems.push_back("restart after cycle " + std::to_string(cycle) + ": " +
                                engine.status().ToString());
      break;
    }
    for (ModelActor& actor : actors) actor.Verify(**engine, &checks);
    if (cycle == cycles) break;
    const int64_t start = disk.calls();
    // The first cycle runs uncut to learn how many calls a cycle makes; later ones are cut at a
    // random one of them.
    if (cycle > 0) {
      disk.PowerCutAfter(std::uniform_int_distribution<int64_t>(0, calls_per_cycle - 1)(rng));
    }
    RunCycle(**engine, actors, tallies);
    if (cycle == 0) calls_per_cycle = std::max<int64_t>(disk.calls() - start, 1);
    if (!disk.powered() && !disk.first_failure()->via_env) ++cuts_in_snapshot;
    disk.PowerCut();  // a cut the cycle did not reach happens at its end
    engine->reset();
    disk.Reboot();
  }

  Tally total = checks;
  for (const Tally& tally : tallies) {
    total.acked += tally.acked;
    total.refused += tally.refused;
  }
  std::printf(
      "T2 powercut: cycles=%d acked=%lld lost=%lld phantom=%lld torn=%lld restart_failures=%d "
      "cuts_in_snapshot=%d verified=%lld seed=%u\n",
      cycle, static_cast<long long>(total.acked), static_cast<long long>(total.lost),
      static_cast<long long>(total.phantom), static_cast<long long>(total.torn), restart_failures,
      cuts_in_snapshot, static_cast<long long>(total.verified), seed);
  INFO(absl::StrJoin(total.problems, "\n"));
  CHECK(restart_failures == 0);
  CHECK(total.lost == 0);
  CHECK(total.phantom == 0);
  CHECK(total.torn == 0);
  CHECK(total.acked > cycles * 10);  // the cuts did not stop every cycle before it started
}

}  // namespace
}  // namespace sochdb::testing
