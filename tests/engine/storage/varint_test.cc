// Tests for the varint codec (varint.h): round trips at every length boundary, the sizes
// VarintLength reports, and the refusals that keep one reading per byte string (truncated,
// overlong, past 64 bits), which the key reader and the record decoders rely on.
#include "engine/storage/varint.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace sochdb::storage {
namespace {

using namespace std::string_literals;

TEST_CASE("varints round-trip at every length boundary", "[varint]") {
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t top =
        bits == 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
    for (uint64_t value : {top, top + 1}) {
      if (bits == 64 && value == 0) continue;  // top + 1 wrapped
      std::string encoded;
      PutVarint64(value, &encoded);
      INFO("value " << value);
      CHECK(encoded.size() == VarintLength(value));
      encoded += "tail";
      std::string_view in = encoded;
      uint64_t decoded = 0;
      REQUIRE(GetVarint64(&in, &decoded));
      CHECK(decoded == value);
      CHECK(in == "tail");
    }
  }
}

TEST_CASE("varint encodings are the standard ones", "[varint]") {
  std::string out;
  PutVarint64(0, &out);
  PutVarint64(127, &out);
  PutVarint64(128, &out);
  PutVarint64(300, &out);
  CHECK(out == "\x00\x7f\x80\x01\xac\x02"s);
  CHECK(VarintLength(0) == 1);
  CHECK(VarintLength(127) == 1);
  CHECK(VarintLength(128) == 2);
  CHECK(VarintLength(std::numeric_limits<uint64_t>::max()) == kMaxVarint64Bytes);
}

TEST_CASE("malformed varints are refused and consume nothing", "[varint]") {
  auto refused = [](const std::string& bytes) {
    std::string_view in = bytes;
    uint64_t value = 7;
    const bool ok = GetVarint64(&in, &value);
    CHECK(in.size() == bytes.size());
    CHECK(value == 7);
    return !ok;
  };
  CHECK(refused(""));
  CHECK(refused("\x80"));                            // truncated
  CHECK(refused("\xff\xff"));                        // truncated
  CHECK(refused("\x80\x00"s));                       // overlong 0
  CHECK(refused("\x81\x80\x00"s));                   // overlong 1
  CHECK(refused(std::string(9, '\xff') + "\x02"));   // 65 bits
  CHECK(refused(std::string(10, '\xff') + "\x01"));  // 11 bytes
  // The largest value is accepted, and so is a last byte of 0 when it is the only one.
  std::string_view max = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  uint64_t value = 0;
  REQUIRE(GetVarint64(&max, &value));
  CHECK(value == std::numeric_limits<uint64_t>::max());
  const std::string zero_byte(1, '\0');
  std::string_view zero = zero_byte;
  REQUIRE(GetVarint64(&zero, &value));
  CHECK(value == 0);
  CHECK(zero.empty());
}

TEST_CASE("length-prefixed strings round-trip; a short input is refused whole", "[varint]") {
  std::string out;
  PutLengthPrefixed("", &out);
  PutLengthPrefixed(std::string(200, 'x'), &out);  // a two-byte length
  PutLengthPrefixed("a\0b"s, &out);
  std::string_view in = out;
  std::string_view text;
  REQUIRE(GetLengthPrefixed(&in, &text));
  CHECK(text.empty());
  REQUIRE(GetLengthPrefixed(&in, &text));
  CHECK(text == std::string(200, 'x'));
  REQUIRE(GetLengthPrefixed(&in, &text));
  CHECK(text == "a\0b"s);
  CHECK(in.empty());
  CHECK_FALSE(GetLengthPrefixed(&in, &text));
  std::string_view short_input =
      "\x05"
      "abc";
  CHECK_FALSE(GetLengthPrefixed(&short_input, &text));
  CHECK(short_input ==
        "\x05"
        "abc");  // unchanged
}

}  // namespace
}  // namespace sochdb::storage
