// ReadJson on nlohmann::json's SAX parser (the project's one JSON library). The parser is
// iterative and strict (RFC 8259: UTF-8 checked, surrogates paired, no NaN, no comments); the
// handler below builds the JsonValue tree and refuses a container past `max_depth` before
// anything inside it is read. What this file adds to the library is the error text: the
// library's messages are turned into the reader's own, each with the byte offset where the
// offending token starts, so clients see the same messages whatever parser runs underneath.
#include "engine/filter/json_reader.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "nlohmann/json.hpp"

namespace sochdb::filter {
namespace {

using Json = nlohmann::json;

// What the library reported when it stopped.
struct LibraryError {
  size_t position = 0;     // bytes read, the offending one included
  std::string last_token;  // the token read last (control bytes shown as <U+XXXX>)
  int id = 0;              // 101: syntax error; 406: number out of range
  std::string what;
};

// Builds the tree from the parser's events (nlohmann's duck-typed SAX interface).
class TreeBuilder {
 public:
  explicit TreeBuilder(size_t max_depth) : max_depth_(max_depth) {}

  bool null() { return Set(JsonValue::Type::kNull) != nullptr; }
  bool boolean(bool value) {
    Set(JsonValue::Type::kBool)->boolean = value;
    return true;
  }
  bool number_integer(Json::number_integer_t value) { return Number(static_cast<double>(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return Number(static_cast<double>(value)); }
  // The library's strtod reads a number too small for a double as 0 (or a subnormal); such a
  // number is read again with from_chars, as metadata values are, which refuses one that is 0
  // only by underflow. Both round correctly, so every other number reads the same either way.
  bool number_float(Json::number_float_t value, const std::string& token) {
    if (std::abs(value) >= std::numeric_limits<double>::min()) return Number(value);
    const std::from_chars_result read =
        std::from_chars(token.data(), token.data() + token.size(), value);
    if (read.ec != std::errc()) {
      out_of_range_ = token;
      return false;
    }
    return Number(value);
  }
  bool string(std::string& value) {
    Set(JsonValue::Type::kString)->string = std::move(value);
    return true;
  }
  bool binary(Json::binary_t&) { return false; }  // not produced by JSON text
  bool start_object(size_t) { return Open(JsonValue::Type::kObject); }
  bool start_array(size_t) { return Open(JsonValue::Type::kArray); }
  bool key(std::string& key) {
    open_.back()->members.emplace_back(std::move(key), JsonValue());
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) {
    error_ = LibraryError{position, last_token, error.id, error.what()};
    return false;
  }

  JsonValue& root() { return root_; }
  bool too_deep() const { return too_deep_; }
  const std::optional<std::string>& out_of_range() const { return out_of_range_; }
  const std::optional<LibraryError>& error() const { return error_; }

 private:
  // The value the next event fills: the root, an array's new item or the last key's value.
  // Pointers in open_ stay valid: only the innermost open container grows.
  JsonValue* Set(JsonValue::Type type) {
    JsonValue* value = &root_;
    if (!open_.empty()) {
      JsonValue* parent = open_.back();
      if (parent->type == JsonValue::Type::kArray) {
        value = &parent->items.emplace_back();
      } else {
        value = &parent->members.back().second;
      }
    }
    value->type = type;
    return value;
  }
  bool Number(double value) {
    Set(JsonValue::Type::kNumber)->number = value;
    return true;
  }
  bool Open(JsonValue::Type type) {
    if (open_.size() >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    open_.push_back(Set(type));
    return true;
  }
  bool Close() {
    open_.pop_back();
    return true;
  }

  const size_t max_depth_;
  JsonValue root_;
  std::vector<JsonValue*> open_;
  bool too_deep_ = false;
  std::optional<std::string> out_of_range_;  // a number token too small for a double
  std::optional<LibraryError> error_;
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Where the first number token `token` outside strings starts. The text before it is valid
// JSON (the parser got that far), so a quote not escaped inside a string opens or closes one.
size_t NumberStart(std::string_view text, std::string_view token) {
  auto in_number = [](char c) {
    return (c >= '0' && c <= '9') || std::string_view(".eE+-").find(c) != std::string_view::npos;
  };
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (in_string) {
      if (text[i] == '\\') {
        ++i;  // the escaped byte, which may be a quote
      } else if (text[i] == '"') {
        in_string = false;
      }
    } else if (text[i] == '"') {
      in_string = true;
    } else if (text.substr(i, token.size()) == token && (i == 0 || !in_number(text[i - 1]))) {
      return i;
    }
  }
  return 0;  // not reached: the token came from `text`
}

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Where a literal that stops at `at` (true, false, null cut short) starts, else `at`.
size_t LiteralStart(std::string_view text, size_t at) {
  for (std::string_view literal : {"true", "false", "null"}) {
    for (size_t length = 1; length < literal.size() && length <= at; ++length) {
      const size_t start = at - length;
      if (text.substr(start, length) == literal.substr(0, length) &&
          (start == 0 || !IsLetter(text[start - 1]))) {
        return start;
      }
    }
  }
  return at;
}

// The start of the UTF-8 sequence that byte `at` (where the library stopped) breaks.
size_t Utf8SequenceStart(std::string_view text, size_t at) {
  for (size_t back = 1; back <= 3 && back <= at; ++back) {
    const uint8_t byte = static_cast<uint8_t>(text[at - back]);
    if ((byte & 0xc0) == 0x80) continue;  // a continuation byte: look further back
    const size_t length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? at - back : at;
  }
  return at;
}

// After a high surrogate the library reads on; the reader reports where the escape that should
// pair it is missing, or the end of that escape when it holds no low surrogate.
size_t SurrogateErrorOffset(std::string_view text, size_t position) {
  auto escape_ends_at = [&](size_t end) { return end >= 6 && text.substr(end - 6, 2) == "\\u"; };
  if (escape_ends_at(position) && escape_ends_at(position - 6)) return position;
  return escape_ends_at(position - 1) ? position - 1 : position - 2;
}

struct Diagnosis {
  size_t offset;
  std::string_view message;
};

// A lexical error: the token itself is malformed.
Diagnosis DiagnoseToken(std::string_view text, std::string_view detail, size_t position) {
  const size_t at = position - 1;  // the byte the library stopped at
  if (StartsWith(detail, "invalid string: missing closing quote")) {
    return {at, "unterminated string"};
  }
  if (StartsWith(detail, "invalid string: forbidden character after backslash")) {
    return {at, "invalid escape in a string"};
  }
  if (StartsWith(detail, "invalid string: '\\u' must be followed by 4 hex digits")) {
    return {at, "expected 4 hex digits after \\u"};
  }
  if (StartsWith(detail, "invalid string: surrogate U+DC00")) {  // a lone low surrogate
    return {position, "unpaired surrogate escape"};
  }
  if (StartsWith(detail, "invalid string: surrogate U+D800")) {
    return {SurrogateErrorOffset(text, position), "unpaired surrogate escape"};
  }
  if (StartsWith(detail, "invalid string: control character")) {
    return {at, "control character in a string (escape it)"};
  }
  if (StartsWith(detail, "invalid string: ill-formed UTF-8")) {
    return {Utf8SequenceStart(text, at), "invalid UTF-8 in a string"};
  }
  if (StartsWith(detail, "invalid number; expected digit after '-'")) {
    return {at, "expected a digit"};
  }
  if (StartsWith(detail, "invalid number; expected digit after '.'")) {
    return {at, "expected a digit after '.'"};
  }
  if (StartsWith(detail, "invalid number")) return {at, "expected a digit in the exponent"};
  return {LiteralStart(text, at), ""};  // "invalid literal": the context names what was expected
}

// What the reader expects where the parser stopped, from the parser's context.
std::string_view Expected(std::string_view context, bool at_end, bool after_value) {
  if (after_value) return "unexpected data after the JSON value";
  if (context == "object key") return "expected a string key";
  if (context == "object separator") return "expected ':' after an object key";
  if (context == "object") return "expected ',' or '}' in an object";
  if (context == "array") return "expected ',' or ']' in an array";
  return at_end ? "unexpected end of input" : "expected a value";
}

absl::Status Invalid(size_t offset, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid JSON at byte ", offset, ": ", AbslView(message)));
}

// The library's error as the reader's. Its message reads "...syntax error while parsing
// <context> - <detail>[; last read: '<token>'][; expected <token>]".
absl::Status TranslateError(std::string_view text, const LibraryError& error) {
  if (error.id == 406)
    return Invalid(error.position - error.last_token.size(), "number out of range");
  std::string_view what = error.what;
  constexpr std::string_view kContext = "syntax error while parsing ";
  if (const size_t at = what.find(kContext); at != std::string_view::npos) {
    what.remove_prefix(at + kContext.size());
  }
  const size_t dash = what.find(" - ");
  const std::string_view context = what.substr(0, dash);
  const std::string_view detail = what.substr(std::min(what.size(), dash + 3));
  const bool after_value = EndsWith(detail, "; expected end of input");
  Diagnosis diagnosis{error.position - 1, ""};
  if (StartsWith(detail, "invalid")) {
    diagnosis = DiagnoseToken(text, detail, error.position);
  } else if (StartsWith(detail, "unexpected string literal") ||
             StartsWith(detail, "unexpected number literal")) {
    diagnosis.offset = error.position - error.last_token.size();
  } else if (StartsWith(detail, "unexpected true") || StartsWith(detail, "unexpected null")) {
    diagnosis.offset = error.position - 4;
  } else if (StartsWith(detail, "unexpected false")) {
    diagnosis.offset = error.position - 5;
  }
  if (diagnosis.message.empty() || after_value) {
    diagnosis.message = Expected(context, diagnosis.offset >= text.size(), after_value);
  }
  return Invalid(diagnosis.offset, diagnosis.message);
}

}  // namespace

absl::StatusOr<JsonValue> ReadJson(std::string_view text, size_t max_depth) {
  // The library skips a byte order mark; JSON text may not start with one (RFC 8259 8.1).
  if (!text.empty() && text[0] == '\xef') return Invalid(0, "expected a value");
  TreeBuilder builder(max_depth);
  if (!Json::sax_parse(text.begin(), text.end(), &builder)) {
    if (builder.too_deep()) {
      return absl::InvalidArgumentError(absl::StrCat("nested deeper than ", max_depth, " levels"));
    }
    if (builder.out_of_range().has_value()) {
      return Invalid(NumberStart(text, *builder.out_of_range()), "number out of range");
    }
    if (builder.error().has_value()) return TranslateError(text, *builder.error());
    return absl::InternalError("the JSON parser stopped without saying why");
  }
  // The library takes a NUL byte for the end of the text; outside a string (where it is an
  // error of its own) it can only follow a complete value.
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    return Invalid(static_cast<const char*>(nul) - text.data(),
                   "unexpected data after the JSON value");
  }
  return std::move(builder.root());
}

}  // namespace sochdb::filter
