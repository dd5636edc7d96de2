// Tests for GraphStore::Traverse: upstream's BFS / DFS semantics (../shared/UPSTREAM.md §1.3:
// depth 0, edges leading past max_depth, nodes returned only if they exist, cycles and
// self-loops), the edge type filter, direction, node_types and node_filter, max_nodes and
// truncated, the server's node cap, the edge-read cap, a StopCheck that fails, and the
// AnswerBudget.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/filter/metadata_filter.h"
#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"

namespace sochdb::graph {
namespace {

using sochdb::testing::RequireError;
using sochdb::testing::ValueOrFail;
using testing::GraphFixture;
using testing::Ids;
using testing::Names;
using Strings = std::vector<std::string>;

// a -> b -> d -> f and a -> c -> e, every edge of type "t". Node types: a "root", c "drop",
// the others "keep"; ages b 30, c 20, d 40, e 50 (a and f have none).
void BuildTree(GraphFixture& f, bool with_c = true) {
  f.AddNode("ns", "a", "root");
  f.AddNode("ns", "b", "keep", {{"age", "30"}});
  if (with_c) f.AddNode("ns", "c", "drop", {{"age", "20"}});
  f.AddNode("ns", "d", "keep", {{"age", "40"}});
  f.AddNode("ns", "e", "keep", {{"age", "50"}});
  f.AddNode("ns", "f", "keep");
  f.AddEdge("ns", "a", "t", "b");
  f.AddEdge("ns", "a", "t", "c");
  f.AddEdge("ns", "b", "t", "d");
  f.AddEdge("ns", "c", "t", "e");
  f.AddEdge("ns", "d", "t", "f");
}

TraverseQuery Query(std::string start, uint32_t max_depth, Order order = Order::kBreadthFirst) {
  TraverseQuery query;
  query.start = std::move(start);
  query.max_depth = max_depth;
  query.order = order;
  return query;
}

TraverseResult Run(GraphFixture& f, const TraverseQuery& query) {
  return ValueOrFail(f.graph().Traverse("ns", query));
}

TEST_CASE("Traverse BFS and DFS: visiting order, edges past max_depth, depth 0", "[graph]") {
  GraphFixture f;
  BuildTree(f);
  TraverseResult bfs = Run(f, Query("a", 2));
  CHECK(Ids(bfs.nodes) == Strings{"a", "b", "c", "d", "e"});
  // d is at depth 2: its edge to f is returned although f is not visited.
  CHECK(Names(bfs.edges) == Strings{"a-t->b", "a-t->c", "b-t->d", "c-t->e", "d-t->f"});
  CHECK_FALSE(bfs.truncated);

  // Depth first as upstream: a stack, so the last edge pushed is followed first.
  TraverseResult dfs = Run(f, Query("a", 2, Order::kDepthFirst));
  CHECK(Ids(dfs.nodes) == Strings{"a", "c", "e", "b", "d"});
  CHECK(Names(dfs.edges) == Strings{"a-t->b", "a-t->c", "c-t->e", "b-t->d", "d-t->f"});

  TraverseResult zero = Run(f, Query("a", 0));
  CHECK(Ids(zero.nodes) == Strings{"a"});
  CHECK(Names(zero.edges) == Strings{"a-t->b", "a-t->c"});

  CHECK(Ids(Run(f, Query("a", 10)).nodes).size() == 6);
  CHECK(Ids(Run(f, Query("f", 3)).nodes) == Strings{"f"});
  CHECK(Run(f, Query("f", 3)).edges.empty());
  TraverseResult nowhere = Run(f, Query("nobody", 3));  // an unknown start is an empty answer
  CHECK(nowhere.nodes.empty());
  CHECK(nowhere.edges.empty());
}

TEST_CASE("Traverse returns only nodes that exist but walks through the others", "[graph]") {
  GraphFixture f;
  BuildTree(f, /*with_c=*/false);
  TraverseResult result = Run(f, Query("a", 2));
  CHECK(Ids(result.nodes) == Strings{"a", "b", "d", "e"});
  CHECK(Names(result.edges) == Strings{"a-t->b", "a-t->c", "b-t->d", "c-t->e", "d-t->f"});
}

TEST_CASE("Traverse: cycles, self-loops and a diamond visit each node once", "[graph]") {
  GraphFixture f;
  for (const char* id : {"a", "b", "c", "d"}) f.AddNode("ns", id);
  f.AddEdge("ns", "a", "t", "b");
  f.AddEdge("ns", "b", "t", "b");
  f.AddEdge("ns", "b", "t", "c");
  f.AddEdge("ns", "c", "t", "a");
  TraverseResult cycle = Run(f, Query("a", 50));
  CHECK(Ids(cycle.nodes) == Strings{"a", "b", "c"});
  CHECK(Names(cycle.edges) == Strings{"a-t->b", "b-t->c"});
  CHECK(Ids(Run(f, Query("b", 50, Order::kDepthFirst)).nodes) == Strings{"b", "c", "a"});

  // A diamond: d is only queued, not visited, when b is expanded, so both edges into it are
  // returned (upstream's rule: a node is visited when taken from the queue).
  f.AddEdge("ns", "a", "u", "c");
  f.AddEdge("ns", "b", "u", "d");
  f.AddEdge("ns", "c", "u", "d");
  TraverseQuery diamond = Query("a", 5);
  diamond.edge_types = {"u", "v"};
  f.AddEdge("ns", "a", "v", "b");
  TraverseResult result = Run(f, diamond);
  CHECK(Ids(result.nodes) == Strings{"a", "c", "b", "d"});  // a's edges by (type, to)
  CHECK(Names(result.edges) == Strings{"a-u->c", "a-v->b", "c-u->d", "b-u->d"});
}

TEST_CASE("Traverse follows only the edge types asked for", "[graph]") {
  GraphFixture f;
  f.AddEdge("ns", "a", "t", "b");
  f.AddEdge("ns", "a", "u", "c");
  f.AddEdge("ns", "b", "u", "d");
  f.AddEdge("ns", "c", "t", "e");
  for (const char* id : {"a", "b", "c", "d", "e"}) f.AddNode("ns", id);
  TraverseQuery query = Query("a", 3);
  query.edge_types = {"t"};
  TraverseResult t = Run(f, query);
  CHECK(Ids(t.nodes) == Strings{"a", "b"});
  CHECK(Names(t.edges) == Strings{"a-t->b"});
  query.edge_types = {"u"};
  CHECK(Ids(Run(f, query).nodes) == Strings{"a", "c"});
  query.edge_types = {"u", "t"};
  CHECK(Ids(Run(f, query).nodes) == Strings{"a", "b", "c", "d", "e"});
  query.edge_types = {"none"};
  CHECK(Ids(Run(f, query).nodes) == Strings{"a"});
}

TEST_CASE("Traverse direction: IN walks edges backwards, BOTH either way", "[graph]") {
  GraphFixture f;
  BuildTree(f);
  TraverseQuery in = Query("f", 3);
  in.direction = Direction::kIn;
  TraverseResult up = Run(f, in);
  CHECK(Ids(up.nodes) == Strings{"f", "d", "b", "a"});
  CHECK(Names(up.edges) == Strings{"d-t->f", "b-t->d", "a-t->b"});  // stored direction kept
  in.max_depth = 1;
  CHECK(Ids(Run(f, in).nodes) == Strings{"f", "d"});

  TraverseQuery both = Query("c", 1);
  both.direction = Direction::kBoth;
  TraverseResult around = Run(f, both);
  CHECK(Ids(around.nodes) == Strings{"c", "e", "a"});
  CHECK(Names(around.edges) == Strings{"c-t->e", "a-t->c", "a-t->b"});
  both.max_depth = 10;
  CHECK(Ids(Run(f, both).nodes).size() == 6);
}

TEST_CASE("Traverse node_types and node_filter: only matching nodes past the start", "[graph]") {
  GraphFixture f;
  BuildTree(f);
  TraverseQuery query = Query("a", 5);
  query.node_types = {"keep"};
  TraverseResult kept = Run(f, query);
  CHECK(Ids(kept.nodes) == Strings{"a", "b", "d", "f"});  // e is reached only through c
  for (const Edge& edge : kept.edges) CHECK((edge.from != "c" && edge.to != "c"));
  query.start = "c";  // the start is visited whatever its type
  CHECK(Ids(Run(f, query).nodes) == Strings{"c", "e"});
  query.node_types = {"keep", "drop"};
  query.start = "a";
  CHECK(Ids(Run(f, query).nodes) == Strings{"a", "b", "c", "d", "e", "f"});

  TraverseQuery filtered = Query("a", 5);
  filtered.node_filter = ValueOrFail(filter::MetadataFilter::Parse(R"({"age": {"$gte": 30}})"));
  TraverseResult old = Run(f, filtered);
  CHECK(Ids(old.nodes) == Strings{"a", "b", "d"});  // f has no age; e is behind c (20)
  for (const Edge& edge : old.edges) CHECK((edge.to != "c" && edge.to != "f"));
  filtered.node_types = {"keep"};
  filtered.node_filter = ValueOrFail(filter::MetadataFilter::Parse(R"({"age": {"$lt": 35}})"));
  CHECK(Ids(Run(f, filtered).nodes) == Strings{"a", "b"});
}

// n0 -> n1 -> ... -> n<count-1>, every one a node.
void BuildChain(GraphFixture& f, int count) {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  for (int i = 0; i < count; ++i) {
    nodes.push_back({absl::StrCat("n", i), "chain", {}});
    if (i + 1 < count) edges.push_back({absl::StrCat("n", i), "next", absl::StrCat("n", i + 1)});
  }
  REQUIRE_OK(f.graph().AddNodes("ns", nodes));
  REQUIRE_OK(f.graph().AddEdges("ns", edges));
}

TEST_CASE("Traverse max_nodes stops the walk and says truncated", "[graph]") {
  GraphFixture f;
  BuildChain(f, 6);
  TraverseQuery query = Query("n0", 10);
  query.max_nodes = 3;
  TraverseResult three = Run(f, query);
  CHECK(Ids(three.nodes) == Strings{"n0", "n1", "n2"});
  CHECK(three.truncated);
  for (const Edge& edge : three.edges) CHECK(edge.from != "n3");
  query.max_nodes = 6;  // exactly what is in reach: nothing was cut off
  TraverseResult six = Run(f, query);
  CHECK(six.nodes.size() == 6);
  CHECK_FALSE(six.truncated);
  query.max_nodes = 100;
  CHECK_FALSE(Run(f, query).truncated);
  query.max_nodes = 1;
  query.order = Order::kDepthFirst;
  TraverseResult one = Run(f, query);
  CHECK(Ids(one.nodes) == Strings{"n0"});
  CHECK(one.truncated);
}

TEST_CASE("Traverse past the server's node cap is RESOURCE_EXHAUSTED", "[graph]") {
  GraphLimits limits;
  limits.max_traversal_nodes = 10;
  GraphFixture f(limits);
  BuildChain(f, 20);
  TraverseQuery query = Query("n0", 30);
  const absl::Status status = f.graph().Traverse("ns", query).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(status.message()).find("10") != std::string::npos);
  CHECK(std::string(status.message()).find("max_nodes") != std::string::npos);
  query.max_nodes = 10;  // asked for: a truncated answer, not an error
  TraverseResult ten = Run(f, query);
  CHECK(ten.nodes.size() == 10);
  CHECK(ten.truncated);
  query.max_nodes = 0;
  query.max_depth = 5;  // within the cap
  CHECK(Run(f, query).nodes.size() == 6);
}

TEST_CASE("Traverse max_edges truncates; past the server's edge cap is RESOURCE_EXHAUSTED",
          "[graph]") {
  GraphLimits limits;
  limits.max_traversal_edges = 20;
  GraphFixture f(limits);
  std::vector<Edge> star;
  for (int i = 0; i < 50; ++i) star.push_back({"hub", "t", absl::StrCat("leaf", i), {}});
  REQUIRE_OK(f.graph().AddEdges("ns", star));
  TraverseQuery query = Query("hub", 1);
  query.max_edges = 10;
  TraverseResult ten = Run(f, query);
  CHECK(ten.edges.size() == 10);
  CHECK(ten.truncated);
  query.max_edges = 0;
  const absl::Status status = f.graph().Traverse("ns", query).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(status.message()).find("max_edges") != std::string::npos);
  query.max_edges = 21;
  CHECK(f.graph().Traverse("ns", query).status().code() == absl::StatusCode::kInvalidArgument);
  query.max_edges = 20;
  query.edge_types = {"none"};
  CHECK_FALSE(Run(f, query).truncated);
}

