// EncodeToon against the TOON specification's own encode fixtures (every case of
// @toon-format/spec 3.3.2, toon_fixtures/), then the rules those fixtures cannot express: host
// numbers (NaN, inf, -0.0, exponent ranges), the depth bound, UTF-8, options, and the quoting
// this encoder adds (toon.h). Decoding our output with the reference decoder is
// toon_roundtrip_test's job.
#include "engine/context/toon.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace sochdb::context {
namespace {

using nlohmann::ordered_json;

constexpr const char* kSpecPackage = "@toon-format/spec 3.3.2";
constexpr const char* kFixtureFiles[] = {
    "arrays-nested.json",  "arrays-objects.json", "arrays-primitive.json",
    "arrays-tabular.json", "delimiters.json",     "key-folding.json",
    "objects.json",        "primitives.json",     "whitespace.json",
};

std::string FixturePath(const std::string& file) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string root = srcdir != nullptr ? std::string(srcdir) + "/sochdb_grpc/" : "";
  return root + "tests/engine/context/toon_fixtures/" + file;
}

ordered_json ReadFixture(const std::string& file) {
  std::ifstream in(FixturePath(file));
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return ordered_json::parse(text.str());
}

// The fixture's options as ToonOptions; false (with the reason) for an option we do not know.
bool ToOptions(const ordered_json& fixture_options, ToonOptions* options, std::string* why) {
  for (auto it = fixture_options.begin(); it != fixture_options.end(); ++it) {
    const std::string& name = it.key();
    const ordered_json& value = it.value();
    if (name == "delimiter") {
      const std::string d = value.get<std::string>();
      options->delimiter = d == "\t"  ? ToonDelimiter::kTab
                           : d == "|" ? ToonDelimiter::kPipe
                                      : ToonDelimiter::kComma;
    } else if (name == "indent") {
      options->indent = value.get<int>();
    } else if (name == "keyFolding") {
      options->fold_keys = value.get<std::string>() == "safe";
    } else if (name == "flattenDepth") {
      options->flatten_depth = value.get<int>();
    } else {
      *why = "unknown option " + name;
      return false;
    }
  }
  return true;
}

TEST_CASE("every encode fixture of the TOON spec gives the expected text") {
  int passed = 0;
  std::vector<std::string> skipped;
  for (const char* file : kFixtureFiles) {
    const ordered_json fixture = ReadFixture(file);
    REQUIRE(fixture.at("category") == "encode");
    for (const ordered_json& test : fixture.at("tests")) {
      const std::string name = std::string(file) + ": " + test.at("name").get<std::string>();
      ToonOptions options;
      std::string why;
      if (!ToOptions(test.value("options", ordered_json::object()), &options, &why)) {
        skipped.push_back(name + " (" + why + ")");
        continue;
      }
      INFO(name);
      const absl::StatusOr<std::string> toon = EncodeToon(test.at("input"), options);
      if (test.value("shouldError", false)) {
        CHECK(!toon.ok());
      } else {
        REQUIRE(toon.ok());
        CHECK(*toon == test.at("expected").get<std::string>());
      }
      ++passed;
    }
  }
  std::printf("TOON spec fixtures (%s): %d run, %zu skipped\n", kSpecPackage, passed,
              skipped.size());
  for (const std::string& s : skipped) std::printf("  skipped: %s\n", s.c_str());
  CHECK(skipped.empty());
  CHECK(passed >= 150);  // 153 cases in 3.3.2: the files were all read
}

std::string Encode(const ordered_json& value, const ToonOptions& options = {}) {
  const absl::StatusOr<std::string> toon = EncodeToon(value, options);
  REQUIRE(toon.ok());
  return *toon;
}

