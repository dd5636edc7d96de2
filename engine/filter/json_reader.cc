// The recursive-descent reader behind json_reader.h. Recursion is bounded by `max_depth` (checked
// on entry to every container), so a hostile "[[[[..." costs one error, not the stack.
#include "engine/filter/json_reader.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace sochdb::filter {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The length of the valid UTF-8 sequence at the start of `s` (whose first byte is >= 0x80), or 0
// when it is not one (Unicode Table 3-7: no overlong forms, surrogates or values past U+10FFFF).
size_t Utf8SequenceLength(std::string_view s) {
  const uint8_t lead = static_cast<uint8_t>(s[0]);
  size_t length = 0;
  uint8_t low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  const uint8_t second = static_cast<uint8_t>(s[1]);
  if (second < low || second > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if ((static_cast<uint8_t>(s[i]) & 0xc0) != 0x80) return 0;
  }
  return length;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  }
}

class Reader {
 public:
  Reader(std::string_view text, size_t max_depth) : text_(text), max_depth_(max_depth) {}

  absl::Status ReadDocument(JsonValue* out) {
    SkipWhitespace();
    SOCHDB_RETURN_IF_ERROR(ReadValue(out, 0));
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("unexpected data after the JSON value");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", pos_, ": ",
                                                   absl::string_view(what.data(), what.size())));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  bool Next(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool NextIsDigit() const { return pos_ < text_.size() && IsDigit(text_[pos_]); }

  void SkipWhitespace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                        text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // `depth` is the number of containers enclosing the value.
  absl::Status ReadValue(JsonValue* out, size_t depth) {
    if (AtEnd()) return Error("unexpected end of input");
    switch (text_[pos_]) {
      case '{':
        return ReadObject(out, depth + 1);
      case '[':
        return ReadArray(out, depth + 1);
      case '"':
        out->type = JsonValue::Type::kString;
        return ReadString(&out->string);
      case 't':
        out->type = JsonValue::Type::kBool;
        out->boolean = true;
        return ReadLiteral("true");
      case 'f':
        out->type = JsonValue::Type::kBool;
        return ReadLiteral("false");
      case 'n':
        out->type = JsonValue::Type::kNull;
        return ReadLiteral("null");
      default:
        if (Next('-') || NextIsDigit()) return ReadNumber(out);
        return Error("expected a value");
    }
  }

  absl::Status CheckDepth(size_t depth) const {
    if (depth <= max_depth_) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("nested deeper than ", max_depth_, " levels"));
  }

  absl::Status ReadArray(JsonValue* out, size_t depth) {
    SOCHDB_RETURN_IF_ERROR(CheckDepth(depth));
    out->type = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (Next(']')) {
      ++pos_;
      return absl::OkStatus();
    }
    for (;;) {
      out->items.emplace_back();
      SOCHDB_RETURN_IF_ERROR(ReadValue(&out->items.back(), depth));
      SkipWhitespace();
      if (Next(']')) {
        ++pos_;
        return absl::OkStatus();
      }
      if (!Next(',')) return Error("expected ',' or ']' in an array");
      ++pos_;
      SkipWhitespace();
    }
  }

  absl::Status ReadObject(JsonValue* out, size_t depth) {
    SOCHDB_RETURN_IF_ERROR(CheckDepth(depth));
    out->type = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (Next('}')) {
      ++pos_;
      return absl::OkStatus();
    }
    for (;;) {
      if (!Next('"')) return Error("expected a string key");
      out->members.emplace_back();
      SOCHDB_RETURN_IF_ERROR(ReadString(&out->members.back().first));
      SkipWhitespace();
      if (!Next(':')) return Error("expected ':' after an object key");
      ++pos_;
      SkipWhitespace();
      SOCHDB_RETURN_IF_ERROR(ReadValue(&out->members.back().second, depth));
      SkipWhitespace();
      if (Next('}')) {
        ++pos_;
        return absl::OkStatus();
      }
      if (!Next(',')) return Error("expected ',' or '}' in an object");
      ++pos_;
      SkipWhitespace();
    }
  }

  absl::Status ReadLiteral(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return Error("expected a value");
    pos_ += literal.size();
    return absl::OkStatus();
  }

  absl::Status ReadNumber(JsonValue* out) {
    const size_t start = pos_;
    if (Next('-')) ++pos_;
    if (Next('0')) {
      ++pos_;
    } else if (NextIsDigit()) {
      while (NextIsDigit()) ++pos_;
    } else {
      return Error("expected a digit");
    }
    if (Next('.')) {
      ++pos_;
      if (!NextIsDigit()) return Error("expected a digit after '.'");
      while (NextIsDigit()) ++pos_;
    }
    if (Next('e') || Next('E')) {
      ++pos_;
      if (Next('+') || Next('-')) ++pos_;
      if (!NextIsDigit()) return Error("expected a digit in the exponent");
      while (NextIsDigit()) ++pos_;
    }
    double value = 0;
    const char* end = text_.data() + pos_;
    const std::from_chars_result result = std::from_chars(text_.data() + start, end, value);
    if (result.ec != std::errc() || result.ptr != end || !std::isfinite(value)) {
      pos_ = start;
      return Error("number out of range");
    }
    out->type = JsonValue::Type::kNumber;
    out->number = value;
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      if (AtEnd()) return Error("unterminated string");
      const uint8_t c = static_cast<uint8_t>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c == '\\') {
        SOCHDB_RETURN_IF_ERROR(ReadEscape(out));
      } else if (c < 0x20) {
        return Error("control character in a string (escape it)");
      } else if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
      } else {
        const size_t length = Utf8SequenceLength(text_.substr(pos_));
        if (length == 0) return Error("invalid UTF-8 in a string");
        out->append(text_.data() + pos_, length);
        pos_ += length;
      }
    }
  }

  absl::Status ReadEscape(std::string* out) {
    ++pos_;  // '\'
    if (AtEnd()) return Error("unterminated string");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
        out->push_back('"');
        return absl::OkStatus();
      case '\\':
        out->push_back('\\');
        return absl::OkStatus();
      case '/':
        out->push_back('/');
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'u':
        return ReadUnicodeEscape(out);
      default:
        --pos_;
        return Error("invalid escape in a string");
    }
  }

  // After "\u": four hex digits, and for a high surrogate a "\u" low surrogate after them.
  absl::Status ReadUnicodeEscape(std::string* out) {
    uint32_t code_point = 0;
    SOCHDB_RETURN_IF_ERROR(ReadHex4(&code_point));
    if (code_point >= 0xdc00 && code_point <= 0xdfff) return Error("unpaired surrogate escape");
    if (code_point >= 0xd800 && code_point <= 0xdbff) {
      if (text_.substr(pos_, 2) != "\\u") return Error("unpaired surrogate escape");
      pos_ += 2;
      uint32_t low = 0;
      SOCHDB_RETURN_IF_ERROR(ReadHex4(&low));
      if (low < 0xdc00 || low > 0xdfff) return Error("unpaired surrogate escape");
      code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
    }
    AppendUtf8(code_point, out);
    return absl::OkStatus();
  }

  absl::Status ReadHex4(uint32_t* value) {
    *value = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (AtEnd()) return Error("expected 4 hex digits after \\u");
      const char c = text_[pos_];
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Error("expected 4 hex digits after \\u");
      }
      *value = (*value << 4) | digit;
    }
    return absl::OkStatus();
  }

  const std::string_view text_;
  const size_t max_depth_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<JsonValue> ReadJson(std::string_view text, size_t max_depth) {
  JsonValue value;
  Reader reader(text, max_depth);
  SOCHDB_RETURN_IF_ERROR(reader.ReadDocument(&value));
  return value;
}

}  // namespace sochdb::filter
