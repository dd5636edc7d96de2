// Tests for the keyspace codec: components round-trip, keys sort the way scans need, distinct
// component lists never collide, and malformed keys are rejected instead of misread.
#include "engine/storage/keys.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace sochdb::storage {
namespace {

using namespace std::string_literals;

TEST_CASE("a key round-trips through KeyReader", "[keys]") {
  const std::string long_name(300, 'n');  // needs a two-byte varint length
  const std::string key = KeyBuilder(KeyFamily::kKvExpiry)
                              .U64(0x0102030405060708ull)
                              .Name("")
                              .Name(long_name)
                              .Raw("tail\0\xff"s)
                              .key();
  KeyReader reader(key);
  KeyFamily family;
  uint64_t number = 0;
  std::string_view empty_name, second_name;
  REQUIRE(reader.Family(&family));
  CHECK(family == KeyFamily::kKvExpiry);
  REQUIRE(reader.U64(&number));
  CHECK(number == 0x0102030405060708ull);
  REQUIRE(reader.Name(&empty_name));
  CHECK(empty_name.empty());
  REQUIRE(reader.Name(&second_name));
  CHECK(second_name == long_name);
  CHECK(reader.Rest() == "tail\0\xff"s);
}

TEST_CASE("After goes on from a prefix as if the key had been built in one go", "[keys]") {
  const std::string scope = KeyBuilder(KeyFamily::kVectorLog).Name("vi").Name("acme").key();
  CHECK(KeyBuilder::After(scope).U64(1).key() ==
        KeyBuilder(KeyFamily::kVectorLog).Name("vi").Name("acme").U64(1).key());
  CHECK(KeyBuilder::After(scope).Name("x").Raw("id").key() ==
        KeyBuilder(KeyFamily::kVectorLog).Name("vi").Name("acme").Name("x").Raw("id").key());
  // The bytes a prefix + 8-byte big-endian sequence spelled by hand gave.
  CHECK(KeyBuilder::After(scope).U64(0x0102).key() == scope + "\0\0\0\0\0\0\x01\x02"s);
}

TEST_CASE("name lengths at varint boundaries round-trip", "[keys]") {
  for (size_t length : {0u, 1u, 127u, 128u, 16383u, 16384u, 70000u}) {
    const std::string name(length, 'x');
    const std::string key = KeyBuilder(KeyFamily::kKv).Name(name).Raw("k").key();
    KeyReader reader(key);
    KeyFamily family;
    std::string_view decoded;
    REQUIRE(reader.Family(&family));
    REQUIRE(reader.Name(&decoded));
    CHECK(decoded.size() == length);
    CHECK(reader.Rest() == "k");
  }
}

TEST_CASE("U64 components sort numerically", "[keys]") {
  const std::vector<uint64_t> numbers = {
      0, 1, 255, 256, 65535, 1ull << 32, (1ull << 63) + 5, UINT64_MAX};
  std::vector<std::string> keys;
  for (uint64_t n : numbers) keys.push_back(KeyBuilder(KeyFamily::kKvExpiry).U64(n).key());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == keys);
  CHECK(keys[1] == "\x11\0\0\0\0\0\0\0\x01"s);  // big-endian, fixed width
}

TEST_CASE("length prefixes keep different name lists apart", "[keys]") {
  const std::string a = KeyBuilder(KeyFamily::kKv).Name("a").Name("b:c").key();
  const std::string b = KeyBuilder(KeyFamily::kKv).Name("a:b").Name("c").key();
  CHECK(a != b);
  const std::string c = KeyBuilder(KeyFamily::kKv).Name("a").Raw("b").key();
  const std::string d = KeyBuilder(KeyFamily::kKv).Name("ab").Raw("").key();
  CHECK(c != d);
  // One namespace's keys are never a prefix range of another's.
  const std::string ns_a = KeyBuilder(KeyFamily::kKv).Name("a").key();
  const std::string ns_ab = KeyBuilder(KeyFamily::kKv).Name("ab").Raw("x").key();
  CHECK(ns_ab.compare(0, ns_a.size(), ns_a) != 0);
}

TEST_CASE("raw tails sort bytewise under a shared prefix", "[keys]") {
  const std::vector<std::string> tails = {""s,  "\0"s,   "a"s,    "a\0"s,  "ab"s,
                                          "b"s, "\x7f"s, "\x80"s, "\xff"s, "\xff\xff"s};
  std::vector<std::string> keys;
  for (const std::string& tail : tails) {
    keys.push_back(KeyBuilder(KeyFamily::kKv).Name("ns").Raw(tail).key());
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == keys);
}

TEST_CASE("PrefixSuccessor bounds every key with the prefix", "[keys]") {
  CHECK(PrefixSuccessor("abc") == "abd");
  CHECK(PrefixSuccessor("ab\xff") == "ac");
  CHECK(PrefixSuccessor("a\xff\xff") == "b");
  CHECK(PrefixSuccessor("\x01\xfe") == "\x01\xff");
  CHECK(PrefixSuccessor("\xff\xff") == "");
  CHECK(PrefixSuccessor("") == "");
  CHECK(PrefixSuccessor("\0"s) == "\x01");

  const std::string prefix = "p\xff";
  const std::string successor = PrefixSuccessor(prefix);
  for (const std::string& key : {prefix, prefix + "\xff\xff\xff", prefix + "\0"s}) {
    CHECK(key < successor);
  }
  CHECK_FALSE("q"s < successor);
}

TEST_CASE("KeyReader rejects malformed keys", "[keys]") {
  KeyFamily family;
  std::string_view name;
  uint64_t number;

  SECTION("empty input has no family") { CHECK_FALSE(KeyReader("").Family(&family)); }
  SECTION("unknown family bytes") {
    CHECK_FALSE(KeyReader("\0"s).Family(&family));
    CHECK_FALSE(KeyReader("\x99").Family(&family));
  }
  SECTION("truncated varint") { CHECK_FALSE(KeyReader("\x80").Name(&name)); }
  SECTION("length past the end") {
    CHECK_FALSE(KeyReader("\x05"
                          "abc")
                    .Name(&name));
  }
  SECTION("overlong varint") { CHECK_FALSE(KeyReader("\x80\x00"s).Name(&name)); }
  SECTION("varint over 32 bits") { CHECK_FALSE(KeyReader("\xff\xff\xff\xff\x1f").Name(&name)); }
  SECTION("short integer") { CHECK_FALSE(KeyReader("1234567").U64(&number)); }
  SECTION("a failed reader stays failed") {
    KeyReader reader(
        "\x09"
        "abc\x01"
        "a");
    CHECK_FALSE(reader.Name(&name));
    CHECK_FALSE(reader.Family(&family));
    CHECK(reader.Rest().empty());
  }
}

TEST_CASE("SchemaVersionKey is the meta record named schema_version", "[keys]") {
  CHECK(SchemaVersionKey() == KeyBuilder(KeyFamily::kMeta).Name("schema_version").key());
  CHECK(SchemaVersionKey() == "\x01\x0eschema_version");
  KeyBuilder builder(KeyFamily::kMeta);
  builder.Name("schema_version");
  CHECK(std::move(builder).Build() == SchemaVersionKey());
}

}  // namespace
}  // namespace sochdb::storage
