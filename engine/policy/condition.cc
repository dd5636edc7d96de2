// The policy condition language (condition.h): a lexer, a recursive-descent parser into an
// immutable tree, and its evaluation. Written here because no library in Debian does this job:
// CEL is not packaged, and the expression libraries that are (muparser, exprtk) are numeric
// calculators without strings, dotted names or a bounded grammar.
#include "engine/policy/condition.h"

#include <cmath>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "engine/common/absl_view.h"

namespace sochdb::policy {

enum class Op { kLiteral, kName, kNot, kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe, kIn };

struct Condition::Node {
  Op op = Op::kLiteral;
  Value literal;                                 // kLiteral
  std::string name;                              // kName
  std::vector<std::unique_ptr<Node>> operands;   // kNot: 1; comparisons: 2; kAnd/kOr: 2 or more
  std::vector<Value> list;                       // kIn: the items (operands[0] is the left side)
};

namespace {

using Node = Condition::Node;

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::unique_ptr<Node> Literal(Value value) {
  auto node = std::make_unique<Node>();
  node->literal = std::move(value);
  return node;
}

// Parses one condition. Every method that fails leaves `error_` set and returns nullptr (or
// false); the first error wins, so the message names where parsing first went wrong.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::unique_ptr<Node>> Parse() {
    std::unique_ptr<Node> root = ParseOr();
    if (root != nullptr) {
      SkipSpace();
      if (pos_ < text_.size()) Fail("expected '&&', '||' or the end");
    }
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    return root;
  }

  std::vector<std::string> TakeNames() { return std::move(names_); }

 private:
  std::unique_ptr<Node> ParseOr() { return ParseChain(Op::kOr, "||"); }
  std::unique_ptr<Node> ParseAnd() { return ParseChain(Op::kAnd, "&&"); }

  // `item (token item)*`, as one n-ary node, so long chains do not nest.
  std::unique_ptr<Node> ParseChain(Op op, std::string_view token) {
    std::unique_ptr<Node> first = op == Op::kOr ? ParseAnd() : ParseUnary();
    if (first == nullptr || !Next(token)) return first;
    auto chain = std::make_unique<Node>();
    chain->op = op;
    chain->operands.push_back(std::move(first));
    do {
      std::unique_ptr<Node> item = op == Op::kOr ? ParseAnd() : ParseUnary();
      if (item == nullptr) return nullptr;
      chain->operands.push_back(std::move(item));
    } while (Next(token));
    return chain;
  }

  std::unique_ptr<Node> ParseUnary() {
    SkipSpace();
    if (!LookingAt("!=") && Next("!")) {
      if (!Enter()) return nullptr;
      std::unique_ptr<Node> operand = ParseUnary();
      --depth_;
      if (operand == nullptr) return nullptr;
      auto node = std::make_unique<Node>();
      node->op = Op::kNot;
      node->operands.push_back(std::move(operand));
      return node;
    }
    return ParseComparison();
  }

  std::unique_ptr<Node> ParseComparison() {
    std::unique_ptr<Node> left = ParseOperand();
    if (left == nullptr) return nullptr;
    if (NextKeyword("in")) return ParseIn(std::move(left));
    static constexpr std::pair<std::string_view, Op> kOps[] = {
        {"==", Op::kEq}, {"!=", Op::kNe}, {"<=", Op::kLe},
        {">=", Op::kGe}, {"<", Op::kLt},  {">", Op::kGt}};
    for (const auto& [token, op] : kOps) {
      if (!Next(token)) continue;
      std::unique_ptr<Node> right = ParseOperand();
      if (right == nullptr) return nullptr;
      auto node = std::make_unique<Node>();
      node->op = op;
      node->operands.push_back(std::move(left));
      node->operands.push_back(std::move(right));
      return node;
    }
    return left;
  }

  std::unique_ptr<Node> ParseIn(std::unique_ptr<Node> left) {
    if (!Next("[")) return Fail("expected '[' after 'in'");
    auto node = std::make_unique<Node>();
    node->op = Op::kIn;
    node->operands.push_back(std::move(left));
    do {
      if (node->list.size() == kMaxListItems) {
        return Fail(absl::StrFormat("an 'in' list holds more than %d items", kMaxListItems));
      }
      std::unique_ptr<Node> item = ParseOperand();
      if (item == nullptr) return nullptr;
      if (item->op != Op::kLiteral) return Fail("an 'in' list holds literals only");
      node->list.push_back(std::move(item->literal));
    } while (Next(","));
    if (!Next("]")) return Fail("expected ',' or ']'");
    return node;
  }

