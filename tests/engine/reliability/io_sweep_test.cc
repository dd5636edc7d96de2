// T3 of the reliability suite (../shared/RELIABILITY.md): the I/O error sweep (after SQLite's
// "fail the Nth I/O"). A fixed workload — open the engine, 120 mixed writes and snapshot passes
// through one actor (KV Put/Delete/BatchPut, vector InsertBatch, vector snapshots), close — runs
// on a SimulatedDisk once clean, to count the C calls that change the disk (LevelDB's log, table,
// manifest and CURRENT files, and the snapshot files), then once for each N in 1..C with the Nth
// call failing: transient (only that call; a failed append writes half its data, torn) and
// persistent (every call from the Nth on). After each faulted run the faults are cleared, the
// engine reopened and everything read back against the actor's model.
//
// Pass rule: every run ends (a crash fails the binary); reopen failures = 0; acknowledged writes
// lost = 0, phantoms = 0, torn batches = 0; and no write is answered OK once a storage write
// call has failed (ok_after_fault = 0) until the reopen. Failures of snapshot writes, and of
// LevelDB's removal of obsolete files, may be followed by OKs: a snapshot is derived data and
// is retried, a removal is harmless; they must still lose nothing. Prints one line:
//   T3 io-sweep: calls=... runs=... faults=... acked=... lost=0 phantom=0 torn=0
//   ok_after_fault=0 reopen_failures=0 (by call: append=... sync=... ...)
//
// Profiles: CI (default) 120 steps, every N (a stride past 1,000 calls), plus every
// N whose call is the first of its kind and file; SOCHDB_RELIABILITY_PROFILE=long 400 steps,
// every N.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "leveldb/env.h"
#include "spdlog/spdlog.h"
#include "tests/common/wait_until.h"
#include "tests/engine/reliability/engine_model.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::testing {
namespace {

using storage::testing::DiskOp;
using storage::testing::DiskOpName;
using storage::testing::SimulatedDisk;

constexpr uint32_t kSeed = 20261207u;
constexpr int kWarmupSteps = 30;
int SweptSteps() { return LongProfile() ? 400 : 120; }
constexpr int64_t kCiRunsPerPersistence = 1000;

struct SweepTally {
  Tally model;
  int64_t runs = 0;
  int64_t faults = 0;  // runs in which the injected fault fired
  int64_t ok_after_fault = 0;
  int64_t latch_misses = 0;  // store write faults that did not latch the fault state
  int64_t reopen_failures = 0;
  std::map<std::string, int64_t> fired_by_op;
  std::vector<std::string> ok_after_fault_examples;
};

// Whether a failed call is one the store must answer with a refusal of every later write:
// any of LevelDB's file writes, except the removal of an obsolete file and the info log's
// rotation (LevelDB ignores both; they touch no data). Snapshot files are not the store's.
bool StoreWriteFault(const SimulatedDisk::Call& call) {
  return call.via_env && call.op != DiskOp::kRemove && call.op != DiskOp::kMakeDir &&
         !absl::EndsWith(call.path, "/LOG.old");
}

EngineOptions SweepOptions(SimulatedDisk& disk) {
  EngineOptions options = SimulatedEngineOptions(disk.env(), disk.files());
  // Snapshots only where the workload asks for them, so the sweep's calls stay in order.
  options.vector_maintenance_interval = absl::Hours(1);
  return options;
}

// The disk after the unfaulted part: the index created and some data written and closed.
void Prepare(SimulatedDisk& disk, ModelActor& actor) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(SweepOptions(disk));
  REQUIRE(engine.ok());
  REQUIRE(actor.Setup(**engine).ok());
  Tally ignored;
  for (int step = 0; step < kWarmupSteps; ++step) {
    REQUIRE(actor.Step(**engine, &ignored) != ModelActor::Outcome::kRefused);
  }
}

// Opens the engine, runs the swept steps and closes it. Counts the writes answered OK once the
// store is in its fault state (which the latch sets inside the failing call, before LevelDB
// sees the failure, so this takes in every write that started after a store write call had
// failed), and the store write faults that did not latch it.
void RunWorkload(SimulatedDisk& disk, ModelActor& actor, SweepTally* tally) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(SweepOptions(disk));
  if (!engine.ok()) return;  // a fault at open: nothing acknowledged
  const storage::Store& store = (*engine)->store();
  for (int step = 0; step < SweptSteps(); ++step) {
    const bool faulted = store.faulted();
    if (actor.Step(**engine, &tally->model) == ModelActor::Outcome::kAcked && faulted) {
      ++tally->ok_after_fault;
      if (tally->ok_after_fault_examples.size() < 4) {
        tally->ok_after_fault_examples.push_back(
            absl::StrCat("step ", step, ": an OK in the fault state"));
      }
    }
  }
  // A store write fault during the steps must have latched (its call may still be returning,
  // in LevelDB's background thread).
  const std::optional<SimulatedDisk::Call> fault = disk.first_failure();
  if (fault.has_value() && StoreWriteFault(*fault) && !WaitUntil([&] { return store.faulted(); })) {
    ++tally->latch_misses;
    tally->ok_after_fault_examples.push_back(absl::StrCat(
        "the ", std::string(DiskOpName(fault->op)), " of ", fault->path, " failed (call ",
        fault->number, ") and the store did not enter its fault state"));
  }
}

