// Tests for GraphStore's temporal edges: POINT_IN_TIME, RANGE and CURRENT with half-open
// intervals [valid_from, valid_until) at their boundary instants and open-ended ones (../shared
// UPSTREAM.md §2.3), directions IN and BOTH (upstream ignored direction), the edge type filter,
// ordering by valid_from, upserts by (from, type, to, valid_from), and EndTemporalEdge closing
// open intervals (its NOT_FOUND and INVALID_ARGUMENT cases), with both entries of every interval
// kept in step.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"

namespace sochdb::graph {
namespace {

using sochdb::testing::RequireError;
using sochdb::testing::ValueOrFail;
using testing::GraphFixture;
using testing::HalfEdges;
using Strings = std::vector<std::string>;

// The smart-home door: its state over time, who locked it, who opened it (incoming).
void BuildDoor(GraphFixture& f) {
  GraphStore& g = f.graph();
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"door", "state", "open", {{"by", "x"}}}, 1000, 2000}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"door", "state", "closed", {}}, 2000, 3000}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"door", "state", "open", {}}, 3000, 0}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"door", "locked_by", "alice", {}}, 1500, 2500}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"bob", "opened", "door", {}}, 1000, 1001}));
  // An ordinary edge is no temporal edge.
  f.AddEdge("ns", "door", "state", "painted");
}

// "from-type->to@valid_from" of each edge, in answer order.
Strings Names(const std::vector<TemporalEdge>& edges) {
  Strings names;
  for (const TemporalEdge& e : edges) {
    names.push_back(absl::StrCat(testing::Name(e.edge), "@", e.valid_from));
  }
  return names;
}

Strings At(GraphFixture& f, uint64_t timestamp, Direction direction = Direction::kOut,
           Strings types = {}) {
  TemporalQuery query;
  query.node = "door";
  query.mode = TemporalMode::kPointInTime;
  query.timestamp = timestamp;
  query.direction = direction;
  query.edge_types = std::move(types);
  return Names(ValueOrFail(f.graph().QueryTemporal("ns", query)));
}

Strings During(GraphFixture& f, uint64_t start, uint64_t end, Direction direction = Direction::kOut,
               Strings types = {}) {
  TemporalQuery query;
  query.node = "door";
  query.mode = TemporalMode::kRange;
  query.start_time = start;
  query.end_time = end;
  query.direction = direction;
  query.edge_types = std::move(types);
  return Names(ValueOrFail(f.graph().QueryTemporal("ns", query)));
}

TEST_CASE("POINT_IN_TIME: valid_from <= t < valid_until, boundaries and open ends", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  CHECK(At(f, 999).empty());
  CHECK(At(f, 1000) == Strings{"door-state->open@1000"});
  CHECK(At(f, 1999) == Strings{"door-state->open@1000", "door-locked_by->alice@1500"});
  CHECK(At(f, 2000) == Strings{"door-locked_by->alice@1500", "door-state->closed@2000"});
  CHECK(At(f, 2500) == Strings{"door-state->closed@2000"});
  CHECK(At(f, 3000) == Strings{"door-state->open@3000"});
  CHECK(At(f, std::numeric_limits<uint64_t>::max()) == Strings{"door-state->open@3000"});
  CHECK(At(f, 1999, Direction::kOut, {"state"}) == Strings{"door-state->open@1000"});
  CHECK(At(f, 1999, Direction::kOut, {"nothing"}).empty());
}

TEST_CASE("RANGE: half-open overlap with [start_time, end_time)", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  CHECK(During(f, 1500, 2000) == Strings{"door-state->open@1000", "door-locked_by->alice@1500"});
  CHECK(During(f, 2000, 2001) == Strings{"door-locked_by->alice@1500", "door-state->closed@2000"});
  CHECK(During(f, 2999, 3001) == Strings{"door-state->closed@2000", "door-state->open@3000"});
  CHECK(During(f, 0, 1000).empty());  // open@1000 starts at the range's (excluded) end
  CHECK(During(f, 2500, 2999) == Strings{"door-state->closed@2000"});  // locked ended at 2500
  CHECK(During(f, 1'000'000, 2'000'000) == Strings{"door-state->open@3000"});
  CHECK(During(f, 0, std::numeric_limits<uint64_t>::max()).size() == 4);
  CHECK(During(f, 0, 5000, Direction::kOut, {"locked_by"}) ==
        Strings{"door-locked_by->alice@1500"});
}

