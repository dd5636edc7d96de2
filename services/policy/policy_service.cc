#include "services/policy/policy_service.h"

#include <string>
#include <utility>
#include <vector>

#include "engine/common/answer_budget.h"
#include "server/rpc/status.h"
#include "services/common/encoded_size.h"
#include "services/policy/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = policy_convert;

}  // namespace

PolicyService::PolicyService(policy::PolicyStore* policies, policy::AuditLog* audit,
                             const governance::Governance* governance)
    : policies_(policies), audit_(audit), governance_(governance) {}

void PolicyService::Register(server::GrpcServer& server) {
  // Registrations and deletions are synced writes: the pool. Audit pages read up to 1,000
  // records: its long lane.
  constexpr Execution kPool = Execution::kWorkerPool;
  auto r = server.AddService<v1::PolicyService>();
  r.Unary("RegisterPolicy", {Capability::kWrite, nullptr, kPool}, this,
          &PolicyService::RegisterPolicy);
  r.Unary("Evaluate", {Capability::kRead}, this, &PolicyService::Evaluate);
  r.Unary("ListPolicies", {Capability::kRead}, this, &PolicyService::ListPolicies);
  r.Unary("DeletePolicy", {Capability::kWrite, nullptr, kPool}, this,
          &PolicyService::DeletePolicy);

  auto a = server.AddService<v1::PolicyAuditService>();
  a.Unary("ListAuditRecords", {Capability::kWrite, nullptr, Execution::kLongWork}, this,
          &PolicyService::ListAuditRecords);
}

grpc::Status PolicyService::RegisterPolicy(CallContext& ctx, const v1::RegisterPolicyRequest& req,
                                           v1::RegisterPolicyResponse* resp) {
  if (!req.has_policy()) {
    resp->set_error("Policy is required");
    return grpc::Status::OK;
  }
  absl::StatusOr<policy::PolicyRule> rule = convert::ToRule(req.policy());
  if (!rule.ok()) return ToGrpcStatus(rule.status());
  absl::StatusOr<std::string> id = policies_->Register(ctx.principal(), *std::move(rule));
  if (!id.ok()) return ToGrpcStatus(id.status());
  resp->set_success(true);
  resp->set_policy_id(*std::move(id));
  return grpc::Status::OK;
}

grpc::Status PolicyService::Evaluate(CallContext& ctx, const v1::EvaluatePolicyRequest& req,
                                     v1::EvaluatePolicyResponse* resp) {
  absl::StatusOr<governance::CallerContext> context = convert::ToContext(req);
  if (!context.ok()) return ToGrpcStatus(context.status());
  const auto keys = [&req](governance::KeyList* list) { list->Add(req.key()); };
  const auto caller = [&context]() -> absl::StatusOr<governance::CallerContext> {
    return *context;
  };
  // An operation other than read, write or delete matches no rule (upstream): ALLOW.
  const governance::Operation op{&ctx.principal(),
                                 req.operation_service(),
                                 "Evaluate",
                                 policy::ParseAccess(req.operation()),
                                 req.operation_namespace(),
                                 keys,
                                 caller};
  absl::StatusOr<policy::Decision> decision = governance_->Decide(op);
  if (!decision.ok()) return ToGrpcStatus(decision.status());
  convert::FillDecision(*decision, resp);
  return grpc::Status::OK;
}

grpc::Status PolicyService::ListPolicies(CallContext& ctx, const v1::ListPoliciesRequest& req,
                                         v1::ListPoliciesResponse* resp) {
  AnswerBudget budget = ctx.ResponseBudget("ListPolicies answer", "filter by pattern");
  for (const policy::PolicyRule& rule : policies_->List(ctx.principal(), req.pattern())) {
    v1::PolicyRule* out = resp->add_policies();
    convert::FillRule(rule, out);
    if (absl::Status s = budget.Charge(EncodedFieldBytes(*out)); !s.ok()) return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

grpc::Status PolicyService::DeletePolicy(CallContext& ctx, const v1::DeletePolicyRequest& req,
                                         v1::DeletePolicyResponse* resp) {
  absl::Status deleted = policies_->Delete(ctx.principal(), req.policy_id());
  if (absl::IsNotFound(deleted)) {
    resp->set_error(std::string(deleted.message()));
    return grpc::Status::OK;
  }
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status PolicyService::ListAuditRecords(CallContext& ctx,
                                             const v1::ListAuditRecordsRequest& req,
                                             v1::ListAuditRecordsResponse* resp) {
  const auth::Principal& caller = ctx.principal();
  const std::string& tenant = req.tenant().empty() ? caller.tenant : req.tenant();
  if (tenant != caller.tenant) {
    absl::Status allowed = auth::Authorizer::CheckCapability(caller, Capability::kAdmin);
    if (!allowed.ok()) return ToGrpcStatus(allowed);
  }
  absl::StatusOr<policy::AuditLog::Page> page =
      audit_->Read(tenant, req.page_token(), req.limit());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const policy::AuditRecord& record : page->records) {
    convert::FillAuditRecord(record, resp->add_records());
  }
  resp->set_next_page_token(std::move(page->next_page_token));
  return grpc::Status::OK;
}

}  // namespace sochdb::services
