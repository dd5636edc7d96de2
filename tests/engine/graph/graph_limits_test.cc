// Tests for GraphStore's validation: every limit of GraphLimits (empty, oversized and NUL-holding
// ids, types and property keys; property counts and bytes; bulk item counts and bytes; depth and
// node caps) answers INVALID_ARGUMENT naming the field and the limit, and a refused call, bulk or
// not, writes nothing. Limits are set small so that each is cheap to reach.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"

namespace sochdb::graph {
namespace {

using namespace std::string_literals;
using testing::GraphFixture;
using testing::ScanGraphKeys;

GraphLimits SmallLimits() {
  GraphLimits limits;
  limits.max_id_bytes = 8;
  limits.max_type_bytes = 4;
  limits.max_properties = 2;
  limits.max_property_key_bytes = 3;
  limits.max_properties_bytes = 16;
  limits.max_batch_items = 3;
  limits.max_batch_bytes = 64;
  limits.max_depth = 5;
  limits.max_traversal_nodes = 10;
  return limits;
}

// INVALID_ARGUMENT whose message holds every fragment (the field, the limit).
void RequireInvalid(const absl::Status& status, std::initializer_list<std::string> fragments) {
  INFO(status.ToString());
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  for (const std::string& fragment : fragments) {
    INFO("expected to find: " << fragment);
    CHECK(std::string(status.message()).find(fragment) != std::string::npos);
  }
}

const std::string kLongId = "123456789";  // 9 bytes: one past max_id_bytes
const std::string kLongType = "typex";    // 5 bytes
const std::string kNulId = "a\0b"s;

TEST_CASE("node ids and types: empty, oversized and NUL are refused, naming the limit",
          "[graph][limits]") {
  GraphFixture f(SmallLimits());
  GraphStore& g = f.graph();
  RequireInvalid(g.AddNode("ns", {"", "t", {}}), {"id", "empty"});
  RequireInvalid(g.AddNode("ns", {kLongId, "t", {}}), {"id", "9 bytes", "limit is 8"});
  RequireInvalid(g.AddNode("ns", {kNulId, "t", {}}), {"id", "NUL"});
  RequireInvalid(g.AddNode("ns", {"n", kLongType, {}}), {"type", "5 bytes", "limit is 4"});
  RequireInvalid(g.AddNode("ns", {"n", "t\0"s, {}}), {"type", "NUL"});
  REQUIRE_OK(g.AddNode("ns", {"12345678", "1234", {}}));  // at the limits is fine
  REQUIRE_OK(g.AddNode("ns", {"n", "", {}}));             // an empty node type is fine
  CHECK(ScanGraphKeys(f.store()).size() == 2);

  RequireInvalid(g.GetNode("ns", kLongId).status(), {"id", "limit is 8"});
  RequireInvalid(g.GetNode("ns", "").status(), {"id", "empty"});
  RequireInvalid(g.DeleteNode("ns", kNulId), {"id", "NUL"});
}

TEST_CASE("edge endpoints and types: empty, oversized and NUL are refused", "[graph][limits]") {
  GraphFixture f(SmallLimits());
  GraphStore& g = f.graph();
  RequireInvalid(g.AddEdge("ns", {"", "t", "b", {}}), {"from_id", "empty"});
  RequireInvalid(g.AddEdge("ns", {"a", "t", "", {}}), {"to_id", "empty"});
  RequireInvalid(g.AddEdge("ns", {"a", "", "b", {}}), {"edge_type", "empty"});
  RequireInvalid(g.AddEdge("ns", {kLongId, "t", "b", {}}), {"from_id", "limit is 8"});
  RequireInvalid(g.AddEdge("ns", {"a", "t", kLongId, {}}), {"to_id", "limit is 8"});
  RequireInvalid(g.AddEdge("ns", {"a", kLongType, "b", {}}), {"edge_type", "limit is 4"});
  RequireInvalid(g.AddEdge("ns", {kNulId, "t", "b", {}}), {"from_id", "NUL"});
  RequireInvalid(g.AddEdge("ns", {"a", "t", kNulId, {}}), {"to_id", "NUL"});
  RequireInvalid(g.AddEdge("ns", {"a", "t\0"s, "b", {}}), {"edge_type", "NUL"});
  CHECK(ScanGraphKeys(f.store()).empty());

  RequireInvalid(g.GetEdge("ns", "a", "", "b").status(), {"edge_type", "empty"});
  RequireInvalid(g.DeleteEdge("ns", kLongId, "t", "b"), {"from_id", "limit is 8"});
  EdgeQuery query;
  query.node = kLongId;
  RequireInvalid(g.GetEdges("ns", query).status(), {"limit is 8"});
  RequireInvalid(g.GetNeighbors("ns", query).status(), {"limit is 8"});
}

TEST_CASE("properties: count, key size, key NUL and total bytes are limited", "[graph][limits]") {
  GraphFixture f(SmallLimits());
  GraphStore& g = f.graph();
  RequireInvalid(g.AddNode("ns", {"n", "t", {{"a", "1"}, {"b", "2"}, {"c", "3"}}}),
                 {"properties", "3", "limit is 2"});
  RequireInvalid(g.AddNode("ns", {"n", "t", {{"", "1"}}}), {"propert", "empty"});
  RequireInvalid(g.AddNode("ns", {"n", "t", {{"abcd", "1"}}}), {"propert", "limit is 3"});
  RequireInvalid(g.AddNode("ns", {"n", "t", {{"a\0"s, "1"}}}), {"propert", "NUL"});
  RequireInvalid(g.AddNode("ns", {"n", "t", {{"k", std::string(16, 'v')}}}),
                 {"propert", "17 bytes", "limit is 16"});
  RequireInvalid(g.AddEdge("ns", {"a", "t", "b", {{"k", std::string(16, 'v')}}}),
                 {"propert", "limit is 16"});
  RequireInvalid(g.AddTemporalEdge("ns", {{"a", "t", "b", {{"abcd", "1"}}}, 1, 0}),
                 {"propert", "limit is 3"});
  CHECK(ScanGraphKeys(f.store()).empty());
  // At the limits: 2 entries, 3-byte keys, 16 bytes in all; values may hold any bytes.
  REQUIRE_OK(g.AddNode("ns", {"n",
                              "t",
                              {{"abc", "12345"},
                               {"xyz",
                                "\0\xff"s
                                "345"}}}));
  CHECK(sochdb::testing::ValueOrFail(g.GetNode("ns", "n")).properties.at("xyz") ==
        "\0\xff"s
        "345");
}

TEST_CASE("a refused bulk call writes nothing and names the item", "[graph][limits]") {
  GraphFixture f(SmallLimits());
  GraphStore& g = f.graph();
  RequireInvalid(g.AddNodes("ns", {{"a", "t", {}}, {"b", "t", {}}, {"", "t", {}}}),
                 {"nodes[2].id", "empty"});
  RequireInvalid(g.AddEdges("ns", {{"a", "t", "b", {}}, {"b", "t", kLongId, {}}}),
                 {"edges[1].to_id", "limit is 8"});
  RequireInvalid(g.AddEdges("ns", {{"a", "t", "b", {}}, {"a", "t", "c", {{"", "v"}}}}),
                 {"edges[1].propert"});
  CHECK(ScanGraphKeys(f.store()).empty());

  std::vector<Edge> four(4, Edge{"a", "t", "b", {}});
  RequireInvalid(g.AddEdges("ns", four), {"edges", "4", "limit is 3"});
  RequireInvalid(g.AddNodes("ns", std::vector<Node>(4, Node{"n", "t", {}})),
                 {"nodes", "4", "limit is 3"});
  // Three edges of 8 + 4 + 8 + 16 bytes: 108 bytes, over the 64-byte batch limit although each
  // is valid on its own.
  const Edge big{"12345678", "type", "87654321", {{"k", std::string(15, 'v')}}};
  std::vector<Edge> heavy = {big, big, big};
  heavy[1].to = "a";
  heavy[2].to = "b";
  RequireInvalid(g.AddEdges("ns", heavy), {"limit is 64"});
  CHECK(ScanGraphKeys(f.store()).empty());
  REQUIRE_OK(g.AddEdges("ns", {big}));
  CHECK(ScanGraphKeys(f.store()).size() == 2);
}

TEST_CASE("traversal, path and temporal arguments are limited", "[graph][limits]") {
  GraphFixture f(SmallLimits());
  GraphStore& g = f.graph();
  f.AddEdge("ns", "a", "t", "b");
  TraverseQuery traverse;
  traverse.start = "a";
  traverse.max_depth = 6;
  RequireInvalid(g.Traverse("ns", traverse).status(), {"max_depth", "6", "limit is 5"});
  traverse.max_depth = 5;
  traverse.max_nodes = 11;
  RequireInvalid(g.Traverse("ns", traverse).status(), {"max_nodes", "11", "10"});
  traverse.max_nodes = 10;
  REQUIRE_OK(g.Traverse("ns", traverse).status());
  traverse.start = "";
  RequireInvalid(g.Traverse("ns", traverse).status(), {"empty"});

  PathQuery path;
  path.from = "a";
  path.to = "b";
  path.max_depth = 6;
  RequireInvalid(g.ShortestPath("ns", path).status(), {"max_depth", "limit is 5"});
  path.max_depth = 5;
  path.to = kLongId;
  RequireInvalid(g.ShortestPath("ns", path).status(), {"to_id", "limit is 8"});

  RequireInvalid(g.AddTemporalEdge("ns", {{"a", "t", "b", {}}, 10, 10}), {"valid_until"});
  RequireInvalid(g.AddTemporalEdge("ns", {{"a", "t", "b", {}}, 10, 5}), {"valid_until"});
  RequireInvalid(g.AddTemporalEdge("ns", {{"a", "", "b", {}}, 10, 0}), {"edge_type"});
  REQUIRE_OK(g.AddTemporalEdge("ns", {{"a", "t", "b", {}}, 10, 11}));
  RequireInvalid(g.EndTemporalEdge("ns", kLongId, "t", "b", 20).status(), {"limit is 8"});
}

}  // namespace
}  // namespace sochdb::graph