// One run with call `n` of the swept part failing. Returns the number of swept calls.
int64_t RunOnce(int64_t n, SimulatedDisk::Persistence persistence, SweepTally* tally) {
  SimulatedDisk disk;
  ModelActor actor(0, kSeed);
  Prepare(disk, actor);
  const int64_t start = disk.calls();
  if (n > 0) {
    disk.FailAfter(n - 1, persistence,
                   /*torn=*/persistence == SimulatedDisk::Persistence::kTransient);
  }
  RunWorkload(disk, actor, tally);
  const int64_t swept = disk.calls() - start;
  std::string disk_fault = "nothing";
  if (const std::optional<SimulatedDisk::Call> fault = disk.first_failure()) {
    disk_fault = absl::StrCat("the ", std::string(DiskOpName(fault->op)), " of ", fault->path);
    ++tally->faults;
    ++tally->fired_by_op[std::string(DiskOpName(fault->op)) + (fault->via_env ? "" : "(snap)")];
  }
  // A transient fault is followed by a restart; a persistent one (a failing disk) by a power
  // cut too, which only what was synced survives.
  if (persistence == SimulatedDisk::Persistence::kPersistent) {
    disk.PowerCut();
    disk.Reboot();
  }
  disk.ClearFaults();
  ++tally->runs;
  absl::StatusOr<std::unique_ptr<Engine>> reopened = Engine::Open(SweepOptions(disk));
  if (!reopened.ok()) {
    ++tally->reopen_failures;
    if (tally->model.problems.size() < 8) {
      std::vector<std::string> files;
      if (!disk.env()->GetChildren("/data/store", &files).ok()) files.clear();
      std::vector<std::string> sizes;
      for (const std::string& file : files) {
        sizes.push_back(absl::StrCat(file, ":", disk.Contents("/data/store/" + file)->size()));
      }
      tally->model.problems.push_back(
          absl::StrCat("reopen after call ", n,
                       persistence == SimulatedDisk::Persistence::kTransient ? " (transient, "
                                                                             : " (persistent, ",
                       disk_fault, " failed): ", reopened.status().ToString(), "; files ",
                       absl::StrJoin(sizes, " ")));
    }
    return swept;
  }
  const size_t problems = tally->model.problems.size();
  actor.Verify(**reopened, &tally->model);
  for (size_t i = problems; i < tally->model.problems.size(); ++i) {
    tally->model.problems[i] = absl::StrCat("run ", n, ": ", tally->model.problems[i]);
  }
  return swept;
}

// The Ns to sweep: all of them in the long profile; in CI a stride, plus the first call of each
// kind on each file type (so every kind of call fails at least once).
std::vector<int64_t> SweptCalls(const std::vector<SimulatedDisk::Call>& calls) {
  std::vector<int64_t> chosen;
  const int64_t total = static_cast<int64_t>(calls.size());
  const int64_t stride = LongProfile() ? 1 : std::max<int64_t>(1, total / kCiRunsPerPersistence);
  std::set<std::string> kinds;
  for (int64_t n = 1; n <= total; ++n) {
    const SimulatedDisk::Call& call = calls[n - 1];
    const size_t dot = call.path.rfind('.');
    const std::string kind =
        absl::StrCat(std::string(DiskOpName(call.op)), call.via_env ? "" : "(snap)",
                     dot == std::string::npos ? "" : call.path.substr(dot));
    if (kinds.insert(kind).second || n % stride == 0) chosen.push_back(n);
  }
  return chosen;
}

TEST_CASE("T3 I/O error sweep: no crash, no acknowledged loss, no OK after a fault",
          "[reliability]") {
  spdlog::set_level(spdlog::level::off);  // every run makes the store log its fault
  // The clean run: the calls to sweep, and the workload's baseline.
  std::vector<SimulatedDisk::Call> calls;
  {
    SimulatedDisk disk;
    ModelActor actor(0, kSeed);
    Prepare(disk, actor);
    const int64_t start = disk.calls();
    SweepTally clean;
    RunWorkload(disk, actor, &clean);
    const std::vector<SimulatedDisk::Call> trace = disk.trace();
    calls.assign(trace.begin() + start, trace.end());
    REQUIRE(clean.model.refused == 0);
  }
  std::vector<int64_t> swept = SweptCalls(calls);
  if (const char* only = std::getenv("SOCHDB_RELIABILITY_CALL")) swept = {std::atoll(only)};

  SweepTally tally;
  for (int64_t n : swept) {
    RunOnce(n, SimulatedDisk::Persistence::kTransient, &tally);
    RunOnce(n, SimulatedDisk::Persistence::kPersistent, &tally);
  }

  std::vector<std::string> by_op;
  for (const auto& [op, count] : tally.fired_by_op) by_op.push_back(absl::StrCat(op, "=", count));
  std::printf(
      "T3 io-sweep: calls=%zu runs=%lld faults=%lld acked=%lld lost=%lld phantom=%lld torn=%lld "
      "ok_after_fault=%lld latch_misses=%lld reopen_failures=%lld (by call: %s)\n",
      calls.size(), static_cast<long long>(tally.runs), static_cast<long long>(tally.faults),
      static_cast<long long>(tally.model.acked), static_cast<long long>(tally.model.lost),
      static_cast<long long>(tally.model.phantom), static_cast<long long>(tally.model.torn),
      static_cast<long long>(tally.ok_after_fault), static_cast<long long>(tally.latch_misses),
      static_cast<long long>(tally.reopen_failures), absl::StrJoin(by_op, " ").c_str());
  INFO(absl::StrJoin(tally.model.problems, "\n")
       << "\n"
       << absl::StrJoin(tally.ok_after_fault_examples, "\n"));
  CHECK(tally.reopen_failures == 0);
  CHECK(tally.model.lost == 0);
  CHECK(tally.model.phantom == 0);
  CHECK(tally.model.torn == 0);
  CHECK(tally.ok_after_fault == 0);
  CHECK(tally.latch_misses == 0);
  CHECK(tally.faults > tally.runs / 2);  // the sweep reached its calls
}

}  // namespace
}  // namespace sochdb::testing
