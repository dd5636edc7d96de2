#include "engine/policy/policy_store.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"

namespace sochdb::policy {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::KeyReader;

constexpr std::string_view kIdPrefix = "policy_";
constexpr char kRecordName[] = "policy record";

std::string RuleKeyOf(std::string_view scope, std::string_view id) {
  return KeyBuilder(KeyFamily::kPolicy).Name(scope).Name(id).key();
}

std::string EncodeRule(const PolicyRule& rule) {
  storage::FieldRecordWriter record;
  record.Bytes("name", rule.name)
      .Bytes("pattern", rule.pattern)
      .Number("trigger", static_cast<uint64_t>(rule.trigger))
      .Number("action", static_cast<uint64_t>(rule.action))
      .Bytes("expression", rule.expression)
      .Map("metadata", rule.metadata);
  return std::move(record).Build();
}

absl::StatusOr<PolicyRule> DecodeRule(std::string_view scope, std::string_view id,
                                      std::string_view text) {
  SOCHDB_ASSIGN_OR_RETURN(storage::FieldRecord record,
                          storage::FieldRecord::Parse(text, kRecordName));
  PolicyRule rule;
  rule.id = std::string(id);
  rule.global = scope.empty();
  uint64_t trigger = 0;
  uint64_t action = 0;
  SOCHDB_RETURN_IF_ERROR(record.Bytes("name", &rule.name));
  SOCHDB_RETURN_IF_ERROR(record.Bytes("pattern", &rule.pattern));
  SOCHDB_RETURN_IF_ERROR(record.Number("trigger", &trigger, 0, kTriggerCount - 1));
  SOCHDB_RETURN_IF_ERROR(record.Number("action", &action, 0, 2));
  SOCHDB_RETURN_IF_ERROR(record.Bytes("expression", &rule.expression));
  SOCHDB_RETURN_IF_ERROR(record.Map("metadata", &rule.metadata));
  rule.trigger = static_cast<Trigger>(trigger);
  rule.action = static_cast<Action>(action);
  return rule;
}

// n of an id "policy_<n>", or 0.
uint64_t GeneratedNumber(std::string_view id) {
  uint64_t n = 0;
  if (!absl::StartsWith(AbslView(id), AbslView(kIdPrefix))) return 0;
  if (!absl::SimpleAtoi(AbslView(id.substr(kIdPrefix.size())), &n)) return 0;
  return n;
}

absl::Status NotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("Policy '", AbslView(id), "' not found"));
}

}  // namespace

PolicyStore::PolicyStore(storage::Store* store)
    : store_(store), set_(std::make_shared<const PolicySet>(
                         std::vector<std::shared_ptr<const CompiledRule>>{})) {}

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(storage::Store* store) {
  std::unique_ptr<PolicyStore> policies(new PolicyStore(store));
  SOCHDB_RETURN_IF_ERROR(policies->Load());
  return policies;
}

