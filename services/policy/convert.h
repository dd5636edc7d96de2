// Proto <-> engine conversions for PolicyService and PolicyAuditService.
#ifndef SOCHDB_SERVICES_POLICY_CONVERT_H_
#define SOCHDB_SERVICES_POLICY_CONVERT_H_

#include "absl/status/statusor.h"
#include "engine/governance/governance.h"
#include "engine/policy/audit_log.h"
#include "engine/policy/policy.h"
#include "sochdb/v1/policy.pb.h"
#include "sochdb/v1/policy_audit.pb.h"

namespace sochdb::services::policy_convert {

// INVALID_ARGUMENT naming the field for a trigger or action the wire enum does not define.
absl::StatusOr<policy::PolicyRule> ToRule(const v1::PolicyRule& rule);
void FillRule(const policy::PolicyRule& rule, v1::PolicyRule* out);

// The request's context entries (validated: INVALID_ARGUMENT for a reserved name or a limit).
absl::StatusOr<governance::CallerContext> ToContext(const v1::EvaluatePolicyRequest& req);
void FillDecision(const policy::Decision& decision, v1::EvaluatePolicyResponse* out);

void FillAuditRecord(const policy::AuditRecord& record, v1::AuditRecord* out);

}  // namespace sochdb::services::policy_convert

#endif  // SOCHDB_SERVICES_POLICY_CONVERT_H_
