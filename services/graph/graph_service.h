// sochdb.v1.GraphService (the upstream eleven RPCs) over the engine's GraphStore. Each handler
// converts the request (convert.h), calls the engine and fills the response; authorization,
// the namespace check and policies happen in the call layer.
//
// Error channels follow upstream (../shared/UPSTREAM.md §1.3): a missing node or edge in
// AddNode / AddEdge ("Node is required", "Edge is required") and the engine's NOT_FOUND in
// GetNode, DeleteNode, DeleteEdge and ShortestPath ("Node 'x' not found", "Edge not found",
// "No path found from 'a' to 'b'") are an OK response with `error` set (success false); every
// other engine error is a status code (INVALID_ARGUMENT naming the field and the limit,
// RESOURCE_EXHAUSTED naming the cap, DEADLINE_EXCEEDED, UNAVAILABLE, ...). An enum field
// holding a number its enum does not name is INVALID_ARGUMENT naming the field.
#ifndef SOCHDB_SERVICES_GRAPH_GRAPH_SERVICE_H_
#define SOCHDB_SERVICES_GRAPH_GRAPH_SERVICE_H_

#include "engine/graph/graph_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/graph.grpc.pb.h"

namespace sochdb::services {

class GraphService {
 public:
  // `graph` is not owned and must outlive the server.
  explicit GraphService(graph::GraphStore* graph);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status AddNode(CallContext& ctx, const v1::AddNodeRequest& req, v1::AddNodeResponse* resp);
  grpc::Status GetNode(CallContext& ctx, const v1::GetNodeRequest& req, v1::GetNodeResponse* resp);
  grpc::Status DeleteNode(CallContext& ctx, const v1::DeleteNodeRequest& req,
                          v1::DeleteNodeResponse* resp);
  grpc::Status AddEdge(CallContext& ctx, const v1::AddEdgeRequest& req, v1::AddEdgeResponse* resp);
  grpc::Status GetEdges(CallContext& ctx, const v1::GetEdgesRequest& req,
                        v1::GetEdgesResponse* resp);
  grpc::Status DeleteEdge(CallContext& ctx, const v1::DeleteEdgeRequest& req,
                          v1::DeleteEdgeResponse* resp);
  grpc::Status Traverse(CallContext& ctx, const v1::TraverseRequest& req,
                        v1::TraverseResponse* resp);
  grpc::Status ShortestPath(CallContext& ctx, const v1::ShortestPathRequest& req,
                            v1::ShortestPathResponse* resp);
  grpc::Status GetNeighbors(CallContext& ctx, const v1::GetNeighborsRequest& req,
                            v1::GetNeighborsResponse* resp);
  grpc::Status AddTemporalEdge(CallContext& ctx, const v1::AddTemporalEdgeRequest& req,
                               v1::AddTemporalEdgeResponse* resp);
  grpc::Status QueryTemporalGraph(CallContext& ctx, const v1::QueryTemporalGraphRequest& req,
                                  v1::QueryTemporalGraphResponse* resp);

  graph::GraphStore* const graph_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_GRAPH_GRAPH_SERVICE_H_
