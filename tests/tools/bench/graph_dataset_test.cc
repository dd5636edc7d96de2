// MakePowerLawGraph: exactly the edges asked for, each pair of nodes linked at most once (so
// (from, type, to) is unique, as the graph store requires of a bulk load that should count every
// edge), no self-loops, the same graph for the same seed, and a power-law shape: hubs far above
// the mean degree, with both outgoing and incoming edges.
#include "tools/bench/dataset/graph_dataset.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace sochdb::bench {
namespace {

// Designated initializers are C++20; the project builds C++17.
GraphDatasetOptions Options(uint32_t nodes, uint64_t edges) {
  GraphDatasetOptions options;
  options.nodes = nodes;
  options.edges = edges;
  return options;
}

bool SameEdges(const GraphDataset& a, const GraphDataset& b) {
  return std::equal(a.edges.begin(), a.edges.end(), b.edges.begin(), b.edges.end(),
                    [](const GeneratedEdge& x, const GeneratedEdge& y) {
                      return x.from == y.from && x.to == y.to && x.type == y.type;
                    });
}

TEST_CASE("the graph has the edges asked for, each pair once, no self-loops", "[graph_dataset]") {
  const GraphDataset graph = MakePowerLawGraph(Options(10'000, 100'000));
  REQUIRE(graph.nodes == 10'000);
  REQUIRE(graph.edges.size() == 100'000);
  std::set<std::pair<uint32_t, uint32_t>> pairs;
  for (const GeneratedEdge& e : graph.edges) {
    REQUIRE(e.from < graph.nodes);
    REQUIRE(e.to < graph.nodes);
    REQUIRE(e.from != e.to);
    REQUIRE(e.type < 4);
    REQUIRE(pairs.insert(std::minmax(e.from, e.to)).second);
  }
}

TEST_CASE("a complete graph and the smallest one are reachable", "[graph_dataset]") {
  const GraphDataset complete = MakePowerLawGraph(Options(20, 190));
  REQUIRE(complete.edges.size() == 190);
  for (uint32_t degree : Degrees(complete)) CHECK(degree == 19);
  REQUIRE(MakePowerLawGraph(Options(2, 1)).edges.size() == 1);
}

TEST_CASE("options out of range give an empty graph", "[graph_dataset]") {
  CHECK(MakePowerLawGraph(Options(20, 191)).edges.empty());
  CHECK(MakePowerLawGraph(Options(1, 0)).nodes == 0);
  for (uint32_t types : {0u, 5u}) {
    GraphDatasetOptions options = Options(100, 10);
    options.edge_types = types;
    CHECK(MakePowerLawGraph(options).nodes == 0);
    options.edge_types = 1;
    options.node_types = types;
    CHECK(MakePowerLawGraph(options).nodes == 0);
  }
}

TEST_CASE("the seed names the graph", "[graph_dataset]") {
  GraphDatasetOptions options = Options(2'000, 20'000);
  options.seed = 7;
  CHECK(SameEdges(MakePowerLawGraph(options), MakePowerLawGraph(options)));
  GraphDatasetOptions other = options;
  other.seed = 8;
  CHECK_FALSE(SameEdges(MakePowerLawGraph(options), MakePowerLawGraph(other)));
}

TEST_CASE("degrees follow a power law: hubs with edges both ways", "[graph_dataset]") {
  const GraphDataset graph = MakePowerLawGraph(Options(10'000, 100'000));
  const std::vector<uint32_t> degrees = Degrees(graph);
  const auto hub = std::max_element(degrees.begin(), degrees.end());
  // Mean 20. A uniform random graph of this size has no node above ~45; preferential attachment
  // gives its oldest nodes ~m * sqrt(n) = 1,000.
  CHECK(*hub >= 400);
  const uint32_t node = static_cast<uint32_t>(hub - degrees.begin());
  uint32_t out = 0;
  for (const GeneratedEdge& e : graph.edges) out += e.from == node ? 1 : 0;
  CHECK(out > *hub / 3);
  CHECK(out < *hub * 2 / 3);
  // Most nodes sit near the minimum: the median is at most the mean.
  std::vector<uint32_t> sorted = degrees;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  CHECK(sorted[sorted.size() / 2] <= 20);
}

TEST_CASE("names, types and properties are fixed per node and edge", "[graph_dataset]") {
  const GraphDataset graph = MakePowerLawGraph(Options(1'000, 5'000));
  CHECK(NodeId(17) == "n17");
  CHECK(NodeTypeName(graph, 17) == NodeTypeName(graph, 17));
  CHECK(EdgeTypeName(0) == "knows");
  CHECK(NodeProperties(17) == NodeProperties(17));
  CHECK(NodeProperties(17)[0] == std::make_pair(std::string("name"), std::string("node-17")));
  CHECK(EdgeProperties(3) == EdgeProperties(3));
  CHECK(EdgeProperties(3)[0].first == "weight");
  size_t knows = 0;
  for (const GeneratedEdge& e : graph.edges) knows += e.type == 0 ? 1 : 0;
  CHECK(knows > graph.edges.size() * 2 / 5);  // half the edges, the first type's weight
  CHECK(knows < graph.edges.size() * 3 / 5);
}

}  // namespace
}  // namespace sochdb::bench