TEST_CASE("Traverse past the edge-read cap is RESOURCE_EXHAUSTED", "[graph]") {
  GraphLimits limits;
  limits.max_edges_examined = 100;
  GraphFixture f(limits);
  std::vector<Edge> star;
  for (int i = 0; i < 500; ++i) star.push_back({"hub", "t", absl::StrCat("leaf", i), {}});
  REQUIRE_OK(f.graph().AddEdges("ns", star));
  const absl::Status status = f.graph().Traverse("ns", Query("hub", 1)).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(status.message()).find("100") != std::string::npos);
}

TEST_CASE("a StopCheck that fails stops Traverse with its status", "[graph]") {
  GraphFixture f;
  std::vector<Edge> star;
  for (int i = 0; i < 5000; ++i) star.push_back({"hub", "t", absl::StrCat("leaf", i), {}});
  REQUIRE_OK(f.graph().AddEdges("ns", star));
  int calls = 0;
  TraverseQuery query = Query("hub", 2);
  query.stop = [&calls] {
    return ++calls < 3 ? absl::OkStatus() : absl::DeadlineExceededError("the call's deadline");
  };
  RequireError(f.graph().Traverse("ns", query).status(), absl::StatusCode::kDeadlineExceeded,
               "the call's deadline");
  CHECK(calls == 3);  // not asked again once it failed

  calls = 0;
  query.stop = [&calls] {
    ++calls;
    return absl::OkStatus();
  };
  CHECK(Run(f, query).edges.size() == 5000);
  CHECK(calls >= 5);  // "every few hundred edges" over 5,000 edges
}

TEST_CASE("the AnswerBudget stops Traverse with RESOURCE_EXHAUSTED", "[graph]") {
  GraphFixture f;
  BuildChain(f, 50);
  AnswerBudget budget(300, "", "Traverse result", "ask for fewer nodes");
  TraverseQuery query = Query("n0", 60);
  query.budget = &budget;
  RequireError(f.graph().Traverse("ns", query).status(), absl::StatusCode::kResourceExhausted,
               "Traverse result exceeds 300 bytes; ask for fewer nodes");
  AnswerBudget roomy(1 << 20, "", "Traverse result", "ask for fewer nodes");
  query.budget = &roomy;
  CHECK(Run(f, query).nodes.size() == 50);
  CHECK(roomy.used() > 50 * 2);
}

}  // namespace
}  // namespace sochdb::graph