TEST_CASE("host numbers take the spec's canonical form") {
  CHECK(Encode(std::nan("")) == "null");
  CHECK(Encode(std::numeric_limits<double>::infinity()) == "null");
  CHECK(Encode(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(Encode(-0.0) == "0");
  CHECK(Encode(1.0) == "1");
  CHECK(Encode(1.5e300) == "1.5e+300");
  CHECK(Encode(1e21) == "1e+21");
  CHECK(Encode(999999999999999900000.0) == "999999999999999900000");
  CHECK(Encode(1e-7) == "1e-7");
  CHECK(Encode(-2.5e-7) == "-2.5e-7");
  CHECK(Encode(0.1 + 0.2) == "0.30000000000000004");
  CHECK(Encode(std::numeric_limits<int64_t>::min()) == "-9223372036854775808");
  CHECK(Encode(std::numeric_limits<uint64_t>::max()) == "18446744073709551615");
  CHECK(Encode(ordered_json{{"xs", {1.0, std::nan(""), -0.0}}}) == "xs[3]: 1,null,0");
}

TEST_CASE("strings are quoted where a decoder could misread them") {
  CHECK(Encode("#tag") == "\"#tag\"");  // a comment in newer TOON drafts
  CHECK(Encode("a#b") == "a#b");
  CHECK(Encode("\xc2\xa0x") == "\"\xc2\xa0x\"");          // NBSP first
  CHECK(Encode("x\xe3\x80\x80") == "\"x\xe3\x80\x80\"");  // ideographic space last
  CHECK(Encode("\xef\xbb\xbfx") == "\"\xef\xbb\xbfx\"");  // BOM
  CHECK(Encode("+5") == "+5");
  CHECK(Encode("1.0") == "\"1.0\"");
  CHECK(Encode("-") == "\"-\"");
  CHECK(Encode("caf\xc3\xa9 ok") == "caf\xc3\xa9 ok");
  CHECK(Encode(std::string("a\0b", 3)) == "\"a\\u0000b\"");
  ToonOptions pipe;
  pipe.delimiter = ToonDelimiter::kPipe;
  CHECK(Encode(ordered_json{{"a|b", "c|d"}, {"e", "f,g"}}, pipe) == "\"a|b\": \"c|d\"\ne: f,g");
}

TEST_CASE("key order is the order the JSON value holds") {
  ordered_json ordered;
  ordered["z"] = 1;
  ordered["a"] = 2;
  CHECK(Encode(ordered) == "z: 1\na: 2");
  const nlohmann::json sorted = {{"z", 1}, {"a", 2}};
  const absl::StatusOr<std::string> toon = EncodeToon(sorted);
  REQUIRE(toon.ok());
  CHECK(*toon == "a: 2\nz: 1");
}

ordered_json Nested(int levels) {
  ordered_json value = 1;
  for (int i = 0; i < levels; ++i) {
    ordered_json next = i % 2 == 0 ? ordered_json::array({std::move(value)})
                                   : ordered_json::object({{"k", std::move(value)}});
    value = std::move(next);
  }
  return value;
}

TEST_CASE("nesting is bounded by kMaxToonDepth, whichever form each level takes") {
  CHECK(EncodeToon(Nested(kMaxToonDepth)).ok());
  const absl::StatusOr<std::string> deep = EncodeToon(Nested(kMaxToonDepth + 1));
  REQUIRE(!deep.ok());
  CHECK(deep.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(deep.status().message() == "TOON input nests deeper than 256 levels of arrays and objects");
  // Folding writes a chain on one line but the bound still counts its objects.
  ordered_json chain = 1;
  for (int i = 0; i <= kMaxToonDepth; ++i) chain = ordered_json{{"k", std::move(chain)}};
  ToonOptions fold;
  fold.fold_keys = true;
  CHECK(!EncodeToon(chain, fold).ok());
  // A very deep value fails without exhausting the stack.
  CHECK(!EncodeToon(Nested(100000)).ok());
}

TEST_CASE("text that is not UTF-8 and values that are not JSON are refused") {
  const absl::StatusOr<std::string> bad_value = EncodeToon(ordered_json{{"k", "ab\xff"}});
  REQUIRE(!bad_value.ok());
  CHECK(bad_value.status().message() == "TOON input: a string is not valid UTF-8 (byte 2 of 3)");
  const absl::StatusOr<std::string> bad_key = EncodeToon(ordered_json{{"\xc0\x80", 1}});
  REQUIRE(!bad_key.ok());
  CHECK(bad_key.status().message() == "TOON input: an object key is not valid UTF-8 (byte 0 of 2)");
  CHECK(!EncodeToon(ordered_json("\xed\xa0\x80")).ok());      // a surrogate
  CHECK(!EncodeToon(ordered_json("\xf4\x90\x80\x80")).ok());  // past U+10FFFF
  CHECK(EncodeToon(ordered_json("\xf0\x9f\x91\x8b")).ok());   // an emoji
  const absl::StatusOr<std::string> binary =
      EncodeToon(ordered_json{{"b", ordered_json::binary({1, 2})}});
  REQUIRE(!binary.ok());
  CHECK(binary.status().message() == "TOON input holds a binary value, which is not JSON");
}

TEST_CASE("indent must be 1..kMaxToonIndent") {
  for (int indent : {0, -1, kMaxToonIndent + 1}) {
    ToonOptions options;
    options.indent = indent;
    const absl::StatusOr<std::string> toon = EncodeToon(ordered_json{{"a", 1}}, options);
    REQUIRE(!toon.ok());
    CHECK(toon.status().code() == absl::StatusCode::kInvalidArgument);
  }
  ToonOptions wide;
  wide.indent = kMaxToonIndent;
  CHECK(Encode(ordered_json{{"a", {{"b", 1}}}}, wide) == "a:\n" + std::string(16, ' ') + "b: 1");
}

TEST_CASE("list items of every shape sit where the spec puts them") {
  const ordered_json items = ordered_json::parse(R"([
    {"rows": [{"a": 1}, {"a": 2}], "n": 1},
    [[1, 2], []],
    [{"a": 1}, {"a": 2}],
    [],
    {},
    "x"
  ])");
  CHECK(Encode(items) ==
        "[6]:\n"
        "  - rows[2]{a}:\n"
        "      1\n"
        "      2\n"
        "    n: 1\n"
        "  - [2]:\n"
        "    - [2]: 1,2\n"
        "    - [0]:\n"
        "  - [2]:\n"  // uniform objects, but a list item cannot be tabular (§9.4)
        "    - a: 1\n"
        "    - a: 2\n"
        "  - [0]:\n"
        "  -\n"
        "  - x");
}

}  // namespace
}  // namespace sochdb::context
