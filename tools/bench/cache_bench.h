// `sochdb-bench cache`: the semantic cache benchmark (docs/benchmarks.md "Semantic cache"). It
// puts `entries` generated entries (random Gaussian embeddings of `dim` floats, from `seed`)
// into one cache through a sochdb-grpc server, then measures Get through the server (the
// cache's HNSW index) with 1..N concurrent callers: p50 / p99 latency and QPS. The baseline is
// upstream's method, a full scan (the cosine of the query against every entry, the best above
// the threshold), run in process over the same entries and queries, one query per caller at a
// time, measured the same way; it is also the ground truth the server's hit/miss answers are
// checked against (agreement is reported).
//
// Queries: half are a stored entry's embedding plus noise (cosine ~0.95 to it: a hit), half
// fresh random vectors (a miss: random 384-dim vectors are nearly orthogonal).
//
//   sochdb-bench cache --target 127.0.0.1:50051 --entries 100000 --dim 384 --clients 1,4
//   sochdb-bench cache --target ... --phase query      (entries already loaded)
//
// Each measurement prints one line beginning "cache ".
#ifndef SOCHDB_TOOLS_BENCH_CACHE_BENCH_H_
#define SOCHDB_TOOLS_BENCH_CACHE_BENCH_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"

namespace sochdb::bench {

struct CacheBenchOptions {
  std::string phase = "all";  // load | query | all
  std::string target = "127.0.0.1:50051";
  std::string cache_name = "bench-cache";
  uint32_t entries = 100'000;
  uint32_t dim = 384;
  uint64_t seed = 42;
  int load_clients = 8;           // concurrent Put callers
  std::string clients = "1,4";    // a measurement per count
  double duration_s = 8;          // per measurement
  uint32_t queries = 2'000;       // distinct queries, cycled
  float threshold = 0.85f;
  bool scan = true;               // also run the in-process full scan
  int server_pid = 0;             // read its CPU time around each server measurement
};

CLI::App* AddCacheCommand(CLI::App& app, CacheBenchOptions* options);
int RunCache(const CacheBenchOptions& options);

}  // namespace sochdb::bench

#endif  // SOCHDB_TOOLS_BENCH_CACHE_BENCH_H_
