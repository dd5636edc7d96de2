// A hub node with 100,000 edges under the caps: GetEdges without a limit answers exactly up to
// max_page_edges and refuses one edge more; Traverse with max_nodes 1,000 finishes promptly and
// says truncated, with max_nodes 0 it reaches the server's node cap (RESOURCE_EXHAUSTED);
// GetNeighbors pages through every neighbour; DeleteNode removes all 200,000 entries at once. The
// times are printed (one line) and bounded loosely: the point is that nothing runs away.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"

namespace sochdb::graph {
namespace {

using sochdb::testing::ValueOrFail;
using testing::GraphFixture;

constexpr int kSpokes = 100'000;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// hub -> s000000 .. s099999 (types h0, h1, h2), every spoke a node, in bulk calls of 10,000.
void BuildHub(GraphFixture& f) {
  for (int first = 0; first < kSpokes; first += 10'000) {
    std::vector<Node> nodes;
    std::vector<Edge> edges;
    for (int i = first; i < first + 10'000; ++i) {
      const std::string spoke = absl::StrFormat("s%06d", i);
      nodes.push_back({spoke, "spoke", {}});
      edges.push_back({"hub", absl::StrFormat("h%d", i % 3), spoke, {}});
    }
    REQUIRE_OK(f.graph().AddNodes("ns", nodes));
    REQUIRE_OK(f.graph().AddEdges("ns", edges));
  }
  f.AddNode("ns", "hub", "hub");
}

TEST_CASE("a hub with 100,000 edges stays under the caps", "[graph][hub]") {
  GraphFixture f;
  auto start = std::chrono::steady_clock::now();
  BuildHub(f);
  const double load_s = SecondsSince(start);

  EdgeQuery all;
  all.node = "hub";
  start = std::chrono::steady_clock::now();
  const EdgePage page = ValueOrFail(f.graph().GetEdges("ns", all));
  const double get_edges_s = SecondsSince(start);
  CHECK(page.edges.size() == kSpokes);  // max_page_edges itself fits
  CHECK(page.next_page_token.empty());
  f.AddEdge("ns", "s000000", "back", "hub");
  all.direction = Direction::kBoth;
  const absl::Status over = f.graph().GetEdges("ns", all).status();
  INFO(over.ToString());
  CHECK(over.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(over.message()).find("limit") != std::string::npos);

  TraverseQuery capped;
  capped.start = "hub";
  capped.max_depth = 2;
  capped.max_nodes = 1000;
  start = std::chrono::steady_clock::now();
  const TraverseResult some = ValueOrFail(f.graph().Traverse("ns", capped));
  const double traverse_s = SecondsSince(start);
  CHECK(some.nodes.size() == 1000);
  CHECK(some.truncated);
  CHECK(traverse_s < 5);
  capped.max_edges = 1000;  // the hub alone returns every edge it has, unless told
  const TraverseResult small = ValueOrFail(f.graph().Traverse("ns", capped));
  CHECK(small.edges.size() == 1000);
  CHECK(small.truncated);
  capped.max_edges = 0;

  capped.max_nodes = 0;  // the server's cap, 100,000 nodes: the hub and its spokes pass it
  start = std::chrono::steady_clock::now();
  const absl::Status cap = f.graph().Traverse("ns", capped).status();
  const double cap_s = SecondsSince(start);
  INFO(cap.ToString());
  CHECK(cap.code() == absl::StatusCode::kResourceExhausted);
  CHECK(cap_s < 20);

  EdgeQuery neighbours;
  neighbours.node = "hub";
  neighbours.limit = 10'000;
  std::set<std::string> reached;
  int pages = 0;
  start = std::chrono::steady_clock::now();
  for (;;) {
    const NeighborPage next = ValueOrFail(f.graph().GetNeighbors("ns", neighbours));
    ++pages;
    for (const Node& node : next.nodes) reached.insert(node.id);
    if (next.next_page_token.empty()) break;
    REQUIRE(pages < 20);
    neighbours.page_token = next.next_page_token;
  }
  const double neighbours_s = SecondsSince(start);
  CHECK(reached.size() == kSpokes);
  CHECK(pages == 10);

  // One hop from the hub: found as soon as reached, not after all 100,000 spokes (which pass
  // the node cap).
  PathQuery path;
  path.from = "hub";
  path.to = "s000123";
  path.max_depth = 3;
  CHECK(ValueOrFail(f.graph().ShortestPath("ns", path)).path ==
        std::vector<std::string>{"hub", "s000123"});

  start = std::chrono::steady_clock::now();
  REQUIRE_OK(f.graph().DeleteNode("ns", "hub"));
  const double delete_s = SecondsSince(start);
  CHECK(testing::KeysMentioning(f.store(), "ns", "hub").empty());
  CHECK(testing::HalfEdges(f.store()).empty());
  std::printf(
      "graph hub: edges=%d load_s=%.2f get_edges_s=%.3f traverse_1000_s=%.3f "
      "traverse_cap_s=%.3f neighbours_10_pages_s=%.3f delete_node_s=%.2f\n",
      kSpokes, load_s, get_edges_s, traverse_s, cap_s, neighbours_s, delete_s);
}

}  // namespace
}  // namespace sochdb::graph
