#include "engine/common/utf8.h"

namespace sochdb {

int32_t DecodeUtf8(std::string_view text, size_t* pos) {
  const uint8_t lead = static_cast<uint8_t>(text[*pos]);
  if (lead < 0x80) {
    ++*pos;
    return lead;
  }
  size_t length;
  uint32_t code;
  uint32_t smallest;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f, smallest = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code = lead & 0x0f, smallest = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07, smallest = 0x10000;
  } else {
    return kNotUtf8;
  }
  if (text.size() - *pos < length) return kNotUtf8;
  for (size_t i = 1; i < length; ++i) {
    const uint8_t next = static_cast<uint8_t>(text[*pos + i]);
    if ((next & 0xc0) != 0x80) return kNotUtf8;
    code = (code << 6) | (next & 0x3f);
  }
  if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return kNotUtf8;
  *pos += length;
  return static_cast<int32_t>(code);
}

size_t FindInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {  // most text: no call per byte
      ++pos;
    } else if (DecodeUtf8(text, &pos) == kNotUtf8) {
      return pos;
    }
  }
  return std::string_view::npos;
}

}  // namespace sochdb
