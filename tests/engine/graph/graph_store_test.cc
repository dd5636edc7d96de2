// Tests for GraphStore's writes: node and edge CRUD, upserts that replace properties, DeleteNode
// removing every edge and temporal edge touching the node in both directions (checked on the raw
// key families, with no half-edge left anywhere), namespaces holding the same ids apart, and a
// reopened store holding everything.
#include "engine/graph/graph_store.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::graph {
namespace {

using sochdb::testing::RequireError;
using sochdb::testing::ValueOrFail;
using testing::GraphFixture;
using testing::HalfEdges;
using testing::KeysMentioning;
using testing::Names;
using testing::ScanGraphKeys;

std::vector<std::string> EdgeNames(const GraphStore& graph, std::string_view ns,
                                   std::string_view node, Direction direction) {
  EdgeQuery query;
  query.node = std::string(node);
  query.direction = direction;
  return Names(ValueOrFail(graph.GetEdges(ns, query)).edges);
}

TEST_CASE("nodes: add, get, upsert replaces type and properties, delete", "[graph]") {
  GraphFixture f;
  RequireError(f.graph().GetNode("ns", "alice").status(), absl::StatusCode::kNotFound,
               "Node 'alice' not found");
  f.AddNode("ns", "alice", "person", {{"age", "30"}, {"city", "Oslo"}});
  Node alice = ValueOrFail(f.graph().GetNode("ns", "alice"));
  CHECK(alice.id == "alice");
  CHECK(alice.type == "person");
  CHECK(alice.properties == Properties{{"age", "30"}, {"city", "Oslo"}});

  f.AddNode("ns", "alice", "agent", {{"role", "planner"}});
  alice = ValueOrFail(f.graph().GetNode("ns", "alice"));
  CHECK(alice.type == "agent");
  CHECK(alice.properties == Properties{{"role", "planner"}});  // "age" and "city" are gone

  f.AddNode("ns", "empty", "", {});  // an empty type and no properties are a node
  CHECK(ValueOrFail(f.graph().GetNode("ns", "empty")).type == "");

  REQUIRE_OK(f.graph().DeleteNode("ns", "alice"));
  RequireError(f.graph().GetNode("ns", "alice").status(), absl::StatusCode::kNotFound,
               "Node 'alice' not found");
  RequireError(f.graph().DeleteNode("ns", "alice"), absl::StatusCode::kNotFound,
               "Node 'alice' not found");
}

TEST_CASE("AddNodes: one call, a node given twice ends as its last copy", "[graph]") {
  GraphFixture f;
  const std::vector<Node> nodes = {
      {"a", "t1", {{"v", "1"}}}, {"b", "t2", {}}, {"a", "t3", {{"w", "2"}}}};
  REQUIRE_OK(f.graph().AddNodes("ns", nodes));
  const Node a = ValueOrFail(f.graph().GetNode("ns", "a"));
  CHECK(a.type == "t3");
  CHECK(a.properties == Properties{{"w", "2"}});
  CHECK(ValueOrFail(f.graph().GetNode("ns", "b")).type == "t2");
  REQUIRE_OK(f.graph().AddNodes("ns", {}));  // nothing to do is fine
}

TEST_CASE("edges: add, get, upsert replaces properties, one edge per (from, type, to)", "[graph]") {
  GraphFixture f;
  RequireError(f.graph().GetEdge("ns", "a", "knows", "b").status(), absl::StatusCode::kNotFound,
               "Edge not found");
  f.AddEdge("ns", "a", "knows", "b", {{"since", "2020"}, {"weight", "1"}});
  Edge edge = ValueOrFail(f.graph().GetEdge("ns", "a", "knows", "b"));
  CHECK(edge.from == "a");
  CHECK(edge.type == "knows");
  CHECK(edge.to == "b");
  CHECK(edge.properties == Properties{{"since", "2020"}, {"weight", "1"}});

  f.AddEdge("ns", "a", "knows", "b", {{"since", "2021"}});
  edge = ValueOrFail(f.graph().GetEdge("ns", "a", "knows", "b"));
  CHECK(edge.properties == Properties{{"since", "2021"}});
  CHECK(EdgeNames(f.graph(), "ns", "a", Direction::kOut) == std::vector<std::string>{"a-knows->b"});
  // The reverse entry carries the new properties too.
  EdgeQuery incoming;
  incoming.node = "b";
  incoming.direction = Direction::kIn;
  const EdgePage in = ValueOrFail(f.graph().GetEdges("ns", incoming));
  REQUIRE(in.edges.size() == 1);
  CHECK(in.edges[0].properties == Properties{{"since", "2021"}});

  // Same endpoints, another type, or the other direction: other edges.
  f.AddEdge("ns", "a", "likes", "b");
  f.AddEdge("ns", "b", "knows", "a");
  CHECK(EdgeNames(f.graph(), "ns", "a", Direction::kOut) ==
        std::vector<std::string>{"a-knows->b", "a-likes->b"});
  // Endpoints need not exist as nodes, and GetNode does not invent them.
  CHECK(f.graph().GetNode("ns", "a").status().code() == absl::StatusCode::kNotFound);

  REQUIRE_OK(f.graph().DeleteEdge("ns", "a", "knows", "b"));
  RequireError(f.graph().GetEdge("ns", "a", "knows", "b").status(), absl::StatusCode::kNotFound,
               "Edge not found");
  RequireError(f.graph().DeleteEdge("ns", "a", "knows", "b"), absl::StatusCode::kNotFound,
               "Edge not found");
  CHECK(EdgeNames(f.graph(), "ns", "b", Direction::kIn) == std::vector<std::string>{"a-likes->b"});
  CHECK(HalfEdges(f.store()).empty());
}

TEST_CASE("AddEdges: one call writes both entries of every edge; the last copy wins", "[graph]") {
  GraphFixture f;
  std::vector<Edge> edges;
  for (int i = 0; i < 50; ++i) {
    edges.push_back({"hub", "t" + std::to_string(i % 3), "n" + std::to_string(i), {}});
  }
  edges.push_back({"hub", "t0", "n0", {{"copy", "last"}}});
  REQUIRE_OK(f.graph().AddEdges("ns", edges));
  CHECK(EdgeNames(f.graph(), "ns", "hub", Direction::kOut).size() == 50);
  CHECK(ValueOrFail(f.graph().GetEdge("ns", "hub", "t0", "n0")).properties ==
        Properties{{"copy", "last"}});
  CHECK(HalfEdges(f.store()).empty());
  size_t out_entries = 0, in_entries = 0;
  for (const testing::RawGraphKey& key : ScanGraphKeys(f.store())) {
    out_entries += key.family == storage::KeyFamily::kGraphOutEdge;
    in_entries += key.family == storage::KeyFamily::kGraphInEdge;
  }
  CHECK(out_entries == 50);
  CHECK(in_entries == 50);
}

// A graph around "x" with edges in both directions, a self-loop, temporal edges both ways, and
// bystanders whose edges must survive x's deletion.
void BuildAroundX(GraphFixture& f, std::string_view ns) {
  f.AddNode(ns, "x", "thing", {{"p", "1"}});
  f.AddNode(ns, "y");
  f.AddEdge(ns, "x", "a", "y");
  f.AddEdge(ns, "x", "b", "z");
  f.AddEdge(ns, "y", "a", "x");
  f.AddEdge(ns, "w", "c", "x");
  f.AddEdge(ns, "x", "loop", "x");
  f.AddEdge(ns, "y", "a", "z");   // a bystander
  f.AddEdge(ns, "xx", "a", "y");  // an id that has x as a prefix
  REQUIRE_OK(f.graph().AddTemporalEdge(ns, {{"x", "at", "room", {}}, 100, 200}));
  REQUIRE_OK(f.graph().AddTemporalEdge(ns, {{"x", "at", "room", {}}, 300, 0}));
  REQUIRE_OK(f.graph().AddTemporalEdge(ns, {{"door", "seen_by", "x", {}}, 150, 0}));
  REQUIRE_OK(f.graph().AddTemporalEdge(ns, {{"door", "seen_by", "y", {}}, 150, 0}));
}

TEST_CASE("DeleteNode removes every edge and temporal edge touching it, both directions",
          "[graph]") {
  GraphFixture f;
  BuildAroundX(f, "ns");
  BuildAroundX(f, "other");  // the same ids in another namespace stay
  REQUIRE_FALSE(KeysMentioning(f.store(), "ns", "x").empty());

  REQUIRE_OK(f.graph().DeleteNode("ns", "x"));
  INFO(Catch::Detail::stringify(KeysMentioning(f.store(), "ns", "x")));
  CHECK(KeysMentioning(f.store(), "ns", "x").empty());
  INFO(Catch::Detail::stringify(HalfEdges(f.store())));
  CHECK(HalfEdges(f.store()).empty());
  CHECK(EdgeNames(f.graph(), "ns", "y", Direction::kBoth) ==
        std::vector<std::string>{"y-a->z", "xx-a->y"});
  CHECK(EdgeNames(f.graph(), "ns", "z", Direction::kIn) == std::vector<std::string>{"y-a->z"});
  CHECK(EdgeNames(f.graph(), "ns", "w", Direction::kOut).empty());
  TemporalQuery door;
  door.node = "door";
  door.timestamp = 160;
  CHECK(ValueOrFail(f.graph().QueryTemporal("ns", door)).size() == 1);  // door -> y

  // The node, 5 edges and 3 temporal edges, two entries each.
  CHECK(KeysMentioning(f.store(), "other", "x").size() == 1 + 2 * 5 + 2 * 3);
  CHECK(EdgeNames(f.graph(), "other", "x", Direction::kBoth).size() == 5);
}

TEST_CASE("DeleteNode of an id with edges but no node removes the edges", "[graph]") {
  GraphFixture f;
  f.AddEdge("ns", "a", "t", "ghost");
  f.AddEdge("ns", "ghost", "t", "b");
  REQUIRE_OK(f.graph().DeleteNode("ns", "ghost"));
  CHECK(KeysMentioning(f.store(), "ns", "ghost").empty());
  CHECK(HalfEdges(f.store()).empty());
  RequireError(f.graph().DeleteNode("ns", "ghost"), absl::StatusCode::kNotFound,
               "Node 'ghost' not found");
}

TEST_CASE("an EndTemporalEdge racing DeleteNode never brings the node's interval back", "[graph]") {
  // DeleteNode's write is held inside its log append while EndTemporalEdge runs: had End read
  // the open interval before the deletion landed, its rewrite of both entries would land after
  // it, and the deleted node's temporal edge would be back.
  std::unique_ptr<leveldb::Env> mem_env(leveldb::NewMemEnv(leveldb::Env::Default()));
  storage::testing::FaultInjectionEnv env(mem_env.get());
  storage::StoreOptions options;
  options.env = &env;
  GraphFixture f("/mem/graph", options);
  REQUIRE_OK(f.graph().AddTemporalEdge("ns", {{"x", "at", "room", {}}, 100, 0}));
  absl::Notification held;
  env.SetAppendHook([&held](bool) {
    if (held.HasBeenNotified()) return;
    held.Notify();
    absl::SleepFor(absl::Milliseconds(300));  // End reads and queues its write meanwhile
  });
  absl::Status deleted;
  std::thread deleter([&] { deleted = f.graph().DeleteNode("ns", "x"); });
  held.WaitForNotification();
  env.SetAppendHook(nullptr);
  const absl::Status ended = f.graph().EndTemporalEdge("ns", "x", "at", "room", 500).status();
  deleter.join();
  REQUIRE_OK(deleted);
  INFO("EndTemporalEdge: " << ended.ToString());
  CHECK(KeysMentioning(f.store(), "ns", "x").empty());
  CHECK(HalfEdges(f.store()).empty());
}

TEST_CASE("DeleteNode refuses a node with more edges than max_node_delete_edges", "[graph]") {
  GraphLimits limits;
  limits.max_node_delete_edges = 5;
  GraphFixture f(limits);
  for (int i = 0; i < 6; ++i) f.AddEdge("ns", "big", "t", "n" + std::to_string(i));
  const absl::Status status = f.graph().DeleteNode("ns", "big");
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(status.message()).find('5') != std::string::npos);
  CHECK(EdgeNames(f.graph(), "ns", "big", Direction::kOut).size() == 6);  // nothing removed
  f.AddEdge("ns", "small", "t", "big");
  REQUIRE_OK(f.graph().DeleteEdge("ns", "big", "t", "n0"));
  REQUIRE_OK(f.graph().DeleteNode("ns", "small"));  // 1 edge
  REQUIRE_OK(f.graph().DeleteNode("ns", "big"));    // 5 edges: at the limit is fine
  CHECK(KeysMentioning(f.store(), "ns", "big").empty());
}