  std::unique_ptr<Node> ParseOperand() {
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("expected a value, a name or '('");
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      if (!Enter()) return nullptr;
      std::unique_ptr<Node> inner = ParseOr();
      --depth_;
      if (inner == nullptr) return nullptr;
      if (!Next(")")) return Fail("expected ')'");
      return inner;
    }
    if (c == '\'' || c == '"') return ParseString(c);
    if (IsDigit(c) || c == '-' || c == '.') return ParseNumber();
    if (IsIdentStart(c)) return ParseName();
    return Fail("expected a value, a name or '('");
  }

  std::unique_ptr<Node> ParseString(char quote) {
    ++pos_;
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        const char escaped = text_[pos_++];
        switch (escaped) {
          case '\\': case '\'': case '"': c = escaped; break;
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          default: --pos_; return Fail("unknown escape in a string");
        }
      }
      value.push_back(c);
    }
    if (pos_ >= text_.size()) return Fail("unterminated string");
    ++pos_;  // the closing quote
    return Literal(std::move(value));
  }

  std::unique_ptr<Node> ParseNumber() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && (IsDigit(text_[pos_]) || text_[pos_] == '.' ||
                                   text_[pos_] == 'e' || text_[pos_] == 'E' ||
                                   ((text_[pos_] == '+' || text_[pos_] == '-') &&
                                    (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
      ++pos_;
    }
    double value = 0;
    if (!absl::SimpleAtod(AbslView(text_.substr(start, pos_ - start)), &value) ||
        !std::isfinite(value)) {
      pos_ = start;
      return Fail("malformed number");
    }
    return Literal(value);
  }

  std::unique_ptr<Node> ParseName() {
    const size_t start = pos_;
    while (true) {
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsIdentStart(text_[pos_ + 1])) {
        ++pos_;
        continue;
      }
      break;
    }
    const std::string_view name = text_.substr(start, pos_ - start);
    if (name == "true") return Literal(true);
    if (name == "false") return Literal(false);
    if (name == "null") return Literal(std::monostate{});
    if (name == "in") {
      pos_ = start;
      return Fail("expected a value, a name or '('");
    }
    auto node = std::make_unique<Node>();
    node->op = Op::kName;
    node->name = std::string(name);
    bool seen = false;
    for (const std::string& known : names_) seen = seen || known == node->name;
    if (!seen) names_.push_back(node->name);
    return node;
  }

  bool Enter() {
    if (++depth_ <= kMaxNesting) return true;
    Fail(absl::StrFormat("nesting deeper than %d", kMaxNesting));
    return false;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool LookingAt(std::string_view token) {
    SkipSpace();
    return text_.substr(pos_, token.size()) == token;
  }

  // Consumes `token` when it comes next.
  bool Next(std::string_view token) {
    if (!LookingAt(token)) return false;
    pos_ += token.size();
    return true;
  }

  // Consumes the keyword `word` when it comes next as a whole word.
  bool NextKeyword(std::string_view word) {
    if (!LookingAt(word)) return false;
    const size_t end = pos_ + word.size();
    if (end < text_.size() && IsIdentChar(text_[end])) return false;
    pos_ = end;
    return true;
  }

  std::nullptr_t Fail(const std::string& what) {
    if (error_.empty()) error_ = absl::StrFormat("expression: %s at offset %d", what, pos_);
    return nullptr;
  }

  const std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
  std::vector<std::string> names_;
};

bool Truth(const Value& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b;
  if (const double* d = std::get_if<double>(&v)) return *d != 0;
  if (const std::string* s = std::get_if<std::string>(&v)) return !s->empty();
  return false;  // null
}

// -1, 0 or 1 for two numbers or two strings; none for any other pair (no order).
std::optional<int> Order(const Value& a, const Value& b) {
  if (a.index() != b.index()) return std::nullopt;
  if (const double* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    return *x < y ? -1 : (*x > y ? 1 : 0);
  }
  if (const std::string* x = std::get_if<std::string>(&a)) {
    const int c = x->compare(std::get<std::string>(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

Value Eval(const Node& node, const NameLookup& lookup) {
  switch (node.op) {
    case Op::kLiteral: return node.literal;
    case Op::kName: return lookup(node.name);
    case Op::kNot: return !Truth(Eval(*node.operands[0], lookup));
    case Op::kAnd:
      for (const auto& operand : node.operands) {
        if (!Truth(Eval(*operand, lookup))) return false;
      }
      return true;
    case Op::kOr:
      for (const auto& operand : node.operands) {
        if (Truth(Eval(*operand, lookup))) return true;
      }
      return false;
    case Op::kIn: {
      const Value left = Eval(*node.operands[0], lookup);
      for (const Value& item : node.list) {
        if (item == left) return true;
      }
      return false;
    }
    default: break;
  }
  const Value a = Eval(*node.operands[0], lookup);
  const Value b = Eval(*node.operands[1], lookup);
  if (node.op == Op::kEq) return a == b;
  if (node.op == Op::kNe) return !(a == b);
  const std::optional<int> order = Order(a, b);
  if (!order.has_value()) return false;
  switch (node.op) {
    case Op::kLt: return *order < 0;
    case Op::kLe: return *order <= 0;
    case Op::kGt: return *order > 0;
    default: return *order >= 0;  // kGe
  }
}

}  // namespace

absl::StatusOr<Condition> Condition::Parse(std::string_view text) {
  if (text.size() > kMaxConditionBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "expression is %d bytes; the limit is %d bytes", text.size(), kMaxConditionBytes));
  }
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrFormat("expression: NUL byte at offset %d", nul));
  }
  Parser parser(text);
  absl::StatusOr<std::unique_ptr<Node>> root = parser.Parse();
  if (!root.ok()) return root.status();
  return Condition(std::shared_ptr<const Node>(std::move(*root)), parser.TakeNames());
}

bool Condition::Evaluate(const NameLookup& lookup) const { return Truth(Eval(*root_, lookup)); }

}  // namespace sochdb::policy
