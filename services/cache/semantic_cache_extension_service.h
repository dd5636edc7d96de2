// sochdb.v1.SemanticCacheExtensionService (DeleteEntry, ClearCache, ListCaches, ConfigureCache)
// over the engine's SemanticCacheStore: the same caches as SemanticCacheService, in the
// caller's tenant. Errors are status codes: INVALID_ARGUMENT naming the field and the limit,
// RESOURCE_EXHAUSTED naming the limit, UNAVAILABLE from a store in its fault state.
#ifndef SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_EXTENSION_SERVICE_H_
#define SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_EXTENSION_SERVICE_H_

#include "engine/cache/semantic_cache_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/semantic_cache_extension.grpc.pb.h"

namespace sochdb::services {

class SemanticCacheExtensionService {
 public:
  // `caches` is not owned and must outlive the server.
  explicit SemanticCacheExtensionService(cache::SemanticCacheStore* caches);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status DeleteEntry(CallContext& ctx, const v1::DeleteCacheEntryRequest& req,
                           v1::DeleteCacheEntryResponse* resp);
  grpc::Status ClearCache(CallContext& ctx, const v1::ClearCacheRequest& req,
                          v1::ClearCacheResponse* resp);
  grpc::Status ListCaches(CallContext& ctx, const v1::ListCachesRequest& req,
                          v1::ListCachesResponse* resp);
  grpc::Status ConfigureCache(CallContext& ctx, const v1::ConfigureCacheRequest& req,
                              v1::ConfigureCacheResponse* resp);

  cache::SemanticCacheStore* const caches_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CACHE_SEMANTIC_CACHE_EXTENSION_SERVICE_H_
