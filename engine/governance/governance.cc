#include "engine/governance/governance.h"

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/policy/policy_set.h"

namespace sochdb::governance {
namespace {

absl::Status ContextError(std::string_view field, std::string_view name, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " entry '",
                                                 AbslView(name.substr(0, kMaxContextNameBytes)),
                                                 "' ", AbslView(what)));
}

}  // namespace

absl::Status ValidateCallerContext(const CallerContext& context, std::string_view field) {
  if (context.size() > kMaxContextEntries) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " has ", context.size(),
                                                   " entries; the limit is ",
                                                   kMaxContextEntries));
  }
  for (const auto& [name, value] : context) {
    if (name.empty() || name.size() > kMaxContextNameBytes) {
      return ContextError(field, name, absl::StrCat("has a name of ", name.size(),
                                                    " bytes; names are 1..",
                                                    kMaxContextNameBytes, " bytes"));
    }
    if (value.size() > kMaxContextValueBytes) {
      return ContextError(field, name, absl::StrCat("is ", value.size(), " bytes; the limit is ",
                                                    kMaxContextValueBytes, " bytes"));
    }
    if (policy::IsReservedContextName(name)) {
      return ContextError(field, name,
                          "is reserved: the server sets it from the caller's key and the "
                          "operation");
    }
  }
  return absl::OkStatus();
}

Governance::Governance(policy::PolicyStore* policies, policy::AuditLog* audit,
                       namespaces::NamespaceRegistry* namespaces)
    : policies_(policies), audit_(audit), namespaces_(namespaces) {}

const Governance& Governance::NamespaceRuleOnly() {
  static const Governance* const governance = new Governance(nullptr, nullptr, nullptr);
  return *governance;
}

absl::Status Governance::Admit(const Operation& op, Admission* admission) const {
  if (op.ns.has_value()) {
    SOCHDB_RETURN_IF_ERROR(auth::Authorizer::CheckNamespace(*op.principal, *op.ns));
  }
  // Data operations only: namespace management (DeleteNamespace itself) must not wait for itself.
  if (!op.access.has_value()) return absl::OkStatus();
  if (op.ns.has_value() && namespaces_ != nullptr && admission != nullptr) {
    SOCHDB_ASSIGN_OR_RETURN(admission->guard, namespaces_->Enter(*op.ns));
  }
  if (policies_ == nullptr) return absl::OkStatus();
  Redactor* redactor = admission != nullptr ? &admission->redactor : nullptr;
  std::shared_ptr<const policy::PolicySet> set = policies_->Current();
  if (!set->MayApply(op.principal->tenant, *op.access)) return absl::OkStatus();
  KeyList keys;
  SOCHDB_ASSIGN_OR_RETURN(policy::Decision decision, Decide(op, *set, &keys));
  if (redactor != nullptr && *op.access == Access::kRead &&
      set->Redacts(op.principal->tenant)) {
    SOCHDB_ASSIGN_OR_RETURN(redactor->caller_, op.context());
    redactor->principal_ = op.principal;
    redactor->service_ = std::string(op.service);
    redactor->ns_ = std::string(op.ns.value_or(""));
    redactor->set_ = set;
  }
  switch (decision.action) {
    case policy::Action::kDeny:
      return absl::PermissionDeniedError(decision.Reason());
    case policy::Action::kLog:
      return Audit(op, decision, keys);
    case policy::Action::kAllow:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<policy::Decision> Governance::Decide(const Operation& op) const {
  if (!op.access.has_value() || policies_ == nullptr) return policy::Decision{};
  std::shared_ptr<const policy::PolicySet> set = policies_->Current();
  if (!set->MayApply(op.principal->tenant, *op.access)) return policy::Decision{};
  KeyList keys;
  return Decide(op, *set, &keys);
}

absl::StatusOr<policy::Decision> Governance::Decide(const Operation& op,
                                                    const policy::PolicySet& set,
                                                    KeyList* keys) const {
  SOCHDB_ASSIGN_OR_RETURN(CallerContext caller, op.context());
  op.keys(keys);
  const policy::OperationFacts facts{
      op.principal->id,     auth::RoleName(op.principal->role),
      op.principal->tenant, op.service,
      op.ns.value_or(""),   *op.access,
      caller,
  };
  policy::DecisionBuilder builder;
  for (const KeyList::Subject& subject : keys->subjects()) {
    if (subject.prefix) {
      set.EvaluatePrefix(facts, subject.key, &builder);
    } else {
      set.Evaluate(facts, subject.key, &builder);
    }
  }
  return builder.Finish();
}

void Redactor::Apply(std::string_view key, std::string* value) const {
  if (set_ == nullptr) return;
  const policy::OperationFacts facts{
      principal_->id, auth::RoleName(principal_->role), principal_->tenant, service_, ns_,
      Access::kRead,  caller_,
  };
  policy::DecisionBuilder builder;
  set_->Evaluate(facts, key, &builder);
  if (builder.empty()) return;
  std::optional<std::string> replacement = builder.Finish().redaction;
  if (replacement.has_value()) *value = *std::move(replacement);
}

absl::Status Governance::Audit(const Operation& op, const policy::Decision& decision,
                               const KeyList& keys) const {
  policy::AuditRecord record;
  record.tenant = op.principal->tenant;
  record.principal_id = op.principal->id;
  record.principal_role = std::string(auth::RoleName(op.principal->role));
  record.service = std::string(op.service);
  record.method = std::string(op.method);
  record.operation = std::string(policy::AccessName(*op.access));
  record.ns = std::string(op.ns.value_or(""));
  if (!keys.subjects().empty()) record.key = std::string(keys.subjects().front().key);
  record.key_count = keys.subjects().size();
  record.policy_id = decision.rule_id;
  record.policy_name = decision.rule_name;
  return audit_->Append(std::move(record));
}

}  // namespace sochdb::governance
