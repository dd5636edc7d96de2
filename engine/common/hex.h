// Hex text for bytes, over Abseil's escaping functions. One place for the check Debian's Abseil
// (20220623) leaves out: its absl::HexStringToBytes decodes whatever it is given, so text that
// comes from outside (a key file, a stored definition) is checked here first.
#ifndef SOCHDB_ENGINE_COMMON_HEX_H_
#define SOCHDB_ENGINE_COMMON_HEX_H_

#include <string>
#include <string_view>

namespace sochdb {

// `bytes` as lower-case hex, two digits a byte.
std::string BytesToHex(std::string_view bytes);

// Decodes `hex` (an even number of hex digits, either case) into `*out`. Returns false, leaving
// `*out` unchanged, when `hex` has an odd length or any other character.
bool HexToBytes(std::string_view hex, std::string* out);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_HEX_H_
