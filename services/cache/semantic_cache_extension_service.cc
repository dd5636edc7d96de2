#include "services/cache/semantic_cache_extension_service.h"

#include "server/rpc/status.h"
#include "services/cache/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = cache_convert;

}  // namespace

SemanticCacheExtensionService::SemanticCacheExtensionService(cache::SemanticCacheStore* caches)
    : caches_(caches) {}

void SemanticCacheExtensionService::Register(server::GrpcServer& server) {
  // Removing a cache or evicting down to a new capacity may touch a million entries: the long
  // lane. One delete waits for a sync: the pool. A listing reads memory: inline.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::SemanticCacheExtensionService>();
  r.Unary("DeleteEntry", {Capability::kWrite, Access::kDelete, nullptr,
                          &v1::DeleteCacheEntryRequest::key, kPool},
          this, &SemanticCacheExtensionService::DeleteEntry);
  r.Unary("ClearCache", {Capability::kWrite, Access::kDelete, nullptr,
                         &convert::EveryEntrySubject<v1::ClearCacheRequest>, kLong},
          this, &SemanticCacheExtensionService::ClearCache);
  r.Unary("ListCaches", {Capability::kRead, Access::kRead, nullptr,
                         &convert::EveryEntrySubject<v1::ListCachesRequest>},
          this, &SemanticCacheExtensionService::ListCaches);
  r.Unary("ConfigureCache", {Capability::kWrite, Access::kDelete, nullptr,
                             &convert::EveryEntrySubject<v1::ConfigureCacheRequest>, kLong},
          this, &SemanticCacheExtensionService::ConfigureCache);
}

grpc::Status SemanticCacheExtensionService::DeleteEntry(CallContext& ctx,
                                                        const v1::DeleteCacheEntryRequest& req,
                                                        v1::DeleteCacheEntryResponse* resp) {
  absl::StatusOr<bool> deleted = caches_->Delete(ctx.principal().tenant, req.cache_name(), req.key());
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  resp->set_deleted(*deleted);
  return grpc::Status::OK;
}

grpc::Status SemanticCacheExtensionService::ClearCache(CallContext& ctx,
                                                       const v1::ClearCacheRequest& req,
                                                       v1::ClearCacheResponse* resp) {
  absl::StatusOr<bool> cleared = caches_->Clear(ctx.principal().tenant, req.cache_name());
  if (!cleared.ok()) return ToGrpcStatus(cleared.status());
  resp->set_cleared(*cleared);
  return grpc::Status::OK;
}

grpc::Status SemanticCacheExtensionService::ListCaches(CallContext& ctx,
                                                       const v1::ListCachesRequest& req,
                                                       v1::ListCachesResponse* resp) {
  for (const cache::CacheStats& stats : caches_->List(ctx.principal().tenant)) {
    convert::FillInfo(stats, resp->add_caches());
  }
  return grpc::Status::OK;
}

grpc::Status SemanticCacheExtensionService::ConfigureCache(CallContext& ctx,
                                                           const v1::ConfigureCacheRequest& req,
                                                           v1::ConfigureCacheResponse* resp) {
  absl::StatusOr<cache::CacheStats> stats =
      caches_->Configure(ctx.principal().tenant, req.cache_name(), req.max_entries());
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  convert::FillInfo(*stats, resp->mutable_cache());
  return grpc::Status::OK;
}

}  // namespace sochdb::services
