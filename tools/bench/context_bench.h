// `sochdb-bench context`: the context benchmark (docs/benchmarks.md "Context"). It loads a
// namespace of agent memory through ContextService.WriteEpisode (synthetic episodes of 20-60
// words from a Zipf-distributed vocabulary, optionally with random unit embeddings), then times
// ContextService.Query under a token budget: a literal system prompt, the newest 20 episodes
// (LAST) and a SEARCH of three random vocabulary words (plus an embedding when the episodes
// have them), rendered in TOON.
//
//   sochdb-bench context --phase load --target 127.0.0.1:50051 --episodes 100000 --dim 384
//   sochdb-bench context --phase query --target 127.0.0.1:50051 --budget 4096 --clients 1,4
//
// Each measurement prints one line beginning "context ".
#ifndef SOCHDB_TOOLS_BENCH_CONTEXT_BENCH_H_
#define SOCHDB_TOOLS_BENCH_CONTEXT_BENCH_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"

namespace sochdb::bench {

struct ContextBenchOptions {
  std::string phase = "query";  // load | query
  std::string target = "127.0.0.1:50051";
  std::string ns = "bench-memory";
  uint32_t episodes = 100'000;
  uint32_t dim = 0;             // embedding dimension; 0: none
  uint64_t seed = 7;
  int load_clients = 4;
  uint32_t budget = 4096;       // Query token_limit
  uint32_t search_top_k = 32;
  uint32_t last_top_k = 20;
  std::string format = "toon";  // toon | json | markdown | text
  std::string clients = "1,4";
  double duration_s = 8;
  double warmup_s = 2;
};

CLI::App* AddContextCommand(CLI::App& app, ContextBenchOptions* options);
int RunContext(const ContextBenchOptions& options);

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_CONTEXT_BENCH_H_