TEST_CASE("namespaces hold the same ids apart", "[graph]") {
  GraphFixture f;
  f.AddNode("a", "n", "in-a");
  f.AddNode("b", "n", "in-b");
  f.AddEdge("a", "n", "t", "m", {{"ns", "a"}});
  f.AddEdge("b", "n", "t", "m", {{"ns", "b"}});
  f.AddEdge("a:b", "n", "t", "other");  // names are length-prefixed: no bleed into "a"
  CHECK(ValueOrFail(f.graph().GetNode("a", "n")).type == "in-a");
  CHECK(ValueOrFail(f.graph().GetNode("b", "n")).type == "in-b");
  CHECK(ValueOrFail(f.graph().GetEdge("b", "n", "t", "m")).properties == Properties{{"ns", "b"}});
  CHECK(EdgeNames(f.graph(), "a", "n", Direction::kBoth) == std::vector<std::string>{"n-t->m"});
  REQUIRE_OK(f.graph().DeleteNode("a", "n"));
  CHECK(ValueOrFail(f.graph().GetNode("b", "n")).type == "in-b");
  CHECK(EdgeNames(f.graph(), "b", "m", Direction::kIn) == std::vector<std::string>{"n-t->m"});
  CHECK(f.graph().GetNode("c", "n").status().code() == absl::StatusCode::kNotFound);
  TraverseQuery query;
  query.start = "n";
  query.max_depth = 3;
  CHECK(testing::Ids(ValueOrFail(f.graph().Traverse("b", query)).nodes) ==
        std::vector<std::string>{"n"});
}

