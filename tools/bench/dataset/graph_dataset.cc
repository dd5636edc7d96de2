// Preferential attachment (see graph_dataset.h). The classic trick keeps it linear: a list of
// every edge's two endpoints, so a uniform pick from the list is a pick by degree.
#include "tools/bench/dataset/graph_dataset.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "tools/bench/dataset/random.h"

namespace sochdb::bench {
namespace {

constexpr std::array<std::string_view, 4> kEdgeTypes = {"knows", "works_with", "follows",
                                                        "mentions"};
constexpr std::array<std::string_view, 4> kNodeTypes = {"person", "document", "topic", "org"};
// Cumulative weights out of 100 of the edge types: 50 / 25 / 15 / 10.
constexpr std::array<uint32_t, 4> kEdgeTypeCumulative = {50, 75, 90, 100};

// splitmix64's finaliser alone: a fixed, well-spread number per index.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint8_t DrawEdgeType(Random& random, uint32_t types) {
  const uint32_t total = kEdgeTypeCumulative[types - 1];
  const uint32_t r = random.Below(total);
  uint8_t t = 0;
  while (r >= kEdgeTypeCumulative[t]) ++t;
  return t;
}

// `count` distinct nodes below `node`, each picked with probability proportional to its degree
// so far. Needs count <= node. When count is a large share of the older nodes (only the first
// few nodes), rejection would spin, so those take a uniform sample instead.
void PickTargets(Random& random, uint32_t node, uint32_t count,
                 const std::vector<uint32_t>& endpoints, std::vector<uint32_t>* targets) {
  targets->clear();
  if (endpoints.empty() || 2 * count >= node) {
    std::vector<uint32_t> older(node);
    for (uint32_t i = 0; i < node; ++i) older[i] = i;
    for (uint32_t i = 0; i < count; ++i) {
      std::swap(older[i], older[i + random.Below(node - i)]);
      targets->push_back(older[i]);
    }
    return;
  }
  while (targets->size() < count) {
    const uint32_t candidate =
        endpoints[random.Below(static_cast<uint32_t>(endpoints.size()))];
    if (std::find(targets->begin(), targets->end(), candidate) == targets->end()) {
      targets->push_back(candidate);
    }
  }
}

bool ValidOptions(const GraphDatasetOptions& o) {
  const uint64_t pairs = static_cast<uint64_t>(o.nodes) * (o.nodes - 1) / 2;
  return o.nodes >= 2 && o.edges <= pairs && o.edges < (uint64_t{1} << 31) &&
         o.edge_types >= 1 && o.edge_types <= kEdgeTypes.size() && o.node_types >= 1 &&
         o.node_types <= kNodeTypes.size();
}

}  // namespace

GraphDataset MakePowerLawGraph(const GraphDatasetOptions& o) {
  GraphDataset graph;
  if (!ValidOptions(o)) return graph;
  graph.nodes = o.nodes;
  graph.node_types = o.node_types;
  graph.edges.reserve(o.edges);
  Random random(o.seed);
  std::vector<uint32_t> endpoints;
  endpoints.reserve(2 * o.edges);
  std::vector<uint32_t> targets;
  uint64_t owed = 0;  // edges the first nodes could not take, passed on
  for (uint32_t node = 1; node < o.nodes; ++node) {
    // Node `node`'s even share: the edges up to it minus those up to the node before.
    const uint64_t share = o.edges * node / (o.nodes - 1) - o.edges * (node - 1) / (o.nodes - 1);
    const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(share + owed, node));
    owed = share + owed - count;
    PickTargets(random, node, count, endpoints, &targets);
    for (uint32_t older : targets) {
      const bool outward = (random.Next() & 1) != 0;
      const uint8_t type = DrawEdgeType(random, o.edge_types);
      graph.edges.push_back({outward ? node : older, outward ? older : node, type});
      endpoints.push_back(node);
      endpoints.push_back(older);
    }
  }
  return graph;
}

std::string NodeId(uint32_t node) { return absl::StrCat("n", node); }

std::string_view NodeTypeName(const GraphDataset& graph, uint32_t node) {
  return kNodeTypes[Mix(node) % graph.node_types];
}

std::string_view EdgeTypeName(uint8_t type) { return kEdgeTypes[type % kEdgeTypes.size()]; }

StringPairs NodeProperties(uint32_t node) {
  return {{"name", absl::StrCat("node-", node)}, {"score", absl::StrCat(Mix(node) % 1000)}};
}

StringPairs EdgeProperties(uint64_t edge) {
  const uint64_t h = Mix(edge + 1);
  return {{"weight", absl::StrCat(1 + h % 10)}, {"since", absl::StrCat(2000 + (h >> 8) % 25)}};
}

std::vector<uint32_t> Degrees(const GraphDataset& graph) {
  std::vector<uint32_t> degrees(graph.nodes, 0);
  for (const GeneratedEdge& e : graph.edges) {
    ++degrees[e.from];
    ++degrees[e.to];
  }
  return degrees;
}

}  // namespace sochdb::bench
