// The byte-class tokenizer behind tokenizer.h. One pass, no lookups: a byte is a word byte or a
// separator, and ASCII letters are lowercased on the way.
#include "engine/text/tokenizer.h"

namespace sochdb::text {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

char LowerAscii(unsigned char c) {
  return static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
}

}  // namespace

std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size() && tokens.size() < kMaxTokensPerText) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text.size() && IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t length = i - start;
    if (length < kMinTokenBytes || length > kMaxTokenBytes) continue;
    std::string token(length, '\0');
    for (size_t j = 0; j < length; ++j) {
      token[j] = LowerAscii(static_cast<unsigned char>(text[start + j]));
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace sochdb::text
