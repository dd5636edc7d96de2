#include "engine/policy/policy_store.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/status_testing.h"
#include "tests/engine/policy/policy_test_env.h"

namespace sochdb::policy {
namespace {

using sochdb::testing::Caller;
using sochdb::testing::MemoryStore;
using sochdb::testing::RequireError;
using sochdb::testing::RequireErrorContaining;
using sochdb::testing::ValueOrFail;

PolicyRule Rule(std::string id, std::string pattern, Trigger trigger, Action action,
                std::string expression = "") {
  PolicyRule rule;
  rule.id = std::move(id);
  rule.name = "rule " + rule.id;
  rule.pattern = std::move(pattern);
  rule.trigger = trigger;
  rule.action = action;
  rule.expression = std::move(expression);
  return rule;
}

std::vector<std::string> Ids(const std::vector<PolicyRule>& rules) {
  std::vector<std::string> ids;
  for (const PolicyRule& r : rules) ids.push_back(r.id);
  return ids;
}

// The decision for one key of `tenant`'s operation.
Decision DecideKey(const PolicyStore& store, std::string_view tenant, Access access,
                   std::string_view key, const auth::Principal* who = nullptr) {
  auth::Principal caller = Caller(std::string(tenant), auth::Role::kEditor);
  if (who != nullptr) caller = *who;
  OperationFacts facts{caller.id, auth::RoleName(caller.role), caller.tenant, "kv", "ns", access,
                       {}};
  DecisionBuilder builder;
  store.Current()->Evaluate(facts, key, &builder);
  return builder.Finish();
}

TEST_CASE("registered rules are listed, replaced by id, given ids, deleted and kept across restart") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("", "a/*", Trigger::kBeforeRead,
                                                  Action::kDeny))) == "policy_1");
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("", "b/*", Trigger::kBeforeWrite,
                                                  Action::kLog))) == "policy_2");
  // An explicit id that a later generated id would take is skipped over.
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("policy_3", "c", Trigger::kBeforeDelete,
                                                  Action::kAllow))) == "policy_3");
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("", "d", Trigger::kAfterRead,
                                                  Action::kAllow))) == "policy_4");
  // Upsert: same id replaces.
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("policy_1", "z/*", Trigger::kBeforeRead,
                                                  Action::kDeny))) == "policy_1");
  std::vector<PolicyRule> listed = store->List(alpha, "");
  REQUIRE(Ids(listed) == std::vector<std::string>{"policy_1", "policy_2", "policy_3",
                                                  "policy_4"});
  REQUIRE(listed[0].pattern == "z/*");
  REQUIRE(Ids(store->List(alpha, "/*")) == std::vector<std::string>{"policy_1", "policy_2"});

  REQUIRE_OK(store->Delete(alpha, "policy_2"));
  RequireError(store->Delete(alpha, "policy_2"), absl::StatusCode::kNotFound,
               "Policy 'policy_2' not found");

  store.reset();
  mem.Reopen();
  store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  listed = store->List(alpha, "");
  REQUIRE(Ids(listed) == std::vector<std::string>{"policy_1", "policy_3", "policy_4"});
  REQUIRE(listed[0].pattern == "z/*");
  REQUIRE(listed[0].name == "rule policy_1");
  REQUIRE(listed[0].action == Action::kDeny);
  // Numbering goes on after the highest generated id seen, across restart.
  REQUIRE(ValueOrFail(store->Register(alpha, Rule("", "e", Trigger::kBeforeRead,
                                                  Action::kAllow))) == "policy_5");
  REQUIRE(DecideKey(*store, "alpha", Access::kRead, "z/1").action == Action::kDeny);
}

