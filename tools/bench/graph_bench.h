// `sochdb-bench graph`: the graph benchmark (docs/benchmarks.md "Graph"). It generates a
// power-law graph (tools/bench/dataset/graph_dataset.h) and either bulk-loads it (AddNodes, then
// AddEdges in batches from several clients at once) or runs timed queries on it: Traverse BFS at
// depth 2 and 3 with max_nodes from random start nodes, and ShortestPath between random pairs.
// The same run works through a sochdb-grpc server (GraphService / GraphExtensionService) or in
// process on graph::GraphStore over the server's data directory (the server stopped), so the
// two can be compared line by line: in process is the ceiling the server is measured against.
//
//   sochdb-bench graph --phase load --target 127.0.0.1:50051 --load-clients 4 --batch 5000
//   sochdb-bench graph --phase query --target 127.0.0.1:50051 --clients 1,4 --duration 8
//   sochdb-bench graph --phase query --mode inprocess --data-dir DIR --clients 1,4
//
// Each measurement prints one line beginning "graph " (graph_compare.sh reads them).
#ifndef SOCHDB_TOOLS_BENCH_GRAPH_BENCH_H_
#define SOCHDB_TOOLS_BENCH_GRAPH_BENCH_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"

namespace sochdb::bench {

struct GraphBenchOptions {
  std::string phase = "query";   // load | query
  std::string mode = "server";   // server | inprocess
  std::string target = "127.0.0.1:50051";
  int server_pid = 0;            // server: its CPU time is read around each measurement
  std::string data_dir;          // inprocess: a server's --data-dir (its store/ is opened)
  std::string sync = "normal";   // inprocess load: the store's sync mode (full | normal | off)
  uint32_t block_cache_mb = 64;  // inprocess: LevelDB's block cache (the server's is 64 MiB)
  std::string ns = "bench-graph";
  uint32_t nodes = 100'000;
  uint64_t edges = 1'000'000;
  uint64_t seed = 42;
  uint32_t batch = 5'000;        // items per AddNodes / AddEdges call
  int load_clients = 4;          // concurrent bulk callers
  std::string queries = "traverse2,traverse3,path";
  std::string clients = "1,4";   // a measurement per count
  double duration_s = 8;         // per measurement
  double warmup_s = 2;           // before the first measurement, not reported
  uint32_t max_nodes = 1'000;    // Traverse max_nodes
  uint32_t max_edges = 0;        // Traverse max_edges (0: the server's cap, an error if reached)
  bool skip_frontier_edges = false;  // Traverse skip_frontier_edges
  uint32_t path_depth = 6;       // ShortestPath max_depth
};

// Adds the `graph` subcommand, filling `options` when it is parsed.
CLI::App* AddGraphCommand(CLI::App& app, GraphBenchOptions* options);

// Runs the phase the options name; the process exit code.
int RunGraph(const GraphBenchOptions& options);

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_GRAPH_BENCH_H_
