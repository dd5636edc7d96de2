// A randomized check of MetadataFilter: random filter trees are written as JSON, parsed, and
// evaluated against random metadata; a small reference evaluator written here from the header's
// documented semantics must agree on every pair. The reference decides "is this a number" from a
// fixed table, not from a parser, so it shares no code or assumptions with the implementation.
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/filter/metadata_filter.h"

namespace sochdb::filter {
namespace {

using Metadata = std::map<std::string, std::string>;

// Metadata values, with their numeric reading when the documented rule makes them numbers.
const std::vector<std::pair<std::string, std::optional<double>>>& ValuePool() {
  static const auto* pool = new std::vector<std::pair<std::string, std::optional<double>>>{
      {"1", 1},      {"10", 10},  {"9", 9},        {"1.5", 1.5},     {"-2", -2},
      {"1e1", 10},   {"0", 0},    {"100", 100},    {"abc", {}},      {"true", {}},
      {"false", {}}, {"", {}},    {"+3", {}},      {" 4", {}},       {"0x10", {}},
      {"inf", {}},   {"nan", {}}, {"a\"b\\c", {}}, {"\xc3\xa9", {}}, {"Abc", {}},
  };
  return *pool;
}
const std::vector<std::string> kFields = {"a", "b", "c", "d"};
const std::vector<double> kNumbers = {1, 9, 10, 1.5, -2, 0, 100, 2.5};

struct Operand {
  enum class Type { kString, kNumber, kBool, kNull } type = Type::kNull;
  std::string text;
  double number = 0;
  bool boolean = false;
};

struct RefFilter {
  enum class Kind { kAnd, kOr, kNot, kFieldNot, kCompare } kind = Kind::kAnd;
  std::vector<RefFilter> children;
  std::string field;
  std::string op;                 // kCompare: $eq $ne $gt $gte $lt $lte $in $nin
  std::vector<Operand> operands;  // one, or the $in list
};

std::optional<double> NumberOf(const std::string& value) {
  for (const auto& [text, number] : ValuePool()) {
    if (text == value) return number;
  }
  FAIL("value not in the pool: " << value);
  return std::nullopt;
}

bool Equal(const std::string* value, const Operand& operand) {
  if (operand.type == Operand::Type::kNull) return value == nullptr;
  if (value == nullptr) return false;
  switch (operand.type) {
    case Operand::Type::kString:
      return *value == operand.text;
    case Operand::Type::kBool:
      return *value == (operand.boolean ? "true" : "false");
    case Operand::Type::kNumber: {
      const std::optional<double> number = NumberOf(*value);
      return number.has_value() && *number == operand.number;
    }
    case Operand::Type::kNull:
      break;
  }
  return false;
}

bool Compare(const std::string* value, const std::string& op, const Operand& operand) {
  if (value == nullptr) return false;
  int order;
  if (operand.type == Operand::Type::kNumber) {
    const std::optional<double> number = NumberOf(*value);
    if (!number.has_value()) return false;
    order = *number < operand.number ? -1 : (*number > operand.number ? 1 : 0);
  } else {
    // Unsigned bytewise order, written out by hand.
    order = 0;
    const std::string& a = *value;
    const std::string& b = operand.text;
    for (size_t i = 0; i < a.size() && i < b.size() && order == 0; ++i) {
      const unsigned char x = a[i], y = b[i];
      order = x < y ? -1 : (x > y ? 1 : 0);
    }
    if (order == 0 && a.size() != b.size()) order = a.size() < b.size() ? -1 : 1;
  }
  if (op == "$gt") return order > 0;
  if (op == "$gte") return order >= 0;
  if (op == "$lt") return order < 0;
  return order <= 0;  // $lte
}

bool RefMatches(const RefFilter& filter, const Metadata& metadata) {
  switch (filter.kind) {
    case RefFilter::Kind::kAnd:
      for (const RefFilter& child : filter.children) {
        if (!RefMatches(child, metadata)) return false;
      }
      return true;
    case RefFilter::Kind::kOr:
      for (const RefFilter& child : filter.children) {
        if (RefMatches(child, metadata)) return true;
      }
      return false;
    case RefFilter::Kind::kNot:
    case RefFilter::Kind::kFieldNot:
      return !RefMatches(filter.children[0], metadata);
    case RefFilter::Kind::kCompare:
      break;
  }
  const auto it = metadata.find(filter.field);
  const std::string* value = it == metadata.end() ? nullptr : &it->second;
  bool any = false;
  for (const Operand& operand : filter.operands) any = any || Equal(value, operand);
  if (filter.op == "$eq" || filter.op == "$in") return any;
  if (filter.op == "$ne" || filter.op == "$nin") return !any;
  return Compare(value, filter.op, filter.operands[0]);
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string OperandJson(const Operand& operand) {
  switch (operand.type) {
    case Operand::Type::kString:
      return Quote(operand.text);
    case Operand::Type::kNumber: {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.17g", operand.number);
      return buffer;
    }
    case Operand::Type::kBool:
      return operand.boolean ? "true" : "false";
    case Operand::Type::kNull:
      return "null";
  }
  return "null";
}

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  Operand RandomOperand(bool allow_scalars) {
    Operand operand;
    const int kind = allow_scalars ? Pick(10) : Pick(2) * 5;
    if (kind < 5) {
      operand.type = Operand::Type::kString;
      operand.text = ValuePool()[Pick(static_cast<int>(ValuePool().size()))].first;
    } else if (kind < 8) {
      operand.type = Operand::Type::kNumber;
      operand.number = kNumbers[Pick(static_cast<int>(kNumbers.size()))];
    } else if (kind < 9) {
      operand.type = Operand::Type::kBool;
      operand.boolean = Pick(2) == 1;
    }
    return operand;  // kind 9: null
  }

  // One comparison on `field`; *json gets the operator and its operand ("$gt": 5).
  RefFilter RandomCompare(const std::string& field, std::string* json) {
    static const std::vector<std::string> kOps = {"$eq", "$ne",  "$gt", "$gte",
                                                  "$lt", "$lte", "$in", "$nin"};
    RefFilter compare;
    compare.kind = RefFilter::Kind::kCompare;
    compare.field = field;
    compare.op = kOps[Pick(static_cast<int>(kOps.size()))];
    if (compare.op == "$in" || compare.op == "$nin") {
      std::string list;
      const int n = Pick(4);
      for (int i = 0; i < n; ++i) {
        compare.operands.push_back(RandomOperand(true));
        list += (i ? ", " : "") + OperandJson(compare.operands.back());
      }
      *json = Quote(compare.op) + ": [" + list + "]";
      return compare;
    }
    const bool range = compare.op != "$eq" && compare.op != "$ne";
    compare.operands.push_back(RandomOperand(!range));
    *json = Quote(compare.op) + ": " + OperandJson(compare.operands[0]);
    return compare;
  }

  // A field's condition: a bare value ($eq), or an object of distinct operators (maybe $not).
  RefFilter RandomFieldCondition(const std::string& field, int depth, std::string* json) {
    if (Pick(4) == 0) {
      RefFilter compare;
      compare.kind = RefFilter::Kind::kCompare;
      compare.field = field;
      compare.op = "$eq";
      compare.operands.push_back(RandomOperand(true));
      *json = OperandJson(compare.operands[0]);
      return compare;
    }
    if (depth > 0 && Pick(5) == 0) {
      RefFilter negation;
      negation.kind = RefFilter::Kind::kFieldNot;
      std::string inner;
      negation.children.push_back(RandomFieldCondition(field, depth - 1, &inner));
      *json = "{\"$not\": " + inner + "}";
      return negation;
    }
    RefFilter all;
    std::string members;
    for (int i = 0, n = 1 + Pick(2); i < n; ++i) {
      std::string member;
      all.children.push_back(RandomCompare(field, &member));
      if (members.find(member.substr(0, member.find(':'))) != std::string::npos) {
        all.children.pop_back();  // that operator is already in this object
        continue;
      }
      members += (members.empty() ? "" : ", ") + member;
    }
    *json = "{" + members + "}";
    return all;
  }

  // A filter object: distinct field keys and/or logical operators, all of which must hold.
  RefFilter RandomFilter(int depth, std::string* json) {
    RefFilter all;
    std::string members;
    std::vector<bool> used(kFields.size() + 3, false);  // the fields, then $and $or $not
    for (int i = 0, n = 1 + Pick(3); i < n; ++i) {
      const int choice = depth > 0 ? Pick(7) : Pick(4);
      if (used[choice]) continue;  // keys appear once per object
      used[choice] = true;
      std::string member;
      if (choice < 4) {
        std::string condition;
        all.children.push_back(RandomFieldCondition(kFields[choice], depth, &condition));
        member = Quote(kFields[choice]) + ": " + condition;
      } else {
        member = RandomLogical(choice - 4, depth, &all);
      }
      members += (members.empty() ? "" : ", ") + member;
    }
    *json = "{" + members + "}";
    return all;
  }

 private:
  // Appends a $and (0), $or (1) or $not (2) node to `parent`; returns its JSON member.
  std::string RandomLogical(int which, int depth, RefFilter* parent) {
    RefFilter node;
    std::string json;
    if (which == 2) {
      node.kind = RefFilter::Kind::kNot;
      node.children.push_back(RandomFilter(depth - 1, &json));
    } else {
      node.kind = which == 0 ? RefFilter::Kind::kAnd : RefFilter::Kind::kOr;
      for (int i = 0, n = 1 + Pick(3); i < n; ++i) {
        std::string inner;
        node.children.push_back(RandomFilter(depth - 1, &inner));
        json += (i ? ", " : "") + inner;
      }
      json = "[" + json + "]";
    }
    parent->children.push_back(std::move(node));
    static const char* kNames[] = {"$and", "$or", "$not"};
    return Quote(kNames[which]) + ": " + json;
  }

  std::mt19937 rng_;
};

Metadata RandomMetadata(Generator* gen) {
  Metadata metadata;
  for (const std::string& field : kFields) {
    if (gen->Pick(4) == 0) continue;  // missing
    metadata[field] = ValuePool()[gen->Pick(static_cast<int>(ValuePool().size()))].first;
  }
  return metadata;
}

TEST_CASE("Matches agrees with a reference evaluator on random filters", "[filter]") {
  Generator gen(20240611);
  std::vector<Metadata> docs;
  for (int i = 0; i < 60; ++i) docs.push_back(RandomMetadata(&gen));
  int filters = 0, matches = 0, checks = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string json;
    const RefFilter reference = gen.RandomFilter(gen.Pick(4), &json);
    absl::StatusOr<MetadataFilter> filter = MetadataFilter::Parse(json);
    INFO(json);
    INFO(filter.status().ToString());
    REQUIRE(filter.ok());
    ++filters;
    for (const Metadata& doc : docs) {
      const bool want = RefMatches(reference, doc);
      if (filter->Matches(doc) != want) {
        std::string shown;
        for (const auto& [k, v] : doc) shown += k + "=" + Quote(v) + " ";
        FAIL("filter " << json << " on {" << shown << "}: want " << want);
      }
      matches += want;
      ++checks;
    }
  }
  // Both outcomes must be common, or the test proves little.
  CHECK(matches > checks / 10);
  CHECK(matches < checks * 9 / 10);
  std::printf("random filters: filters=%d checks=%d matched=%d\n", filters, checks, matches);
}

}  // namespace
}  // namespace sochdb::filter
