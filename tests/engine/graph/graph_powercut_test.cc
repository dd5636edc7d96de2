// Power cuts during bulk edge loading (the graph's part of the reliability suite's T2,
// ../shared/RELIABILITY.md): AddEdges batches and DeleteNode calls run on a SimulatedDisk in sync
// mode full until the power goes off at a random disk call; the disk is rebooted as the cut left
// it and the store reopened. Then: every acknowledged edge is there with its last acknowledged
// properties (LOST otherwise), no edge is there that was never written (PHANTOM), the call the
// cut interrupted landed whole or not at all (TORN), and every out entry has its in entry and
// vice versa (HALF). Prints one line:
//   graph powercut: cycles=60 acked_batches=... acked_edges=... lost=0 phantom=0 torn=0 half=0
// SOCHDB_RELIABILITY_PROFILE=long runs 1,000 cycles; SOCHDB_RELIABILITY_SEED=<n> replays a run.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/graph_store.h"
#include "spdlog/spdlog.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"
#include "tests/engine/storage/simulated_disk.h"

namespace sochdb::graph {
namespace {

using storage::testing::SimulatedDisk;
using testing::GraphFixture;
using EdgeId = std::tuple<std::string, std::string, std::string>;  // from, type, to
using Model = std::map<EdgeId, std::string>;                       // -> its "batch" property

constexpr int kPool = 60;  // node ids n0..n59
constexpr int kStepsPerCycle = 40;

struct Tally {
  int64_t acked_batches = 0, acked_edges = 0, lost = 0, phantom = 0, torn = 0, half = 0;
  std::vector<std::string> problems;  // the first few

  void Problem(int64_t* counter, std::string what) {
    ++*counter;
    if (problems.size() < 10) problems.push_back(std::move(what));
  }
};

// The call a cut may have interrupted: a batch (edges all carrying batch = its number) or the
// deletion of one node.
struct InFlight {
  std::vector<Edge> batch;
  std::optional<std::string> deleted_node;
};

bool Touches(const EdgeId& id, const std::string& node) {
  return std::get<0>(id) == node || std::get<2>(id) == node;
}

// One random call; true when acknowledged. Acknowledged calls go into `model`; the refused one
// is left in `in_flight`.
bool Step(GraphFixture& f, std::mt19937& rng, int64_t* batch_number, Model* model,
          InFlight* in_flight, Tally* tally) {
  auto pick = [&rng] {
    return absl::StrCat("n", std::uniform_int_distribution<>(0, kPool - 1)(rng));
  };
  *in_flight = InFlight{};
  if (std::uniform_int_distribution<>(0, 99)(rng) < 10) {
    const std::string node = pick();
    in_flight->deleted_node = node;
    const absl::Status status = f.graph().DeleteNode("ns", node);
    if (!status.ok() && status.code() != absl::StatusCode::kNotFound) return false;
    for (auto it = model->begin(); it != model->end();) {
      it = Touches(it->first, node) ? model->erase(it) : std::next(it);
    }
    return true;
  }
  const std::string number = absl::StrCat(++*batch_number);
  const int size = std::uniform_int_distribution<>(1, 120)(rng);
  for (int i = 0; i < size; ++i) {
    in_flight->batch.push_back({pick(), absl::StrCat("t", i % 3), pick(), {{"batch", number}}});
  }
  if (!f.graph().AddEdges("ns", in_flight->batch).ok()) return false;
  for (const Edge& e : in_flight->batch) (*model)[{e.from, e.type, e.to}] = number;
  ++tally->acked_batches;
  tally->acked_edges += size;
  return true;
}

// Every plain edge in the store, by its out entries, with its batch property.
Model Observe(GraphFixture& f) {
  Model seen;
  for (const testing::RawGraphKey& key : testing::ScanGraphKeys(f.store())) {
    if (key.family != storage::KeyFamily::kGraphOutEdge) continue;
    const Edge edge =
        sochdb::testing::ValueOrFail(f.graph().GetEdge("ns", key.first, key.type, key.second));
    seen[{edge.from, edge.type, edge.to}] = edge.properties.at("batch");
  }
  return seen;
}

// Compares what the store holds after the reboot with the model and the interrupted call, and
// returns the new model (the interrupted call applied if it landed).
Model Verify(GraphFixture& f, const Model& model, const InFlight& in_flight, Tally* tally) {
  for (const std::string& half : testing::HalfEdges(f.store())) tally->Problem(&tally->half, half);
  const Model seen = Observe(f);
  // The interrupted call's outcome: did it land?
  bool landed = false;
  if (in_flight.deleted_node) {
    landed = testing::KeysMentioning(f.store(), "ns", *in_flight.deleted_node).empty();
  } else if (!in_flight.batch.empty()) {
    size_t present = 0;
    const std::string number = in_flight.batch[0].properties.at("batch");
    std::map<EdgeId, bool> distinct;
    for (const Edge& e : in_flight.batch) distinct[{e.from, e.type, e.to}] = true;
    for (const auto& [id, unused] : distinct) {
      auto it = seen.find(id);
      present += it != seen.end() && it->second == number;
    }
    landed = present == distinct.size();
    if (present != 0 && !landed) {
      tally->Problem(&tally->torn, absl::StrCat("batch ", number, ": ", present, " of ",
                                                distinct.size(), " edges"));
    }
  }
  Model expected = model;
  if (landed && in_flight.deleted_node) {
    for (auto it = expected.begin(); it != expected.end();) {
      it = Touches(it->first, *in_flight.deleted_node) ? expected.erase(it) : std::next(it);
    }
  } else if (landed) {
    for (const Edge& e : in_flight.batch) {
      expected[{e.from, e.type, e.to}] = e.properties.at("batch");
    }
  }
  for (const auto& [id, number] : expected) {
    auto it = seen.find(id);
    if (it == seen.end() || it->second != number) {
      tally->Problem(&tally->lost, absl::StrCat(std::get<0>(id), "-", std::get<1>(id), "->",
                                                std::get<2>(id), " batch ", number));
    }
  }
  for (const auto& [id, number] : seen) {
    if (expected.count(id) == 0) {
      tally->Problem(&tally->phantom, absl::StrCat(std::get<0>(id), "-", std::get<1>(id), "->",
                                                   std::get<2>(id), " batch ", number));
    }
  }
  return seen;
}

uint32_t Seed() {
  const char* seed = std::getenv("SOCHDB_RELIABILITY_SEED");
  return seed != nullptr ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10)) : 20261207u;
}

