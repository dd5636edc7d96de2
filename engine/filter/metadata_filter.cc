// MetadataFilter: compiles the JSON tree from json_reader.h into a flat vector of nodes, then
// evaluates that vector. Compilation does all the work that can be done once (operand types,
// sorted $in lists, the limits); evaluation only looks fields up and compares. Recursion in both
// follows the JSON nesting, which the reader bounds at kMaxFilterDepth.
#include "engine/filter/metadata_filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/filter/json_reader.h"

namespace sochdb::filter {
namespace {

// Keys echoed in error paths are cut to this many bytes, so a huge key is not echoed whole.
constexpr size_t kMaxEchoedKeyBytes = 64;

enum class NodeKind { kAll, kAny, kNot, kIn, kNotIn, kGt, kGte, kLt, kLte };

struct Node {
  NodeKind kind = NodeKind::kAll;
  std::vector<uint32_t> children;  // kAll, kAny, kNot (exactly one)
  std::string field;               // comparisons
  // kIn / kNotIn: the listed values. Booleans are listed as the strings "true" / "false".
  std::vector<std::string> strings;  // sorted, unique
  std::vector<double> numbers;       // sorted
  bool null_listed = false;          // null listed: a missing field is in the list
  // kGt / kGte / kLt / kLte: a numeric or a string operand.
  bool numeric = false;
  double number = 0;
  std::string text;
};

// The metadata value as a number, when the whole string is a finite decimal number.
bool ParseNumber(const std::string& value, double* number) {
  const char* end = value.data() + value.size();
  const std::from_chars_result result = std::from_chars(value.data(), end, *number);
  return result.ec == std::errc() && result.ptr == end && std::isfinite(*number);
}

bool InList(const Node& node, const std::string* value) {
  if (value == nullptr) return node.null_listed;
  if (std::binary_search(node.strings.begin(), node.strings.end(), *value)) return true;
  if (node.numbers.empty()) return false;
  double number = 0;
  return ParseNumber(*value, &number) &&
         std::binary_search(node.numbers.begin(), node.numbers.end(), number);
}

bool InRange(const Node& node, const std::string* value) {
  if (value == nullptr) return false;
  int order = 0;  // the sign of (value - operand)
  if (node.numeric) {
    double number = 0;
    if (!ParseNumber(*value, &number)) return false;
    order = number < node.number ? -1 : (number > node.number ? 1 : 0);
  } else {
    order = std::string_view(*value).compare(node.text);  // bytewise (unsigned) order
  }
  switch (node.kind) {
    case NodeKind::kGt:
      return order > 0;
    case NodeKind::kGte:
      return order >= 0;
    case NodeKind::kLt:
      return order < 0;
    case NodeKind::kLte:
      return order <= 0;
    default:
      return false;
  }
}

bool Evaluate(const std::vector<Node>& nodes, uint32_t index,
              const std::map<std::string, std::string>& metadata) {
  const Node& node = nodes[index];
  switch (node.kind) {
    case NodeKind::kAll:
      for (uint32_t child : node.children) {
        if (!Evaluate(nodes, child, metadata)) return false;
      }
      return true;
    case NodeKind::kAny:
      for (uint32_t child : node.children) {
        if (Evaluate(nodes, child, metadata)) return true;
      }
      return false;
    case NodeKind::kNot:
      return !Evaluate(nodes, node.children[0], metadata);
    case NodeKind::kIn:
    case NodeKind::kNotIn:
    case NodeKind::kGt:
    case NodeKind::kGte:
    case NodeKind::kLt:
    case NodeKind::kLte:
      break;
  }
  const auto it = metadata.find(node.field);
  const std::string* value = it == metadata.end() ? nullptr : &it->second;
  if (node.kind == NodeKind::kIn) return InList(node, value);
  if (node.kind == NodeKind::kNotIn) return !InList(node, value);
  return InRange(node, value);
}

// Debian's Abseil has its own string_view type; StrCat needs it.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status PathError(std::string_view path, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(path), ": ", Absl(message)));
}

// A key as error messages show it: C-escaped (so NUL and control bytes stay visible) and cut.
std::string ShowKey(std::string_view key) {
  const std::string_view shown = key.substr(0, kMaxEchoedKeyBytes);
  return absl::StrCat(absl::CHexEscape(Absl(shown)), key.size() > kMaxEchoedKeyBytes ? "..." : "");
}

std::string KeyPath(std::string_view path, std::string_view key) {
  return absl::StrCat(Absl(path), ".", ShowKey(key));
}

bool RangeKind(std::string_view op, NodeKind* kind) {
  if (op == "$gt") {
    *kind = NodeKind::kGt;
  } else if (op == "$gte") {
    *kind = NodeKind::kGte;
  } else if (op == "$lt") {
    *kind = NodeKind::kLt;
  } else if (op == "$lte") {
    *kind = NodeKind::kLte;
  } else {
    return false;
  }
  return true;
}

bool IsScalar(const JsonValue& value) {
  return value.type != JsonValue::Type::kArray && value.type != JsonValue::Type::kObject;
}

// Adds one scalar to a $in list.
void AddListValue(const JsonValue& value, Node* node) {
  switch (value.type) {
    case JsonValue::Type::kString:
      node->strings.push_back(value.string);
      return;
    case JsonValue::Type::kBool:
      node->strings.push_back(value.boolean ? "true" : "false");
      return;
    case JsonValue::Type::kNumber:
      node->numbers.push_back(value.number);
      return;
    case JsonValue::Type::kNull:
      node->null_listed = true;
      return;
    case JsonValue::Type::kArray:
    case JsonValue::Type::kObject:
      return;  // rejected by the callers
  }
}

void SortList(Node* node) {
  std::sort(node->strings.begin(), node->strings.end());
  node->strings.erase(std::unique(node->strings.begin(), node->strings.end()), node->strings.end());
  std::sort(node->numbers.begin(), node->numbers.end());
}

absl::Status CheckUniqueKeys(const JsonValue& object, std::string_view path) {
  std::vector<std::string_view> keys;
  keys.reserve(object.members.size());
  for (const auto& member : object.members) keys.push_back(member.first);
  std::sort(keys.begin(), keys.end());
  const auto duplicate = std::adjacent_find(keys.begin(), keys.end());
  if (duplicate == keys.end()) return absl::OkStatus();
  return PathError(KeyPath(path, *duplicate), "duplicate key");
}

// Turns the JSON tree into nodes, checking operand types and the limits on the way.
class Compiler {
 public:
  // `field` names the request field in errors that are about the whole filter.
  explicit Compiler(std::string_view field) : field_(field) {}

