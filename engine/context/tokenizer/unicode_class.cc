#include "engine/context/tokenizer/unicode_class.h"

#include <array>
#include <string_view>

#include "engine/common/utf8.h"
#include "utf8proc.h"

namespace sochdb::context {
namespace {

// White_Space (PropList.txt), which the regex crate's \s matches; stable since Unicode 6.3.
bool IsWhiteSpace(uint32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

uint8_t CategoryBits(uint32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
      return kLetter | kUpperish;
    case UTF8PROC_CATEGORY_LL:
      return kLetter | kLowerish;
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter | kUpperish | kLowerish;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kMark | kUpperish | kLowerish;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    default:
      return 0;
  }
}

uint8_t ComputeBits(uint32_t c) {
  uint8_t bits = CategoryBits(c);
  if (IsWhiteSpace(c)) bits |= kSpace;
  if (c == '\n' || c == '\r') bits |= kLineBreak;
  return bits;
}

// The Basic Multilingual Plane, looked up once: nearly all non-ASCII text is in it.
const std::array<uint8_t, 0x10000>& BmpBits() {
  static const auto* const table = [] {
    auto* bits = new std::array<uint8_t, 0x10000>();
    for (uint32_t c = 0; c < 0x10000; ++c) (*bits)[c] = ComputeBits(c);
    return bits;
  }();
  return *table;
}

// The code point of the sequence at text[pos] and its size, or size 0 when the sequence is not
// well-formed (engine/common/utf8: no overlong forms, no surrogates, nothing past U+10FFFF).
CharClass Decode(absl::string_view text, size_t pos, uint32_t* code_point) {
  size_t next = pos;
  const int32_t code = DecodeUtf8(std::string_view(text.data(), text.size()), &next);
  if (code == kNotUtf8) return CharClass{0, 0};
  *code_point = static_cast<uint32_t>(code);
  return CharClass{0, static_cast<uint8_t>(next - pos)};
}

}  // namespace

uint8_t CodePointBits(uint32_t code_point) {
  if (code_point < 0x10000) return BmpBits()[code_point];
  return ComputeBits(code_point);
}

CharClass ClassifyMultiByte(absl::string_view text, size_t pos) {
  uint32_t code_point = 0;
  CharClass c = Decode(text, pos, &code_point);
  if (c.size == 0) return CharClass{0, 1};  // an invalid byte: one character, no class
  c.bits = CodePointBits(code_point);
  return c;
}

}  // namespace sochdb::context
