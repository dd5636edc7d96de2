// The engine's HNSW construction (engine/vector/ann_build.cc), which rebuilds FAISS 1.7.3's step
// for step: the installed FAISS must be the release it mirrors, it must build FAISS's graph link
// for link at full precision, and every construction the build benchmark compares
// (tools/bench/ann_build_bench.cc) must build a graph that searches well.
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/vector/ann_index.h"
#include "tests/engine/vector/ann_test_util.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::vector {
namespace {

using namespace testing;  // NOLINT: the helpers of this test only

TEST_CASE("the installed FAISS is the release our graph construction mirrors") {
  const std::string installed = InstalledFaissVersion();
  if (installed != kMirroredFaissVersion) {
    FAIL("FAISS " << installed << " is installed, but engine/vector/ann_build.cc rebuilds the "
         "HNSW construction of FAISS " << kMirroredFaissVersion << " step for step. Compare "
         "hnsw_add_vertices (faiss/IndexHNSW.cpp) and HNSW::add_with_locks, "
         "search_neighbors_to_add, shrink_neighbor_list, add_link and the HNSW fields it "
         "writes (levels, offsets, neighbors, entry_point, max_level; faiss/impl/HNSW.cpp/.h) "
         "between the two releases and bring ann_build.cc in step; make sure 'our flat graph "
         "construction builds exactly FAISS's graph' passes; re-measure with "
         "tools/bench/ann_build_compare.sh against FAISS's own builder (docs/benchmarks.md: "
         "if ours is no longer faster, use FAISS's); then set kMirroredFaissVersion in "
         "engine/vector/ann_index.h to " << installed << ".");
  }
}

TEST_CASE("our flat graph construction builds exactly FAISS's graph") {
  const bench::VectorDataset data = ClusteredData(3'000, 32, 0, 16);
  for (Metric metric : {Metric::kL2, Metric::kDot}) {
    INFO(MetricName(metric));
    REQUIRE_OK(CompareFlatBuildWithFaiss(SmallGraphSpec(metric), data.base));
  }
}

TEST_CASE("every construction the build benchmark compares builds a graph that searches well") {
  const bench::VectorDataset data = ClusteredData(4'000, 32, 50, 16);
  const bench::GroundTruth truth =
      bench::ExactNeighbors(data.base, data.queries, 32, Metric::kL2, 10);
  const IndexSpec spec = SmallGraphSpec(Metric::kL2);
  SetFaissThreads(1);
  std::vector<std::vector<std::vector<int64_t>>> found;
  for (Construction construction : {Construction::kFaiss, Construction::kFaissOurKernels,
                                    Construction::kEngineFull, Construction::kEngine}) {
    INFO("construction " << static_cast<int>(construction));
    // In batches, as VectorSpace adds.
    std::unique_ptr<AnnIndex> index =
        ValueOrFail(BuildGraphIndex(spec, data.base, construction, 1'000));
    const AnnStats stats = index->Stats();
    CHECK_FALSE(stats.exact_phase);
    CHECK(stats.labels == 4'000);
    found.push_back(SearchLabels(*index, data.queries, 10, 32));
    const double recall = bench::RecallAtK(truth, found.back(), 10);
    std::printf("construction %d: recall@10 %.3f at ef 32\n", static_cast<int>(construction),
                recall);
    CHECK(recall >= 0.9);
  }
  SetFaissThreads(0);
  // FAISS's add and ours at full precision build one graph, so they find the same labels.
  CHECK(found[0] == found[2]);
  IndexSpec cosine = spec;
  cosine.metric = Metric::kCosine;
  RequireErrorContaining(BuildGraphIndex(cosine, data.base, Construction::kEngine).status(),
                         absl::StatusCode::kInvalidArgument, "L2 or DOT");
}

}  // namespace
}  // namespace sochdb::vector