absl::Status PolicyStore::Load() {
  absl::MutexLock lock(&mu_);
  const std::string family = KeyBuilder(KeyFamily::kPolicy).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  for (it->Seek(family); it->Valid() && absl::StartsWith(AbslView(it->key()), family);
       it->Next()) {
    KeyReader reader(it->key());
    KeyFamily f;
    std::string_view scope, id;
    if (!reader.Family(&f) || !reader.Name(&scope) || !reader.Name(&id) ||
        !reader.Rest().empty()) {
      return absl::DataLossError(
          absl::StrCat("a policy key is malformed: ", storage::QuotedKey(it->key())));
    }
    absl::StatusOr<PolicyRule> rule = DecodeRule(scope, id, it->value());
    absl::StatusOr<std::shared_ptr<const CompiledRule>> compiled =
        rule.ok() ? CompiledRule::Compile(std::string(scope), *std::move(rule))
                  : absl::StatusOr<std::shared_ptr<const CompiledRule>>(rule.status());
    if (!compiled.ok()) {
      return absl::DataLossError(absl::StrCat("stored policy ", storage::QuotedKey(id),
                                              " of scope ", storage::QuotedKey(scope),
                                              " cannot be loaded: ", compiled.status().message()));
    }
    next_number_ = std::max(next_number_, GeneratedNumber(id) + 1);
    rules_[{std::string(scope), std::string(id)}] = *std::move(compiled);
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  Publish();
  return absl::OkStatus();
}

absl::StatusOr<std::string> PolicyStore::Register(const auth::Principal& caller,
                                                  PolicyRule rule) {
  if (rule.global) {
    SOCHDB_RETURN_IF_ERROR(auth::Authorizer::CheckCapability(caller, auth::Capability::kAdmin));
  }
  std::string scope = rule.global ? std::string() : caller.tenant;
  absl::MutexLock lock(&mu_);
  if (rule.id.empty()) rule.id = NextId(scope);
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledRule> compiled,
                          CompiledRule::Compile(scope, rule));
  RuleKey key{scope, rule.id};
  if (!(rules_.count(key) > 0) && CountInScope(scope) >= kMaxPoliciesPerScope) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "policy limit reached: ", kMaxPoliciesPerScope,
        " rules per tenant (global rules count apart); delete rules before adding more"));
  }
  storage::WriteBatch batch;
  batch.Put(RuleKeyOf(scope, rule.id), EncodeRule(rule));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  next_number_ = std::max(next_number_, GeneratedNumber(rule.id) + 1);
  rules_[std::move(key)] = std::move(compiled);
  Publish();
  return rule.id;
}

std::vector<PolicyRule> PolicyStore::List(const auth::Principal& caller,
                                          std::string_view substring) const {
  std::shared_ptr<const PolicySet> set = Current();
  std::vector<PolicyRule> global, own;
  for (const std::shared_ptr<const CompiledRule>& rule : set->rules()) {
    if (!rule->scope.empty() && rule->scope != caller.tenant) continue;
    if (!absl::StrContains(AbslView(rule->rule.pattern), AbslView(substring))) continue;
    (rule->scope.empty() ? global : own).push_back(rule->rule);
  }
  global.insert(global.end(), std::make_move_iterator(own.begin()),
                std::make_move_iterator(own.end()));
  return global;
}

absl::Status PolicyStore::Delete(const auth::Principal& caller, std::string_view id) {
  absl::MutexLock lock(&mu_);
  RuleKey key{caller.tenant, std::string(id)};
  if (!(rules_.count(key) > 0)) {
    key.first.clear();  // the global rule of that id, if any
    if (!(rules_.count(key) > 0)) return NotFound(id);
    SOCHDB_RETURN_IF_ERROR(auth::Authorizer::CheckCapability(caller, auth::Capability::kAdmin));
  }
  storage::WriteBatch batch;
  batch.Delete(RuleKeyOf(key.first, key.second));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  rules_.erase(key);
  Publish();
  return absl::OkStatus();
}

std::string PolicyStore::NextId(const std::string& scope) {
  std::string id;
  do {
    id = absl::StrCat(AbslView(kIdPrefix), next_number_++);
  } while ((rules_.count(RuleKey{scope, id}) > 0));
  return id;
}

size_t PolicyStore::CountInScope(const std::string& scope) const {
  size_t count = 0;
  for (auto it = rules_.lower_bound({scope, ""}); it != rules_.end() && it->first.first == scope;
       ++it) {
    ++count;
  }
  return count;
}

void PolicyStore::Publish() {
  std::vector<std::shared_ptr<const CompiledRule>> rules;
  rules.reserve(rules_.size());
  for (const auto& [key, rule] : rules_) rules.push_back(rule);
  auto set = std::make_shared<const PolicySet>(std::move(rules));
  absl::MutexLock lock(&set_mu_);
  set_ = std::move(set);
}

}  // namespace sochdb::policy
