// sochdb.v1.PolicyService over the engine's policies (engine/policy): RegisterPolicy, Evaluate,
// ListPolicies, DeletePolicy; and the extension PolicyAuditService (ListAuditRecords) over the
// audit log LOG rules write. Policies are the caller's tenant's (plus the global ones, which
// only Admin may register or delete); enforcement itself is the governance step's, which every
// data call passes in the call layer, and which Evaluate shares (Governance::Decide).
//
// Who may call: RegisterPolicy and DeletePolicy need Write (editors and admins; never viewers);
// Evaluate and ListPolicies need Read; ListAuditRecords needs Write, and Admin for another
// tenant's records. Channels as upstream: a missing policy and an unknown id are `error` texts
// ("Policy is required", "Policy '<id>' not found"); a rule that breaks a limit, a pattern that
// does not compile or an expression that does not parse is INVALID_ARGUMENT.
#ifndef SOCHDB_SERVICES_POLICY_POLICY_SERVICE_H_
#define SOCHDB_SERVICES_POLICY_POLICY_SERVICE_H_

#include "engine/governance/governance.h"
#include "engine/policy/audit_log.h"
#include "engine/policy/policy_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/policy.grpc.pb.h"
#include "sochdb/v1/policy_audit.grpc.pb.h"

namespace sochdb::services {

class PolicyService {
 public:
  // Not owned; must outlive the server.
  PolicyService(policy::PolicyStore* policies, policy::AuditLog* audit,
                const governance::Governance* governance);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status RegisterPolicy(CallContext& ctx, const v1::RegisterPolicyRequest& req,
                              v1::RegisterPolicyResponse* resp);
  grpc::Status Evaluate(CallContext& ctx, const v1::EvaluatePolicyRequest& req,
                        v1::EvaluatePolicyResponse* resp);
  grpc::Status ListPolicies(CallContext& ctx, const v1::ListPoliciesRequest& req,
                            v1::ListPoliciesResponse* resp);
  grpc::Status DeletePolicy(CallContext& ctx, const v1::DeletePolicyRequest& req,
                            v1::DeletePolicyResponse* resp);
  grpc::Status ListAuditRecords(CallContext& ctx, const v1::ListAuditRecordsRequest& req,
                                v1::ListAuditRecordsResponse* resp);

  policy::PolicyStore* const policies_;
  policy::AuditLog* const audit_;
  const governance::Governance* const governance_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_POLICY_POLICY_SERVICE_H_
