#include "engine/governance/governance.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "tests/common/status_testing.h"
#include "tests/engine/policy/policy_test_env.h"

namespace sochdb::governance {
namespace {

using policy::Action;
using policy::PolicyRule;
using policy::Trigger;
using sochdb::testing::Caller;
using sochdb::testing::MemoryStore;
using sochdb::testing::RequireError;
using sochdb::testing::ValueOrFail;

struct Fixture {
  MemoryStore mem;
  ManualClock clock;
  std::unique_ptr<policy::PolicyStore> policies =
      ValueOrFail(policy::PolicyStore::Open(mem.store.get()));
  std::unique_ptr<policy::AuditLog> audit =
      ValueOrFail(policy::AuditLog::Open(mem.store.get(), &clock, policy::AuditRetention{}));
  Governance governance{policies.get(), audit.get(), nullptr};
  int keys_asked = 0;
  int context_asked = 0;
  CallerContext context;

  absl::Status Admit(const auth::Principal& who, Access access, std::string_view ns,
                     std::string_view key) {
    const auto keys = [&](KeyList* list) {
      ++keys_asked;
      list->Add(key);
    };
    const auto caller = [&]() -> absl::StatusOr<CallerContext> {
      ++context_asked;
      if (absl::Status valid = ValidateCallerContext(context, "context"); !valid.ok()) {
        return valid;
      }
      return context;
    };
    return governance.Admit(Operation{&who, "kv", "Get", access, ns, keys, caller});
  }

  void Register(const auth::Principal& who, std::string id, std::string pattern, Trigger trigger,
                Action action, std::string expression = "") {
    PolicyRule rule;
    rule.id = id;
    rule.name = "rule " + id;
    rule.pattern = std::move(pattern);
    rule.trigger = trigger;
    rule.action = action;
    rule.expression = std::move(expression);
    REQUIRE(ValueOrFail(policies->Register(who, rule)) == id);
  }
};

TEST_CASE("the namespace rule comes first; with no rules nothing else is even produced") {
  Fixture f;
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor);
  RequireError(f.Admit(alpha, Access::kRead, "beta", "k"), absl::StatusCode::kPermissionDenied,
               "Access denied to namespace 'beta' for tenant 'alpha'");
  REQUIRE_OK(f.Admit(alpha, Access::kRead, "alpha/docs", "k"));
  REQUIRE(f.keys_asked == 0);
  REQUIRE(f.context_asked == 0);
  // Rules of another tenant or another access kind do not make this one's calls pay either.
  f.Register(Caller("beta", auth::Role::kEditor), "b", "*", Trigger::kBeforeRead, Action::kDeny);
  f.Register(alpha, "w", "*", Trigger::kBeforeWrite, Action::kDeny);
  REQUIRE_OK(f.Admit(alpha, Access::kRead, "alpha", "k"));
  REQUIRE(f.keys_asked == 0);
  // The namespace rule alone, for front ends without an engine.
  RequireError(Governance::NamespaceRuleOnly().Admit(Operation{
                   &alpha, "kv", "Get", Access::kRead, std::string_view("beta"),
                   [](KeyList*) {}, []() -> absl::StatusOr<CallerContext> { return CallerContext(); }}),
               absl::StatusCode::kPermissionDenied,
               "Access denied to namespace 'beta' for tenant 'alpha'");
}

TEST_CASE("DENY refuses with the rule's name, LOG records who did what, ALLOW lets through") {
  Fixture f;
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor, "alice");
  f.Register(alpha, "no-secrets", "secret/*", Trigger::kBeforeRead, Action::kDeny);
  f.Register(alpha, "watch", "watched/*", Trigger::kAfterRead, Action::kLog);
  f.Register(alpha, "fine", "open/*", Trigger::kBeforeRead, Action::kAllow);
  RequireError(f.Admit(alpha, Access::kRead, "alpha", "secret/1"),
               absl::StatusCode::kPermissionDenied, "Denied by policy: rule no-secrets");
  REQUIRE_OK(f.Admit(alpha, Access::kRead, "alpha", "open/1"));
  REQUIRE(f.audit->records() == 0);
  REQUIRE_OK(f.Admit(alpha, Access::kRead, "alpha", "watched/7"));
  policy::AuditLog::Page page = ValueOrFail(f.audit->Read("alpha", "", 0));
  REQUIRE(page.records.size() == 1);
  const policy::AuditRecord& r = page.records[0];
  REQUIRE(r.principal_id == "alice");
  REQUIRE(r.principal_role == "editor");
  REQUIRE(r.service == "kv");
  REQUIRE(r.method == "Get");
  REQUIRE(r.operation == "read");
  REQUIRE(r.ns == "alpha");
  REQUIRE(r.key == "watched/7");
  REQUIRE(r.policy_id == "watch");
  REQUIRE(r.policy_name == "rule watch");
  REQUIRE(r.time_ms == f.clock.NowMillis());
  // Another tenant is bound by none of it.
  const auth::Principal beta = Caller("beta", auth::Role::kEditor);
  REQUIRE_OK(f.Admit(beta, Access::kRead, "beta", "secret/1"));
  REQUIRE_OK(f.Admit(beta, Access::kRead, "beta", "watched/7"));
  REQUIRE(f.audit->records() == 1);
}

