#include "services/graph/convert.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace sochdb::services::graph_convert {
namespace {

graph::Properties ToProperties(const google::protobuf::Map<std::string, std::string>& m) {
  return graph::Properties(m.begin(), m.end());
}

std::vector<std::string> ToStrings(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return std::vector<std::string>(items.begin(), items.end());
}

void FillProperties(graph::Properties properties,
                    google::protobuf::Map<std::string, std::string>* out) {
  for (auto& [key, value] : properties) (*out)[key] = std::move(value);
}

absl::Status UnknownEnum(const char* field, int value, const char* type) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", value, " is not a known ", type));
}

}  // namespace

graph::Node ToNode(const v1::GraphNode& node) {
  return graph::Node{node.id(), node.node_type(), ToProperties(node.properties())};
}

std::vector<graph::Node> ToNodes(const google::protobuf::RepeatedPtrField<v1::GraphNode>& nodes) {
  std::vector<graph::Node> out;
  out.reserve(nodes.size());
  for (const v1::GraphNode& node : nodes) out.push_back(ToNode(node));
  return out;
}

void FillNode(graph::Node node, v1::GraphNode* out) {
  out->set_id(std::move(node.id));
  out->set_node_type(std::move(node.type));
  FillProperties(std::move(node.properties), out->mutable_properties());
}

graph::Edge ToEdge(const v1::GraphEdge& edge) {
  return graph::Edge{edge.from_id(), edge.edge_type(), edge.to_id(),
                     ToProperties(edge.properties())};
}

std::vector<graph::Edge> ToEdges(const google::protobuf::RepeatedPtrField<v1::GraphEdge>& edges) {
  std::vector<graph::Edge> out;
  out.reserve(edges.size());
  for (const v1::GraphEdge& edge : edges) out.push_back(ToEdge(edge));
  return out;
}

void FillEdge(graph::Edge edge, v1::GraphEdge* out) {
  out->set_from_id(std::move(edge.from));
  out->set_edge_type(std::move(edge.type));
  out->set_to_id(std::move(edge.to));
  FillProperties(std::move(edge.properties), out->mutable_properties());
}

graph::TemporalEdge ToTemporalEdge(const v1::AddTemporalEdgeRequest& req) {
  graph::TemporalEdge out;
  out.edge =
      graph::Edge{req.from_id(), req.edge_type(), req.to_id(), ToProperties(req.properties())};
  out.valid_from = req.valid_from();
  out.valid_until = req.valid_until();
  return out;
}

void FillTemporalEdge(graph::TemporalEdge edge, v1::TemporalEdge* out) {
  out->set_from_id(std::move(edge.edge.from));
  out->set_edge_type(std::move(edge.edge.type));
  out->set_to_id(std::move(edge.edge.to));
  FillProperties(std::move(edge.edge.properties), out->mutable_properties());
  out->set_valid_from(edge.valid_from);
  out->set_valid_until(edge.valid_until);
}

absl::StatusOr<graph::Direction> ToDirection(v1::EdgeDirection direction) {
  switch (direction) {
    case v1::EDGE_DIRECTION_OUTGOING:
      return graph::Direction::kOut;
    case v1::EDGE_DIRECTION_INCOMING:
      return graph::Direction::kIn;
    case v1::EDGE_DIRECTION_BOTH:
      return graph::Direction::kBoth;
    default:
      break;
  }
  return UnknownEnum("direction", direction, "EdgeDirection");
}

absl::StatusOr<graph::Order> ToOrder(v1::TraversalOrder order) {
  switch (order) {
    case v1::TRAVERSAL_ORDER_BFS:
      return graph::Order::kBreadthFirst;
    case v1::TRAVERSAL_ORDER_DFS:
      return graph::Order::kDepthFirst;
    default:
      break;
  }
  return UnknownEnum("order", order, "TraversalOrder");
}

absl::StatusOr<graph::TemporalMode> ToMode(v1::TemporalQueryMode mode) {
  switch (mode) {
    case v1::TEMPORAL_QUERY_MODE_POINT_IN_TIME:
      return graph::TemporalMode::kPointInTime;
    case v1::TEMPORAL_QUERY_MODE_RANGE:
      return graph::TemporalMode::kRange;
    case v1::TEMPORAL_QUERY_MODE_CURRENT:
      return graph::TemporalMode::kCurrent;
    default:
      break;
  }
  return UnknownEnum("mode", mode, "TemporalQueryMode");
}

absl::StatusOr<graph::TraverseQuery> ToTraverseQuery(const v1::TraverseRequest& req) {
  graph::TraverseQuery q;
  q.start = req.start_node_id();
  absl::StatusOr<graph::Order> order = ToOrder(req.order());
  if (!order.ok()) return order.status();
  absl::StatusOr<graph::Direction> direction = ToDirection(req.direction());
  if (!direction.ok()) return direction.status();
  q.order = *order;
  q.direction = *direction;
  q.max_depth = req.max_depth();
  q.edge_types = ToStrings(req.edge_types());
  q.node_types = ToStrings(req.node_types());
  if (!req.node_filter().empty()) {
    absl::StatusOr<filter::MetadataFilter> f =
        filter::MetadataFilter::Parse(req.node_filter(), "node_filter");
    if (!f.ok()) return f.status();
    q.node_filter = *std::move(f);
  }
  q.max_nodes = req.max_nodes();
  q.max_edges = req.max_edges();
  return q;
}

