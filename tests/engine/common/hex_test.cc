// BytesToHex / HexToBytes: the round trip over every byte value, and the checks Debian's
// absl::HexStringToBytes leaves out (odd length, characters that are not hex digits).
#include "engine/common/hex.h"

#include <catch2/catch.hpp>
#include <string>

namespace sochdb {
namespace {

TEST_CASE("hex round-trips every byte, lower case out, either case in", "[hex]") {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string hex = BytesToHex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  std::string back;
  REQUIRE(HexToBytes(hex, &back));
  CHECK(back == all);
  REQUIRE(HexToBytes("ABcd09", &back));
  CHECK(back == "\xab\xcd\x09");
  REQUIRE(HexToBytes("", &back));
  CHECK(back.empty());
}

TEST_CASE("HexToBytes refuses what is not an even run of hex digits", "[hex]") {
  std::string out = "unchanged";
  for (const char* bad : {"abc", "0g", "zz", "12 4", "0x12", "12\n"}) {
    INFO(bad);
    CHECK_FALSE(HexToBytes(bad, &out));
    CHECK(out == "unchanged");
  }
  CHECK_FALSE(HexToBytes(std::string("a\0", 2), &out));
}

}  // namespace
}  // namespace sochdb
