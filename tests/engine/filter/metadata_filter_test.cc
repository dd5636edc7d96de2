// Tests for MetadataFilter: every operator, numeric versus string comparison, missing fields,
// null, booleans, $and/$or/$not (top-level and per field), ExactMatch, every error message, the
// limits and hostile inputs (deep nesting, huge arrays, 1 MiB, invalid UTF-8, NUL bytes), and a
// randomized comparison against a small reference evaluator written independently here.
#include "engine/filter/metadata_filter.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sochdb::filter {
namespace {

using Metadata = std::map<std::string, std::string>;
using namespace std::string_literals;

MetadataFilter MustParse(const std::string& json) {
  absl::StatusOr<MetadataFilter> filter = MetadataFilter::Parse(json);
  INFO(json << " -> " << filter.status().ToString());
  REQUIRE(filter.ok());
  return *filter;
}

bool Match(const std::string& json, const Metadata& metadata) {
  return MustParse(json).Matches(metadata);
}

// The INVALID_ARGUMENT message Parse gives for `json` ("" if it parsed).
std::string ParseError(const std::string& json) {
  absl::StatusOr<MetadataFilter> filter = MetadataFilter::Parse(json);
  if (filter.ok()) return "";
  CHECK(filter.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(filter.status().message());
}

TEST_CASE("$eq and the shorthand compare strings exactly", "[filter]") {
  const Metadata doc{{"genre", "scifi"}, {"empty", ""}};
  CHECK(Match(R"({"genre": "scifi"})", doc));
  CHECK(Match(R"({"genre": {"$eq": "scifi"}})", doc));
  CHECK_FALSE(Match(R"({"genre": "SciFi"})", doc));
  CHECK_FALSE(Match(R"({"genre": "scifi "})", doc));
  CHECK(Match(R"({"empty": ""})", doc));
  CHECK_FALSE(Match(R"({"missing": ""})", doc));
}

TEST_CASE("$ne is the negation of $eq, so a missing field satisfies it", "[filter]") {
  const Metadata doc{{"genre", "scifi"}};
  CHECK_FALSE(Match(R"({"genre": {"$ne": "scifi"}})", doc));
  CHECK(Match(R"({"genre": {"$ne": "drama"}})", doc));
  CHECK(Match(R"({"missing": {"$ne": "x"}})", doc));
  CHECK(Match(R"({"genre": {"$ne": 5}})", doc));  // not a number: not equal to 5
}

TEST_CASE("range operators on strings compare bytewise", "[filter]") {
  const Metadata doc{{"name", "bob"}, {"n", "10"}, {"u", "\xc3\xa9"}};
  CHECK(Match(R"({"name": {"$gt": "alice"}})", doc));
  CHECK(Match(R"({"name": {"$gte": "bob"}})", doc));
  CHECK_FALSE(Match(R"({"name": {"$gt": "bob"}})", doc));
  CHECK(Match(R"({"name": {"$lt": "carol"}})", doc));
  CHECK(Match(R"({"name": {"$lte": "bob"}})", doc));
  CHECK_FALSE(Match(R"({"name": {"$lt": "bob"}})", doc));
  // "10" < "9" as strings.
  CHECK(Match(R"({"n": {"$lt": "9"}})", doc));
  CHECK_FALSE(Match(R"({"n": {"$gt": "9"}})", doc));
  // Bytes >= 0x80 sort after ASCII (unsigned comparison).
  CHECK(Match(R"({"u": {"$gt": "z"}})", doc));
}

TEST_CASE("range operators on numbers compare numerically", "[filter]") {
  const Metadata doc{{"n", "10"}, {"x", "-2.5"}, {"e", "1e3"}, {"word", "ten"}};
  CHECK(Match(R"({"n": {"$gt": 9}})", doc));
  CHECK(Match(R"({"n": {"$gte": 10}})", doc));
  CHECK_FALSE(Match(R"({"n": {"$gt": 10}})", doc));
  CHECK(Match(R"({"n": {"$lt": 10.5}})", doc));
  CHECK(Match(R"({"n": {"$lte": 1e1}})", doc));
  CHECK(Match(R"({"x": {"$lt": -2}})", doc));
  CHECK(Match(R"({"e": {"$gt": 999, "$lt": 1001}})", doc));
  // A value that is not a number never satisfies a numeric comparison.
  CHECK_FALSE(Match(R"({"word": {"$gt": 0}})", doc));
  CHECK_FALSE(Match(R"({"word": {"$lt": 0}})", doc));
}

TEST_CASE("numeric equality needs the whole value to be a finite decimal number", "[filter]") {
  for (const std::string value : {"10", "10.0", "1e1", "10e0", "0010"}) {
    INFO(value);
    CHECK(Match(R"({"n": 10})", {{"n", value}}));
  }
  for (const std::string value : {"+10", " 10", "10 ", "0xa", "ten", "", "10abc"}) {
    INFO(value);
    CHECK_FALSE(Match(R"({"n": 10})", {{"n", value}}));
    CHECK(Match(R"({"n": {"$ne": 10}})", {{"n", value}}));
  }
  for (const std::string value : {"inf", "nan", "1e999"}) {
    INFO(value);
    CHECK_FALSE(Match(R"({"n": {"$gt": 0}})", {{"n", value}}));
    CHECK_FALSE(Match(R"({"n": {"$lt": 0}})", {{"n", value}}));
  }
  CHECK(Match(R"({"n": 0})", {{"n", "-0"}}));
  CHECK(Match(R"({"n": -0.0})", {{"n", "0"}}));
}

TEST_CASE("$in and $nin", "[filter]") {
  const Metadata doc{{"tag", "b"}, {"n", "2.0"}};
  CHECK(Match(R"({"tag": {"$in": ["a", "b", "c"]}})", doc));
  CHECK_FALSE(Match(R"({"tag": {"$in": ["a", "c"]}})", doc));
  CHECK_FALSE(Match(R"({"tag": {"$in": []}})", doc));
  CHECK(Match(R"({"tag": {"$nin": ["a", "c"]}})", doc));
  CHECK_FALSE(Match(R"({"tag": {"$nin": ["b"]}})", doc));
  CHECK(Match(R"({"tag": {"$nin": []}})", doc));
  CHECK(Match(R"({"n": {"$in": [1, 2, 3]}})", doc));
  CHECK(Match(R"({"n": {"$in": ["x", 2]}})", doc));
  CHECK_FALSE(Match(R"({"n": {"$in": ["2", 3]}})", doc));  // "2" != "2.0" as strings
  // Missing field: $in fails unless null is listed; $nin holds unless null is listed.
  CHECK_FALSE(Match(R"({"missing": {"$in": ["a"]}})", doc));
  CHECK(Match(R"({"missing": {"$in": ["a", null]}})", doc));
  CHECK(Match(R"({"missing": {"$nin": ["a"]}})", doc));
  CHECK_FALSE(Match(R"({"missing": {"$nin": [null]}})", doc));
  CHECK(Match(R"({"tag": {"$in": [true, "b"]}})", doc));
}

TEST_CASE("booleans match the strings true and false", "[filter]") {
  CHECK(Match(R"({"f": true})", {{"f", "true"}}));
  CHECK_FALSE(Match(R"({"f": true})", {{"f", "True"}}));
  CHECK_FALSE(Match(R"({"f": true})", {{"f", "1"}}));
  CHECK(Match(R"({"f": false})", {{"f", "false"}}));
  CHECK(Match(R"({"f": {"$ne": false}})", {{"f", "true"}}));
  CHECK(Match(R"({"f": {"$in": [false]}})", {{"f", "false"}}));
}

TEST_CASE("null stands for a missing field", "[filter]") {
  const Metadata doc{{"present", "x"}, {"null", "null"}};
  CHECK(Match(R"({"absent": null})", doc));
  CHECK_FALSE(Match(R"({"present": null})", doc));
  CHECK_FALSE(Match(R"({"null": null})", doc));  // the string "null" is a value
  CHECK(Match(R"({"present": {"$ne": null}})", doc));
  CHECK_FALSE(Match(R"({"absent": {"$ne": null}})", doc));
  CHECK(Match(R"({"absent": {"$eq": null}})", doc));
}

TEST_CASE("missing fields fail every comparison but $ne and $nin", "[filter]") {
  const Metadata doc{{"other", "1"}};
  for (const std::string op : {"$eq", "$gt", "$gte", "$lt", "$lte"}) {
    INFO(op);
    CHECK_FALSE(Match(R"({"f": {")" + op + R"(": 1}})", doc));
    CHECK_FALSE(Match(R"({"f": {")" + op + R"(": "1"}})", doc));
  }
  CHECK(Match(R"({"f": {"$ne": 1}})", doc));
  CHECK(Match(R"({"f": {"$nin": [1]}})", doc));
  CHECK(Match(R"({"$not": {"f": {"$gt": 1}}})", doc));
}

TEST_CASE("several keys and several operators must all hold", "[filter]") {
  const Metadata doc{{"genre", "scifi"}, {"year", "2005"}};
  CHECK(Match(R"({"genre": "scifi", "year": {"$gte": 2000, "$lt": 2010}})", doc));
  CHECK_FALSE(Match(R"({"genre": "scifi", "year": {"$gte": 2000, "$lt": 2005}})", doc));
  CHECK_FALSE(Match(R"({"genre": "drama", "year": 2005})", doc));
  CHECK(Match(R"({})", doc));
  CHECK(Match(R"({})", {}));
  CHECK(MustParse("{}").MatchesEverything());
  CHECK(MustParse(" { } ").MatchesEverything());
  CHECK_FALSE(MustParse(R"({"a": 1})").MatchesEverything());
  CHECK(MetadataFilter().MatchesEverything());
  CHECK(MetadataFilter().Matches(doc));
}

TEST_CASE("$and, $or and $not combine", "[filter]") {
  const Metadata a{{"genre", "scifi"}, {"year", "1999"}};
  const Metadata b{{"genre", "drama"}, {"year", "2005"}};
  const Metadata c{{"genre", "scifi"}, {"year", "2005"}};
  const std::string or_filter = R"({"$or": [{"genre": "drama"}, {"year": {"$lt": 2000}}]})";
  CHECK(Match(or_filter, a));
  CHECK(Match(or_filter, b));
  CHECK_FALSE(Match(or_filter, c));
  const std::string and_filter = R"({"$and": [{"genre": "scifi"}, {"year": {"$gt": 2000}}]})";
  CHECK_FALSE(Match(and_filter, a));
  CHECK_FALSE(Match(and_filter, b));
  CHECK(Match(and_filter, c));
  const std::string not_filter = R"({"$not": {"genre": "scifi"}})";
  CHECK_FALSE(Match(not_filter, a));
  CHECK(Match(not_filter, b));
  const std::string nested =
      R"({"$or": [{"$and": [{"genre": "scifi"}, {"$not": {"year": 1999}}]}, {"year": 1999,
          "genre": {"$in": ["drama", "scifi"]}}]})";
  CHECK(Match(nested, a));
  CHECK_FALSE(Match(nested, b));
  CHECK(Match(nested, c));
  // A logical operator next to fields: all must hold.
  CHECK(Match(R"({"genre": "scifi", "$or": [{"year": 1999}, {"year": 2005}]})", c));
  CHECK_FALSE(Match(R"({"genre": "drama", "$or": [{"year": 1999}, {"year": 2005}]})", c));
}

