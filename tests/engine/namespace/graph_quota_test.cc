// The graph's part in namespace usage (engine/graph/graph_store.h "Usage"): what a node, an edge
// and a temporal interval count (bytes computed here from the documented layout, not by the
// engine's code), the storage quota refusing a graph write with upstream's text and writing
// nothing, and the charges staying equal to a fresh count (a Track after reopening) through
// overwrites, bulk loads with repeats, interval ends, deletes and writers racing on one edge.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/namespace/quota_fixture.h"

namespace sochdb::namespaces {
namespace {

using graph::Edge;
using graph::Node;
using graph::TemporalEdge;
using ::sochdb::testing::RequireError;

constexpr absl::StatusCode kExhausted = absl::StatusCode::kResourceExhausted;

// What `ns` holds by a fresh count: the engine reopened and the namespace tracked again.
uint64_t FreshCount(QuotaFixture& f, const std::string& ns) {
  f.Reopen();
  REQUIRE_OK(f.usage().Track(ns, Quota{}));
  return f.UsageOf(ns).storage_bytes;
}

TEST_CASE("a graph item counts its key after the namespace and its record") {
  QuotaFixture f("graph_usage_sizes");
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(0)));
  // Node "a": key Raw("a") = 1; record = format 1 + type (1 + 6) + count 1 + "k" 2 + "v" 2.
  REQUIRE_OK(f.engine->graph().AddNode("ns", Node{"a", "person", {{"k", "v"}}}));
  CHECK(f.UsageOf("ns").storage_bytes == 1 + 13);
  // Edge a -t-> b: key Name(a) Name(t) Raw(b) = 5; record = format 1 + count 1 + 2 + 2. The
  // reverse entry is not counted.
  REQUIRE_OK(f.engine->graph().AddEdge("ns", Edge{"a", "t", "b", {{"p", "1"}}}));
  CHECK(f.UsageOf("ns").storage_bytes == 14 + 5 + 6);
  // Interval a -s-> on from 10: key Name(a) Name(s) Name(on) U64 = 2 + 2 + 3 + 8; record =
  // format 1 + valid_until varint 1 + count 1.
  REQUIRE_OK(
      f.engine->graph().AddTemporalEdge("ns", TemporalEdge{Edge{"a", "s", "on", {}}, 10, 0}));
  CHECK(f.UsageOf("ns").storage_bytes == 25 + 15 + 3);
  CHECK(FreshCount(f, "ns") == 43);
}

TEST_CASE("the storage quota refuses a graph write that passes it, writing nothing") {
  QuotaFixture f("graph_usage_quota");
  graph::GraphStore& g = f.engine->graph();
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(40)));
  REQUIRE_OK(g.AddNode("ns", Node{"a", "person", {{"k", "v"}}}));  // 14 bytes
  RequireError(g.AddNode("ns", Node{"b", "x", {{"big", std::string(30, 'x')}}}), kExhausted,
               "Namespace 'ns' storage quota exceeded (14 + 40 > 40 bytes)");
  CHECK(g.GetNode("ns", "b").status().code() == absl::StatusCode::kNotFound);
  // A bulk load is refused whole.
  std::vector<Edge> edges;
  for (int i = 0; i < 5; ++i) edges.push_back(Edge{"a", "t", absl::StrCat("n", i), {}});
  RequireError(g.AddEdges("ns", edges), kExhausted,
               "Namespace 'ns' storage quota exceeded (14 + 40 > 40 bytes)");
  CHECK(g.GetEdge("ns", "a", "t", "n0").status().code() == absl::StatusCode::kNotFound);
  CHECK(f.UsageOf("ns").storage_bytes == 14);
  // Replacing the node by a smaller one frees the difference; deleting it frees everything.
  REQUIRE_OK(g.AddNode("ns", Node{"a", "", {}}));
  CHECK(f.UsageOf("ns").storage_bytes == 1 + 3);
  REQUIRE_OK(g.DeleteNode("ns", "a"));
  CHECK(f.UsageOf("ns").storage_bytes == 0);
}

TEST_CASE("graph charges equal a fresh count through every kind of write") {
  QuotaFixture f("graph_usage_recount");
  graph::GraphStore& g = f.engine->graph();
  REQUIRE_OK(g.AddNode("ns", Node{"before", "x", {}}));  // written before the namespace is tracked
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(0)));
  REQUIRE_OK(g.AddNode("ns", Node{"a", "person", {{"k", "v"}}}));
  REQUIRE_OK(g.AddEdge("ns", Edge{"a", "t", "b", {{"p", "1"}}}));
  REQUIRE_OK(g.AddEdge("ns", Edge{"a", "t", "b", {{"p", "longer value"}}}));
  REQUIRE_OK(g.AddEdges("ns", {Edge{"a", "t", "c", {}}, Edge{"a", "t", "c", {{"x", "yy"}}},
                               Edge{"c", "t", "a", {}}}));
  REQUIRE_OK(g.AddNodes("ns", {Node{"c", "", {}}, Node{"c", "project", {{"s", "on"}}}}));
  REQUIRE_OK(g.AddTemporalEdge("ns", TemporalEdge{Edge{"a", "s", "on", {}}, 10, 0}));
  REQUIRE_OK(g.EndTemporalEdge("ns", "a", "s", "on", 500000).status());
  REQUIRE_OK(g.AddTemporalEdge("ns", TemporalEdge{Edge{"c", "s", "a", {}}, 10, 0}));
  REQUIRE_OK(g.DeleteEdge("ns", "a", "t", "b"));
  const uint64_t charged = f.UsageOf("ns").storage_bytes;
  CHECK(charged == FreshCount(f, "ns"));
  // DeleteNode gives back the node, its edges both ways and its intervals both ways.
  REQUIRE_OK(f.engine->graph().DeleteNode("ns", "a"));
  const uint64_t after_delete = f.UsageOf("ns").storage_bytes;
  CHECK(after_delete < charged);
  CHECK(after_delete == FreshCount(f, "ns"));
}

TEST_CASE("writers racing on one edge and one node are charged exactly") {
  QuotaFixture f("graph_usage_race");
  REQUIRE_OK(f.usage().Track("ns", StorageQuota(0)));
  // Catch2's assertions are not thread-safe: each writer keeps its first failure.
  std::vector<absl::Status> failures(4);
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&f, &failures, w] {
      graph::GraphStore& g = f.engine->graph();
      for (int i = 0; i < 200 && failures[w].ok(); ++i) {
        const std::string value(static_cast<size_t>((w * 7 + i) % 40), 'v');
        failures[w].Update(g.AddEdge("ns", Edge{"hot", "t", "spot", {{"p", value}}}));
        failures[w].Update(g.AddNode("ns", Node{"hot", "x", {{"p", value}}}));
        if (i % 10 == w) (void)g.DeleteEdge("ns", "hot", "t", "spot");
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const absl::Status& failure : failures) REQUIRE_OK(failure);
  const uint64_t charged = f.UsageOf("ns").storage_bytes;
  CHECK(charged == FreshCount(f, "ns"));
}

}  // namespace
}  // namespace sochdb::namespaces
