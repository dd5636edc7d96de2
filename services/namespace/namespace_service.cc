#include "services/namespace/namespace_service.h"

#include <string>
#include <vector>

#include "server/rpc/status.h"
#include "services/common/encoded_size.h"
#include "services/common/error_field.h"
#include "services/namespace/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = namespace_convert;

}  // namespace

NamespaceService::NamespaceService(namespaces::NamespaceRegistry* registry)
    : registry_(registry) {}

void NamespaceService::Register(server::GrpcServer& server) {
  // Creates and quota changes wait for a synced write, and reads may wait behind one (the
  // registry's lock): the pool. A delete removes a namespace's data: the long lane.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::NamespaceService>();
  r.Unary("CreateNamespace",
          {Capability::kManageCollections, &v1::CreateNamespaceRequest::name, kPool}, this,
          &NamespaceService::CreateNamespace);
  r.Unary("GetNamespace", {Capability::kRead, &v1::GetNamespaceRequest::name, kPool}, this,
          &NamespaceService::GetNamespace);
  // Filtered to the caller's namespaces in the handler.
  r.Unary("ListNamespaces", {Capability::kRead, nullptr, kPool}, this,
          &NamespaceService::ListNamespaces);
  r.Unary("DeleteNamespace", {Capability::kAdmin, &v1::DeleteNamespaceRequest::name, kLong},
          this, &NamespaceService::DeleteNamespace);
  r.Unary("SetQuota", {Capability::kAdmin, &v1::SetQuotaRequest::namespace_, kPool}, this,
          &NamespaceService::SetQuota);
}

grpc::Status NamespaceService::CreateNamespace(CallContext& ctx,
                                               const v1::CreateNamespaceRequest& req,
                                               v1::CreateNamespaceResponse* resp) {
  absl::StatusOr<namespaces::NamespaceInfo> created =
      registry_->Create(convert::ToDefinition(req));
  if (ReportInErrorField(created.status(), resp)) return grpc::Status::OK;
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_success(true);
  convert::FillNamespace(*created, resp->mutable_namespace_());
  return grpc::Status::OK;
}

grpc::Status NamespaceService::GetNamespace(CallContext& ctx, const v1::GetNamespaceRequest& req,
                                            v1::GetNamespaceResponse* resp) {
  absl::StatusOr<namespaces::NamespaceInfo> info = registry_->Get(req.name());
  if (ReportInErrorField(info.status(), resp)) return grpc::Status::OK;
  if (!info.ok()) return ToGrpcStatus(info.status());
  convert::FillNamespace(*info, resp->mutable_namespace_());
  return grpc::Status::OK;
}

grpc::Status NamespaceService::ListNamespaces(CallContext& ctx,
                                              const v1::ListNamespacesRequest& req,
                                              v1::ListNamespacesResponse* resp) {
  const auto mine = [&](const std::string& ns) { return ctx.CheckNamespace(ns).ok(); };
  // Each namespace may carry 64 KiB of metadata: the list has a budget.
  AnswerBudget budget = ctx.ResponseBudget("ListNamespaces answer", "remove namespaces");
  for (const namespaces::NamespaceInfo& info : registry_->List(mine)) {
    v1::Namespace* out = resp->add_namespaces();
    convert::FillNamespace(info, out);
    if (absl::Status s = budget.Charge(EncodedFieldBytes(*out)); !s.ok()) return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

grpc::Status NamespaceService::DeleteNamespace(CallContext& ctx,
                                               const v1::DeleteNamespaceRequest& req,
                                               v1::DeleteNamespaceResponse* resp) {
  absl::Status deleted = registry_->Delete(req.name(), req.force());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status NamespaceService::SetQuota(CallContext& ctx, const v1::SetQuotaRequest& req,
                                        v1::SetQuotaResponse* resp) {
  absl::Status set =
      registry_->SetQuota(req.namespace_(), convert::ToQuota(req.has_quota(), req.quota()));
  if (ReportInErrorField(set, resp)) return grpc::Status::OK;
  if (!set.ok()) return ToGrpcStatus(set);
  resp->set_success(true);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