TEST_CASE("$not on one field", "[filter]") {
  const Metadata doc{{"year", "2005"}};
  CHECK(Match(R"({"year": {"$not": {"$gt": 2010}}})", doc));
  CHECK_FALSE(Match(R"({"year": {"$not": {"$gt": 2000}}})", doc));
  CHECK_FALSE(Match(R"({"year": {"$not": 2005}})", doc));
  CHECK(Match(R"({"year": {"$not": 2006}})", doc));
  CHECK(Match(R"({"missing": {"$not": {"$gt": 0}}})", doc));
  CHECK(Match(R"({"year": {"$gte": 2000, "$not": {"$in": [2001, 2002]}}})", doc));
}

TEST_CASE("strings in filters are unescaped UTF-8 and may hold NUL", "[filter]") {
  CHECK(Match(R"({"k\"ey": "caf\u00e9 \ud83d\ude00 \n"})",
              {{"k\"ey", "caf\xc3\xa9 \xf0\x9f\x98\x80 \n"}}));
  CHECK(Match(R"({"k": "a\u0000b"})", {{"k", "a\0b"s}}));
  CHECK_FALSE(Match(R"({"k": "a\u0000b"})", {{"k", "a"}}));
  CHECK(Match(R"({"caf)"
              "\xc3\xa9"
              R"(": "ok"})",
              {{"caf\xc3\xa9", "ok"}}));
}

