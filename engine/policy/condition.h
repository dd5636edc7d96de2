// Policy conditions: the small expression language a policy's `expression` is written in, e.g.
//   user.role == 'admin' && namespace != 'audit'
//   principal.role in ['admin', 'editor'] || !(resource.owner != principal.id)
//
// Grammar (precedence from loosest to tightest):
//   or         := and ('||' and)*
//   and        := unary ('&&' unary)*
//   unary      := '!' unary | comparison
//   comparison := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand
//                          | 'in' '[' literal (',' literal)* ']')?
//   operand    := literal | name | '(' or ')'
//   literal    := 'text' | "text" | number | true | false | null
//   name       := identifier ('.' identifier)*      identifier: [A-Za-z_][A-Za-z0-9_-]*
//
// Values are null, booleans, numbers (double) and strings. A name the context does not hold is
// null. Equality compares type and value (1 == '1' is false); ordering compares two numbers or
// two strings (bytewise) and is false for anything else; `in` is equality with any list item;
// `!`, `&&` and `||` take a value's truth: false, null, 0 and '' are false, all else is true.
// Strings take the escapes \\ \' \" \n \t.
//
// Safe by construction: a condition is parsed once, at registration, into a tree whose size is
// bounded (kMaxConditionBytes, kMaxNesting, kMaxListItems); evaluating it visits each node at
// most once, with no loops, calls or allocation beyond the tree. A condition that does not
// parse is refused with INVALID_ARGUMENT naming what was expected and where.
#ifndef SOCHDB_ENGINE_POLICY_CONDITION_H_
#define SOCHDB_ENGINE_POLICY_CONDITION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace sochdb::policy {

inline constexpr size_t kMaxConditionBytes = 4096;
inline constexpr int kMaxNesting = 32;       // parentheses and `!` inside each other
inline constexpr size_t kMaxListItems = 256;  // items of one `in` list

// A value a condition computes with: null, bool, number or string.
using Value = std::variant<std::monostate, bool, double, std::string>;

// What a condition's names mean: the value of a dotted name, or null (std::monostate) when the
// context has none. Called during Evaluate; must not throw.
using NameLookup = std::function<Value(std::string_view name)>;

class Condition {
 public:
  // Parses `text`. INVALID_ARGUMENT ("expression: expected ')' at offset 14") when it is not a
  // condition of the grammar above or passes a limit.
  static absl::StatusOr<Condition> Parse(std::string_view text);

  // Whether the condition holds in the context `lookup` describes.
  bool Evaluate(const NameLookup& lookup) const;

  // The names the condition reads, each once, in order of first use.
  const std::vector<std::string>& names() const { return names_; }

  struct Node;  // the parsed tree (condition.cc)

 private:
  explicit Condition(std::shared_ptr<const Node> root, std::vector<std::string> names)
      : root_(std::move(root)), names_(std::move(names)) {}

  std::shared_ptr<const Node> root_;  // immutable once parsed: copies share it
  std::vector<std::string> names_;
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_CONDITION_H_
