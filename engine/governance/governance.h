// Governance: the one step every data operation passes before it touches storage, whatever
// front end it came through (a gRPC method, later an MCP tool). In order:
//   1. the namespace rule: the caller's tenant must own the operation's namespace
//      (auth::Principal::OwnsNamespace; development mode owns every namespace), and the
//      namespace must not be being deleted: the operation enters the namespace registry's gate
//      and holds it until it ends (Admission), so DeleteNamespace waits for it;
//   2. policies (engine/policy): the rules of the caller's tenant and the global ones that apply
//      to the operation's keys decide — DENY fails it with PERMISSION_DENIED "Denied by policy:
//      <name>", LOG writes an audit record and lets it run, ALLOW lets it run;
//   3. quotas: charged where the bytes are known, inside the store's commit (the usage ledger,
//      engine/namespace), so they are exact; Admit itself adds nothing for them.
// This is the place to extend: change events and per-operation audit join here, not in
// handlers. Evaluate (the PolicyService RPC) runs the same Decide as step 2.
//
// Cost: with no rule able to apply to the caller's tenant and access kind (PolicySet::MayApply)
// step 2 is one lookup, and neither keys nor the caller's context are even produced.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_GOVERNANCE_GOVERNANCE_H_
#define SOCHDB_ENGINE_GOVERNANCE_GOVERNANCE_H_

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/auth/auth.h"
#include "engine/namespace/namespace_gate.h"
#include "engine/namespace/namespace_registry.h"
#include "engine/policy/audit_log.h"
#include "engine/policy/policy.h"
#include "engine/policy/policy_set.h"
#include "engine/policy/policy_store.h"

namespace sochdb::governance {

using policy::Access;

// Caller-supplied context entries (name, value) that policy conditions may read by name.
using CallerContext = std::vector<std::pair<std::string, std::string>>;

inline constexpr size_t kMaxContextEntries = 32;
inline constexpr size_t kMaxContextNameBytes = 128;
inline constexpr size_t kMaxContextValueBytes = 1024;

// INVALID_ARGUMENT naming `field` (e.g. "context") when an entry breaks a limit above or uses a
// name the server sets itself (policy::IsReservedContextName: "principal.*", "namespace", ...).
absl::Status ValidateCallerContext(const CallerContext& context, std::string_view field);

// The keys one operation touches, as policies match them: single keys, and prefixes for
// operations that reach every key under one (a scan, a search, a drop), which a rule applies
// to when it may match some key under the prefix (Pattern::MayMatchUnder). Views must outlive
// the Operation; composed keys ("<collection>/<id>") are kept here.
class KeyList {
 public:
  struct Subject {
    std::string_view key;
    bool prefix = false;
  };
  void Add(std::string_view key) { subjects_.push_back({key, false}); }
  void AddPrefix(std::string_view prefix) { subjects_.push_back({prefix, true}); }
  void AddComposed(std::string key, bool prefix = false) {
    subjects_.push_back({owned_.emplace_back(std::move(key)), prefix});
  }
  const std::vector<Subject>& subjects() const { return subjects_; }

 private:
  std::deque<std::string> owned_;  // stable addresses
  std::vector<Subject> subjects_;
};

// One data operation, as the step sees it.
struct Operation {
  const auth::Principal* principal = nullptr;  // never null
  std::string_view service;  // "kv", "collection", "vector": the `service` of conditions
  std::string_view method;   // "Get": what audit records name
  // What it does to its keys; none for calls that only need the namespace rule (namespace
  // management): no policy applies to them.
  std::optional<Access> access;
  // The namespace it works in; none for objects scoped to the caller's tenant (vector indexes),
  // which skip the namespace rule and show conditions the namespace "".
  std::optional<std::string_view> ns;
  // Fills the keys it touches; called only when a rule could apply.
  absl::FunctionRef<void(KeyList*)> keys;
  // The caller's context entries; called only when a rule could apply. Errors (a bad entry)
  // fail the operation.
  absl::FunctionRef<absl::StatusOr<CallerContext>()> context;
};

// Rewrites what a read returns where an AFTER_READ rule with "redact" applies (policy.h). Made by
// Governance::Admit for a read of a tenant such rules bind; inactive otherwise, when Apply is
// never needed. Keeps what it needs: it may outlive the Operation, not the call's principal.
class Redactor {
 public:
  bool active() const { return set_ != nullptr; }
  // What the read it was made for was: its service and namespace.
  std::string_view service() const { return service_; }
  std::string_view ns() const { return ns_; }
  // Replaces `*value`, read under `key`, by the replacement of the redacting rule that applies
  // to the key (the smallest id's), or leaves it.
  void Apply(std::string_view key, std::string* value) const;

 private:
  friend class Governance;
  std::shared_ptr<const policy::PolicySet> set_;
  const auth::Principal* principal_ = nullptr;
  std::string service_;
  std::string ns_;
  CallerContext caller_;
};

// What an admitted operation holds until it ends: its place in its namespace's gate (so a
// DeleteNamespace waits for it) and, for a read, how to redact its answer.
struct Admission {
  std::optional<namespaces::NamespaceGate::Guard> guard;
  Redactor redactor;
  // A call working in several namespaces: the admissions of its other scopes.
  std::vector<Admission> scopes;
};

class Governance {
 public:
  // Not owned; must outlive the Governance. All nullptr: the namespace rule alone (a front end
  // without an engine: the call layer's own tests).
  Governance(policy::PolicyStore* policies, policy::AuditLog* audit,
             namespaces::NamespaceRegistry* namespaces);
  // The namespace rule alone, for as long as the process runs.
  static const Governance& NamespaceRuleOnly();

  // Runs the step (see above). OK: the operation may proceed, for as long as `*admission`
  // (when given) lives; FAILED_PRECONDITION "Namespace '<ns>' is being deleted" while its
  // namespace is deleted. Without `admission`, the gate is not entered (Evaluate, tests).
  absl::Status Admit(const Operation& op, Admission* admission = nullptr) const;

  // What the policies say about `op` (step 2 without acting on it): what Evaluate answers.
  absl::StatusOr<policy::Decision> Decide(const Operation& op) const;

 private:
  // Decide over `set`, leaving the operation's keys in `*keys`.
  absl::StatusOr<policy::Decision> Decide(const Operation& op, const policy::PolicySet& set,
                                          KeyList* keys) const;
  absl::Status Audit(const Operation& op, const policy::Decision& decision,
                     const KeyList& keys) const;

  policy::PolicyStore* const policies_;
  policy::AuditLog* const audit_;
  namespaces::NamespaceRegistry* const namespaces_;
};

}  // namespace sochdb::governance

#endif  // SOCHDB_ENGINE_GOVERNANCE_GOVERNANCE_H_