  absl::StatusOr<uint32_t> CompileFilter(const JsonValue& value, const std::string& path);
  std::vector<Node> TakeNodes() { return std::move(nodes_); }

 private:
  absl::StatusOr<uint32_t> AddNode(Node node);
  absl::StatusOr<uint32_t> AddConjunction(std::vector<uint32_t> children);
  absl::StatusOr<uint32_t> CompileLogical(std::string_view op, const JsonValue& operand,
                                          const std::string& parent);
  absl::StatusOr<uint32_t> CompileField(std::string_view field, const JsonValue& condition,
                                        const std::string& path);
  absl::StatusOr<uint32_t> CompileOperators(std::string_view field, const JsonValue& object,
                                            const std::string& path);
  absl::StatusOr<uint32_t> CompileOperator(std::string_view field, std::string_view op,
                                           const JsonValue& operand, const std::string& path);
  absl::StatusOr<uint32_t> CompileList(std::string_view field, std::string_view op,
                                       const JsonValue& operand, const std::string& path);

  const std::string_view field_;
  std::vector<Node> nodes_;
};

absl::StatusOr<uint32_t> Compiler::AddNode(Node node) {
  if (nodes_.size() >= kMaxFilterConditions) {
    return PathError(field_, absl::StrCat("more than ", kMaxFilterConditions,
                                          " conditions; the limit is ", kMaxFilterConditions));
  }
  nodes_.push_back(std::move(node));
  return static_cast<uint32_t>(nodes_.size() - 1);
}

absl::StatusOr<uint32_t> Compiler::AddConjunction(std::vector<uint32_t> children) {
  if (children.size() == 1) return children[0];
  Node node;
  node.kind = NodeKind::kAll;
  node.children = std::move(children);
  return AddNode(std::move(node));
}

absl::StatusOr<uint32_t> Compiler::CompileFilter(const JsonValue& value, const std::string& path) {
  if (value.type != JsonValue::Type::kObject) return PathError(path, "must be a JSON object");
  SOCHDB_RETURN_IF_ERROR(CheckUniqueKeys(value, path));
  std::vector<uint32_t> children;
  for (const auto& [key, operand] : value.members) {
    uint32_t child = 0;
    if (!key.empty() && key[0] == '$') {
      SOCHDB_ASSIGN_OR_RETURN(child, CompileLogical(key, operand, path));
    } else {
      SOCHDB_ASSIGN_OR_RETURN(child, CompileField(key, operand, KeyPath(path, key)));
    }
    children.push_back(child);
  }
  return AddConjunction(std::move(children));
}

// `parent` is the path of the object holding `op`.
absl::StatusOr<uint32_t> Compiler::CompileLogical(std::string_view op, const JsonValue& operand,
                                                  const std::string& parent) {
  if (op != "$and" && op != "$or" && op != "$not") {
    return PathError(parent, absl::StrCat("unknown operator ", ShowKey(op)));
  }
  const std::string path = KeyPath(parent, op);
  Node node;
  if (op == "$not") {
    node.kind = NodeKind::kNot;
    SOCHDB_ASSIGN_OR_RETURN(uint32_t child, CompileFilter(operand, path));
    node.children.push_back(child);
    return AddNode(std::move(node));
  }
  node.kind = op == "$and" ? NodeKind::kAll : NodeKind::kAny;
  if (operand.type != JsonValue::Type::kArray || operand.items.empty()) {
    return PathError(path, "needs a non-empty array of filters");
  }
  for (size_t i = 0; i < operand.items.size(); ++i) {
    SOCHDB_ASSIGN_OR_RETURN(uint32_t child,
                            CompileFilter(operand.items[i], absl::StrCat(path, "[", i, "]")));
    node.children.push_back(child);
  }
  return AddNode(std::move(node));
}

absl::StatusOr<uint32_t> Compiler::CompileField(std::string_view field, const JsonValue& condition,
                                                const std::string& path) {
  if (condition.type == JsonValue::Type::kObject) {
    return CompileOperators(field, condition, path);
  }
  if (!IsScalar(condition)) {
    return PathError(path, "must be a string, number, boolean, null or an object of operators");
  }
  return CompileOperator(field, "$eq", condition, path);
}

absl::StatusOr<uint32_t> Compiler::CompileOperators(std::string_view field, const JsonValue& object,
                                                    const std::string& path) {
  if (object.members.empty()) return PathError(path, "needs at least one operator");
  SOCHDB_RETURN_IF_ERROR(CheckUniqueKeys(object, path));
  std::vector<uint32_t> children;
  for (const auto& [op, operand] : object.members) {
    if (op.empty() || op[0] != '$') {
      return PathError(path, absl::StrCat("expected an operator ($eq, $ne, $gt, $gte, $lt, $lte, "
                                          "$in, $nin, $not), found \"",
                                          ShowKey(op), "\""));
    }
    SOCHDB_ASSIGN_OR_RETURN(uint32_t child, CompileOperator(field, op, operand, path));
    children.push_back(child);
  }
  return AddConjunction(std::move(children));
}

absl::StatusOr<uint32_t> Compiler::CompileOperator(std::string_view field, std::string_view op,
                                                   const JsonValue& operand,
                                                   const std::string& path) {
  Node node;
  node.field = std::string(field);
  if (op == "$eq" || op == "$ne") {
    if (!IsScalar(operand)) {
      return PathError(path, absl::StrCat(Absl(op), " needs a string, number, boolean or null"));
    }
    node.kind = op == "$eq" ? NodeKind::kIn : NodeKind::kNotIn;
    AddListValue(operand, &node);
    return AddNode(std::move(node));
  }
  if (op == "$in" || op == "$nin") return CompileList(field, op, operand, path);
  if (op == "$not") {
    Node negation;
    negation.kind = NodeKind::kNot;
    SOCHDB_ASSIGN_OR_RETURN(uint32_t child, CompileField(field, operand, path));
    negation.children.push_back(child);
    return AddNode(std::move(negation));
  }
  if (!RangeKind(op, &node.kind)) {
    return PathError(path, absl::StrCat("unknown operator ", ShowKey(op)));
  }
  if (operand.type == JsonValue::Type::kNumber) {
    node.numeric = true;
    node.number = operand.number;
  } else if (operand.type == JsonValue::Type::kString) {
    node.text = operand.string;
  } else {
    return PathError(path, absl::StrCat(Absl(op), " needs a number or string"));
  }
  return AddNode(std::move(node));
}

absl::StatusOr<uint32_t> Compiler::CompileList(std::string_view field, std::string_view op,
                                               const JsonValue& operand, const std::string& path) {
  if (operand.type != JsonValue::Type::kArray) {
    return PathError(path, absl::StrCat(Absl(op), " needs an array"));
  }
  if (operand.items.size() > kMaxInItems) {
    return PathError(path, absl::StrCat(Absl(op), " holds ", operand.items.size(),
                                        " values; the limit is ", kMaxInItems));
  }
  Node node;
  node.kind = op == "$in" ? NodeKind::kIn : NodeKind::kNotIn;
  node.field = std::string(field);
  for (size_t i = 0; i < operand.items.size(); ++i) {
    if (!IsScalar(operand.items[i])) {
      return PathError(
          path, absl::StrCat(Absl(op), "[", i, "] must be a string, number, boolean or null"));
    }
    AddListValue(operand.items[i], &node);
  }
  SortList(&node);
  return AddNode(std::move(node));
}

}  // namespace

