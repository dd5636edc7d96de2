#include "services/graph/graph_extension_service.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/rpc/status.h"
#include "services/graph/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = graph_convert;

// added_count is a uint32: a stream past 4 billion edges answers the most it can say.
uint32_t Count(uint64_t n) {
  return static_cast<uint32_t>(std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
}

}  // namespace

grpc::Status EdgeStreamSink::OnMessage(server::CallContext& ctx, const v1::AddEdgesRequest& m) {
  // The call layer has filled an empty namespace from the first message's (CarryNamespace).
  if (++received_ == 1) {
    namespace_ = m.namespace_();
  } else if (m.namespace_() != namespace_) {
    // Not echoed: the stream's own name is enough to say it.
    return Refuse(absl::InvalidArgumentError(
        absl::StrCat("namespace differs from the stream's namespace '", namespace_,
                     "' (one stream writes one namespace)")));
  }
  absl::Status added = graph_->AddEdges(namespace_, convert::ToEdges(m.edges()));
  if (!added.ok()) return Refuse(added);
  added_ += static_cast<uint64_t>(m.edges_size());
  return grpc::Status::OK;
}

grpc::Status EdgeStreamSink::Refuse(const absl::Status& why) const {
  // The response carries no error, so the status says what the messages before this one
  // committed: they stay.
  const uint64_t committed = received_ - 1;
  return ToGrpcStatus(absl::Status(
      why.code(), absl::StrCat("stream message ", received_, ": ", why.message(), " (the ",
                               committed, committed == 1 ? " message" : " messages", " before it, ",
                               added_, added_ == 1 ? " edge" : " edges", ", are committed)")));
}

grpc::Status EdgeStreamSink::Finish(server::CallContext& ctx, v1::AddEdgesResponse* resp) {
  resp->set_added_count(Count(added_));
  return grpc::Status::OK;
}

GraphExtensionService::GraphExtensionService(graph::GraphStore* graph) : graph_(graph) {}

void GraphExtensionService::Register(server::GrpcServer& server) {
  // As GraphService: one read inline, a single write on the pool, bulk loads (up to 10,000
  // items and 32 MiB a call) on the pool's long lane.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::GraphExtensionService>();
  r.Unary("GetEdge",
          {Capability::kRead, Access::kRead, &v1::GetEdgeRequest::namespace_,
           &convert::EdgeSubject<v1::GetEdgeRequest>},
          this, &GraphExtensionService::GetEdge);
  r.Unary("EndTemporalEdge",
          {Capability::kWrite, Access::kWrite, &v1::EndTemporalEdgeRequest::namespace_,
           &convert::EdgeSubject<v1::EndTemporalEdgeRequest>, kPool},
          this, &GraphExtensionService::EndTemporalEdge);
  r.Unary("AddNodes",
          {Capability::kWrite, Access::kWrite, &v1::AddNodesRequest::namespace_,
           &convert::AddNodesSubjects, kLong},
          this, &GraphExtensionService::AddNodes);
  r.Unary("AddEdges",
          {Capability::kWrite, Access::kWrite, &v1::AddEdgesRequest::namespace_,
           &convert::AddEdgesSubjects, kLong},
          this, &GraphExtensionService::AddEdges);
  server::MethodPolicy<v1::AddEdgesRequest> stream{Capability::kWrite, Access::kWrite,
                                                   &v1::AddEdgesRequest::namespace_,
                                                   &convert::AddEdgesSubjects, kLong};
  stream.target.carry = &convert::CarryNamespace;  // later messages may omit the namespace
  r.ClientStream("StreamEdges", std::move(stream), this, &GraphExtensionService::StreamEdges);
}

grpc::Status GraphExtensionService::GetEdge(CallContext& ctx, const v1::GetEdgeRequest& req,
                                            v1::GetEdgeResponse* resp) {
  absl::StatusOr<graph::Edge> edge =
      graph_->GetEdge(req.namespace_(), req.from_id(), req.edge_type(), req.to_id());
  if (absl::IsNotFound(edge.status())) return grpc::Status::OK;  // found = false
  if (!edge.ok()) return ToGrpcStatus(edge.status());
  resp->set_found(true);
  convert::FillEdge(*std::move(edge), resp->mutable_edge());
  return grpc::Status::OK;
}

grpc::Status GraphExtensionService::EndTemporalEdge(CallContext& ctx,
                                                    const v1::EndTemporalEdgeRequest& req,
                                                    v1::EndTemporalEdgeResponse* resp) {
  absl::StatusOr<graph::TemporalEdge> ended = graph_->EndTemporalEdge(
      req.namespace_(), req.from_id(), req.edge_type(), req.to_id(), req.end_time());
  if (absl::IsNotFound(ended.status())) {
    resp->set_error(std::string(ended.status().message()));
    return grpc::Status::OK;
  }
  if (!ended.ok()) return ToGrpcStatus(ended.status());
  resp->set_success(true);
  convert::FillTemporalEdge(*std::move(ended), resp->mutable_edge());
  return grpc::Status::OK;
}

grpc::Status GraphExtensionService::AddNodes(CallContext& ctx, const v1::AddNodesRequest& req,
                                             v1::AddNodesResponse* resp) {
  absl::Status added = graph_->AddNodes(req.namespace_(), convert::ToNodes(req.nodes()));
  if (!added.ok()) return ToGrpcStatus(added);
  resp->set_added_count(Count(static_cast<uint64_t>(req.nodes_size())));
  return grpc::Status::OK;
}

grpc::Status GraphExtensionService::AddEdges(CallContext& ctx, const v1::AddEdgesRequest& req,
                                             v1::AddEdgesResponse* resp) {
  absl::Status added = graph_->AddEdges(req.namespace_(), convert::ToEdges(req.edges()));
  if (!added.ok()) return ToGrpcStatus(added);
  resp->set_added_count(Count(static_cast<uint64_t>(req.edges_size())));
  return grpc::Status::OK;
}

grpc::Status GraphExtensionService::StreamEdges(
    CallContext& ctx,
    std::unique_ptr<server::StreamSink<v1::AddEdgesRequest, v1::AddEdgesResponse>>* sink) {
  *sink = std::make_unique<EdgeStreamSink>(graph_);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
