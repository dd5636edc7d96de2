// sochdb.v1.NamespaceService over the engine's NamespaceRegistry: CreateNamespace, GetNamespace,
// ListNamespaces, DeleteNamespace (which deletes the namespace's data; the extension field
// `force` is needed when it holds any) and SetQuota. The call layer checks each request's
// namespace (CreateNamespace's `name` too: upstream lets any caller create any namespace; here a
// tenant creates only its own). ListNamespaces lists the namespaces the caller may use. "not
// found" and "already exists" go in the `error` field as upstream does; everything else is a
// status code (../shared/UPSTREAM.md §1.7).
#ifndef SOCHDB_SERVICES_NAMESPACE_NAMESPACE_SERVICE_H_
#define SOCHDB_SERVICES_NAMESPACE_NAMESPACE_SERVICE_H_

#include "engine/namespace/namespace_registry.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/namespace.grpc.pb.h"

namespace sochdb::services {

class NamespaceService {
 public:
  // `registry` is not owned and must outlive the server.
  explicit NamespaceService(namespaces::NamespaceRegistry* registry);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status CreateNamespace(CallContext& ctx, const v1::CreateNamespaceRequest& req,
                               v1::CreateNamespaceResponse* resp);
  grpc::Status GetNamespace(CallContext& ctx, const v1::GetNamespaceRequest& req,
                            v1::GetNamespaceResponse* resp);
  grpc::Status ListNamespaces(CallContext& ctx, const v1::ListNamespacesRequest& req,
                              v1::ListNamespacesResponse* resp);
  grpc::Status DeleteNamespace(CallContext& ctx, const v1::DeleteNamespaceRequest& req,
                               v1::DeleteNamespaceResponse* resp);
  grpc::Status SetQuota(CallContext& ctx, const v1::SetQuotaRequest& req,
                        v1::SetQuotaResponse* resp);

  namespaces::NamespaceRegistry* const registry_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_NAMESPACE_NAMESPACE_SERVICE_H_
