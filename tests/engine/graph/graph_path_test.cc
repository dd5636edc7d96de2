// Tests for GraphStore::ShortestPath: fewest hops by BFS, the max_depth bound (0: only from ==
// to), directions IN and BOTH (incoming edges keep their stored direction), the edge type
// filter, weighted paths by Dijkstra (a lighter longer path wins; edges missing the weight, or
// holding a negative, NaN, infinite or unparsable one, are not used; the hop bound holds for
// weighted paths too), upstream's not-found text, the node cap and a StopCheck.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
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
using testing::Names;
using Strings = std::vector<std::string>;

// a -> b -> c -> d and a -> x -> d, all of type "t"; a -fast-> d.
void BuildRoutes(GraphFixture& f) {
  const std::vector<std::pair<std::string, std::string>> hops = {
      {"a", "b"}, {"b", "c"}, {"c", "d"}, {"a", "x"}, {"x", "d"}};
  for (const auto& [from, to] : hops) f.AddEdge("ns", from, "t", to);
  f.AddEdge("ns", "a", "fast", "d");
}

PathQuery Query(std::string from, std::string to, uint32_t max_depth,
                Direction direction = Direction::kOut) {
  PathQuery query;
  query.from = std::move(from);
  query.to = std::move(to);
  query.max_depth = max_depth;
  query.direction = direction;
  return query;
}

PathResult Path(GraphFixture& f, const PathQuery& query) {
  return ValueOrFail(f.graph().ShortestPath("ns", query));
}

void RequireNoPath(GraphFixture& f, const PathQuery& query) {
  RequireError(f.graph().ShortestPath("ns", query).status(), absl::StatusCode::kNotFound,
               absl::StrCat("No path found from '", query.from, "' to '", query.to, "'"));
}

TEST_CASE("ShortestPath: fewest hops, the edge type filter and the max_depth bound", "[graph]") {
  GraphFixture f;
  BuildRoutes(f);
  PathResult direct = Path(f, Query("a", "d", 5));
  CHECK(direct.path == Strings{"a", "d"});
  CHECK(Names(direct.edges) == Strings{"a-fast->d"});
  CHECK(direct.total_weight == 1);

  PathQuery typed = Query("a", "d", 5);
  typed.edge_types = {"t"};
  PathResult two = Path(f, typed);
  CHECK(two.path == Strings{"a", "x", "d"});
  CHECK(Names(two.edges) == Strings{"a-t->x", "x-t->d"});
  CHECK(two.total_weight == 2);
  typed.max_depth = 1;
  RequireNoPath(f, typed);
  typed.edge_types = {"nothing"};
  typed.max_depth = 5;
  RequireNoPath(f, typed);

  RequireNoPath(f, Query("d", "a", 5));  // edges are one-way by default
  RequireNoPath(f, Query("a", "nowhere", 5));
  CHECK(Path(f, Query("b", "d", 2)).path == Strings{"b", "c", "d"});
  RequireNoPath(f, Query("b", "d", 1));
}

TEST_CASE("ShortestPath with max_depth 0 finds only from == to", "[graph]") {
  GraphFixture f;
  BuildRoutes(f);
  PathResult self = Path(f, Query("a", "a", 0));
  CHECK(self.path == Strings{"a"});
  CHECK(self.edges.empty());
  CHECK(self.total_weight == 0);
  RequireNoPath(f, Query("a", "d", 0));  // although a -fast-> d is one hop
  CHECK(Path(f, Query("a", "a", 4)).path == Strings{"a"});
  CHECK(Path(f, Query("ghost", "ghost", 0)).path == Strings{"ghost"});
}

TEST_CASE("ShortestPath direction: IN walks edges backwards, BOTH either way", "[graph]") {
  GraphFixture f;
  BuildRoutes(f);
  PathQuery in = Query("d", "a", 5, Direction::kIn);
  in.edge_types = {"t"};
  PathResult back = Path(f, in);
  CHECK(back.path == Strings{"d", "x", "a"});
  CHECK(Names(back.edges) == Strings{"x-t->d", "a-t->x"});  // stored direction kept
  in.direction = Direction::kOut;
  RequireNoPath(f, in);

  f.AddEdge("ns", "p", "t", "q");
  f.AddEdge("ns", "r", "t", "q");
  RequireNoPath(f, Query("p", "r", 5));
  RequireNoPath(f, Query("p", "r", 5, Direction::kIn));
  PathResult both = Path(f, Query("p", "r", 5, Direction::kBoth));
  CHECK(both.path == Strings{"p", "q", "r"});
  CHECK(Names(both.edges) == Strings{"p-t->q", "r-t->q"});
  RequireNoPath(f, Query("p", "r", 1, Direction::kBoth));
}