TEST_CASE("temporal queries honour direction: IN and BOTH", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  REQUIRE_OK(f.graph().AddTemporalEdge("ns", {{"door", "self", "door", {}}, 1000, 0}));
  CHECK(At(f, 1000, Direction::kIn) == Strings{"bob-opened->door@1000", "door-self->door@1000"});
  CHECK(At(f, 1001, Direction::kIn) == Strings{"door-self->door@1000"});
  // Ordered by (valid_from, from, type, to); the self-loop once.
  CHECK(At(f, 1000, Direction::kBoth) ==
        Strings{"bob-opened->door@1000", "door-self->door@1000", "door-state->open@1000"});
  CHECK(During(f, 0, 5000, Direction::kIn, {"opened"}) == Strings{"bob-opened->door@1000"});
  TemporalQuery bob;
  bob.node = "bob";
  bob.timestamp = 1000;
  CHECK(Names(ValueOrFail(f.graph().QueryTemporal("ns", bob))) == Strings{"bob-opened->door@1000"});
  bob.direction = Direction::kIn;
  CHECK(ValueOrFail(f.graph().QueryTemporal("ns", bob)).empty());
}

TEST_CASE("CURRENT reads the clock", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  const uint64_t now = static_cast<uint64_t>(f.clock().NowMillis());
  REQUIRE_OK(f.graph().AddTemporalEdge("ns", {{"door", "state", "ajar", {}}, now - 10, now + 10}));
  TemporalQuery current;
  current.node = "door";
  current.mode = TemporalMode::kCurrent;
  current.timestamp = 1000;  // ignored
  CHECK(Names(ValueOrFail(f.graph().QueryTemporal("ns", current))) ==
        Strings{"door-state->open@3000", absl::StrCat("door-state->ajar@", now - 10)});
  f.clock().AdvanceMicros(10'000);  // now + 10 ms: ajar has ended
  CHECK(Names(ValueOrFail(f.graph().QueryTemporal("ns", current))) ==
        Strings{"door-state->open@3000"});
}

TEST_CASE("a temporal edge is upserted by (from, type, to, valid_from)", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  REQUIRE_OK(
      f.graph().AddTemporalEdge("ns", {{"door", "state", "open", {{"by", "y"}}}, 1000, 1200}));
  TemporalQuery query;
  query.node = "door";
  query.timestamp = 1100;
  const std::vector<TemporalEdge> edges = ValueOrFail(f.graph().QueryTemporal("ns", query));
  REQUIRE(edges.size() == 1);
  CHECK(edges[0].valid_until == 1200);
  CHECK(edges[0].edge.properties == Properties{{"by", "y"}});
  CHECK(At(f, 1500) == Strings{"door-locked_by->alice@1500"});
  CHECK(HalfEdges(f.store()).empty());
}

TEST_CASE("EndTemporalEdge closes the open interval", "[graph]") {
  GraphFixture f;
  BuildDoor(f);
  TemporalEdge ended = ValueOrFail(f.graph().EndTemporalEdge("ns", "door", "state", "open", 5000));
  CHECK(testing::Name(ended.edge) == "door-state->open");
  CHECK(ended.valid_from == 3000);
  CHECK(ended.valid_until == 5000);
  CHECK(At(f, 4999) == Strings{"door-state->open@3000"});
  CHECK(At(f, 5000).empty());
  CHECK(At(f, 1500).size() == 2);  // the closed interval [1000, 2000) is untouched
  RequireError(f.graph().EndTemporalEdge("ns", "door", "state", "open", 6000).status(),
               absl::StatusCode::kNotFound, "No open temporal edge 'door' -[state]-> 'open'");
  RequireError(f.graph().EndTemporalEdge("ns", "door", "state", "nowhere", 6000).status(),
               absl::StatusCode::kNotFound, "No open temporal edge 'door' -[state]-> 'nowhere'");
  // The reverse entry was closed with it.
  TemporalQuery in;
  in.node = "open";
  in.direction = Direction::kIn;
  in.timestamp = 5000;
  CHECK(ValueOrFail(f.graph().QueryTemporal("ns", in)).empty());
  in.timestamp = 4999;
  CHECK(ValueOrFail(f.graph().QueryTemporal("ns", in)).size() == 1);
  CHECK(HalfEdges(f.store()).empty());
}

TEST_CASE("EndTemporalEdge: several open intervals, now, and an end before the start", "[graph]") {
  GraphFixture f;
  GraphStore& g = f.graph();
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"x", "t", "w", {}}, 100, 0}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"x", "t", "w", {}}, 200, 0}));
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"x", "t", "w", {}}, 10, 50}));
  const absl::Status before = g.EndTemporalEdge("ns", "x", "t", "w", 150).status();
  INFO(before.ToString());
  CHECK(before.code() == absl::StatusCode::kInvalidArgument);  // the one from 200 is after it
  const absl::Status at = g.EndTemporalEdge("ns", "x", "t", "w", 200).status();
  CHECK(at.code() == absl::StatusCode::kInvalidArgument);  // at its start: an empty interval
  TemporalQuery query;
  query.node = "x";
  query.timestamp = 10'000;
  CHECK(ValueOrFail(g.QueryTemporal("ns", query)).size() == 2);  // nothing was changed

  TemporalEdge latest = ValueOrFail(g.EndTemporalEdge("ns", "x", "t", "w", 300));
  CHECK(latest.valid_from == 200);
  CHECK(latest.valid_until == 300);
  query.mode = TemporalMode::kRange;
  query.start_time = 0;
  query.end_time = 10'000;
  const std::vector<TemporalEdge> all = ValueOrFail(g.QueryTemporal("ns", query));
  REQUIRE(all.size() == 3);
  CHECK(all[0].valid_until == 50);
  CHECK(all[1].valid_until == 300);
  CHECK(all[2].valid_until == 300);

  const uint64_t now = static_cast<uint64_t>(f.clock().NowMillis());
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"x", "t", "z", {}}, now - 1000, 0}));
  CHECK(ValueOrFail(g.EndTemporalEdge("ns", "x", "t", "z", 0)).valid_until == now);
  CHECK(HalfEdges(f.store()).empty());
}

