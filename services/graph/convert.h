// Proto <-> engine conversions for GraphService and GraphExtensionService, kept apart so each
// handler reads in a few lines: nodes, edges and temporal edges both ways, the queries (with
// their enum fields checked: a value no enum names is INVALID_ARGUMENT naming the field, since
// proto3 lets any number through), and what policies see of each call.
#ifndef SOCHDB_SERVICES_GRAPH_CONVERT_H_
#define SOCHDB_SERVICES_GRAPH_CONVERT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/governance/governance.h"
#include "engine/graph/graph_store.h"
#include "sochdb/v1/graph.pb.h"
#include "sochdb/v1/graph_extension.pb.h"

namespace sochdb::services::graph_convert {

graph::Node ToNode(const v1::GraphNode& node);
std::vector<graph::Node> ToNodes(const google::protobuf::RepeatedPtrField<v1::GraphNode>& nodes);
void FillNode(graph::Node node, v1::GraphNode* out);

graph::Edge ToEdge(const v1::GraphEdge& edge);
std::vector<graph::Edge> ToEdges(const google::protobuf::RepeatedPtrField<v1::GraphEdge>& edges);
void FillEdge(graph::Edge edge, v1::GraphEdge* out);

graph::TemporalEdge ToTemporalEdge(const v1::AddTemporalEdgeRequest& req);
void FillTemporalEdge(graph::TemporalEdge edge, v1::TemporalEdge* out);

// The enum fields: INVALID_ARGUMENT "direction 7 is not a known EdgeDirection" (and the same
// for order and mode) for a number the enum does not name.
absl::StatusOr<graph::Direction> ToDirection(v1::EdgeDirection direction);
absl::StatusOr<graph::Order> ToOrder(v1::TraversalOrder order);
absl::StatusOr<graph::TemporalMode> ToMode(v1::TemporalQueryMode mode);

// The queries, without what the handler adds from the call (its deadline, its answer budget).
// A bad node_filter is INVALID_ARGUMENT naming it ("node_filter.age: $gt needs a number or
// string").
absl::StatusOr<graph::TraverseQuery> ToTraverseQuery(const v1::TraverseRequest& req);
absl::StatusOr<graph::PathQuery> ToPathQuery(const v1::ShortestPathRequest& req);
absl::StatusOr<graph::EdgeQuery> ToEdgeQuery(const v1::GetEdgesRequest& req);
absl::StatusOr<graph::EdgeQuery> ToEdgeQuery(const v1::GetNeighborsRequest& req);
absl::StatusOr<graph::TemporalQuery> ToTemporalQuery(const v1::QueryTemporalGraphRequest& req);

void FillTraverse(graph::TraverseResult result, v1::TraverseResponse* out);
void FillPath(graph::PathResult result, v1::ShortestPathResponse* out);
void FillEdges(graph::EdgePage page, v1::GetEdgesResponse* out);
void FillNeighbors(graph::NeighborPage page, v1::GetNeighborsResponse* out);

// What policies see of a call (governance::KeyList), in the namespace's graph: a node is the
// key "<id>", an edge (and a temporal edge) "<from>/<type>/<to>". A call that may read any
// node or edge of the graph (traversals, paths, edge and neighbour lists, temporal queries)
// presents the prefix "" (every key); so does a DeleteNode, besides its node: it removes edges
// into the node, "<from>/<type>/<id>", which no prefix of the node's own covers.
std::string EdgeKey(const std::string& from, const std::string& type, const std::string& to);
void AddNodeSubject(const v1::AddNodeRequest& req, governance::KeyList* keys);
void DeleteNodeSubjects(const v1::DeleteNodeRequest& req, governance::KeyList* keys);
void AddEdgeSubject(const v1::AddEdgeRequest& req, governance::KeyList* keys);
void AddNodesSubjects(const v1::AddNodesRequest& req, governance::KeyList* keys);
void AddEdgesSubjects(const v1::AddEdgesRequest& req, governance::KeyList* keys);
// A request naming one edge by from_id, edge_type and to_id.
template <class Req>
void EdgeSubject(const Req& req, governance::KeyList* keys) {
  keys->AddComposed(EdgeKey(req.from_id(), req.edge_type(), req.to_id()));
}
template <class Req>
void WholeGraphSubject(const Req& req, governance::KeyList* keys) {
  keys->AddPrefix("");
}

// A StreamEdges call names its namespace in its first message; later ones may leave it empty
// and write the stream's. Fills a message's empty namespace from the stream's, so that the
// namespace rule and policies check each message where it will be written (the sink refuses a
// message naming another namespace).
void CarryNamespace(v1::AddEdgesRequest* message, v1::AddEdgesRequest* stream);

}  // namespace sochdb::services::graph_convert

#endif  // SOCHDB_SERVICES_GRAPH_CONVERT_H_
