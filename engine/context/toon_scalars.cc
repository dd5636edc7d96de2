#include "engine/context/toon_scalars.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "engine/common/utf8.h"

namespace sochdb::context::toon_internal {
namespace {

// The last code point of valid, non-empty UTF-8 `text`.
int32_t LastCodePoint(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xc0) == 0x80) --start;
  return DecodeUtf8(text, &start);
}

// White space as JavaScript's trim() knows it (ECMA-262 WhiteSpace and LineTerminator): a
// decoder that trims tokens with a host trim() loses any of these at a bare string's ends.
bool IsWhiteSpace(int32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000 || c == 0xfeff;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || IsDigit(c); }

// Skips a run of digits from *pos; false when there is none.
bool SkipDigits(std::string_view text, size_t* pos) {
  const size_t start = *pos;
  while (*pos < text.size() && IsDigit(text[*pos])) ++*pos;
  return *pos > start;
}

// §7.2's numeric-like test, /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i: such a string read bare would
// come back a number ("05" included, which decoders read as a string: quoting keeps it plain).
bool LooksNumeric(std::string_view text) {
  size_t pos = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (!SkipDigits(text, &pos)) return false;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!SkipDigits(text, &pos)) return false;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (!SkipDigits(text, &pos)) return false;
  }
  return pos == text.size();
}

// Bytes that force quotes wherever they appear (§7.2): controls, the colon, quote, backslash,
// brackets and braces. A table, because every string of a context goes through this test.
constexpr std::array<bool, 256> SpecialBytes() {
  std::array<bool, 256> special{};
  for (int c = 0; c < 0x20; ++c) special[c] = true;
  for (const char c : {':', '"', '\\', '[', ']', '{', '}'}) special[static_cast<uint8_t>(c)] = true;
  return special;
}
constexpr std::array<bool, 256> kSpecial = SpecialBytes();

bool NeedsQuotes(std::string_view text, char delimiter) {
  if (text.empty() || text == "true" || text == "false" || text == "null") return true;
  if (text[0] == '-' || text[0] == '#' || LooksNumeric(text)) return true;
  size_t first = 0;
  if (IsWhiteSpace(DecodeUtf8(text, &first)) || IsWhiteSpace(LastCodePoint(text))) {
    return true;
  }
  for (const char c : text) {
    if (kSpecial[static_cast<uint8_t>(c)] || c == delimiter) return true;
  }
  return false;
}

// The escape of a byte inside quotes (§7.1), or nullptr when it stands for itself. Controls
// other than \n \r \t are \u00xx in lower-case hex.
const char* Escape(uint8_t c, char (&unicode)[7]) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '\\':
      return "\\\\";
    case '"':
      return "\\\"";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      if (c >= 0x20) return nullptr;
      unicode[4] = kHex[c >> 4];
      unicode[5] = kHex[c & 0xf];
      return unicode;
  }
}

// Appends `text` in double quotes, escaped; runs of plain bytes are copied whole.
void AppendQuoted(std::string_view text, std::string* out) {
  char unicode[7] = {'\\', 'u', '0', '0', 0, 0, 0};
  out->push_back('"');
  size_t plain = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char* escape = Escape(static_cast<uint8_t>(text[i]), unicode);
    if (escape == nullptr) continue;
    out->append(text.substr(plain, i - plain)).append(escape);
    plain = i + 1;
  }
  out->append(text.substr(plain)).push_back('"');
}

bool IsBareKey(std::string_view key) {
  if (key.empty() || !IsIdentifierStart(key[0])) return false;
  for (const char c : key) {
    if (!IsIdentifierChar(c) && c != '.') return false;
  }
  return true;
}

// Rewrites to_chars' shortest scientific form of a finite non-zero double ("-1.25e+02") as
// plain decimal ("-125"): the same significant digits, the point moved, zeros only as
// placeholders. This is JavaScript's Number#toString in the spec's canonical range, which fixed
// to_chars is not (it writes 1e21 - 1 ulp with all its exact digits, 999999999999999868928).
std::string PlainDecimal(std::string_view scientific) {
  const size_t e = scientific.find('e');
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (const char c : scientific.substr(negative ? 1 : 0, e - (negative ? 1 : 0))) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(scientific.substr(e + 1)).c_str());
  const int count = static_cast<int>(digits.size());
  std::string plain = negative ? "-" : "";
  if (exponent < 0) {
    plain.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
  } else if (exponent + 1 >= count) {
    plain.append(digits).append(static_cast<size_t>(exponent + 1 - count), '0');
  } else {
    plain.append(digits, 0, exponent + 1).append(".").append(digits, exponent + 1);
  }
  return plain;
}

// Drops the exponent's leading zeros ("1e-07" -> "1e-7"), as JavaScript writes it.
std::string TrimExponentZeros(std::string_view scientific) {
  std::string number(scientific);
  const size_t digits = number.find('e') + 2;  // to_chars always writes the sign
  size_t zeros = 0;
  while (digits + zeros + 1 < number.size() && number[digits + zeros] == '0') ++zeros;
  return number.erase(digits, zeros);
}

}  // namespace

void AppendStringValue(std::string_view text, char delimiter, std::string* out) {
  if (NeedsQuotes(text, delimiter)) {
    AppendQuoted(text, out);
  } else {
    out->append(text);
  }
}

void AppendKey(std::string_view key, std::string* out) {
  if (IsBareKey(key)) {
    out->append(key);
  } else {
    AppendQuoted(key, out);
  }
}

bool IsIdentifierSegment(std::string_view segment) {
  return IsBareKey(segment) && segment.find('.') == std::string_view::npos;
}

void AppendDouble(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  if (value == 0) {  // -0 too
    out->push_back('0');
    return;
  }
  // The shortest digits that read back to the same double, plain decimal inside the spec's
  // canonical range (§2), exponent form outside it. 17 digits, sign, point and exponent fit.
  char buffer[32];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<size_t>(result.ptr - buffer));
  const double magnitude = std::fabs(value);
  out->append(magnitude >= 1e-6 && magnitude < 1e21 ? PlainDecimal(scientific)
                                                    : TrimExponentZeros(scientific));
}

void AppendInteger(int64_t value, std::string* out) { out->append(std::to_string(value)); }

void AppendUnsigned(uint64_t value, std::string* out) { out->append(std::to_string(value)); }

}  // namespace sochdb::context::toon_internal