TEST_CASE("a temporal query reads under the edge-read cap and its stop check", "[graph]") {
  GraphLimits limits;
  limits.max_edges_examined = 50;
  GraphFixture f(limits);
  for (uint64_t i = 0; i < 60; ++i) {
    REQUIRE_OK(f.graph().AddTemporalEdge(
        "ns", TemporalEdge{Edge{"sensor", "reading", "v", {}}, 1000 + 10 * i, 1005 + 10 * i}));
  }
  // One interval matches, but all 60 are read: past the cap.
  TemporalQuery query;
  query.node = "sensor";
  query.timestamp = 1002;
  RequireError(f.graph().QueryTemporal("ns", query).status(), absl::StatusCode::kResourceExhausted,
               "QueryTemporalGraph read more than 50 edges (the server's cap); narrow edge_types "
               "or direction");
  GraphFixture g;
  for (uint64_t i = 0; i < 600; ++i) {
    REQUIRE_OK(g.graph().AddTemporalEdge(
        "ns", TemporalEdge{Edge{"sensor", "reading", "v", {}}, 1000 + 10 * i, 1005 + 10 * i}));
  }
  query.stop = [] { return absl::DeadlineExceededError("out of time"); };
  RequireError(g.graph().QueryTemporal("ns", query).status(), absl::StatusCode::kDeadlineExceeded,
               "out of time");
}

}  // namespace
}  // namespace sochdb::graph
