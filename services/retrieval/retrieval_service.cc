#include "services/retrieval/retrieval_service.h"

#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/rpc/status.h"
#include "services/retrieval/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = retrieval_convert;

uint64_t NowUnixMs() { return static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())); }

absl::Status ValidateMint(const v1::MintTokenRequest& req) {
  if (req.operation() != v1::RETRIEVAL_OPERATION_SEARCH &&
      req.operation() != v1::RETRIEVAL_OPERATION_INGEST) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "operation is %d; it must be RETRIEVAL_OPERATION_SEARCH (1) or "
        "RETRIEVAL_OPERATION_INGEST (2)",
        static_cast<int>(req.operation())));
  }
  if (req.ttl_ms() > retrieval::kMaxTokenLifetimeMs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ttl_ms is %d; the limit is %d", req.ttl_ms(), retrieval::kMaxTokenLifetimeMs));
  }
  if (req.policy_scope_digest().size() > kMaxPolicyScopeDigestBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("policy_scope_digest is %d bytes; the limit is %d bytes",
                        req.policy_scope_digest().size(), kMaxPolicyScopeDigestBytes));
  }
  return absl::OkStatus();
}

}  // namespace

RetrievalService::RetrievalService(retrieval::RetrievalStore* retrieval)
    : retrieval_(retrieval) {}

void RetrievalService::Register(server::GrpcServer& server) {
  // A bind is one synced write and a Retrieve reads its binding from the store before its
  // search (a read that may wait for the disk): the pool, never the poller. A batch may take
  // long: the long lane. Policies see the index the token grants (convert.h).
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::RetrievalService>();
  r.Unary("BindIndex", {Capability::kManageCollections, Access::kWrite, nullptr,
                        &v1::BindIndexRequest::index_name, kPool},
          this, &RetrievalService::BindIndex);
  r.Unary("Retrieve",
          {Capability::kRead, Access::kRead, nullptr, &convert::RetrieveSubjects, kPool}, this,
          &RetrievalService::Retrieve);
  r.Unary("Ingest", {Capability::kWrite, Access::kWrite, nullptr, &convert::IngestSubjects, kLong},
          this, &RetrievalService::Ingest);
}

grpc::Status RetrievalService::BindIndex(CallContext& ctx, const v1::BindIndexRequest& req,
                                         v1::BindIndexResponse* resp) {
  if (!req.has_index_object_id()) {
    resp->set_error("index_object_id is required");
    return grpc::Status::OK;
  }
  const absl::Status bound = retrieval_->Bind(ctx.principal().tenant,
                                              convert::ToId(req.index_object_id()),
                                              req.index_name());
  if (absl::IsFailedPrecondition(bound)) {
    resp->set_error(std::string(bound.message()));
    return grpc::Status::OK;
  }
  if (!bound.ok()) return ToGrpcStatus(bound);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status RetrievalService::Retrieve(CallContext& ctx, const v1::RetrievalRequest& req,
                                        v1::RetrievalResponse* resp) {
  const absl::Time start = absl::Now();
  absl::StatusOr<retrieval::RetrieveResult> result = retrieval_->Retrieve(
      ctx.principal().tenant, NowUnixMs(), convert::ToRetrieveRequest(req));
  if (!result.ok()) return ToGrpcStatus(result.status());
  convert::FillRetrieveResponse(req, *result, resp);
  resp->set_total_duration_us(
      static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)));
  return grpc::Status::OK;
}

grpc::Status RetrievalService::Ingest(CallContext& ctx, const v1::RetrievalIngestRequest& req,
                                      v1::RetrievalIngestResponse* resp) {
  absl::StatusOr<retrieval::IngestResult> result = retrieval_->Ingest(
      ctx.principal().tenant, NowUnixMs(), convert::ToIngestRequest(req));
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_operation_id(result->operation_id);
  resp->set_applied(result->applied);
  resp->set_inserted_count(result->inserted_count);
  resp->set_index_generation(result->generation);
  return grpc::Status::OK;
}

RetrievalExtensionService::RetrievalExtensionService(const retrieval::TokenSigner* signer,
                                                     const vector::VectorIndexStore* indexes)
    : signer_(signer), indexes_(indexes) {}

void RetrievalExtensionService::Register(server::GrpcServer& server) {
  auto r = server.AddService<v1::RetrievalExtensionService>();
  r.Unary("MintToken", {Capability::kManageCollections, Access::kRead, nullptr,
                        &v1::MintTokenRequest::index_name},
          this, &RetrievalExtensionService::MintToken);
}

grpc::Status RetrievalExtensionService::MintToken(server::CallContext& ctx,
                                                  const v1::MintTokenRequest& req,
                                                  v1::MintTokenResponse* resp) {
  if (absl::Status valid = ValidateMint(req); !valid.ok()) return ToGrpcStatus(valid);
  const std::string& tenant = ctx.principal().tenant;
  // Only an index of the caller's own tenant: a token names the tenant it was minted for.
  absl::StatusOr<vector::VectorIndexDefinition> d = indexes_->Definition(tenant, req.index_name());
  if (!d.ok()) return ToGrpcStatus(d.status());
  retrieval::CapabilityToken token;
  token.index_key = retrieval::IndexKey(tenant, req.index_name());
  token.tenant = tenant;
  token.expires_at_unix_ms = NowUnixMs() + (req.ttl_ms() == 0 ? kDefaultTokenTtlMs : req.ttl_ms());
  token.policy_scope_digest = req.policy_scope_digest();
  token.operation = static_cast<int32_t>(req.operation());
  signer_->Sign(&token);
  convert::FillToken(token, resp->mutable_token());
  return grpc::Status::OK;
}

}  // namespace sochdb::services