TEST_CASE("weighted ShortestPath picks the lighter, longer path", "[graph]") {
  GraphFixture f;
  f.AddEdge("ns", "a", "r", "d", {{"w", "10"}});
  f.AddEdge("ns", "a", "r", "b", {{"w", "1"}});
  f.AddEdge("ns", "b", "r", "c", {{"w", "1"}});
  f.AddEdge("ns", "c", "r", "d", {{"w", "1.5"}});
  PathQuery query = Query("a", "d", 5);
  query.weight_property = "w";
  PathResult light = Path(f, query);
  CHECK(light.path == Strings{"a", "b", "c", "d"});
  CHECK(Names(light.edges) == Strings{"a-r->b", "b-r->c", "c-r->d"});
  CHECK(light.total_weight == Approx(3.5));
  query.max_depth = 2;  // the light path is 3 hops: the heavy one is the best within 2
  PathResult heavy = Path(f, query);
  CHECK(heavy.path == Strings{"a", "d"});
  CHECK(heavy.total_weight == Approx(10));
  query.weight_property = "";
  CHECK(Path(f, query).path == Strings{"a", "d"});  // unweighted: fewest hops
}

TEST_CASE("weighted ShortestPath within max_depth reaches a node by a heavier, shorter path",
          "[graph]") {
  // The lightest way to x takes 2 hops, which leaves no hop for x -> t within max_depth 2; the
  // heavier direct edge to x does. A Dijkstra that settles x once, at its lightest, misses it.
  GraphFixture f;
  f.AddEdge("ns", "a", "r", "x", {{"w", "5"}});
  f.AddEdge("ns", "a", "r", "b", {{"w", "1"}});
  f.AddEdge("ns", "b", "r", "x", {{"w", "1"}});
  f.AddEdge("ns", "x", "r", "t", {{"w", "1"}});
  PathQuery query = Query("a", "t", 2);
  query.weight_property = "w";
  PathResult result = Path(f, query);
  CHECK(result.path == Strings{"a", "x", "t"});
  CHECK(result.total_weight == Approx(6));
  query.max_depth = 3;
  CHECK(Path(f, query).path == Strings{"a", "b", "x", "t"});
  CHECK(Path(f, query).total_weight == Approx(3));
}

TEST_CASE("weighted ShortestPath skips edges without a usable weight", "[graph]") {
  GraphFixture f;
  f.AddEdge("ns", "a", "none", "t");
  f.AddEdge("ns", "a", "neg", "t", {{"w", "-1"}});
  f.AddEdge("ns", "a", "nan", "t", {{"w", "nan"}});
  f.AddEdge("ns", "a", "inf", "t", {{"w", "inf"}});
  f.AddEdge("ns", "a", "huge", "t", {{"w", "1e400"}});
  f.AddEdge("ns", "a", "text", "t", {{"w", "light"}});
  f.AddEdge("ns", "a", "empty", "t", {{"w", ""}});
  f.AddEdge("ns", "a", "ok", "m", {{"w", "5"}});
  f.AddEdge("ns", "m", "ok", "t", {{"w", "5"}});
  PathQuery query = Query("a", "t", 5);
  query.weight_property = "w";
  PathResult result = Path(f, query);
  CHECK(result.path == Strings{"a", "m", "t"});
  CHECK(result.total_weight == Approx(10));

  f.AddEdge("ns", "a", "zero", "t", {{"w", "0"}});  // zero is a weight
  result = Path(f, query);
  CHECK(Names(result.edges) == Strings{"a-zero->t"});
  CHECK(result.total_weight == 0);

  query.from = "m";
  query.to = "a";
  RequireNoPath(f, query);
  query.direction = Direction::kIn;
  query.from = "t";
  query.weight_property = "missing";
  RequireNoPath(f, query);
}

TEST_CASE("ShortestPath past the node cap is RESOURCE_EXHAUSTED", "[graph]") {
  GraphLimits limits;
  limits.max_traversal_nodes = 10;
  GraphFixture f(limits);
  std::vector<Edge> star;
  for (int i = 0; i < 50; ++i) star.push_back({"hub", "t", absl::StrCat("leaf", i), {}});
  star.push_back({"hub", "t", "aaa", {}});
  star.push_back({"aaa", "t", "goal", {}});
  REQUIRE_OK(f.graph().AddEdges("ns", star));
  const absl::Status status = f.graph().ShortestPath("ns", Query("hub", "nowhere", 5)).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(status.message()).find("10") != std::string::npos);
  CHECK(Path(f, Query("hub", "aaa", 5)).path == Strings{"hub", "aaa"});
}

TEST_CASE("a StopCheck that fails stops ShortestPath with its status", "[graph]") {
  GraphFixture f;
  std::vector<Edge> star;
  for (int i = 0; i < 3000; ++i) star.push_back({"hub", "t", absl::StrCat("leaf", i), {}});
  REQUIRE_OK(f.graph().AddEdges("ns", star));
  for (const std::string weight : {"", "w"}) {
    PathQuery stopped = Query("hub", "nowhere", 5);
    stopped.weight_property = weight;
    stopped.stop = [] { return absl::CancelledError("the client went away"); };
    RequireError(f.graph().ShortestPath("ns", stopped).status(), absl::StatusCode::kCancelled,
                 "the client went away");
  }
}

}  // namespace
}  // namespace sochdb::graph