TEST_CASE("graph power cut: acknowledged edges survive whole, no half-edge", "[reliability]") {
  spdlog::set_level(spdlog::level::off);  // every cut makes the store log errors
  const char* profile = std::getenv("SOCHDB_RELIABILITY_PROFILE");
  const int cycles = profile != nullptr && std::string(profile) == "long" ? 1000 : 60;
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  SimulatedDisk disk;
  storage::StoreOptions options;
  options.env = disk.env();
  options.sync_mode = storage::SyncMode::kFull;
  options.write_buffer_bytes = 64 << 10;  // table files, compactions and manifest edits too
  auto f = std::make_unique<GraphFixture>("/data/graph", options);
  Model model;
  Tally tally;
  int64_t batch_number = 0;
  int64_t calls_per_cycle = 0;
  int cuts_landed = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const int64_t start = disk.calls();
    if (cycle > 0) {
      disk.PowerCutAfter(std::uniform_int_distribution<int64_t>(0, calls_per_cycle - 1)(rng));
    }
    InFlight in_flight;
    for (int step = 0; step < kStepsPerCycle; ++step) {
      if (!Step(*f, rng, &batch_number, &model, &in_flight, &tally)) break;
      in_flight = InFlight{};
    }
    if (cycle == 0) calls_per_cycle = std::max<int64_t>(disk.calls() - start, 1);
    cuts_landed += !disk.powered();
    disk.PowerCut();  // a cut the cycle did not reach happens at its end
    f->Close();
    disk.Reboot();
    f->Reopen();
    model = Verify(*f, model, in_flight, &tally);
  }
  std::printf(
      "graph powercut: cycles=%d cuts_in_writes=%d acked_batches=%lld acked_edges=%lld "
      "edges_now=%zu lost=%lld phantom=%lld torn=%lld half=%lld seed=%u\n",
      cycles, cuts_landed, static_cast<long long>(tally.acked_batches),
      static_cast<long long>(tally.acked_edges), model.size(), static_cast<long long>(tally.lost),
      static_cast<long long>(tally.phantom), static_cast<long long>(tally.torn),
      static_cast<long long>(tally.half), seed);
  INFO(absl::StrJoin(tally.problems, "\n"));
  CHECK(tally.lost == 0);
  CHECK(tally.phantom == 0);
  CHECK(tally.torn == 0);
  CHECK(tally.half == 0);
  CHECK(cuts_landed > cycles / 2);  // most cuts fell among the writes
  CHECK(tally.acked_batches > cycles);
}

}  // namespace
}  // namespace sochdb::graph
