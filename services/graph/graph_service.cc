#include "services/graph/graph_service.h"

#include <utility>
#include <vector>

#include "engine/common/answer_budget.h"
#include "server/rpc/status.h"
#include "services/common/error_field.h"
#include "services/graph/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = graph_convert;

// A query's StopCheck: the call's deadline (the client's, or --max-call-s), checked by the
// engine as it reads edges, so a traversal that runs out of time ends with DEADLINE_EXCEEDED
// instead of holding a worker.
graph::StopCheck DeadlineStop(const server::CallContext& ctx) {
  return [&ctx] { return server::ToAbslStatus(ctx.CheckDeadline()); };
}

}  // namespace

GraphService::GraphService(graph::GraphStore* graph) : graph_(graph) {}

void GraphService::Register(server::GrpcServer& server) {
  // Single writes wait for a sync: the pool. Traversals, paths, edge and neighbour lists and
  // temporal queries may read up to GraphLimits' caps (5 million edges), and a DeleteNode may
  // remove a million edges in one batch: the pool's long lane, so that single writes never
  // wait behind them. A GetNode is one read: inline.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::GraphService>();
  r.Unary("AddNode",
          {Capability::kWrite, Access::kWrite, &v1::AddNodeRequest::namespace_,
           &convert::AddNodeSubject, kPool},
          this, &GraphService::AddNode);
  r.Unary("GetNode",
          {Capability::kRead, Access::kRead, &v1::GetNodeRequest::namespace_,
           &v1::GetNodeRequest::node_id},
          this, &GraphService::GetNode);
  r.Unary("DeleteNode",
          {Capability::kWrite, Access::kDelete, &v1::DeleteNodeRequest::namespace_,
           &convert::DeleteNodeSubjects, kLong},
          this, &GraphService::DeleteNode);
  r.Unary("AddEdge",
          {Capability::kWrite, Access::kWrite, &v1::AddEdgeRequest::namespace_,
           &convert::AddEdgeSubject, kPool},
          this, &GraphService::AddEdge);
  r.Unary("GetEdges",
          {Capability::kRead, Access::kRead, &v1::GetEdgesRequest::namespace_,
           &convert::WholeGraphSubject<v1::GetEdgesRequest>, kLong},
          this, &GraphService::GetEdges);
  r.Unary("DeleteEdge",
          {Capability::kWrite, Access::kDelete, &v1::DeleteEdgeRequest::namespace_,
           &convert::EdgeSubject<v1::DeleteEdgeRequest>, kPool},
          this, &GraphService::DeleteEdge);
  r.Unary("Traverse",
          {Capability::kRead, Access::kRead, &v1::TraverseRequest::namespace_,
           &convert::WholeGraphSubject<v1::TraverseRequest>, kLong},
          this, &GraphService::Traverse);
  r.Unary("ShortestPath",
          {Capability::kRead, Access::kRead, &v1::ShortestPathRequest::namespace_,
           &convert::WholeGraphSubject<v1::ShortestPathRequest>, kLong},
          this, &GraphService::ShortestPath);
  r.Unary("GetNeighbors",
          {Capability::kRead, Access::kRead, &v1::GetNeighborsRequest::namespace_,
           &convert::WholeGraphSubject<v1::GetNeighborsRequest>, kLong},
          this, &GraphService::GetNeighbors);
  r.Unary("AddTemporalEdge",
          {Capability::kWrite, Access::kWrite, &v1::AddTemporalEdgeRequest::namespace_,
           &convert::EdgeSubject<v1::AddTemporalEdgeRequest>, kPool},
          this, &GraphService::AddTemporalEdge);
  r.Unary("QueryTemporalGraph",
          {Capability::kRead, Access::kRead, &v1::QueryTemporalGraphRequest::namespace_,
           &convert::WholeGraphSubject<v1::QueryTemporalGraphRequest>, kLong},
          this, &GraphService::QueryTemporalGraph);
}

