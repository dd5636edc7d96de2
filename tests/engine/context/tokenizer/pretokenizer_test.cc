// The pre-tokenizers on known cases, one per branch of the split patterns (pretokenizer.h):
// words with their optional leading character, contractions, numbers in threes, punctuation
// with trailing line breaks (and '/' for o200k_base), the three whitespace rules, o200k_base's
// letter cases, marks, invalid UTF-8, and linear time on long runs.
#include "engine/context/tokenizer/pretokenizer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace sochdb::context {
namespace {

using Pieces = std::vector<std::string>;
using namespace std::string_literals;

Pieces Split(PieceEndFunction piece_end, const std::string& text) {
  Pieces pieces;
  ForEachPiece(piece_end, text, [&](absl::string_view p) { pieces.emplace_back(p); });
  return pieces;
}
Pieces Cl(const std::string& text) { return Split(&Cl100kPieceEnd, text); }
Pieces O2(const std::string& text) { return Split(&O200kPieceEnd, text); }

TEST_CASE("cl100k_base: words take one leading non-letter, non-digit character",
          "[pretokenizer]") {
  CHECK(Cl("Hello world") == Pieces{"Hello", " world"});
  CHECK(Cl("\t\tx") == Pieces{"\t", "\tx"});
  CHECK(Cl("x\u00a0y") == Pieces{"x", "\u00a0y"});  // NBSP is \s but not [\r\n]
  CHECK(Cl("a\nb") == Pieces{"a", "\n", "b"});        // a line break never leads a word
  CHECK(Cl("(foo)") == Pieces{"(foo", ")"});
  CHECK(Cl("e\u0301x") == Pieces{"e", "\u0301x"});   // a mark is not \p{L} in cl100k_base
  CHECK(Cl("<|endoftext|>") == Pieces{"<|", "endoftext", "|>"});
}

TEST_CASE("cl100k_base: contractions come first, in any case", "[pretokenizer]") {
  CHECK(Cl("don't") == Pieces{"don", "'t"});
  CHECK(Cl("WE'LL we'Re I'M") == Pieces{"WE", "'LL", " we", "'Re", " I", "'M"});
  CHECK(Cl("'sa") == Pieces{"'s", "a"});
  CHECK(Cl("it'\u017Fa") == Pieces{"it", "'\u017F", "a"});  // U+017F folds to s
  CHECK(Cl("x'z") == Pieces{"x", "'z"});
}

TEST_CASE("cl100k_base: numbers, punctuation and whitespace", "[pretokenizer]") {
  CHECK(Cl("1234567") == Pieces{"123", "456", "7"});
  CHECK(Cl("a1b") == Pieces{"a", "1", "b"});
  CHECK(Cl("x !!\n\ny") == Pieces{"x", " !!\n\n", "y"});
  CHECK(Cl("x !!/y") == Pieces{"x", " !!/", "y"});
  CHECK(Cl("a  \n\n  b") == Pieces{"a", "  \n\n", " ", " b"});
  CHECK(Cl("end   ") == Pieces{"end", "   "});  // at the end, the whole run
  CHECK(Cl("a   1") == Pieces{"a", "  ", " ", "1"});  // the last space does not lead a digit
  CHECK(Cl("a \r\n") == Pieces{"a", " \r\n"});
  CHECK(Cl("\n \n x") == Pieces{"\n \n", " x"});
}

TEST_CASE("o200k_base: letter cases, contractions as suffixes, '/' after punctuation",
          "[pretokenizer]") {
  CHECK(O2("HelloWorld") == Pieces{"Hello", "World"});
  CHECK(O2("HTTPServer") == Pieces{"HTTPServer"});
  CHECK(O2("ALLCAPS words") == Pieces{"ALLCAPS", " words"});
  CHECK(O2("don't I'M") == Pieces{"don't", " I'M"});
  CHECK(O2("1234567") == Pieces{"123", "456", "7"});
  CHECK(O2("x !!\n/y") == Pieces{"x", " !!\n/", "y"});
  CHECK(O2("\u0301abc") == Pieces{"\u0301abc"});  // a mark leads, or is part of, a word
  CHECK(O2("a\u02B0B") == Pieces{"a\u02B0", "B"});  // Lm is both upper- and lowercase class
  CHECK(O2("a   b") == Pieces{"a", "  ", " b"});
}

TEST_CASE("invalid UTF-8: each bad byte is one character of no class", "[pretokenizer]") {
  CHECK(Cl("a\xff" "b") == Pieces{"a", "\xff" "b"});
  CHECK(Cl("\xff\xfe") == Pieces{"\xff\xfe"});
  CHECK(Cl("x\xe4\xb8") == Pieces{"x", "\xe4\xb8"});              // truncated sequence
  CHECK(Cl("\xed\xa0\x80" "a") == Pieces{"\xed\xa0\x80", "a"});  // a surrogate: 3 bad bytes
  CHECK(Cl("\xed" "a") == Pieces{"\xed" "a"});                     // one leads the word
  CHECK(O2("\xc0\xaf" "Ab") == Pieces{"\xc0\xaf", "Ab"});         // overlong '/'
  CHECK(O2("a\0b"s) == Pieces{"a", "\0b"s});
  CHECK(Cl("\x80") == Pieces{"\x80"});
}

TEST_CASE("pieces cover the text on long runs, in linear time", "[pretokenizer]") {
  for (const std::string unit : {" ", "a", "\n", "1", "!", "\xe4\xb8\xad", "\xff", "\r\n"}) {
    std::string text;
    while (text.size() < (1 << 20)) text += unit;
    const auto start = std::chrono::steady_clock::now();
    for (PieceEndFunction f : {&Cl100kPieceEnd, &O200kPieceEnd}) {
      size_t covered = 0;
      ForEachPiece(f, text, [&](absl::string_view p) { covered += p.size(); });
      CHECK(covered == text.size());
    }
    // A quadratic scan of 1 MiB takes minutes; a linear one milliseconds.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
}

}  // namespace
}  // namespace sochdb::context
