// UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing past U+10FFFF): the one
// decoder the engine's text checks share (TOON strings, context values).
#ifndef SOCHDB_ENGINE_COMMON_UTF8_H_
#define SOCHDB_ENGINE_COMMON_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sochdb {

inline constexpr int32_t kNotUtf8 = -1;

// Decodes the code point at text[*pos] (*pos < text.size()) and moves *pos past it; kNotUtf8,
// leaving *pos where it was, when the bytes there are not well-formed UTF-8.
int32_t DecodeUtf8(std::string_view text, size_t* pos);

// Where `text` first breaks UTF-8, or std::string_view::npos when it is valid.
size_t FindInvalidUtf8(std::string_view text);

inline bool IsUtf8(std::string_view text) {
  return FindInvalidUtf8(text) == std::string_view::npos;
}

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_UTF8_H_
