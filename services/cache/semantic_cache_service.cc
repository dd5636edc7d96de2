#include "services/cache/semantic_cache_service.h"

#include <limits>
#include <utility>

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

SemanticCacheService::SemanticCacheService(cache::SemanticCacheStore* caches) : caches_(caches) {}

void SemanticCacheService::Register(server::GrpcServer& server) {
  // A Get is a search and one read: inline. A Put waits for a sync: the pool. An Invalidate
  // may remove a million entries: the pool's long lane.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::SemanticCacheService>();
  r.Unary("Get", {Capability::kRead, Access::kRead, nullptr,
                  &convert::EveryEntrySubject<v1::SemanticCacheGetRequest>},
          this, &SemanticCacheService::Get);
  r.Unary("Put", {Capability::kWrite, Access::kWrite, nullptr, &v1::SemanticCachePutRequest::key,
                  kPool},
          this, &SemanticCacheService::Put);
  r.Unary("Invalidate", {Capability::kWrite, Access::kDelete, nullptr,
                         &convert::EveryEntrySubject<v1::SemanticCacheInvalidateRequest>, kLong},
          this, &SemanticCacheService::Invalidate);
  r.Unary("GetStats", {Capability::kRead, Access::kRead, nullptr,
                       &convert::EveryEntrySubject<v1::SemanticCacheStatsRequest>},
          this, &SemanticCacheService::GetStats);
}

grpc::Status SemanticCacheService::Get(CallContext& ctx, const v1::SemanticCacheGetRequest& req,
                                       v1::SemanticCacheGetResponse* resp) {
  absl::StatusOr<cache::CacheHit> hit =
      caches_->Get(ctx.principal().tenant, req.cache_name(), convert::ToLookup(req));
  if (!hit.ok()) return ToGrpcStatus(hit.status());
  convert::FillHit(*std::move(hit), resp);
  return grpc::Status::OK;
}

grpc::Status SemanticCacheService::Put(CallContext& ctx, const v1::SemanticCachePutRequest& req,
                                       v1::SemanticCachePutResponse* resp) {
  absl::Status put = caches_->Put(ctx.principal().tenant, req.cache_name(), convert::ToEntry(req));
  if (!put.ok()) return ToGrpcStatus(put);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status SemanticCacheService::Invalidate(CallContext& ctx,
                                              const v1::SemanticCacheInvalidateRequest& req,
                                              v1::SemanticCacheInvalidateResponse* resp) {
  absl::StatusOr<uint64_t> removed =
      caches_->Invalidate(ctx.principal().tenant, req.cache_name(), req.pattern());
  if (!removed.ok()) return ToGrpcStatus(removed.status());
  // The field is 32 bits (a cache holds at most a million entries by default).
  resp->set_invalidated_count(static_cast<uint32_t>(
      std::min<uint64_t>(*removed, std::numeric_limits<uint32_t>::max())));
  return grpc::Status::OK;
}

grpc::Status SemanticCacheService::GetStats(CallContext& ctx,
                                            const v1::SemanticCacheStatsRequest& req,
                                            v1::SemanticCacheStatsResponse* resp) {
  absl::StatusOr<cache::CacheStats> stats = caches_->Stats(ctx.principal().tenant, req.cache_name());
  // Upstream answers zeros for a cache nobody has used.
  if (absl::IsNotFound(stats.status())) return grpc::Status::OK;
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  convert::FillStats(*stats, resp);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