TEST_CASE("a tenant never sees or is bound by another tenant's rules; global rules bind all") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  const auth::Principal beta = Caller("beta", auth::Role::kEditor);
  const auth::Principal admin = Caller("ops", auth::Role::kAdmin);
  // The same id in two tenants: two rules.
  REQUIRE_OK(store->Register(alpha, Rule("r", "*", Trigger::kBeforeRead, Action::kDeny)).status());
  REQUIRE_OK(store->Register(beta, Rule("r", "x", Trigger::kBeforeRead, Action::kLog)).status());
  REQUIRE(store->List(alpha, "")[0].pattern == "*");
  REQUIRE(store->List(beta, "")[0].pattern == "x");
  REQUIRE(DecideKey(*store, "alpha", Access::kRead, "k").action == Action::kDeny);
  REQUIRE(DecideKey(*store, "beta", Access::kRead, "k").action == Action::kAllow);
  RequireError(store->Delete(beta, "missing"), absl::StatusCode::kNotFound,
               "Policy 'missing' not found");

  PolicyRule global = Rule("g", "secret/*", Trigger::kBeforeWrite, Action::kDeny);
  global.global = true;
  RequireError(store->Register(beta, global).status(), absl::StatusCode::kPermissionDenied,
               "Insufficient permissions. Required: Admin, principal: beta-editor");
  REQUIRE(ValueOrFail(store->Register(admin, global)) == "g");
  REQUIRE(DecideKey(*store, "beta", Access::kWrite, "secret/1").action == Action::kDeny);
  REQUIRE(DecideKey(*store, "alpha", Access::kWrite, "secret/1").action == Action::kDeny);
  std::vector<PolicyRule> seen = store->List(beta, "");
  REQUIRE(Ids(seen) == std::vector<std::string>{"g", "r"});
  REQUIRE(seen[0].global);
  // Deleting the global rule needs Admin; the tenant's own rule of the same id goes first.
  RequireError(store->Delete(beta, "g"), absl::StatusCode::kPermissionDenied,
               "Insufficient permissions. Required: Admin, principal: beta-editor");
  REQUIRE_OK(store->Delete(admin, "g"));
  REQUIRE(DecideKey(*store, "beta", Access::kWrite, "secret/1").action == Action::kAllow);
}

TEST_CASE("bad rules are refused at registration, naming the field") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  RequireErrorContaining(
      store->Register(alpha, Rule("", "[a-", Trigger::kBeforeRead, Action::kDeny)).status(),
      absl::StatusCode::kInvalidArgument, "policy.pattern: invalid character class range");
  RequireErrorContaining(store->Register(alpha, Rule("", "*", Trigger::kBeforeRead,
                                                     Action::kDeny, "user.role == "))
                             .status(),
                         absl::StatusCode::kInvalidArgument, "policy.expression: expected");
  RequireErrorContaining(
      store->Register(alpha, Rule("", "*", Trigger::kBeforeRead, Action::kDeny,
                                  std::string(kMaxConditionBytes + 1, 'a')))
          .status(),
      absl::StatusCode::kInvalidArgument, "policy.expression");
  RequireError(store->Register(alpha, Rule(std::string(kMaxPolicyIdBytes + 1, 'i'), "*",
                                           Trigger::kBeforeRead, Action::kDeny))
                   .status(),
               absl::StatusCode::kInvalidArgument,
               "policy.id is 257 bytes; it must be 1..256 bytes");
  PolicyRule redact = Rule("", "*", Trigger::kBeforeRead, Action::kAllow);
  redact.metadata["redact"] = "***";
  RequireError(store->Register(alpha, redact).status(), absl::StatusCode::kInvalidArgument,
               "policy.metadata entry \"redact\" applies to AFTER_READ rules only");
  // Nothing was stored.
  REQUIRE(store->List(alpha, "").empty());
  REQUIRE(store->Current()->empty());
}

TEST_CASE("DENY outranks LOG outranks ALLOW; the verdict names the lowest id of its action") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  REQUIRE_OK(store->Register(alpha, Rule("c-allow", "k*", Trigger::kBeforeRead,
                                         Action::kAllow)).status());
  REQUIRE(DecideKey(*store, "alpha", Access::kRead, "k1").action == Action::kAllow);
  REQUIRE_OK(store->Register(alpha, Rule("b-log", "k?", Trigger::kAfterRead,
                                         Action::kLog)).status());
  Decision d = DecideKey(*store, "alpha", Access::kRead, "k1");
  REQUIRE(d.action == Action::kLog);
  REQUIRE(d.Reason() == "Logged by policy: rule b-log");
  REQUIRE_OK(store->Register(alpha, Rule("z-deny", "k1", Trigger::kBeforeRead,
                                         Action::kDeny)).status());
  REQUIRE_OK(store->Register(alpha, Rule("y-deny", "*1", Trigger::kBeforeRead,
                                         Action::kDeny)).status());
  d = DecideKey(*store, "alpha", Access::kRead, "k1");
  REQUIRE(d.action == Action::kDeny);
  REQUIRE(d.Reason() == "Denied by policy: rule y-deny");
  REQUIRE(d.matched == std::vector<std::string>{"b-log", "c-allow", "y-deny", "z-deny"});
  // Triggers of another access kind do not apply; neither do patterns that miss.
  REQUIRE(DecideKey(*store, "alpha", Access::kWrite, "k1").matched.empty());
  REQUIRE(DecideKey(*store, "alpha", Access::kRead, "k12").action == Action::kAllow);
}

