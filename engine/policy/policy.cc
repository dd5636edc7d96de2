#include "engine/policy/policy.h"

#include "absl/strings/str_cat.h"

namespace sochdb::policy {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAllow: return "ALLOW";
    case Action::kDeny: return "DENY";
    case Action::kLog: return "LOG";
  }
  return "ALLOW";
}

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kRead: return "read";
    case Access::kWrite: return "write";
    case Access::kDelete: return "delete";
  }
  return "read";
}

std::optional<Access> ParseAccess(std::string_view text) {
  if (text == "read") return Access::kRead;
  if (text == "write") return Access::kWrite;
  if (text == "delete") return Access::kDelete;
  return std::nullopt;
}

Access AccessOf(Trigger trigger) {
  switch (trigger) {
    case Trigger::kBeforeRead:
    case Trigger::kAfterRead: return Access::kRead;
    case Trigger::kBeforeWrite:
    case Trigger::kAfterWrite: return Access::kWrite;
    case Trigger::kBeforeDelete:
    case Trigger::kAfterDelete: return Access::kDelete;
  }
  return Access::kRead;
}

std::string Decision::Reason() const {
  switch (action) {
    case Action::kDeny: return absl::StrCat("Denied by policy: ", rule_name);
    case Action::kLog: return absl::StrCat("Logged by policy: ", rule_name);
    case Action::kAllow: return "";
  }
  return "";
}

}  // namespace sochdb::policy