grpc::Status GraphService::AddNode(CallContext& ctx, const v1::AddNodeRequest& req,
                                   v1::AddNodeResponse* resp) {
  if (!req.has_node()) {
    resp->set_error("Node is required");
    return grpc::Status::OK;
  }
  absl::Status added = graph_->AddNode(req.namespace_(), convert::ToNode(req.node()));
  if (!added.ok()) return ToGrpcStatus(added);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status GraphService::GetNode(CallContext& ctx, const v1::GetNodeRequest& req,
                                   v1::GetNodeResponse* resp) {
  absl::StatusOr<graph::Node> node = graph_->GetNode(req.namespace_(), req.node_id());
  if (ReportInErrorField(node.status(), resp)) return grpc::Status::OK;
  if (!node.ok()) return ToGrpcStatus(node.status());
  convert::FillNode(*std::move(node), resp->mutable_node());
  return grpc::Status::OK;
}

grpc::Status GraphService::DeleteNode(CallContext& ctx, const v1::DeleteNodeRequest& req,
                                      v1::DeleteNodeResponse* resp) {
  absl::Status deleted = graph_->DeleteNode(req.namespace_(), req.node_id());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status GraphService::AddEdge(CallContext& ctx, const v1::AddEdgeRequest& req,
                                   v1::AddEdgeResponse* resp) {
  if (!req.has_edge()) {
    resp->set_error("Edge is required");
    return grpc::Status::OK;
  }
  absl::Status added = graph_->AddEdge(req.namespace_(), convert::ToEdge(req.edge()));
  if (!added.ok()) return ToGrpcStatus(added);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status GraphService::GetEdges(CallContext& ctx, const v1::GetEdgesRequest& req,
                                    v1::GetEdgesResponse* resp) {
  absl::StatusOr<graph::EdgeQuery> query = convert::ToEdgeQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  AnswerBudget budget =
      ctx.ResponseBudget("GetEdges answer", "set limit and page through the edges");
  query->budget = &budget;
  absl::StatusOr<graph::EdgePage> page = graph_->GetEdges(req.namespace_(), *query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  convert::FillEdges(*std::move(page), resp);
  return grpc::Status::OK;
}

grpc::Status GraphService::DeleteEdge(CallContext& ctx, const v1::DeleteEdgeRequest& req,
                                      v1::DeleteEdgeResponse* resp) {
  absl::Status deleted =
      graph_->DeleteEdge(req.namespace_(), req.from_id(), req.edge_type(), req.to_id());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status GraphService::Traverse(CallContext& ctx, const v1::TraverseRequest& req,
                                    v1::TraverseResponse* resp) {
  absl::StatusOr<graph::TraverseQuery> query = convert::ToTraverseQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  AnswerBudget budget =
      ctx.ResponseBudget("Traverse answer", "set max_nodes and max_edges");
  query->budget = &budget;
  query->stop = DeadlineStop(ctx);
  absl::StatusOr<graph::TraverseResult> result = graph_->Traverse(req.namespace_(), *query);
  if (!result.ok()) return ToGrpcStatus(result.status());
  convert::FillTraverse(*std::move(result), resp);
  return grpc::Status::OK;
}

grpc::Status GraphService::ShortestPath(CallContext& ctx, const v1::ShortestPathRequest& req,
                                        v1::ShortestPathResponse* resp) {
  absl::StatusOr<graph::PathQuery> query = convert::ToPathQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  query->stop = DeadlineStop(ctx);
  absl::StatusOr<graph::PathResult> path = graph_->ShortestPath(req.namespace_(), *query);
  if (ReportInErrorField(path.status(), resp)) return grpc::Status::OK;
  if (!path.ok()) return ToGrpcStatus(path.status());
  convert::FillPath(*std::move(path), resp);
  return grpc::Status::OK;
}

grpc::Status GraphService::GetNeighbors(CallContext& ctx, const v1::GetNeighborsRequest& req,
                                        v1::GetNeighborsResponse* resp) {
  absl::StatusOr<graph::EdgeQuery> query = convert::ToEdgeQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  AnswerBudget budget =
      ctx.ResponseBudget("GetNeighbors answer", "set limit and page through the neighbours");
  query->budget = &budget;
  absl::StatusOr<graph::NeighborPage> page = graph_->GetNeighbors(req.namespace_(), *query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  convert::FillNeighbors(*std::move(page), resp);
  return grpc::Status::OK;
}

grpc::Status GraphService::AddTemporalEdge(CallContext& ctx, const v1::AddTemporalEdgeRequest& req,
                                           v1::AddTemporalEdgeResponse* resp) {
  absl::Status added = graph_->AddTemporalEdge(req.namespace_(), convert::ToTemporalEdge(req));
  if (!added.ok()) return ToGrpcStatus(added);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status GraphService::QueryTemporalGraph(CallContext& ctx,
                                              const v1::QueryTemporalGraphRequest& req,
                                              v1::QueryTemporalGraphResponse* resp) {
  absl::StatusOr<graph::TemporalQuery> query = convert::ToTemporalQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  AnswerBudget budget =
      ctx.ResponseBudget("QueryTemporalGraph answer", "narrow the time range or the edge types");
  query->budget = &budget;
  query->stop = DeadlineStop(ctx);
  absl::StatusOr<std::vector<graph::TemporalEdge>> edges =
      graph_->QueryTemporal(req.namespace_(), *query);
  if (!edges.ok()) return ToGrpcStatus(edges.status());
  resp->mutable_edges()->Reserve(static_cast<int>(edges->size()));
  for (graph::TemporalEdge& edge : *edges) {
    convert::FillTemporalEdge(std::move(edge), resp->add_edges());
  }
  return grpc::Status::OK;
}

}  // namespace sochdb::services