TEST_CASE("ExactMatch needs every pair present and equal", "[filter]") {
  const MetadataFilter filter = MetadataFilter::ExactMatch({{"a", "1"}, {"b", "x"}});
  CHECK_FALSE(filter.MatchesEverything());
  CHECK(filter.Matches({{"a", "1"}, {"b", "x"}}));
  CHECK(filter.Matches({{"a", "1"}, {"b", "x"}, {"c", "y"}}));
  CHECK_FALSE(filter.Matches({{"a", "1.0"}, {"b", "x"}}));  // strings, not numbers
  CHECK_FALSE(filter.Matches({{"a", "1"}}));
  CHECK_FALSE(filter.Matches({}));
  const MetadataFilter empty = MetadataFilter::ExactMatch({});
  CHECK(empty.MatchesEverything());
  CHECK(empty.Matches({{"a", "1"}}));
  const MetadataFilter copy = filter;  // copies share the program
  CHECK(copy.Matches({{"a", "1"}, {"b", "x"}}));
}

TEST_CASE("error messages name the path and the problem", "[filter]") {
  CHECK(ParseError(R"({"$and": [{"a": 1}, {"b": 2}, {"year": {"$gt": true}}]})") ==
        "filter.$and[2].year: $gt needs a number or string");
  CHECK(ParseError(R"({"year": {"$lte": null}})") == "filter.year: $lte needs a number or string");
  CHECK(ParseError(R"({"$regex": "a.*"})") == "filter: unknown operator $regex");
  CHECK(ParseError(R"({"name": {"$regex": "a.*"}})") == "filter.name: unknown operator $regex");
  CHECK(ParseError(R"({"$or": [{"$not": {"a": {"$exists": true}}}]})") ==
        "filter.$or[0].$not.a: unknown operator $exists");
  CHECK(ParseError(R"({"year": {"gt": 5}})") ==
        "filter.year: expected an operator ($eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $not), "
        "found \"gt\"");
  CHECK(ParseError(R"({"year": {}})") == "filter.year: needs at least one operator");
  CHECK(ParseError(R"({"tags": ["a"]})") ==
        "filter.tags: must be a string, number, boolean, null or an object of operators");
  CHECK(ParseError(R"({"tags": {"$in": "a"}})") == "filter.tags: $in needs an array");
  CHECK(ParseError(R"({"tags": {"$nin": [1, [2]]}})") ==
        "filter.tags: $nin[1] must be a string, number, boolean or null");
  CHECK(ParseError(R"({"a": {"$eq": {"b": 1}}})") ==
        "filter.a: $eq needs a string, number, boolean or null");
  CHECK(ParseError(R"({"a": {"$ne": []}})") ==
        "filter.a: $ne needs a string, number, boolean or null");
  CHECK(ParseError(R"({"$and": []})") == "filter.$and: needs a non-empty array of filters");
  CHECK(ParseError(R"({"$or": {"a": 1}})") == "filter.$or: needs a non-empty array of filters");
  CHECK(ParseError(R"({"$and": [1]})") == "filter.$and[0]: must be a JSON object");
  CHECK(ParseError(R"({"$not": [{"a": 1}]})") == "filter.$not: must be a JSON object");
  CHECK(ParseError(R"([{"a": 1}])") == "filter: must be a JSON object");
  CHECK(ParseError(R"("a")") == "filter: must be a JSON object");
  CHECK(ParseError(R"({"a": 1, "a": 2})") == "filter.a: duplicate key");
  CHECK(ParseError(R"({"a": {"$gt": 1, "$gt": 2}})") == "filter.a.$gt: duplicate key");
  CHECK(ParseError(R"({"a\u0001": {"$gt": []}})") == "filter.a\\x01: $gt needs a number or string");
  CHECK(ParseError(R"({"a": 1)") ==
        "filter: invalid JSON at byte 7: expected ',' or '}' in an object");
  CHECK(ParseError(R"({"a" 1})") ==
        "filter: invalid JSON at byte 5: expected ':' after an object key");
  CHECK(ParseError("") == "filter: invalid JSON at byte 0: unexpected end of input");
  CHECK(ParseError(std::string(20000, ' ')) == "filter: 20000 bytes; the limit is 16384 bytes");
}

