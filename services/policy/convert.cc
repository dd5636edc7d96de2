#include "services/policy/convert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sochdb::services::policy_convert {

absl::StatusOr<policy::PolicyRule> ToRule(const v1::PolicyRule& rule) {
  if (!v1::PolicyTrigger_IsValid(rule.trigger())) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy.trigger: unknown value ", rule.trigger(),
                     " (POLICY_TRIGGER_BEFORE_READ .. POLICY_TRIGGER_AFTER_DELETE are 0..5)"));
  }
  if (!v1::PolicyActionType_IsValid(rule.default_action())) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy.default_action: unknown value ", rule.default_action(),
                     " (ALLOW, DENY and LOG are 0..2)"));
  }
  policy::PolicyRule out;
  out.id = rule.id();
  out.name = rule.name();
  out.pattern = rule.pattern();
  out.trigger = static_cast<policy::Trigger>(rule.trigger());
  out.action = static_cast<policy::Action>(rule.default_action());
  out.expression = rule.expression();
  out.metadata.insert(rule.metadata().begin(), rule.metadata().end());
  out.global = rule.global();
  return out;
}

void FillRule(const policy::PolicyRule& rule, v1::PolicyRule* out) {
  out->set_id(rule.id);
  out->set_name(rule.name);
  out->set_pattern(rule.pattern);
  out->set_trigger(static_cast<v1::PolicyTrigger>(rule.trigger));
  out->set_default_action(static_cast<v1::PolicyActionType>(rule.action));
  out->set_expression(rule.expression);
  out->mutable_metadata()->insert(rule.metadata.begin(), rule.metadata.end());
  out->set_global(rule.global);
}

absl::StatusOr<governance::CallerContext> ToContext(const v1::EvaluatePolicyRequest& req) {
  governance::CallerContext context(req.context().begin(), req.context().end());
  if (absl::Status valid = governance::ValidateCallerContext(context, "context"); !valid.ok()) {
    return valid;
  }
  return context;
}

void FillDecision(const policy::Decision& decision, v1::EvaluatePolicyResponse* out) {
  out->set_action(static_cast<v1::PolicyActionType>(decision.action));
  out->set_reason(decision.Reason());
  if (decision.redaction.has_value()) out->set_modified_value(*decision.redaction);
  for (const std::string& id : decision.matched) out->add_matched_policies(id);
}

void FillAuditRecord(const policy::AuditRecord& record, v1::AuditRecord* out) {
  out->set_time_ms(static_cast<uint64_t>(record.time_ms));
  out->set_principal_id(record.principal_id);
  out->set_principal_role(record.principal_role);
  out->set_service(record.service);
  out->set_method(record.method);
  out->set_operation(record.operation);
  out->set_namespace_(record.ns);
  out->set_key(record.key);
  out->set_key_count(record.key_count);
  out->set_policy_id(record.policy_id);
  out->set_policy_name(record.policy_name);
  out->set_tenant(record.tenant);
}

}  // namespace sochdb::services::policy_convert