struct MetadataFilter::Program {
  std::vector<Node> nodes;
  uint32_t root = 0;
};

MetadataFilter::MetadataFilter() = default;

MetadataFilter::MetadataFilter(std::shared_ptr<const Program> program)
    : program_(std::move(program)) {}

absl::StatusOr<MetadataFilter> MetadataFilter::Parse(std::string_view json,
                                                     std::string_view field) {
  if (json.size() > kMaxFilterBytes) {
    return PathError(field,
                     absl::StrCat(json.size(), " bytes; the limit is ", kMaxFilterBytes, " bytes"));
  }
  absl::StatusOr<JsonValue> tree = ReadJson(json, kMaxFilterDepth);
  if (!tree.ok()) return PathError(field, std::string(tree.status().message()));
  Compiler compiler(field);
  SOCHDB_ASSIGN_OR_RETURN(uint32_t root, compiler.CompileFilter(*tree, std::string(field)));
  auto program = std::make_shared<Program>();
  program->nodes = compiler.TakeNodes();
  program->root = root;
  const Node& top = program->nodes[root];
  if (top.kind == NodeKind::kAll && top.children.empty()) return MetadataFilter();
  return MetadataFilter(std::move(program));
}

MetadataFilter MetadataFilter::ExactMatch(const std::map<std::string, std::string>& pairs) {
  if (pairs.empty()) return MetadataFilter();
  auto program = std::make_shared<Program>();
  Node all;
  all.kind = NodeKind::kAll;
  for (const auto& [key, value] : pairs) {
    Node equal;
    equal.kind = NodeKind::kIn;
    equal.field = key;
    equal.strings.push_back(value);
    all.children.push_back(static_cast<uint32_t>(program->nodes.size()));
    program->nodes.push_back(std::move(equal));
  }
  program->root = static_cast<uint32_t>(program->nodes.size());
  program->nodes.push_back(std::move(all));
  return MetadataFilter(std::move(program));
}

bool MetadataFilter::Matches(const std::map<std::string, std::string>& metadata) const {
  if (program_ == nullptr) return true;
  return Evaluate(program_->nodes, program_->root, metadata);
}

bool MetadataFilter::MatchesEverything() const { return program_ == nullptr; }

}  // namespace sochdb::filter
