// sochdb-ann-build-bench: one HNSW graph construction, timed. Builds a full-precision graph over a
// generated data set with one construction (FAISS's IndexHNSWFlat::add, the same add with the
// engine's distance kernels, or the engine's own construction in engine/vector/ann_build.cc, at
// full precision or as served on its 8-bit copy), then searches it with the engine's search
// whoever built it, and prints one line: build seconds, recall@k at each ef, peak RSS. One build
// per process, so that peak RSS is the build's; tools/bench/ann_build_compare.sh alternates
// constructions over many runs and prints medians (docs/benchmarks.md has the figures).
//
//   sochdb-ann-build-bench --construction engine --n 100000 --m 16 --ef-construction 200
//       --threads 2 --clusters 100

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_split.h"
#include "engine/vector/ann_index.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace {

namespace vec = sochdb::vector;
using Clock = std::chrono::steady_clock;

const std::map<std::string, vec::testing::Construction>& Constructions() {
  static const auto* constructions = new std::map<std::string, vec::testing::Construction>{
      {"faiss", vec::testing::Construction::kFaiss},
      {"faiss-kernels", vec::testing::Construction::kFaissOurKernels},
      {"engine-full", vec::testing::Construction::kEngineFull},
      {"engine", vec::testing::Construction::kEngine},
  };
  return *constructions;
}

struct Options {
  std::string construction = "engine";
  uint32_t n = 20'000;
  uint32_t dim = 128;
  uint32_t m = 16;
  uint32_t ef_construction = 40;
  int threads = 1;
  uint32_t clusters = 0;  // 0 = n / 1000 (at least 64); 1 = one Gaussian cloud (random data)
  int64_t batch = 0;      // vectors per add; 0 = all at once
  uint32_t queries = 200;
  uint32_t k = 10;
  std::string ef_list = "16,64";
  uint64_t seed = 42;
};

// A field of /proc/self/status in megabytes (VmRSS: now; VmHWM: the peak so far).
double StatusMegabytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    // "VmRSS:\t  123456 kB"
    absl::string_view value = absl::string_view(line).substr(field.size() + 1);
    absl::ConsumeSuffix(&value, "kB");
    double kb = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(value), &kb)) return kb / 1024;
  }
  return -1;
}

double RecallAt(const vec::AnnIndex& index, const sochdb::bench::VectorDataset& data,
                const sochdb::bench::GroundTruth& truth, uint32_t k, uint32_t ef) {
  std::vector<std::vector<int64_t>> results(data.query_count());
  for (size_t q = 0; q < data.query_count(); ++q) {
    const size_t d = data.dimension;
    const auto query = absl::MakeConstSpan(data.queries).subspan(q * d, d);
    absl::StatusOr<std::vector<vec::Neighbor>> found = index.Search(query, k, ef);
    if (!found.ok()) return -1;
    for (const vec::Neighbor& n : *found) results[q].push_back(n.label);
  }
  return sochdb::bench::RecallAtK(truth, results, k);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sochdb-ann-build-bench: one HNSW graph construction, timed");
  Options o;
  app.add_option("--construction", o.construction,
                 "faiss | faiss-kernels | engine-full | engine (see the file comment)")
      ->check(CLI::IsMember(Constructions()));
  app.add_option("--n", o.n, "vectors");
  app.add_option("--dim", o.dim, "dimension");
  app.add_option("--m", o.m, "HNSW M (M0 = 2M)");
  app.add_option("--ef-construction", o.ef_construction, "HNSW efConstruction");
  app.add_option("--threads", o.threads, "OpenMP threads for the build");
  app.add_option("--clusters", o.clusters, "clusters (0 = n / 1000, at least 64; 1 = random)");
  app.add_option("--batch", o.batch, "vectors per add (0 = all at once)");
  app.add_option("--queries", o.queries, "queries for recall (ground truth is exact)");
  app.add_option("--k", o.k, "recall@k");
  app.add_option("--ef", o.ef_list, "comma-separated search ef values for recall");
  app.add_option("--seed", o.seed, "data set seed");
  CLI11_PARSE(app, argc, argv);

  sochdb::bench::ClusteredOptions data_options;
  data_options.vectors = o.n;
  data_options.queries = o.queries;
  data_options.dimension = o.dim;
  data_options.clusters = o.clusters != 0 ? o.clusters : std::max<uint32_t>(64, o.n / 1000);
  data_options.seed = o.seed;
  const sochdb::bench::VectorDataset data = sochdb::bench::MakeClusteredDataset(data_options);
  const sochdb::bench::GroundTruth truth =
      sochdb::bench::ExactNeighbors(data.base, data.queries, o.dim, vec::Metric::kL2, o.k);

  vec::IndexSpec request;
  request.dimension = o.dim;
  request.metric = vec::Metric::kL2;
  request.m = o.m;
  request.ef_construction = o.ef_construction;
  absl::StatusOr<vec::IndexSpec> spec = vec::ResolveSpec(request);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return 2;
  }
  vec::SetFaissThreads(o.threads);
  const double rss_before = StatusMegabytes("VmRSS");
  const auto start = Clock::now();
  absl::StatusOr<std::unique_ptr<vec::AnnIndex>> index = vec::testing::BuildGraphIndex(
      *spec, data.base, Constructions().at(o.construction), o.batch);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().ToString().c_str());
    return 1;
  }
  const double peak = StatusMegabytes("VmHWM");
  std::printf("build construction=%s n=%u dim=%u m=%u efc=%u threads=%d clusters=%u batch=%lld:"
              " seconds=%.3f vec_per_s=%.0f",
              o.construction.c_str(), o.n, o.dim, o.m, o.ef_construction, o.threads,
              data_options.clusters, static_cast<long long>(o.batch), seconds, o.n / seconds);
  for (absl::string_view part : absl::StrSplit(o.ef_list, ',')) {
    uint32_t ef = 0;
    if (!absl::SimpleAtoi(part, &ef)) return 2;
    std::printf(" recall%u_ef%u=%.4f", o.k, ef, RecallAt(**index, data, truth, o.k, ef));
  }
  std::printf(" peak_rss_mb=%.0f build_rss_mb=%.0f\n", peak, peak - rss_before);
  return 0;
}
