#include "engine/policy/policy_set.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"

namespace sochdb::policy {
namespace {

constexpr std::string_view kPrincipalId = "principal.id";
constexpr std::string_view kPrincipalRole = "principal.role";
constexpr std::string_view kPrincipalTenant = "principal.tenant";
constexpr std::string_view kService = "service";
constexpr std::string_view kNamespace = "namespace";
constexpr std::string_view kKey = "key";
constexpr std::string_view kOperation = "operation";

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("policy.", AbslView(field), " ", AbslView(what)));
}

absl::Status ValidateRule(const PolicyRule& rule) {
  if (rule.id.empty() || rule.id.size() > kMaxPolicyIdBytes) {
    return Invalid("id", absl::StrCat("is ", rule.id.size(), " bytes; it must be 1..",
                                      kMaxPolicyIdBytes, " bytes"));
  }
  if (rule.id.find('\0') != std::string::npos) return Invalid("id", "must not contain NUL");
  if (rule.name.size() > kMaxPolicyNameBytes) {
    return Invalid("name", absl::StrCat("is ", rule.name.size(), " bytes; the limit is ",
                                        kMaxPolicyNameBytes, " bytes"));
  }
  if (rule.metadata.size() > kMaxPolicyMetadataEntries) {
    return Invalid("metadata", absl::StrCat("has ", rule.metadata.size(),
                                            " entries; the limit is ", kMaxPolicyMetadataEntries));
  }
  size_t bytes = 0;
  for (const auto& [key, value] : rule.metadata) bytes += key.size() + value.size();
  if (bytes > kMaxPolicyMetadataBytes) {
    return Invalid("metadata", absl::StrCat("is ", bytes, " bytes; the limit is ",
                                            kMaxPolicyMetadataBytes, " bytes"));
  }
  if (rule.metadata.count(kRedactMetadata) > 0 && rule.trigger != Trigger::kAfterRead) {
    return Invalid("metadata", absl::StrCat("entry \"", kRedactMetadata,
                                            "\" applies to AFTER_READ rules only"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const CompiledRule>> CompiledRule::Compile(std::string scope,
                                                                         PolicyRule rule) {
  if (absl::Status valid = ValidateRule(rule); !valid.ok()) return valid;
  absl::StatusOr<Pattern> pattern = Pattern::Compile(rule.pattern);
  if (!pattern.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("policy.", pattern.status().message()));
  }
  std::optional<Condition> condition;
  if (!rule.expression.empty()) {
    absl::StatusOr<Condition> parsed = Condition::Parse(rule.expression);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("policy.", parsed.status().message()));
    }
    condition = *std::move(parsed);
  }
  return std::make_shared<const CompiledRule>(CompiledRule{
      std::move(scope), std::move(rule), *std::move(pattern), std::move(condition)});
}

bool IsReservedContextName(std::string_view name) {
  return name == kService || name == kNamespace || name == kKey || name == kOperation ||
         absl::StartsWith(AbslView(name), "principal.");
}

Value LookupFact(const OperationFacts& facts, std::string_view key, std::string_view name) {
  if (name == kKey) return std::string(key);
  if (name == kNamespace) return std::string(facts.ns);
  if (name == kOperation) return std::string(AccessName(facts.access));
  if (name == kService) return std::string(facts.service);
  if (name == kPrincipalId) return std::string(facts.principal_id);
  if (name == kPrincipalRole) return std::string(facts.principal_role);
  if (name == kPrincipalTenant) return std::string(facts.principal_tenant);
  for (const auto& [entry, value] : facts.caller) {
    if (entry == name) return value;
  }
  return std::monostate{};
}

Decision DecisionBuilder::Finish() const {
  std::vector<const CompiledRule*> rules(applying_.begin(), applying_.end());
  // By id, then scope: global rules ("") before a tenant's rule of the same id.
  std::sort(rules.begin(), rules.end(), [](const CompiledRule* a, const CompiledRule* b) {
    return std::tie(a->rule.id, a->scope) < std::tie(b->rule.id, b->scope);
  });
  Decision decision;
  const CompiledRule* named = nullptr;
  for (const CompiledRule* rule : rules) {
    decision.matched.push_back(rule->rule.id);
    const Action action = rule->rule.action;
    const bool outranks = action == Action::kDeny
                              ? decision.action != Action::kDeny
                              : action == Action::kLog && decision.action == Action::kAllow;
    if (outranks) {
      decision.action = action;
      named = rule;
    }
    auto redact = rule->rule.metadata.find(kRedactMetadata);
    if (redact != rule->rule.metadata.end() && !decision.redaction.has_value()) {
      decision.redaction = redact->second;
    }
  }
  if (named != nullptr) {
    decision.rule_id = named->rule.id;
    decision.rule_name = named->rule.name;
  }
  return decision;
}

PolicySet::PolicySet(std::vector<std::shared_ptr<const CompiledRule>> rules)
    : rules_(std::move(rules)) {
  for (const std::shared_ptr<const CompiledRule>& rule : rules_) {
    Groups& groups = rule->scope.empty() ? global_ : by_tenant_[rule->scope];
    if (rule->scope.empty()) has_global_ = true;
    if (rule->rule.metadata.count(kRedactMetadata) > 0) {
      if (rule->scope.empty()) {
        global_redacts_ = true;
      } else {
        redacting_tenants_.insert(rule->scope);
      }
    }
    Group& group = groups[static_cast<int>(AccessOf(rule->rule.trigger))];
    const std::string& prefix = rule->pattern.literal_prefix();
    std::vector<const CompiledRule*>& bucket = group.by_prefix[prefix];
    if (bucket.empty()) group.prefix_lengths.push_back(prefix.size());
    bucket.push_back(rule.get());
  }
  const auto finish = [](Groups& groups) {
    for (Group& group : groups) {
      std::sort(group.prefix_lengths.begin(), group.prefix_lengths.end());
      group.prefix_lengths.erase(
          std::unique(group.prefix_lengths.begin(), group.prefix_lengths.end()),
          group.prefix_lengths.end());
    }
  };
  finish(global_);
  for (auto& [tenant, groups] : by_tenant_) finish(groups);
}

bool PolicySet::MayApply(std::string_view tenant, Access access) const {
  const int kind = static_cast<int>(access);
  if (has_global_ && !global_[kind].by_prefix.empty()) return true;
  auto it = by_tenant_.find(AbslView(tenant));
  return it != by_tenant_.end() && !it->second[kind].by_prefix.empty();
}

template <class Fn>
void PolicySet::ForGroups(const OperationFacts& facts, Fn fn) const {
  const int kind = static_cast<int>(facts.access);
  if (has_global_) fn(global_[kind]);
  auto it = by_tenant_.find(AbslView(facts.principal_tenant));
  if (it != by_tenant_.end()) fn(it->second[kind]);
}

void PolicySet::Evaluate(const OperationFacts& facts, std::string_view key,
                         DecisionBuilder* decision) const {
  ForGroups(facts, [&](const Group& group) { EvaluateGroup(group, facts, key, decision); });
}

void PolicySet::EvaluatePrefix(const OperationFacts& facts, std::string_view prefix,
                               DecisionBuilder* decision) const {
  ForGroups(facts,
            [&](const Group& group) { EvaluateGroupUnder(group, facts, prefix, decision); });
}

namespace {

bool Holds(const CompiledRule& rule, const OperationFacts& facts, std::string_view key) {
  return !rule.condition.has_value() ||
         rule.condition->Evaluate(
             [&](std::string_view name) { return LookupFact(facts, key, name); });
}

// Whether `rule`'s condition may hold for some key under `prefix`. One that reads `key` is
// decided key by key, and a prefix operation has no key yet: it may (else `key == 'a/x'` would
// deny Get "a/x" but let a scan of "a/" return it).
bool MayHoldUnder(const CompiledRule& rule, const OperationFacts& facts,
                  std::string_view prefix) {
  if (rule.condition.has_value()) {
    const std::vector<std::string>& names = rule.condition->names();
    if (std::find(names.begin(), names.end(), kKey) != names.end()) return true;
  }
  return Holds(rule, facts, prefix);
}

}  // namespace

void PolicySet::EvaluateGroupUnder(const Group& group, const OperationFacts& facts,
                                   std::string_view prefix, DecisionBuilder* decision) const {
  // A rule's matches start with its literal prefix L, the keys start with `prefix`: unless one
  // of the two starts with the other, they cannot meet.
  for (const auto& [literal, rules] : group.by_prefix) {
    const std::string_view l(literal);
    if (!absl::StartsWith(AbslView(prefix), AbslView(l)) &&
        !absl::StartsWith(AbslView(l), AbslView(prefix))) {
      continue;
    }
    for (const CompiledRule* rule : rules) {
      if (rule->pattern.MayMatchUnder(prefix) && MayHoldUnder(*rule, facts, prefix)) {
        decision->Add(rule);
      }
    }
  }
}

void PolicySet::EvaluateGroup(const Group& group, const OperationFacts& facts,
                              std::string_view key, DecisionBuilder* decision) const {
  for (size_t length : group.prefix_lengths) {
    if (length > key.size()) break;
    auto bucket = group.by_prefix.find(AbslView(key.substr(0, length)));
    if (bucket == group.by_prefix.end()) continue;
    for (const CompiledRule* rule : bucket->second) {
      if (rule->pattern.Matches(key) && Holds(*rule, facts, key)) decision->Add(rule);
    }
  }
}

}  // namespace sochdb::policy
