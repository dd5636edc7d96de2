// Tests of policy patterns: upstream's glob rules, whole-key anchoring (also against
// alternatives), bytes that are not UTF-8, refusals, and the literal prefix an index uses.
#include "engine/policy/pattern.h"

#include <string>

#include <catch2/catch.hpp>

namespace sochdb::policy {
namespace {

Pattern Compiled(const std::string& glob) {
  absl::StatusOr<Pattern> pattern = Pattern::Compile(glob);
  INFO(glob << ": " << pattern.status().ToString());
  REQUIRE(pattern.ok());
  return *pattern;
}

TEST_CASE("globs: * is any run of bytes, ? one byte, . a literal dot") {
  const Pattern users = Compiled("users/*");
  CHECK(users.Matches("users/"));
  CHECK(users.Matches("users/42/profile"));
  CHECK_FALSE(users.Matches("admin/users/1"));
  const Pattern one = Compiled("key?");
  CHECK(one.Matches("key1"));
  CHECK_FALSE(one.Matches("key"));
  CHECK_FALSE(one.Matches("key12"));
  const Pattern dotted = Compiled("file.txt");
  CHECK(dotted.Matches("file.txt"));
  CHECK_FALSE(dotted.Matches("fileXtxt"));
}

TEST_CASE("other regular-expression syntax passes through, as upstream's") {
  const Pattern digits = Compiled("user:[0-9]+");
  CHECK(digits.Matches("user:123"));
  CHECK_FALSE(digits.Matches("user:abc"));
  const Pattern either = Compiled("(secret|private)/*");
  CHECK(either.Matches("private/x"));
  CHECK_FALSE(either.Matches("public/x"));
}

TEST_CASE("the whole key must match, even with an alternative in the pattern") {
  const Pattern alt = Compiled("ab|cd");
  CHECK(alt.Matches("ab"));
  CHECK(alt.Matches("cd"));
  CHECK_FALSE(alt.Matches("abX"));   // upstream's ^ab|cd$ matches this
  CHECK_FALSE(alt.Matches("Xcd"));   // and this
  const Pattern escape = Compiled("a)|(?:b");
  CHECK_FALSE(escape.Matches("aX"));
  CHECK_FALSE(escape.Matches("Xb"));
}

TEST_CASE("the empty pattern matches only the empty key") {
  const Pattern empty = Compiled("");
  CHECK(empty.Matches(""));
  CHECK_FALSE(empty.Matches("a"));
}

TEST_CASE("keys are bytes: any byte matches ? and *, bytes that are not UTF-8 included") {
  const Pattern any = Compiled("k?*");
  CHECK(any.Matches(std::string("k\xff\xfe", 3)));
  CHECK(any.Matches(std::string("k\0z", 3)));
  CHECK(Compiled("\xc3\xa9*").Matches("\xc3\xa9t\xc3\xa9"));  // é as its two bytes
  // A newline too: else "secret/*" would not hold the key "secret/\nx" (RE2's '.' skips '\n'
  // unless told).
  CHECK(any.Matches("k\n"));
  CHECK(Compiled("secret/*").Matches("secret/\nx"));
  CHECK(Compiled("secret/*").MayMatchUnder("secret/\n"));
}

TEST_CASE("a pattern that does not compile, is too long or holds NUL is refused") {
  for (const std::string& bad : {std::string("[a-z"), std::string("a)"), std::string("x{2,1}")}) {
    absl::StatusOr<Pattern> pattern = Pattern::Compile(bad);
    REQUIRE_FALSE(pattern.ok());
    CHECK(pattern.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(pattern.status().message()).rfind("pattern: ", 0) == 0);
  }
  CHECK(Pattern::Compile(std::string(kMaxPatternBytes, 'a')).ok());
  CHECK(Pattern::Compile(std::string(kMaxPatternBytes + 1, 'a')).status().message() ==
        "pattern is 1025 bytes; the limit is 1024 bytes");
  CHECK(Pattern::Compile(std::string("a\0b", 3)).status().message() ==
        "pattern must not contain NUL bytes");
}

TEST_CASE("the literal prefix is what every matching key starts with") {
  CHECK(Compiled("users/*").literal_prefix() == "users/");
  CHECK(Compiled("file.txt").literal_prefix() == "file.txt");
  CHECK(Compiled("key?").literal_prefix() == "key");
  CHECK(Compiled("user:[0-9]+").literal_prefix() == "user:");
  CHECK(Compiled("ab{0,1}c").literal_prefix() == "a");  // b may be absent
  CHECK(Compiled("ab|cd").literal_prefix().empty());
  CHECK(Compiled("*").literal_prefix().empty());
  // Every key a pattern matches starts with its prefix.
  for (const char* glob : {"users/*", "ab{0,1}c", "key?", "user:[0-9]+"}) {
    const Pattern p = Compiled(glob);
    for (const std::string key : {"users/1", "ac", "abc", "key1", "user:7", "x"}) {
      if (p.Matches(key)) CHECK(key.rfind(p.literal_prefix(), 0) == 0);
    }
  }
}

}  // namespace
}  // namespace sochdb::policy
