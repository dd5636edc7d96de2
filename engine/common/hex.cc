#include "engine/common/hex.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "engine/common/absl_view.h"

namespace sochdb {

std::string BytesToHex(std::string_view bytes) { return absl::BytesToHexString(AbslView(bytes)); }

bool HexToBytes(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  if (!std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return false;
  }
  *out = absl::HexStringToBytes(AbslView(hex));
  return true;
}

}  // namespace sochdb
