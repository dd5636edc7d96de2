// sochdb.v1.GraphExtensionService (our addition) over the same GraphStore as GraphService, with
// the same namespaces and rules: GetEdge (found=false when there is none), EndTemporalEdge
// (success=false with the engine's text in `error` when no interval is open), AddNodes and
// AddEdges (one atomic batch each), and StreamEdges, a client stream of AddEdges messages.
//
// StreamEdges: each message is committed as its own atomic AddEdges as it arrives. The first
// message names the namespace; a later one may leave it empty, and one naming another
// namespace ends the stream with INVALID_ARGUMENT. Any error ends the stream with a status
// naming the message and what came before it ("stream message 3: edges[7].from_id must not be
// empty (the 2 messages before it, 150 edges, are committed)"): those stay committed.
// added_count counts the edges of every message committed.
#ifndef SOCHDB_SERVICES_GRAPH_GRAPH_EXTENSION_SERVICE_H_
#define SOCHDB_SERVICES_GRAPH_GRAPH_EXTENSION_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "engine/graph/graph_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/graph_extension.grpc.pb.h"

namespace sochdb::services {

class EdgeStreamSink final : public server::StreamSink<v1::AddEdgesRequest, v1::AddEdgesResponse> {
 public:
  // `graph` is not owned and must outlive the sink.
  explicit EdgeStreamSink(graph::GraphStore* graph) : graph_(graph) {}

  grpc::Status OnMessage(server::CallContext& ctx, const v1::AddEdgesRequest& m) override;
  grpc::Status Finish(server::CallContext& ctx, v1::AddEdgesResponse* resp) override;

 private:
  // Ends the stream at the current message for `why`.
  grpc::Status Refuse(const absl::Status& why) const;

  graph::GraphStore* const graph_;
  std::string namespace_;  // the first message's
  uint64_t received_ = 0;  // messages so far: the current one's number, from 1
  uint64_t added_ = 0;
};

class GraphExtensionService {
 public:
  // `graph` is not owned and must outlive the server.
  explicit GraphExtensionService(graph::GraphStore* graph);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status GetEdge(CallContext& ctx, const v1::GetEdgeRequest& req, v1::GetEdgeResponse* resp);
  grpc::Status EndTemporalEdge(CallContext& ctx, const v1::EndTemporalEdgeRequest& req,
                               v1::EndTemporalEdgeResponse* resp);
  grpc::Status AddNodes(CallContext& ctx, const v1::AddNodesRequest& req,
                        v1::AddNodesResponse* resp);
  grpc::Status AddEdges(CallContext& ctx, const v1::AddEdgesRequest& req,
                        v1::AddEdgesResponse* resp);
  grpc::Status StreamEdges(
      CallContext& ctx,
      std::unique_ptr<server::StreamSink<v1::AddEdgesRequest, v1::AddEdgesResponse>>* sink);

  graph::GraphStore* const graph_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_GRAPH_GRAPH_EXTENSION_SERVICE_H_
