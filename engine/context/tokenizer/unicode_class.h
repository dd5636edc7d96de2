// The character classes the tiktoken split patterns ask about (\p{L}, \p{N}, \p{M}, the letter
// cases o200k_base distinguishes, \s and [\r\n]), for one character of UTF-8 text at a time.
// The general categories come from utf8proc (Unicode 15.0 in Debian bookworm); \s is Unicode's
// White_Space property, as in the Rust regex crate tiktoken uses. A byte that does not start a
// valid UTF-8 sequence (a stray continuation byte, an overlong form, a surrogate, a code point
// past U+10FFFF, a truncated sequence) is one character of its own with no class bits set, so
// any byte string is classified without failing.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_UNICODE_CLASS_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_UNICODE_CLASS_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace sochdb::context {

// Bits of CharClass::bits.
enum CharBits : uint8_t {
  kLetter = 1 << 0,     // \p{L}
  kNumber = 1 << 1,     // \p{N}
  kMark = 1 << 2,       // \p{M}
  kUpperish = 1 << 3,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k_base)
  kLowerish = 1 << 4,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k_base)
  kSpace = 1 << 5,      // \s: White_Space
  kLineBreak = 1 << 6,  // [\r\n]
};

struct CharClass {
  uint8_t bits = 0;
  uint8_t size = 1;  // bytes of the character (1 for an invalid byte)
};

// The class bits of one code point (<= U+10FFFF).
uint8_t CodePointBits(uint32_t code_point);

constexpr std::array<uint8_t, 128> MakeAsciiBits() {
  std::array<uint8_t, 128> bits{};
  for (int c = 'A'; c <= 'Z'; ++c) bits[c] = kLetter | kUpperish;
  for (int c = 'a'; c <= 'z'; ++c) bits[c] = kLetter | kLowerish;
  for (int c = '0'; c <= '9'; ++c) bits[c] = kNumber;
  for (int c = '\t'; c <= '\r'; ++c) bits[c] = kSpace;
  bits[' '] = kSpace;
  bits['\n'] |= kLineBreak;
  bits['\r'] |= kLineBreak;
  return bits;
}

// The bits of the 128 ASCII characters, without a call: the hot path of ASCII text.
inline constexpr std::array<uint8_t, 128> kAsciiBits = MakeAsciiBits();

// The character that starts at text[pos]; requires pos < text.size().
CharClass ClassifyMultiByte(absl::string_view text, size_t pos);
inline CharClass ClassifyAt(absl::string_view text, size_t pos) {
  const auto byte = static_cast<unsigned char>(text[pos]);
  if (byte < 0x80) return CharClass{kAsciiBits[byte], 1};
  return ClassifyMultiByte(text, pos);
}

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_UNICODE_CLASS_H_
