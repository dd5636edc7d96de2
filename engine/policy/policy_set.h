// PolicySet: every registered rule, compiled and indexed so that an operation consults only the
// rules that could apply to it. Immutable: the policy store builds a new set on every change
// and swaps it in, so evaluations never wait for a registration.
//
// Index: rules are grouped by scope (their tenant, or global) and by the kind of access their
// trigger names, then by the literal prefix of their pattern (Pattern::literal_prefix: the bytes
// every key it matches starts with). A key is looked up once per distinct prefix length of its
// group: with 1,000 rules under, say, "tenant-data/<n>/" prefixes, a call runs the few rules
// whose prefix its key starts with, not 1,000 regular expressions. Rules whose pattern starts
// with a wildcard have the empty prefix and are run for every key of their group.
#ifndef SOCHDB_ENGINE_POLICY_POLICY_SET_H_
#define SOCHDB_ENGINE_POLICY_POLICY_SET_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/common/absl_view.h"
#include "engine/policy/condition.h"
#include "engine/policy/pattern.h"
#include "engine/policy/policy.h"

namespace sochdb::policy {

// A rule ready to run: its pattern and condition compiled. `scope` is its tenant ("" = global).
struct CompiledRule {
  std::string scope;
  PolicyRule rule;
  Pattern pattern;
  std::optional<Condition> condition;

  // Validates `rule` (limits, pattern, condition) and compiles it. INVALID_ARGUMENT naming the
  // field ("policy.pattern: missing ]: [a-z", "policy.expression: expected ...").
  static absl::StatusOr<std::shared_ptr<const CompiledRule>> Compile(std::string scope,
                                                                    PolicyRule rule);
};

// The facts about one operation that conditions read (besides `key`, which is per key).
struct OperationFacts {
  std::string_view principal_id;
  std::string_view principal_role;
  std::string_view principal_tenant;
  std::string_view service;  // "kv", "collection", "vector", ...
  std::string_view ns;
  Access access = Access::kRead;
  // Caller-supplied entries (EvaluatePolicyRequest.context, or a data call's context headers),
  // by their own names. They never carry the names above (see governance: refused).
  absl::Span<const std::pair<std::string, std::string>> caller;
};

// Names a condition may read about the operation itself; a caller-supplied entry may not use
// them. "principal.id", "principal.role", "principal.tenant", "service", "namespace", "key",
// "operation".
bool IsReservedContextName(std::string_view name);

// The value of `name` for the operation `facts` describes, touching `key`.
Value LookupFact(const OperationFacts& facts, std::string_view key, std::string_view name);

// Collects the rules that apply to one operation, over all its keys, and decides.
class DecisionBuilder {
 public:
  void Add(const CompiledRule* rule) { applying_.insert(rule); }
  bool empty() const { return applying_.empty(); }
  Decision Finish() const;

 private:
  absl::flat_hash_set<const CompiledRule*> applying_;
};

class PolicySet {
 public:
  // `rules` must have unique (scope, id) pairs.
  explicit PolicySet(std::vector<std::shared_ptr<const CompiledRule>> rules);

  bool empty() const { return rules_.empty(); }
  // True when an AFTER_READ rule carrying "redact" (policy.h) binds `tenant`: only then do reads
  // of that tenant look their answers over.
  bool Redacts(std::string_view tenant) const {
    return global_redacts_ || redacting_tenants_.contains(AbslView(tenant));
  }
  // True when some rule of `tenant` or a global one could apply to an `access` operation: when
  // false, Evaluate would add nothing (the fast path of every data call).
  bool MayApply(std::string_view tenant, Access access) const;
  // Adds to `decision` the rules (of `facts.principal_tenant` and global) that apply to `key`.
  void Evaluate(const OperationFacts& facts, std::string_view key,
                DecisionBuilder* decision) const;

  // Adds the rules that may apply to some key under `prefix` (an operation that reaches every
  // such key): a rule whose pattern may match under it (Pattern::MayMatchUnder) and whose
  // condition may hold there: it holds with `key` = the prefix, or it reads `key` (decided key
  // by key, so it may hold for one of them).
  void EvaluatePrefix(const OperationFacts& facts, std::string_view prefix,
                      DecisionBuilder* decision) const;

  const std::vector<std::shared_ptr<const CompiledRule>>& rules() const { return rules_; }

 private:
  // The rules of one scope and access kind, by literal prefix.
  struct Group {
    absl::flat_hash_map<std::string, std::vector<const CompiledRule*>> by_prefix;
    std::vector<size_t> prefix_lengths;  // distinct, ascending
  };
  using Groups = std::array<Group, kAccessCount>;

  void EvaluateGroup(const Group& group, const OperationFacts& facts, std::string_view key,
                     DecisionBuilder* decision) const;
  void EvaluateGroupUnder(const Group& group, const OperationFacts& facts,
                          std::string_view prefix, DecisionBuilder* decision) const;
  // Both groups an operation of `facts` consults (global, then its tenant's), calling `fn`.
  template <class Fn>
  void ForGroups(const OperationFacts& facts, Fn fn) const;

  std::vector<std::shared_ptr<const CompiledRule>> rules_;
  absl::flat_hash_map<std::string, Groups> by_tenant_;
  Groups global_;
  bool has_global_ = false;
  absl::flat_hash_set<std::string> redacting_tenants_;
  bool global_redacts_ = false;
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_POLICY_SET_H_