TEST_CASE("conditions read the principal, the operation and the caller's entries") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor, "alice");
  REQUIRE_OK(store->Register(alpha, Rule("owner-only", "docs/*", Trigger::kBeforeRead,
                                         Action::kDeny,
                                         "resource.owner != principal.id && "
                                         "user.role != 'admin'"))
                 .status());
  const auto decide = [&](std::vector<std::pair<std::string, std::string>> caller) {
    OperationFacts facts{alpha.id, "editor", alpha.tenant, "kv", "ns", Access::kRead, caller};
    DecisionBuilder builder;
    store->Current()->Evaluate(facts, "docs/1", &builder);
    return builder.Finish().action;
  };
  REQUIRE(decide({{"resource.owner", "alice"}}) == Action::kAllow);
  REQUIRE(decide({{"resource.owner", "bob"}}) == Action::kDeny);
  REQUIRE(decide({{"resource.owner", "bob"}, {"user.role", "admin"}}) == Action::kAllow);
  REQUIRE(decide({}) == Action::kDeny);  // no owner: null != 'alice'
  REQUIRE(IsReservedContextName("principal.id"));
  REQUIRE(IsReservedContextName("key"));
  REQUIRE_FALSE(IsReservedContextName("user.id"));
}

TEST_CASE("a prefix (a scan) is denied when a rule may match some key under it") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  REQUIRE_OK(store->Register(alpha, Rule("secret", "secret/*", Trigger::kBeforeRead,
                                         Action::kDeny)).status());
  const auto under = [&](std::string_view prefix) {
    OperationFacts facts{alpha.id, "editor", alpha.tenant, "kv", "ns", Access::kRead, {}};
    DecisionBuilder builder;
    store->Current()->EvaluatePrefix(facts, prefix, &builder);
    return builder.Finish().action;
  };
  REQUIRE(under("") == Action::kDeny);          // everything: secret/ keys too
  REQUIRE(under("se") == Action::kDeny);
  REQUIRE(under("secret/a") == Action::kDeny);
  REQUIRE(under("public/") == Action::kAllow);
  REQUIRE(under("secreu") == Action::kAllow);
  // A condition on the key holds for some keys under a prefix: the prefix may reach them.
  REQUIRE_OK(store->Register(alpha, Rule("salaries", "docs/*", Trigger::kBeforeRead,
                                         Action::kDeny, "key == 'docs/salaries'")).status());
  REQUIRE(under("docs/") == Action::kDeny);
  REQUIRE(under("docs/sal") == Action::kDeny);
  REQUIRE(under("pub") == Action::kAllow);
  // Conditions that read no key are decided for the prefix as for a key.
  REQUIRE_OK(store->Register(alpha, Rule("admins", "team/*", Trigger::kBeforeRead,
                                         Action::kDeny, "principal.role == 'admin'")).status());
  REQUIRE(under("team/") == Action::kAllow);
}

TEST_CASE("1,000 rules indexed by literal prefix give the same answers as trying each") {
  MemoryStore mem;
  auto store = ValueOrFail(PolicyStore::Open(mem.store.get()));
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  for (int i = 0; i < 1000; ++i) {
    const std::string pattern = i % 10 == 0 ? absl::StrCat("*/", i) : absl::StrCat("t/", i, "/*");
    REQUIRE_OK(store->Register(alpha, Rule(absl::StrCat("r", i), pattern, Trigger::kBeforeRead,
                                           i % 3 == 0 ? Action::kDeny : Action::kLog))
                   .status());
  }
  for (const std::string key : {"t/5/x", "t/30/y", "a/40", "t/999/", "t/1000/z", "zzz"}) {
    INFO(key);
    std::vector<std::string> expected;
    for (const PolicyRule& rule : store->List(alpha, "")) {
      if (ValueOrFail(Pattern::Compile(rule.pattern)).Matches(key)) expected.push_back(rule.id);
    }
    std::sort(expected.begin(), expected.end());
    REQUIRE(DecideKey(*store, "alpha", Access::kRead, key).matched == expected);
  }
}

}  // namespace
}  // namespace sochdb::policy
