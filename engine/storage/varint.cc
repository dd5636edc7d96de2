// The varint codec behind varint.h.
#include "engine/storage/varint.h"

namespace sochdb::storage {

void PutVarint64(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

bool GetVarint64(std::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  for (size_t i = 0; i < kMaxVarint64Bytes && i < in->size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    if (i == kMaxVarint64Bytes - 1 && byte > 1) return false;  // past 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      // A last byte of 0 after others adds nothing: a shorter encoding of the same value.
      if (i > 0 && byte == 0) return false;
      *value = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

size_t VarintLength(uint64_t value) {
  size_t bytes = 1;
  for (; value >= 0x80; value >>= 7) ++bytes;
  return bytes;
}

void PutLengthPrefixed(std::string_view bytes, std::string* out) {
  PutVarint64(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* bytes) {
  std::string_view rest = *in;
  uint64_t size = 0;
  if (!GetVarint64(&rest, &size) || size > rest.size()) return false;
  *bytes = rest.substr(0, size);
  rest.remove_prefix(size);
  *in = rest;
  return true;
}

}  // namespace sochdb::storage