TEST_CASE("conditions read the caller's context; a bad context fails the operation") {
  Fixture f;
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor, "alice");
  f.Register(alpha, "admins-only", "*", Trigger::kBeforeDelete, Action::kDeny,
             "user.role != 'admin' && principal.role != 'admin'");
  RequireError(f.Admit(alpha, Access::kDelete, "alpha", "k"), absl::StatusCode::kPermissionDenied,
               "Denied by policy: rule admins-only");
  f.context = {{"user.role", "admin"}};
  REQUIRE_OK(f.Admit(alpha, Access::kDelete, "alpha", "k"));
  f.context = {{"principal.role", "admin"}};  // may not override the key's identity
  RequireError(f.Admit(alpha, Access::kDelete, "alpha", "k"), absl::StatusCode::kInvalidArgument,
               "context entry 'principal.role' is reserved: the server sets it from the "
               "caller's key and the operation");
  f.context = {{"x", std::string(kMaxContextValueBytes + 1, 'v')}};
  RequireError(f.Admit(alpha, Access::kDelete, "alpha", "k"), absl::StatusCode::kInvalidArgument,
               "context entry 'x' is 1025 bytes; the limit is 1024 bytes");
}

}  // namespace
}  // namespace sochdb::governance

namespace sochdb::governance {
namespace {

TEST_CASE("reads bound by a redacting rule get a redactor that rewrites matching keys only") {
  Fixture f;
  const auth::Principal alpha = Caller("alpha", auth::Role::kEditor, "alice");
  Admission none;
  REQUIRE_OK(f.governance.Admit(
      Operation{&alpha, "kv", "Get", Access::kRead, std::string_view("alpha"),
                [](KeyList* k) { k->Add("pii/1"); },
                []() -> absl::StatusOr<CallerContext> { return CallerContext(); }},
      &none));
  REQUIRE_FALSE(none.redactor.active());

  PolicyRule rule;
  rule.id = "mask";
  rule.name = "mask pii";
  rule.pattern = "pii/*";
  rule.trigger = Trigger::kAfterRead;
  rule.action = Action::kAllow;
  rule.expression = "user.role != 'auditor'";
  rule.metadata["redact"] = "[redacted]";
  REQUIRE(ValueOrFail(f.policies->Register(alpha, rule)) == "mask");

  Admission admission;
  REQUIRE_OK(f.Admit(alpha, Access::kRead, "alpha", "pii/1"));  // no admission asked: fine
  const auto admit = [&](Admission* r) {
    return f.governance.Admit(
        Operation{&alpha, "kv", "Get", Access::kRead, std::string_view("alpha"),
                  [](KeyList* k) { k->AddPrefix(""); },
                  [&]() -> absl::StatusOr<CallerContext> { return f.context; }},
        r);
  };
  REQUIRE_OK(admit(&admission));
  const Redactor& redactor = admission.redactor;
  REQUIRE(redactor.active());
  std::string value = "555-1234";
  redactor.Apply("pii/1", &value);
  REQUIRE(value == "[redacted]");
  value = "public";
  redactor.Apply("open/1", &value);
  REQUIRE(value == "public");
  // The condition is read with the caller's context of the call.
  f.context = {{"user.role", "auditor"}};
  Admission auditor;
  REQUIRE_OK(admit(&auditor));
  value = "555-1234";
  auditor.redactor.Apply("pii/1", &value);
  REQUIRE(value == "555-1234");
  // Writes never get one.
  Admission writer;
  REQUIRE_OK(f.governance.Admit(
      Operation{&alpha, "kv", "Put", Access::kWrite, std::string_view("alpha"),
                [](KeyList* k) { k->Add("pii/1"); },
                []() -> absl::StatusOr<CallerContext> { return CallerContext(); }},
      &writer));
  REQUIRE_FALSE(writer.redactor.active());
}

}  // namespace
}  // namespace sochdb::governance
