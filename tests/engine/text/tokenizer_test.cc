// Tests for the BM25 tokenizer: separators and punctuation, ASCII case folding, UTF-8 words kept
// whole, the minimum and maximum token lengths, the per-text token cap, and determinism.
#include "engine/text/tokenizer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace sochdb::text {
namespace {

using Tokens = std::vector<std::string>;
using namespace std::string_literals;

TEST_CASE("punctuation and whitespace separate tokens", "[tokenizer]") {
  CHECK(Tokenize("Hello, World! foo-bar_baz (qux)") ==
        Tokens{"hello", "world", "foo", "bar", "baz", "qux"});
  CHECK(Tokenize("  \t\nab\r\ncd  ") == Tokens{"ab", "cd"});
  CHECK(Tokenize("e-mail: ab@cd.org") == Tokens{"mail", "ab", "cd", "org"});
  CHECK(Tokenize("ab\0cd\001ef\177gh"s) == Tokens{"ab", "cd", "ef", "gh"});
  CHECK(Tokenize("").empty());
  CHECK(Tokenize(" .,;:!?-_()[]{}<>'\"/\\|@#$%^&*+=~`").empty());
}

TEST_CASE("ASCII letters are lowercased; digits are word characters", "[tokenizer]") {
  CHECK(Tokenize("BM25 Okapi HTTP2 x86_64") == Tokens{"bm25", "okapi", "http2", "x86", "64"});
  CHECK(Tokenize("MiXeD") == Tokens{"mixed"});
  CHECK(Tokenize("2024 10 99") == Tokens{"2024", "10", "99"});
}

TEST_CASE("UTF-8 words stay whole and are not case-folded", "[tokenizer]") {
  CHECK(Tokenize("Caf\xc3\xa9 na\xc3\xafve") == Tokens{"caf\xc3\xa9", "na\xc3\xafve"});
  CHECK(Tokenize("\303\211COLE") == Tokens{"\303\211cole"});  // "ÉCOLE": É unchanged
  CHECK(Tokenize("\xe6\x9d\xb1\xe4\xba\xac, \xf0\x9f\x98\x80!") ==
        Tokens{"\xe6\x9d\xb1\xe4\xba\xac", "\xf0\x9f\x98\x80"});
  // One two-byte character is long enough; invalid UTF-8 is still split deterministically.
  CHECK(Tokenize("\xc3\xa9 \xff\xfe x\x80") == Tokens{"\xc3\xa9", "\xff\xfe", "x\x80"});
}

TEST_CASE("tokens shorter than 2 or longer than 64 bytes are dropped", "[tokenizer]") {
  CHECK(Tokenize("a I 7 ab x y z") == Tokens{"ab"});
  const std::string max(kMaxTokenBytes, 'q');
  const std::string over(kMaxTokenBytes + 1, 'q');
  CHECK(Tokenize(max + " " + over + " ok") == Tokens{max, "ok"});
  CHECK(Tokenize(std::string(100000, 'z')).empty());
}

TEST_CASE("at most kMaxTokensPerText tokens per text", "[tokenizer]") {
  std::string text;
  for (size_t i = 0; i < kMaxTokensPerText + 100; ++i) text += "ab x ";  // x is dropped
  const Tokens tokens = Tokenize(text);
  CHECK(tokens.size() == kMaxTokensPerText);
}

TEST_CASE("tokenizing is deterministic", "[tokenizer]") {
  const std::string text = "The quick brown fox, the LAZY dog; caf\xc3\xa9 \xff";
  CHECK(Tokenize(text) == Tokenize(text));
  CHECK(Tokenize(text) == Tokenize(std::string(text)));
}

}  // namespace
}  // namespace sochdb::text