TEST_CASE("a reopened store holds every node, edge and temporal edge", "[graph]") {
  GraphFixture f;
  f.AddNode("ns", "a", "person", {{"k", "v"}});
  f.AddEdge("ns", "a", "knows", "b", {{"w", "2"}});
  f.AddEdge("ns", "b", "knows", "c");
  REQUIRE_OK(f.graph().AddTemporalEdge("ns", {{"a", "in", "room", {{"p", "q"}}}, 10, 20}));
  REQUIRE_OK(f.graph().AddTemporalEdge("ns", {{"a", "in", "hall", {}}, 30, 0}));
  f.Reopen();
  CHECK(ValueOrFail(f.graph().GetNode("ns", "a")).properties == Properties{{"k", "v"}});
  CHECK(ValueOrFail(f.graph().GetEdge("ns", "a", "knows", "b")).properties ==
        Properties{{"w", "2"}});
  CHECK(EdgeNames(f.graph(), "ns", "b", Direction::kBoth) ==
        std::vector<std::string>{"b-knows->c", "a-knows->b"});
  TemporalQuery range;
  range.node = "a";
  range.mode = TemporalMode::kRange;
  range.start_time = 0;
  range.end_time = 1000;
  const std::vector<TemporalEdge> temporal = ValueOrFail(f.graph().QueryTemporal("ns", range));
  REQUIRE(temporal.size() == 2);
  CHECK(temporal[0].edge.to == "room");
  CHECK(temporal[0].edge.properties == Properties{{"p", "q"}});
  CHECK(temporal[0].valid_until == 20);
  CHECK(temporal[1].edge.to == "hall");
  CHECK(temporal[1].valid_until == 0);
  PathQuery path;
  path.from = "a";
  path.to = "c";
  path.max_depth = 5;
  CHECK(ValueOrFail(f.graph().ShortestPath("ns", path)).path ==
        std::vector<std::string>{"a", "b", "c"});
}

}  // namespace
}  // namespace sochdb::graph