absl::StatusOr<graph::PathQuery> ToPathQuery(const v1::ShortestPathRequest& req) {
  graph::PathQuery q;
  absl::StatusOr<graph::Direction> direction = ToDirection(req.direction());
  if (!direction.ok()) return direction.status();
  q.from = req.from_id();
  q.to = req.to_id();
  q.max_depth = req.max_depth();
  q.direction = *direction;
  q.edge_types = ToStrings(req.edge_types());
  q.weight_property = req.weight_property();
  return q;
}

absl::StatusOr<graph::EdgeQuery> ToEdgeQuery(const v1::GetEdgesRequest& req) {
  graph::EdgeQuery q;
  absl::StatusOr<graph::Direction> direction = ToDirection(req.direction());
  if (!direction.ok()) return direction.status();
  q.node = req.node_id();
  q.direction = *direction;
  // One exact type, or every type when empty (as upstream).
  if (!req.edge_type().empty()) q.edge_types.push_back(req.edge_type());
  q.limit = req.limit();
  q.page_token = req.page_token();
  return q;
}

absl::StatusOr<graph::EdgeQuery> ToEdgeQuery(const v1::GetNeighborsRequest& req) {
  graph::EdgeQuery q;
  absl::StatusOr<graph::Direction> direction = ToDirection(req.direction());
  if (!direction.ok()) return direction.status();
  q.node = req.node_id();
  q.direction = *direction;
  q.edge_types = ToStrings(req.edge_types());
  q.limit = req.limit();
  q.page_token = req.page_token();
  return q;
}

absl::StatusOr<graph::TemporalQuery> ToTemporalQuery(const v1::QueryTemporalGraphRequest& req) {
  graph::TemporalQuery q;
  absl::StatusOr<graph::TemporalMode> mode = ToMode(req.mode());
  if (!mode.ok()) return mode.status();
  absl::StatusOr<graph::Direction> direction = ToDirection(req.direction());
  if (!direction.ok()) return direction.status();
  q.node = req.node_id();
  q.mode = *mode;
  q.timestamp = req.timestamp();
  q.start_time = req.start_time();
  q.end_time = req.end_time();
  q.edge_types = ToStrings(req.edge_types());
  q.direction = *direction;
  return q;
}

void FillTraverse(graph::TraverseResult result, v1::TraverseResponse* out) {
  out->mutable_nodes()->Reserve(static_cast<int>(result.nodes.size()));
  for (graph::Node& node : result.nodes) FillNode(std::move(node), out->add_nodes());
  out->mutable_edges()->Reserve(static_cast<int>(result.edges.size()));
  for (graph::Edge& edge : result.edges) FillEdge(std::move(edge), out->add_edges());
  out->set_truncated(result.truncated);
}

void FillPath(graph::PathResult result, v1::ShortestPathResponse* out) {
  for (std::string& id : result.path) out->add_path(std::move(id));
  for (graph::Edge& edge : result.edges) FillEdge(std::move(edge), out->add_edges());
  out->set_total_weight(result.total_weight);
}

void FillEdges(graph::EdgePage page, v1::GetEdgesResponse* out) {
  out->mutable_edges()->Reserve(static_cast<int>(page.edges.size()));
  for (graph::Edge& edge : page.edges) FillEdge(std::move(edge), out->add_edges());
  out->set_next_page_token(std::move(page.next_page_token));
}

void FillNeighbors(graph::NeighborPage page, v1::GetNeighborsResponse* out) {
  for (graph::Node& node : page.nodes) FillNode(std::move(node), out->add_nodes());
  for (graph::Edge& edge : page.edges) FillEdge(std::move(edge), out->add_edges());
  out->set_next_page_token(std::move(page.next_page_token));
}

std::string EdgeKey(const std::string& from, const std::string& type, const std::string& to) {
  return absl::StrCat(from, "/", type, "/", to);
}

void AddNodeSubject(const v1::AddNodeRequest& req, governance::KeyList* keys) {
  keys->Add(req.node().id());
}

void DeleteNodeSubjects(const v1::DeleteNodeRequest& req, governance::KeyList* keys) {
  keys->Add(req.node_id());
  keys->AddPrefix("");
}

void AddEdgeSubject(const v1::AddEdgeRequest& req, governance::KeyList* keys) {
  keys->AddComposed(EdgeKey(req.edge().from_id(), req.edge().edge_type(), req.edge().to_id()));
}

void AddNodesSubjects(const v1::AddNodesRequest& req, governance::KeyList* keys) {
  for (const v1::GraphNode& node : req.nodes()) keys->Add(node.id());
}

void AddEdgesSubjects(const v1::AddEdgesRequest& req, governance::KeyList* keys) {
  for (const v1::GraphEdge& edge : req.edges()) {
    keys->AddComposed(EdgeKey(edge.from_id(), edge.edge_type(), edge.to_id()));
  }
}

void CarryNamespace(v1::AddEdgesRequest* message, v1::AddEdgesRequest* stream) {
  if (stream->namespace_().empty()) {
    stream->set_namespace_(message->namespace_());
  } else if (message->namespace_().empty()) {
    message->set_namespace_(stream->namespace_());
  }
}

}  // namespace sochdb::services::graph_convert
