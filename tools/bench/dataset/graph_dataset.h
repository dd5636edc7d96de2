// A synthetic property graph for graph benchmarks and tests: a power-law graph grown by
// preferential attachment (Barabási–Albert: each new node links to existing nodes chosen with
// probability proportional to their degree), which gives what real knowledge and social graphs
// have and uniform random graphs lack: a few hubs with thousands of edges, most nodes with a
// handful, and short paths between almost any two nodes. Each edge's direction is a coin flip,
// so hubs have both many outgoing and many incoming edges and directed walks reach most of the
// graph. Deterministic in the seed, on every platform (tools/bench/dataset/random.h).
//
// Names: node i is "n<i>"; node and edge types come from small fixed vocabularies (skewed:
// the first type is the most common); properties are two short strings per node and per edge.
#ifndef SOCHDB_TOOLS_BENCH_DATASET_GRAPH_DATASET_H_
#define SOCHDB_TOOLS_BENCH_DATASET_GRAPH_DATASET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sochdb::bench {

struct GraphDatasetOptions {
  uint32_t nodes = 100'000;    // >= 2
  // Edges in all; at most nodes * (nodes - 1) / 2 (every pair of nodes is linked at most once,
  // so no two edges share (from, type, to) whatever the types).
  uint64_t edges = 1'000'000;
  uint32_t edge_types = 4;     // 1..4 (kEdgeTypes)
  uint32_t node_types = 4;     // 1..4 (kNodeTypes)
  uint64_t seed = 42;
};

struct GeneratedEdge {
  uint32_t from = 0;
  uint32_t to = 0;
  uint8_t type = 0;  // index into EdgeTypeName
};

struct GraphDataset {
  uint32_t nodes = 0;
  uint32_t node_types = 0;
  std::vector<GeneratedEdge> edges;  // in the order the graph grew: load them in this order
};

// Node i (i >= 1) adds its share of the edges (edges / (nodes - 1), spread evenly; the first
// nodes, which have fewer older nodes than that, pass the rest on) to distinct older nodes.
// Returns an empty dataset when the options are out of range.
GraphDataset MakePowerLawGraph(const GraphDatasetOptions& options);

std::string NodeId(uint32_t node);
std::string_view NodeTypeName(const GraphDataset& graph, uint32_t node);
std::string_view EdgeTypeName(uint8_t type);

using StringPairs = std::vector<std::pair<std::string, std::string>>;
// {"name": "node-<i>", "score": "<0..999>"}
StringPairs NodeProperties(uint32_t node);
// {"weight": "<1..10>", "since": "<2000..2024>"}, derived from the edge's position.
StringPairs EdgeProperties(uint64_t edge);

// Number of edges touching each node (in + out).
std::vector<uint32_t> Degrees(const GraphDataset& graph);

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_DATASET_GRAPH_DATASET_H_
