// PolicyStore: the registered policies, persistent and tenant-scoped, and the compiled set every
// data operation is checked against (policy_set.h).
//
// Scopes: a rule belongs to its registrant's tenant, or to every tenant when registered with
// `global` by a caller holding Admin. A tenant's List shows its own rules and the global ones
// (which bind it); never another tenant's. Ids are unique per scope: registering an id that
// exists in the scope replaces that rule (upstream's upsert); an empty id gets "policy_<n>", n
// counting up across restarts and skipping ids already taken.
//
// Records: KeyFamily::kPolicy, key Name(scope) Name(id) (scope "" = global; tenants are never
// empty), value a FieldRecord. Each change is one store write, durable per --sync, and the new
// compiled set is published once it is written. A stored rule that no longer compiles stops
// Open with DATA_LOSS naming it: a deny rule must never vanish quietly.
//
// Thread safety: all methods may be called concurrently; Current() never waits for a change.
#ifndef SOCHDB_ENGINE_POLICY_POLICY_STORE_H_
#define SOCHDB_ENGINE_POLICY_POLICY_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/auth/auth.h"
#include "engine/policy/policy.h"
#include "engine/policy/policy_set.h"
#include "engine/storage/store.h"

namespace sochdb::policy {

class PolicyStore {
 public:
  // Loads every stored rule. `store` is not owned and must outlive the PolicyStore.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(storage::Store* store);

  // Registers `rule` for `caller`: in the caller's tenant, or globally when rule.global (which
  // needs Admin: PERMISSION_DENIED "Insufficient permissions. Required: Admin, principal: <id>").
  // Returns the id it is stored under. INVALID_ARGUMENT naming the field for a rule that breaks a
  // limit (policy.h), whose pattern does not compile or whose expression does not parse;
  // RESOURCE_EXHAUSTED past kMaxPoliciesPerScope rules in the scope; storage errors pass through.
  absl::StatusOr<std::string> Register(const auth::Principal& caller, PolicyRule rule);

  // The rules binding `caller`'s tenant (its own and the global ones) whose pattern contains
  // `substring` ("" = all; upstream's filter), global ones first, each scope by id.
  std::vector<PolicyRule> List(const auth::Principal& caller, std::string_view substring) const;

  // Deletes the caller's tenant's rule `id`, or else the global rule `id` (which needs Admin, as
  // above). NOT_FOUND "Policy '<id>' not found" when neither exists.
  absl::Status Delete(const auth::Principal& caller, std::string_view id);

  // The compiled rules now in force.
  std::shared_ptr<const PolicySet> Current() const {
    absl::ReaderMutexLock lock(&set_mu_);
    return set_;
  }

 private:
  using RuleKey = std::pair<std::string, std::string>;  // (scope, id)

  explicit PolicyStore(storage::Store* store);
  absl::Status Load();
  // A new id for `scope`: "policy_<n>" not taken in it.
  std::string NextId(const std::string& scope) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t CountInScope(const std::string& scope) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Store* const store_;
  // Serializes changes: a change is written, then published, before the next begins.
  absl::Mutex mu_;
  std::map<RuleKey, std::shared_ptr<const CompiledRule>> rules_ ABSL_GUARDED_BY(mu_);
  uint64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;

  mutable absl::Mutex set_mu_;
  std::shared_ptr<const PolicySet> set_ ABSL_GUARDED_BY(set_mu_);
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_POLICY_STORE_H_
