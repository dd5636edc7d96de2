// Tests of the policy condition language: the SDK docs' examples, precedence, each operator's
// rule for every pair of types, and each way a condition is refused (with where it went wrong).
#include "engine/policy/condition.h"

#include <map>
#include <string>

#include <catch2/catch.hpp>

namespace sochdb::policy {
namespace {

// Evaluates `text` over `context` (dotted name -> value); a condition that does not parse fails.
bool Holds(const std::string& text, const std::map<std::string, Value>& context = {}) {
  absl::StatusOr<Condition> condition = Condition::Parse(text);
  INFO(text << ": " << condition.status().ToString());
  REQUIRE(condition.ok());
  return condition->Evaluate([&](std::string_view name) -> Value {
    auto it = context.find(std::string(name));
    return it == context.end() ? Value{} : it->second;
  });
}

std::string Refusal(const std::string& text) {
  absl::StatusOr<Condition> condition = Condition::Parse(text);
  REQUIRE_FALSE(condition.ok());
  CHECK(condition.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(condition.status().message());
}

TEST_CASE("the SDK docs' conditions") {
  const std::map<std::string, Value> admin = {{"user.role", std::string("admin")},
                                              {"user.id", std::string("u1")},
                                              {"resource.owner", std::string("u1")}};
  CHECK(Holds("user.role == 'admin'", admin));
  CHECK_FALSE(Holds("user.role == 'admin'", {{"user.role", std::string("viewer")}}));
  CHECK(Holds("resource.owner == user.id", admin));
  CHECK_FALSE(Holds("resource.owner == user.id", {{"resource.owner", std::string("u2")},
                                                  {"user.id", std::string("u1")}}));
}

TEST_CASE("precedence: ! binds tighter than &&, && tighter than ||; parentheses group") {
  CHECK(Holds("true || false && false"));        // true || (false && false)
  CHECK_FALSE(Holds("(true || false) && false"));
  CHECK(Holds("!false && true"));
  CHECK_FALSE(Holds("!(false || true)"));
  CHECK(Holds("!!true"));
  CHECK(Holds("1 < 2 && 'b' > 'a' || x == 1"));
}

TEST_CASE("equality compares type and value; a missing name is null") {
  CHECK(Holds("1 == 1.0"));
  CHECK_FALSE(Holds("1 == '1'"));
  CHECK(Holds("1 != '1'"));
  CHECK(Holds("missing == null"));
  CHECK_FALSE(Holds("missing == ''"));
  CHECK_FALSE(Holds("missing == false"));
  CHECK(Holds("n == 3", {{"n", 3.0}}));
  CHECK(Holds("flag == true", {{"flag", true}}));
  CHECK(Holds("\"it's\" == 'it\\'s'"));
}

TEST_CASE("ordering compares two numbers or two strings, and is false for anything else") {
  CHECK(Holds("-1.5 < 2e0"));
  CHECK(Holds("2 >= 2"));
  CHECK(Holds("'apple' < 'banana'"));
  CHECK_FALSE(Holds("'10' < 9"));
  CHECK_FALSE(Holds("'10' >= 9"));
  CHECK_FALSE(Holds("missing < 1"));
  CHECK_FALSE(Holds("missing >= 1"));
  CHECK_FALSE(Holds("true > false"));
}

TEST_CASE("in is equality with any item of a literal list") {
  const std::map<std::string, Value> editor = {{"principal.role", std::string("editor")}};
  CHECK(Holds("principal.role in ['admin', 'editor']", editor));
  CHECK_FALSE(Holds("principal.role in ['admin']", editor));
  CHECK(Holds("!(principal.role in ['viewer'])", editor));
  CHECK(Holds("n in [1, 2, 3]", {{"n", 2.0}}));
  CHECK_FALSE(Holds("n in ['2']", {{"n", 2.0}}));
  CHECK(Holds("missing in [null]"));
}

TEST_CASE("truth: false, null, 0 and '' are false, every other value is true") {
  CHECK_FALSE(Holds("missing"));
  CHECK_FALSE(Holds("0"));
  CHECK_FALSE(Holds("''"));
  CHECK(Holds("'x'"));
  CHECK(Holds("-3"));
  CHECK(Holds("flag && n", {{"flag", true}, {"n", 7.0}}));
}

TEST_CASE("a condition lists the names it reads, each once") {
  absl::StatusOr<Condition> c = Condition::Parse("a.b == c || a.b in ['x'] && !d");
  REQUIRE(c.ok());
  CHECK(c->names() == std::vector<std::string>{"a.b", "c", "d"});
}

TEST_CASE("a condition that does not parse is refused, saying what was expected and where") {
  CHECK(Refusal("") == "expression: expected a value, a name or '(' at offset 0");
  CHECK(Refusal("user.role = 'admin'") ==
        "expression: expected '&&', '||' or the end at offset 10");
  CHECK(Refusal("(a == 1") == "expression: expected ')' at offset 7");
  CHECK(Refusal("a == 'open") == "expression: unterminated string at offset 10");
  CHECK(Refusal("a == 'x\\q'") == "expression: unknown escape in a string at offset 8");
  CHECK(Refusal("a in 'x'") == "expression: expected '[' after 'in' at offset 5");
  CHECK(Refusal("a in [b]") == "expression: an 'in' list holds literals only at offset 7");
  CHECK(Refusal("a in ['x' 'y']") == "expression: expected ',' or ']' at offset 10");
  CHECK(Refusal("a == 1e999") == "expression: malformed number at offset 5");
  CHECK(Refusal("a && || b") == "expression: expected a value, a name or '(' at offset 5");
  CHECK(Refusal("a == #") == "expression: expected a value, a name or '(' at offset 5");
  CHECK(Refusal(std::string("a == '\0'", 8)) == "expression: NUL byte at offset 6");
}

TEST_CASE("every limit is enforced and named") {
  CHECK(Refusal(std::string(kMaxConditionBytes + 1, 'a')) ==
        "expression is 4097 bytes; the limit is 4096 bytes");
  REQUIRE(Condition::Parse(std::string(kMaxConditionBytes, 'a')).ok());

  const std::string deep_ok =
      std::string(kMaxNesting, '(') + "true" + std::string(kMaxNesting, ')');
  CHECK(Holds(deep_ok));
  const std::string too_deep =
      std::string(kMaxNesting + 1, '(') + "true" + std::string(kMaxNesting + 1, ')');
  CHECK(Refusal(too_deep) == "expression: nesting deeper than 32 at offset 33");
  CHECK(Refusal(std::string(kMaxNesting + 1, '!') + "true") ==
        "expression: nesting deeper than 32 at offset 33");

  std::string list = "a in [0";
  for (size_t i = 1; i < kMaxListItems; ++i) list += "," + std::to_string(i);
  CHECK(Holds(list + "]", {{"a", 255.0}}));
  CHECK(Refusal(list + ",256]").rfind("expression: an 'in' list holds more than 256 items", 0) ==
        0);
}

TEST_CASE("a long chain of && and || does not nest: 1,000 terms parse and evaluate") {
  std::string chain = "x == 0";
  for (int i = 1; i < 1000; ++i) chain += (i % 2 ? " || x == " : " && x == ") + std::to_string(i);
  // Past the byte limit: refused by size, not by recursion.
  CHECK(Refusal(chain).rfind("expression is ", 0) == 0);
  std::string fits = "x == 0";
  while (fits.size() + 12 < kMaxConditionBytes) fits += " || x == 999";
  CHECK(Holds(fits, {{"x", 999.0}}));
}

}  // namespace
}  // namespace sochdb::policy