TEST_CASE("errors name the request field the filter came from", "[filter]") {
  // GraphService's Traverse takes its filter in `node_filter`: every path starts there.
  const auto error = [](const std::string& json) {
    absl::StatusOr<MetadataFilter> filter = MetadataFilter::Parse(json, "node_filter");
    REQUIRE_FALSE(filter.ok());
    return std::string(filter.status().message());
  };
  CHECK(error(R"({"a": 1)") ==
        "node_filter: invalid JSON at byte 7: expected ',' or '}' in an object");
  CHECK(error(R"({"$and": [1]})") == "node_filter.$and[0]: must be a JSON object");
  CHECK(error(R"({"a": {"$gt": []}})") == "node_filter.a: $gt needs a number or string");
  CHECK(error(std::string(20000, ' ')) == "node_filter: 20000 bytes; the limit is 16384 bytes");
  std::string many = R"({"$or": [)";
  for (int i = 0; i < 1100; ++i) many += (i ? "," : "") + std::string(R"({"a":1})");
  CHECK(error(many + "]}") == "node_filter: more than 1024 conditions; the limit is 1024");
}

TEST_CASE("long keys are cut in error paths", "[filter]") {
  const std::string key(1000, 'k');
  const std::string message = ParseError(R"({")" + key + R"(": {"$gt": null}})");
  CHECK(message == "filter." + std::string(64, 'k') + "...: $gt needs a number or string");
}

