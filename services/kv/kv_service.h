// sochdb.v1.KvService over the engine's KvStore: Get, Put, Delete, Scan (server stream),
// BatchGet, BatchPut. Each handler validates (in the engine), calls the engine, translates the
// error and fills the response; authorization and the namespace check happen in the call layer.
// Errors are status codes, as upstream: INVALID_ARGUMENT names the field and the limit,
// UNAVAILABLE means storage refused the write (fault state).
#ifndef SOCHDB_SERVICES_KV_KV_SERVICE_H_
#define SOCHDB_SERVICES_KV_KV_SERVICE_H_

#include <memory>

#include "engine/kv/kv_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/kv.grpc.pb.h"

namespace sochdb::services {

class KvService {
 public:
  // `store` is not owned and must outlive the server.
  explicit KvService(kv::KvStore* store);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status Get(CallContext& ctx, const v1::KvGetRequest& req, v1::KvGetResponse* resp);
  grpc::Status Put(CallContext& ctx, const v1::KvPutRequest& req, v1::KvPutResponse* resp);
  grpc::Status Delete(CallContext& ctx, const v1::KvDeleteRequest& req,
                      v1::KvDeleteResponse* resp);
  grpc::Status Scan(CallContext& ctx, const v1::KvScanRequest& req,
                    std::unique_ptr<server::StreamSource<v1::KvScanResponse>>* source);
  grpc::Status BatchGet(CallContext& ctx, const v1::KvBatchGetRequest& req,
                        v1::KvBatchGetResponse* resp);
  grpc::Status BatchPut(CallContext& ctx, const v1::KvBatchPutRequest& req,
                        v1::KvBatchPutResponse* resp);

  kv::KvStore* const store_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_KV_KV_SERVICE_H_
