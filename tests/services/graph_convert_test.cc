// GraphService's conversions (services/graph/convert.h): nodes, edges and temporal edges both
// ways with their properties, every query's fields, enum numbers no enum names refused as
// INVALID_ARGUMENT naming the field, node_filter parsed with its errors naming node_filter, the
// keys policies see of each call, and how a StreamEdges message gets the stream's namespace.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "services/graph/convert.h"
#include "sochdb/v1/graph.pb.h"
#include "sochdb/v1/graph_extension.pb.h"

namespace sochdb::services::graph_convert {
namespace {

using Subject = governance::KeyList::Subject;

// The subjects of `keys` as "key" or "key*" (a prefix), in order.
std::vector<std::string> Listed(const governance::KeyList& keys) {
  std::vector<std::string> out;
  for (const Subject& s : keys.subjects()) {
    out.push_back(std::string(s.key) + (s.prefix ? "*" : ""));
  }
  return out;
}

std::string Message(const absl::Status& status) {
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

v1::GraphEdge MakeEdge(const std::string& from, const std::string& type, const std::string& to) {
  v1::GraphEdge edge;
  edge.set_from_id(from);
  edge.set_edge_type(type);
  edge.set_to_id(to);
  return edge;
}

TEST_CASE("nodes and edges convert both ways with their properties") {
  v1::GraphNode node;
  node.set_id("alice");
  node.set_node_type("person");
  (*node.mutable_properties())["age"] = "30";
  (*node.mutable_properties())["city"] = "Oslo";
  const graph::Node n = ToNode(node);
  CHECK(n.id == "alice");
  CHECK(n.type == "person");
  CHECK(n.properties == graph::Properties{{"age", "30"}, {"city", "Oslo"}});
  v1::GraphNode back;
  FillNode(n, &back);
  CHECK((back.id() == "alice" && back.node_type() == "person"));
  CHECK(ToNode(back).properties == n.properties);

  v1::GraphEdge edge = MakeEdge("alice", "knows", "bob");
  (*edge.mutable_properties())["since"] = "2020";
  const graph::Edge e = ToEdge(edge);
  CHECK((e.from == "alice" && e.type == "knows" && e.to == "bob"));
  CHECK(e.properties == graph::Properties{{"since", "2020"}});
  v1::GraphEdge edge_back;
  FillEdge(e, &edge_back);
  CHECK((edge_back.from_id() == "alice" && edge_back.edge_type() == "knows"));
  CHECK((edge_back.to_id() == "bob" && edge_back.properties().at("since") == "2020"));

  v1::AddEdgesRequest bulk;
  *bulk.add_edges() = MakeEdge("a", "t", "b");
  *bulk.add_edges() = MakeEdge("b", "t", "c");
  const std::vector<graph::Edge> edges = ToEdges(bulk.edges());
  REQUIRE(edges.size() == 2);
  CHECK(edges[1].from == "b");
}

TEST_CASE("a temporal edge keeps its interval both ways") {
  v1::AddTemporalEdgeRequest req;
  req.set_from_id("door");
  req.set_edge_type("STATE");
  req.set_to_id("open");
  (*req.mutable_properties())["by"] = "alice";
  req.set_valid_from(1000);
  req.set_valid_until(2000);
  const graph::TemporalEdge t = ToTemporalEdge(req);
  CHECK((t.edge.from == "door" && t.edge.type == "STATE" && t.edge.to == "open"));
  CHECK(t.edge.properties == graph::Properties{{"by", "alice"}});
  CHECK((t.valid_from == 1000 && t.valid_until == 2000));
  v1::TemporalEdge out;
  FillTemporalEdge(t, &out);
  CHECK((out.from_id() == "door" && out.edge_type() == "STATE" && out.to_id() == "open"));
  CHECK((out.valid_from() == 1000 && out.valid_until() == 2000));
  CHECK(out.properties().at("by") == "alice");
}

TEST_CASE("every enum value converts; a number no enum names is refused naming the field") {
  CHECK(*ToDirection(v1::EDGE_DIRECTION_OUTGOING) == graph::Direction::kOut);
  CHECK(*ToDirection(v1::EDGE_DIRECTION_INCOMING) == graph::Direction::kIn);
  CHECK(*ToDirection(v1::EDGE_DIRECTION_BOTH) == graph::Direction::kBoth);
  CHECK(*ToOrder(v1::TRAVERSAL_ORDER_BFS) == graph::Order::kBreadthFirst);
  CHECK(*ToOrder(v1::TRAVERSAL_ORDER_DFS) == graph::Order::kDepthFirst);
  CHECK(*ToMode(v1::TEMPORAL_QUERY_MODE_POINT_IN_TIME) == graph::TemporalMode::kPointInTime);
  CHECK(*ToMode(v1::TEMPORAL_QUERY_MODE_RANGE) == graph::TemporalMode::kRange);
  CHECK(*ToMode(v1::TEMPORAL_QUERY_MODE_CURRENT) == graph::TemporalMode::kCurrent);

  // Proto3 enums are open: a client can send any number, and each query refuses it.
  v1::GetEdgesRequest edges;
  edges.set_direction(static_cast<v1::EdgeDirection>(3));
  CHECK(Message(ToEdgeQuery(edges).status()) == "direction 3 is not a known EdgeDirection");
  v1::GetNeighborsRequest neighbors;
  neighbors.set_direction(static_cast<v1::EdgeDirection>(-1));
  CHECK(Message(ToEdgeQuery(neighbors).status()) == "direction -1 is not a known EdgeDirection");
  v1::ShortestPathRequest path;
  path.set_direction(static_cast<v1::EdgeDirection>(7));
  CHECK(Message(ToPathQuery(path).status()) == "direction 7 is not a known EdgeDirection");
  v1::TraverseRequest traverse;
  traverse.set_order(static_cast<v1::TraversalOrder>(2));
  CHECK(Message(ToTraverseQuery(traverse).status()) == "order 2 is not a known TraversalOrder");
  traverse.set_order(v1::TRAVERSAL_ORDER_DFS);
  traverse.set_direction(static_cast<v1::EdgeDirection>(100));
  CHECK(Message(ToTraverseQuery(traverse).status()) ==
        "direction 100 is not a known EdgeDirection");
  v1::QueryTemporalGraphRequest temporal;
  temporal.set_mode(static_cast<v1::TemporalQueryMode>(3));
  CHECK(Message(ToTemporalQuery(temporal).status()) == "mode 3 is not a known TemporalQueryMode");
  temporal.set_mode(v1::TEMPORAL_QUERY_MODE_RANGE);
  temporal.set_direction(static_cast<v1::EdgeDirection>(9));
  CHECK(Message(ToTemporalQuery(temporal).status()) == "direction 9 is not a known EdgeDirection");
}

TEST_CASE("a Traverse request becomes its query, node_filter parsed") {
  v1::TraverseRequest req;
  req.set_start_node_id("alice");
  req.set_order(v1::TRAVERSAL_ORDER_DFS);
  req.set_max_depth(3);
  req.add_edge_types("knows");
  req.add_edge_types("works_with");
  req.set_direction(v1::EDGE_DIRECTION_BOTH);
  req.add_node_types("person");
  req.set_max_nodes(1000);
  req.set_max_edges(5000);
  absl::StatusOr<graph::TraverseQuery> q = ToTraverseQuery(req);
  REQUIRE(q.ok());
  CHECK(q->start == "alice");
  CHECK(q->order == graph::Order::kDepthFirst);
  CHECK(q->max_depth == 3);
  CHECK(q->edge_types == std::vector<std::string>{"knows", "works_with"});
  CHECK(q->direction == graph::Direction::kBoth);
  CHECK(q->node_types == std::vector<std::string>{"person"});
  CHECK(q->max_nodes == 1000);
  CHECK(q->max_edges == 5000);
  CHECK_FALSE(q->node_filter.has_value());  // empty: every node

  req.set_node_filter(R"({"age": {"$gte": 30}})");
  q = ToTraverseQuery(req);
  REQUIRE(q.ok());
  REQUIRE(q->node_filter.has_value());
  CHECK(q->node_filter->Matches({{"age", "31"}}));
  CHECK_FALSE(q->node_filter->Matches({{"age", "29"}}));

  req.set_node_filter(R"({"age": {"$gt": []}})");
  CHECK(Message(ToTraverseQuery(req).status()) == "node_filter.age: $gt needs a number or string");
  req.set_node_filter("{");
  CHECK(Message(ToTraverseQuery(req).status()).rfind("node_filter: invalid JSON", 0) == 0);
}

TEST_CASE("path, edge-list, neighbour and temporal requests become their queries") {
  v1::ShortestPathRequest path;
  path.set_from_id("a");
  path.set_to_id("z");
  path.set_max_depth(6);
  path.add_edge_types("road");
  path.set_direction(v1::EDGE_DIRECTION_INCOMING);
  path.set_weight_property("km");
  absl::StatusOr<graph::PathQuery> p = ToPathQuery(path);
  REQUIRE(p.ok());
  CHECK((p->from == "a" && p->to == "z" && p->max_depth == 6));
  CHECK(p->edge_types == std::vector<std::string>{"road"});
  CHECK(p->direction == graph::Direction::kIn);
  CHECK(p->weight_property == "km");

  // GetEdges takes one exact type; empty means every type (as upstream).
  v1::GetEdgesRequest edges;
  edges.set_node_id("hub");
  edges.set_direction(v1::EDGE_DIRECTION_BOTH);
  edges.set_limit(500);
  edges.set_page_token("token");
  absl::StatusOr<graph::EdgeQuery> e = ToEdgeQuery(edges);
  REQUIRE(e.ok());
  CHECK(e->node == "hub");
  CHECK(e->direction == graph::Direction::kBoth);
  CHECK(e->edge_types.empty());
  CHECK((e->limit == 500 && e->page_token == "token"));
  edges.set_edge_type("follows");
  CHECK(ToEdgeQuery(edges)->edge_types == std::vector<std::string>{"follows"});

  v1::GetNeighborsRequest neighbors;
  neighbors.set_node_id("hub");
  neighbors.add_edge_types("a");
  neighbors.add_edge_types("b");
  neighbors.set_limit(7);
  absl::StatusOr<graph::EdgeQuery> n = ToEdgeQuery(neighbors);
  REQUIRE(n.ok());
  CHECK(n->direction == graph::Direction::kOut);  // zero is OUTGOING
  CHECK(n->edge_types == std::vector<std::string>{"a", "b"});
  CHECK(n->limit == 7);

  v1::QueryTemporalGraphRequest temporal;
  temporal.set_node_id("door");
  temporal.set_mode(v1::TEMPORAL_QUERY_MODE_RANGE);
  temporal.set_timestamp(5);
  temporal.set_start_time(10);
  temporal.set_end_time(20);
  temporal.add_edge_types("STATE");
  temporal.set_direction(v1::EDGE_DIRECTION_INCOMING);
  absl::StatusOr<graph::TemporalQuery> t = ToTemporalQuery(temporal);
  REQUIRE(t.ok());
  CHECK(t->node == "door");
  CHECK(t->mode == graph::TemporalMode::kRange);
  CHECK((t->timestamp == 5 && t->start_time == 10 && t->end_time == 20));
  CHECK(t->edge_types == std::vector<std::string>{"STATE"});
  CHECK(t->direction == graph::Direction::kIn);
}

TEST_CASE("results fill their responses") {
  graph::TraverseResult traversed;
  traversed.nodes.push_back({"a", "person", {{"k", "v"}}});
  traversed.nodes.push_back({"b", "", {}});
  traversed.edges.push_back({"a", "knows", "b", {}});
  traversed.edges.push_back({"b", "knows", "c", {}});  // edges may lead past the nodes
  traversed.truncated = true;
  v1::TraverseResponse t;
  FillTraverse(traversed, &t);
  REQUIRE(t.nodes_size() == 2);
  CHECK((t.nodes(0).id() == "a" && t.nodes(0).properties().at("k") == "v"));
  REQUIRE(t.edges_size() == 2);
  CHECK(t.edges(1).to_id() == "c");
  CHECK(t.truncated());
  CHECK(t.error().empty());

  graph::PathResult found;
  found.path = {"a", "b"};
  found.edges.push_back({"b", "road", "a", {{"km", "2.5"}}});  // walked against its direction
  found.total_weight = 2.5;
  v1::ShortestPathResponse p;
  FillPath(found, &p);
  CHECK(std::vector<std::string>(p.path().begin(), p.path().end()) ==
        std::vector<std::string>{"a", "b"});
  CHECK((p.edges(0).from_id() == "b" && p.edges(0).to_id() == "a"));
  CHECK(p.total_weight() == 2.5);

  graph::EdgePage page;
  page.edges.push_back({"a", "t", "b", {}});
  page.next_page_token = "next";
  v1::GetEdgesResponse e;
  FillEdges(page, &e);
  CHECK((e.edges_size() == 1 && e.next_page_token() == "next"));

  graph::NeighborPage neighbors;
  neighbors.nodes.push_back({"b", "", {}});
  neighbors.edges.push_back({"a", "t", "b", {}});
  v1::GetNeighborsResponse n;
  FillNeighbors(neighbors, &n);
  CHECK((n.nodes_size() == 1 && n.edges_size() == 1 && n.next_page_token().empty()));
}

TEST_CASE("policies see nodes as their ids, edges as from/type/to, wide reads as every key") {
  governance::KeyList add_node;
  v1::AddNodeRequest node_req;
  node_req.mutable_node()->set_id("alice");
  AddNodeSubject(node_req, &add_node);
  CHECK(Listed(add_node) == std::vector<std::string>{"alice"});

  governance::KeyList delete_node;
  v1::DeleteNodeRequest delete_req;
  delete_req.set_node_id("alice");
  DeleteNodeSubjects(delete_req, &delete_node);
  // It also removes edges into the node, from any key: every key.
  CHECK(Listed(delete_node) == std::vector<std::string>{"alice", "*"});

  governance::KeyList add_edge;
  v1::AddEdgeRequest edge_req;
  *edge_req.mutable_edge() = MakeEdge("alice", "knows", "bob");
  AddEdgeSubject(edge_req, &add_edge);
  CHECK(Listed(add_edge) == std::vector<std::string>{"alice/knows/bob"});

  governance::KeyList one_edge;
  v1::EndTemporalEdgeRequest end;
  end.set_from_id("door");
  end.set_edge_type("STATE");
  end.set_to_id("open");
  EdgeSubject(end, &one_edge);
  CHECK(Listed(one_edge) == std::vector<std::string>{"door/STATE/open"});

  governance::KeyList bulk_nodes;
  v1::AddNodesRequest nodes;
  nodes.add_nodes()->set_id("a");
  nodes.add_nodes()->set_id("b");
  AddNodesSubjects(nodes, &bulk_nodes);
  CHECK(Listed(bulk_nodes) == std::vector<std::string>{"a", "b"});

  governance::KeyList bulk_edges;
  v1::AddEdgesRequest edges;
  *edges.add_edges() = MakeEdge("a", "t", "b");
  *edges.add_edges() = MakeEdge("b", "u", "c");
  AddEdgesSubjects(edges, &bulk_edges);
  CHECK(Listed(bulk_edges) == std::vector<std::string>{"a/t/b", "b/u/c"});

  governance::KeyList wide;
  WholeGraphSubject(v1::TraverseRequest(), &wide);
  CHECK(Listed(wide) == std::vector<std::string>{"*"});
}

TEST_CASE("a StreamEdges message without a namespace gets the stream's") {
  v1::AddEdgesRequest stream;
  v1::AddEdgesRequest first;
  first.set_namespace_("kg");
  CarryNamespace(&first, &stream);
  CHECK(stream.namespace_() == "kg");
  CHECK(first.namespace_() == "kg");

  v1::AddEdgesRequest later;
  CarryNamespace(&later, &stream);
  CHECK(later.namespace_() == "kg");

  // Another namespace is kept as sent: checked where it would be written, then refused by the
  // sink (one stream writes one namespace).
  v1::AddEdgesRequest other;
  other.set_namespace_("elsewhere");
  CarryNamespace(&other, &stream);
  CHECK(other.namespace_() == "elsewhere");
  CHECK(stream.namespace_() == "kg");
}

}  // namespace
}  // namespace sochdb::services::graph_convert
