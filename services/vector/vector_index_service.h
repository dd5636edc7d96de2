// sochdb.v1.VectorIndexService over the engine's VectorIndexStore: CreateIndex, DropIndex,
// InsertBatch, InsertStream (client stream), Search, SearchBatch, GetStats, HealthCheck. Indexes
// are scoped by the caller's tenant (never a request field). Each RPC uses the error channel the
// upstream server uses, so existing clients behave: CreateIndex/DropIndex/GetStats report
// "already exists"/"not found" in the `error` field; InsertBatch/Search report unknown indexes
// and bad arguments as status codes; InsertStream collects its errors in `errors`.
#ifndef SOCHDB_SERVICES_VECTOR_VECTOR_INDEX_SERVICE_H_
#define SOCHDB_SERVICES_VECTOR_VECTOR_INDEX_SERVICE_H_

#include <memory>

#include "engine/vector/vector_index_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/vector_index.grpc.pb.h"

namespace sochdb::services {

class VectorIndexService {
 public:
  // `indexes` is not owned and must outlive the server.
  explicit VectorIndexService(vector::VectorIndexStore* indexes);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status CreateIndex(CallContext& ctx, const v1::CreateIndexRequest& req,
                           v1::CreateIndexResponse* resp);
  grpc::Status DropIndex(CallContext& ctx, const v1::DropIndexRequest& req,
                         v1::DropIndexResponse* resp);
  grpc::Status InsertBatch(CallContext& ctx, const v1::InsertBatchRequest& req,
                           v1::InsertBatchResponse* resp);
  grpc::Status InsertStream(
      CallContext& ctx,
      std::unique_ptr<server::StreamSink<v1::InsertStreamRequest, v1::InsertStreamResponse>>* sink);
  grpc::Status Search(CallContext& ctx, const v1::SearchRequest& req, v1::SearchResponse* resp);
  grpc::Status SearchBatch(CallContext& ctx, const v1::SearchBatchRequest& req,
                           v1::SearchBatchResponse* resp);
  grpc::Status GetStats(CallContext& ctx, const v1::GetStatsRequest& req,
                        v1::GetStatsResponse* resp);
  grpc::Status HealthCheck(CallContext& ctx, const v1::HealthCheckRequest& req,
                           v1::HealthCheckResponse* resp);

  vector::VectorIndexStore* const indexes_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_VECTOR_VECTOR_INDEX_SERVICE_H_