TEST_CASE("the JSON reader is strict", "[filter]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"a": 1,})", "invalid JSON at byte 8: expected a string key"},
      {R"({"a": [1,]})", "invalid JSON at byte 9: expected a value"},
      {R"({"a": 01})", "invalid JSON at byte 7: expected ',' or '}' in an object"},
      {R"({"a": 1.})", "invalid JSON at byte 8: expected a digit after '.'"},
      {R"({"a": 1e})", "invalid JSON at byte 8: expected a digit in the exponent"},
      {R"({"a": -})", "invalid JSON at byte 7: expected a digit"},
      {R"({"a": +1})", "invalid JSON at byte 6: expected a value"},
      {R"({"a": 1e999})", "invalid JSON at byte 6: number out of range"},
      {R"({"a": tru})", "invalid JSON at byte 6: expected a value"},
      {R"({"a": NaN})", "invalid JSON at byte 6: expected a value"},
      {R"({"a": 'b'})", "invalid JSON at byte 6: expected a value"},
      {R"({a: 1})", "invalid JSON at byte 1: expected a string key"},
      {R"({"a": "b)", "invalid JSON at byte 8: unterminated string"},
      {R"({"a": "\x"})", "invalid JSON at byte 8: invalid escape in a string"},
      {R"({"a": "\u12"})", "invalid JSON at byte 11: expected 4 hex digits after \\u"},
      {R"({"a": "\ud800"})", "invalid JSON at byte 13: unpaired surrogate escape"},
      {R"({"a": "\udc00"})", "invalid JSON at byte 13: unpaired surrogate escape"},
      {R"({"a": "\ud800\u0041"})", "invalid JSON at byte 19: unpaired surrogate escape"},
      {"{\"a\": \"\t\"}", "invalid JSON at byte 7: control character in a string (escape it)"},
      {"{\"a\": 1} x", "invalid JSON at byte 9: unexpected data after the JSON value"},
      {"{\"a\": 1}\0"s, "invalid JSON at byte 8: unexpected data after the JSON value"},
      {"\0{}"s, "invalid JSON at byte 0: expected a value"},
      {"{\"a\0\": 1}"s, "invalid JSON at byte 3: control character in a string (escape it)"},
  };
  for (const auto& [json, message] : cases) {
    INFO(json);
    CHECK(ParseError(json) == "filter: " + message);
  }
  // Whitespace of all four kinds is fine; so are escapes and big or small numbers.
  CHECK(Match(" \t\r\n{ \"a\" : \"\\\"\\\\\\/\\b\\f\\n\\r\\t\" } \n", {{"a", "\"\\/\b\f\n\r\t"}}));
  CHECK(Match(R"({"a": {"$gt": -1.5e-3, "$lt": 1E+300}})", {{"a", "0"}}));
  CHECK(Match(R"({"a": "\u00E9\u00e9"})", {{"a", "\xc3\xa9\xc3\xa9"}}));
}

// The JSON library underneath (nlohmann::json) skips a byte order mark, stops at a NUL byte and
// reads a number too small for a double as 0; the reader refuses all three, as RFC 8259 and the
// metadata side's std::from_chars do.
TEST_CASE("the JSON library's leniencies are refused", "[filter]") {
  CHECK(ParseError("\xef\xbb\xbf{}") == "filter: invalid JSON at byte 0: expected a value");
  CHECK(ParseError("{} \0 {\"a\": 1}"s) ==
        "filter: invalid JSON at byte 3: unexpected data after the JSON value");
  CHECK(ParseError(R"({"a": "x", "b": {"$gt": 1e-400}})") ==
        "filter: invalid JSON at byte 24: number out of range");
  CHECK(ParseError(R"({"a": "1e-400", "b": [2, 1e-400]})") ==
        "filter: invalid JSON at byte 25: number out of range");
  CHECK(ParseError(R"({"\udc00": 1})") ==
        "filter: invalid JSON at byte 8: unpaired surrogate escape");
}

