// sochdb.v1.SemanticCacheService (Get, Put, Invalidate, GetStats) over the engine's
// SemanticCacheStore. Caches belong to the caller's tenant (never a request field). Each
// handler converts the request (convert.h), calls the engine and fills the response;
// authorization and policies happen in the call layer.
//
// Error channels follow upstream (../shared/UPSTREAM.md §1.8): a miss is an OK answer with empty
// fields, Put answers success=true, GetStats of a cache that does not exist answers zeros.
// Bad input is a status code upstream never needed (it validates nothing): INVALID_ARGUMENT
// naming the field and the limit (a wrong embedding dimension, NaN, an empty embedding on Put,
// oversized keys or values, a pattern that does not compile), RESOURCE_EXHAUSTED naming the
// limit, UNAVAILABLE from a store in its fault state.
#ifndef SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_SERVICE_H_
#define SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_SERVICE_H_

#include "engine/cache/semantic_cache_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/semantic_cache.grpc.pb.h"

namespace sochdb::services {

class SemanticCacheService {
 public:
  // `caches` is not owned and must outlive the server.
  explicit SemanticCacheService(cache::SemanticCacheStore* caches);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status Get(CallContext& ctx, const v1::SemanticCacheGetRequest& req,
                   v1::SemanticCacheGetResponse* resp);
  grpc::Status Put(CallContext& ctx, const v1::SemanticCachePutRequest& req,
                   v1::SemanticCachePutResponse* resp);
  grpc::Status Invalidate(CallContext& ctx, const v1::SemanticCacheInvalidateRequest& req,
                          v1::SemanticCacheInvalidateResponse* resp);
  grpc::Status GetStats(CallContext& ctx, const v1::SemanticCacheStatsRequest& req,
                        v1::SemanticCacheStatsResponse* resp);

  cache::SemanticCacheStore* const caches_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_SERVICE_H_
