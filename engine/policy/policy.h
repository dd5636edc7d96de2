// Policies: rules that allow, deny or log data operations, and what one evaluation decides.
//
// A rule belongs to one tenant (it binds only that tenant's operations and only that tenant sees
// it) or, when an admin registers it so, to every tenant (global). It applies to an operation
// when all of these hold:
//   - its trigger's kind is the operation's (read: BEFORE_READ/AFTER_READ, write:
//     BEFORE_WRITE/AFTER_WRITE, delete: BEFORE_DELETE/AFTER_DELETE; upstream's rule);
//   - its pattern (pattern.h) matches one of the keys the operation touches;
//   - its condition (condition.h), when it has one, holds for the operation's context.
// Every trigger is checked before the operation touches storage, so a DENY never leaves half an
// operation behind: an "after" rule cannot undo a write, so it is checked before it too.
// The verdict over every applying rule is DENY if any denies, else LOG if any logs, else ALLOW
// (upstream's order). The rule a verdict names is the applying rule of that action with the
// smallest id (upstream names whichever it iterated last).
//
// Redaction: an AFTER_READ rule carrying the metadata entry "redact" applies to reads whose
// answer it may rewrite: the value read is replaced by that entry's value (Evaluate's
// modified_value shows the replacement). Its action still counts as above.
#ifndef SOCHDB_ENGINE_POLICY_POLICY_H_
#define SOCHDB_ENGINE_POLICY_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sochdb::policy {

// The wire's PolicyTrigger values.
enum class Trigger : uint8_t {
  kBeforeRead = 0,
  kAfterRead = 1,
  kBeforeWrite = 2,
  kAfterWrite = 3,
  kBeforeDelete = 4,
  kAfterDelete = 5,
};
inline constexpr int kTriggerCount = 6;

// The wire's PolicyActionType values, in increasing precedence.
enum class Action : uint8_t { kAllow = 0, kDeny = 1, kLog = 2 };
std::string_view ActionName(Action action);  // "ALLOW" | "DENY" | "LOG"

// What an operation does to its keys.
enum class Access : uint8_t { kRead = 0, kWrite = 1, kDelete = 2 };
inline constexpr int kAccessCount = 3;
std::string_view AccessName(Access access);  // "read" | "write" | "delete" (upstream's words)
// "read" | "write" | "delete" -> Access; anything else: none (upstream: matches no rule).
std::optional<Access> ParseAccess(std::string_view text);
Access AccessOf(Trigger trigger);

// The metadata entry that makes an AFTER_READ rule redact.
inline constexpr char kRedactMetadata[] = "redact";

// A rule as registered (and as listed back).
struct PolicyRule {
  std::string id;
  std::string name;
  std::string pattern;
  Trigger trigger = Trigger::kBeforeRead;
  Action action = Action::kAllow;
  std::string expression;  // empty: no condition
  std::map<std::string, std::string> metadata;
  bool global = false;  // binds every tenant (admins only)
};

// Limits of a rule, checked at registration (the condition and pattern have their own).
inline constexpr size_t kMaxPolicyIdBytes = 256;
inline constexpr size_t kMaxPolicyNameBytes = 1024;
inline constexpr size_t kMaxPolicyMetadataEntries = 64;
inline constexpr size_t kMaxPolicyMetadataBytes = 16 * 1024;  // keys + values
inline constexpr size_t kMaxPoliciesPerScope = 10'000;

// What the rules say about one operation.
struct Decision {
  Action action = Action::kAllow;
  // The rule the verdict names (DENY's or LOG's); empty for ALLOW.
  std::string rule_id;
  std::string rule_name;
  // Ids of every applying rule, ascending.
  std::vector<std::string> matched;
  // The value a redacting rule puts in place of what was read; none when no rule redacts.
  std::optional<std::string> redaction;

  // "Denied by policy: <name>" / "Logged by policy: <name>" / "" (upstream's reasons).
  std::string Reason() const;
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_POLICY_H_