TEST_CASE("invalid UTF-8 in strings is rejected", "[filter]") {
  const std::vector<std::string> bad = {
      "\x80",              // continuation byte alone
      "\xc3",              // truncated
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong
      "\xed\xa0\x80",      // encoded surrogate
      "\xf4\x90\x80\x80",  // past U+10FFFF
      "\xf5\x80\x80\x80",  // invalid lead byte
      "\xff",
  };
  for (const std::string& bytes : bad) {
    INFO(bytes.size());
    const std::string message = ParseError(R"({"a": ")" + bytes + R"("})");
    CHECK(message == "filter: invalid JSON at byte 7: invalid UTF-8 in a string");
    CHECK_FALSE(ParseError(R"({")" + bytes + R"(": 1})").empty());
  }
  for (const std::string good :
       {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf"}) {
    CHECK(Match(R"({"a": ")" + good + R"("})", {{"a", good}}));
  }
}

// Hostile inputs are refused at the limit the message names (the size before any parsing, the
// 33rd level, the 1,025th condition), so the parser's work is bounded by the limits; no clock is
// read (on a shared machine a time bound fails at random), and a parser that hung would fail by
// the test's timeout.
TEST_CASE("hostile inputs fail fast with INVALID_ARGUMENT", "[filter]") {
  CHECK(ParseError(std::string(100000, '[')) ==
        "filter: 100000 bytes; the limit is 16384 bytes");
  CHECK(ParseError(std::string(1 << 20, 'x')) ==
        "filter: 1048576 bytes; the limit is 16384 bytes");
  CHECK(ParseError(std::string(16000, '[')) == "filter: nested deeper than 32 levels");
  std::string deep_objects;
  for (int i = 0; i < 2000; ++i) deep_objects += R"({"$not":)";
  CHECK(ParseError(deep_objects) == "filter: nested deeper than 32 levels");

  // Exactly 32 levels parse; 33 do not.
  std::string nested = R"({"a": 1})";
  for (int i = 1; i < 32; ++i) nested = R"({"$not": )" + nested + "}";
  CHECK(ParseError(nested).empty());
  CHECK(ParseError(R"({"$not": )" + nested + "}") == "filter: nested deeper than 32 levels");

  std::string big_in = R"({"a": {"$in": [)";
  for (int i = 0; i < 2000; ++i) big_in += (i ? "," : "") + std::to_string(i % 10);
  CHECK(ParseError(big_in + "]}}") == "filter.a: $in holds 2000 values; the limit is 1024");

  std::string many = R"({"$or": [)";
  for (int i = 0; i < 1100; ++i) many += (i ? "," : "") + std::string(R"({"a":1})");
  CHECK(ParseError(many + "]}") == "filter: more than 1024 conditions; the limit is 1024");

  std::string many_keys = "{";
  for (int i = 0; i < 1500; ++i) many_keys += (i ? "," : "") + ("\"" + std::to_string(i) + "\":1");
  CHECK(ParseError(many_keys + "}") == "filter: more than 1024 conditions; the limit is 1024");

  CHECK_FALSE(ParseError("{\"a\": \"\xff\xfe\"}").empty());
  CHECK_FALSE(ParseError(std::string(16000, '\0')).empty());
  CHECK_FALSE(ParseError(std::string(16384, '"')).empty());
  std::string junk(16384, '\0');
  std::mt19937 rng(7);
  for (char& c : junk) c = static_cast<char>(rng());
  CHECK_FALSE(ParseError(junk).empty());
}

TEST_CASE("the limits themselves are accepted", "[filter]") {
  std::string in = R"({"a": {"$in": [)";
  for (int i = 0; i < 1024; ++i) in += (i ? "," : "") + std::to_string(i);
  const MetadataFilter filter = MustParse(in + "]}}");
  CHECK(filter.Matches({{"a", "1023"}}));
  CHECK_FALSE(filter.Matches({{"a", "1024"}}));
  std::string conditions = R"({"$or": [)";
  for (int i = 0; i < 1023; ++i) conditions += (i ? "," : "") + std::string(R"({"a":1})");
  CHECK(ParseError(conditions + "]}").empty());  // 1023 comparisons + the $or
  std::string padded = R"({"a": "x"})" + std::string(16384 - 10, ' ');
  REQUIRE(padded.size() == 16384);
  CHECK(ParseError(padded).empty());
}

}  // namespace
}  // namespace sochdb::filter
