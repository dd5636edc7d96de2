// The BPE tokenizer over the real rank tables (//tools/tokenizer:ranks): known token ids, the
// two merge implementations agreeing (bpe_merge.h), any bytes encoding back to themselves,
// linear time on 1 MiB runs, and the load errors (missing, malformed, not the published table).
#include "engine/context/tokenizer/bpe_tokenizer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "engine/context/tokenizer/bpe_merge.h"

namespace sochdb::context {
namespace {

using Ids = std::vector<uint32_t>;

std::string RankFile(Encoding encoding) {
  return "tools/tokenizer/ranks/" + std::string(EncodingName(encoding)) + ".tiktoken";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

const BpeTokenizer& Tokenizer(Encoding encoding) {
  static const auto* const tokenizers = [] {
    auto* loaded = new std::unique_ptr<BpeTokenizer>[2];
    for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      auto tokenizer = BpeTokenizer::Load(e, RankFile(e));
      if (!tokenizer.ok()) FAIL(tokenizer.status().ToString() << " (run tools/dev.sh setup)");
      loaded[static_cast<int>(e)] = std::move(tokenizer).value();
    }
    return loaded;
  }();
  return *tokenizers[static_cast<int>(encoding)];
}

// rank -> token bytes, read from the rank file independently of RankTable.
std::vector<std::string> Vocabulary(Encoding encoding) {
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(ReadFile(RankFile(encoding)), '\n')) {
    if (line.empty()) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    std::string token;
    REQUIRE(absl::Base64Unescape(fields[0], &token));
    tokens.push_back(token);
  }
  return tokens;
}

TEST_CASE("known texts give tiktoken's token ids", "[bpe]") {
  const auto& cl = Tokenizer(Encoding::kCl100kBase);
  const auto& o2 = Tokenizer(Encoding::kO200kBase);
  CHECK(cl.Encode("hello world") == Ids{15339, 1917});
  CHECK(o2.Encode("hello world") == Ids{24912, 2375});
  CHECK(cl.Encode("HTTPServer don't I'M") == Ids{9412, 5592, 1541, 956, 358, 28703});
  CHECK(o2.Encode("HTTPServer don't I'M") == Ids{17893, 6444, 4128, 3413, 44});
  // Special-token strings are ordinary text.
  CHECK(cl.Encode("<|endoftext|>") == Ids{27, 91, 8862, 728, 428, 91, 29});
  CHECK(o2.Encode("<|endoftext|>") == Ids{27, 91, 419, 1440, 919, 91, 29});
  CHECK(cl.Encode(" \u0301abc") == Ids{220, 54939, 13997});
  CHECK(o2.Encode(" \u0301abc") == Ids{220, 13430, 26682});
  CHECK(cl.Encode("").empty());
  CHECK(cl.Count("") == 0);
  CHECK(cl.encoding() == Encoding::kCl100kBase);
  CHECK(EncodingName(Encoding::kO200kBase) == "o200k_base");
}

TEST_CASE("the heap merge and tiktoken's scan merge agree", "[bpe]") {
  std::mt19937_64 random(7);
  const std::string alphabet = "aaaabbbcde  \n\t.,'0123456789\xe4\xb8\xad\xff";
  std::vector<uint32_t> scan, heap;
  for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    auto table = RankTable::Parse(ReadFile(RankFile(e)), RankFile(e));
    REQUIRE(table.ok());
    for (int i = 0; i < 3000; ++i) {
      std::string piece;
      const int length = 1 + static_cast<int>(random() % 300);
      const bool runs = i % 3 == 0;  // long runs of one character merge the most
      const char fixed = alphabet[random() % alphabet.size()];
      for (int j = 0; j < length; ++j) {
        piece.push_back(runs ? fixed : alphabet[random() % alphabet.size()]);
      }
      MergeByScan(*table, piece, &scan);
      MergeByHeap(*table, piece, &heap);
      INFO(absl::CEscape(piece));
      REQUIRE(scan == heap);
      REQUIRE(scan.front() == 0);
      REQUIRE(scan.back() == piece.size());
    }
  }
}

TEST_CASE("any bytes encode to tokens whose bytes are the input", "[bpe]") {
  std::mt19937_64 random(11);
  for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const std::vector<std::string> vocabulary = Vocabulary(e);
    for (int i = 0; i < 500; ++i) {
      std::string text;
      const int length = static_cast<int>(random() % 400);
      for (int j = 0; j < length; ++j) text.push_back(static_cast<char>(random() % 256));
      const Ids ids = Tokenizer(e).Encode(text);
      std::string decoded;
      for (uint32_t id : ids) {
        REQUIRE(id < vocabulary.size());
        decoded += vocabulary[id];
      }
      INFO(absl::CEscape(text));
      CHECK(decoded == text);
      CHECK(Tokenizer(e).Count(text) == ids.size());
      // TokenEnds: where each of those tokens ends.
      const std::vector<size_t> ends = Tokenizer(e).TokenEnds(text);
      REQUIRE(ends.size() == ids.size());
      for (size_t t = 0, start = 0; t < ends.size(); start = ends[t++]) {
        CHECK(text.substr(start, ends[t] - start) == vocabulary[ids[t]]);
      }
    }
  }
}

TEST_CASE("counts through a memo equal plain counts, over texts sharing their lines", "[bpe]") {
  // Lines built from the pieces that end near newlines: spaces and newline runs, \r, '/',
  // punctuation, letters, digits, non-ASCII; many texts share lines, so the memo is used.
  static const char* kBits[] = {" ",  "  ", "\n", "\n\n", "\r\n", " \n", "/", "./", ".\n",
                                "\"", "ab", "Cd", "12345", "é", "日本", "'s", "\t", "x,"};
  std::mt19937_64 random(12);
  std::vector<std::string> lines;
  for (int i = 0; i < 60; ++i) {
    std::string line;
    const int bits = 1 + static_cast<int>(random() % 8);
    for (int b = 0; b < bits; ++b) line += kBits[random() % std::size(kBits)];
    lines.push_back(line);
  }
  for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    CountMemo memo;
    for (int i = 0; i < 3000; ++i) {
      std::string text;
      const int count = static_cast<int>(random() % 12);
      for (int l = 0; l < count; ++l) text += lines[random() % lines.size()];
      INFO(absl::CEscape(text));
      REQUIRE(Tokenizer(e).Count(text, &memo) == Tokenizer(e).Count(text));
    }
  }
}

TEST_CASE("1 MiB of one character is counted in well under a second per MiB", "[bpe]") {
  for (const std::string unit : {" ", "a", "\n", "\t", "!", "7", "\xe4\xb8\xad", "\xff", "ab "}) {
    std::string text;
    while (text.size() < (1 << 20)) text += unit;
    for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      const auto start = std::chrono::steady_clock::now();
      const size_t count = Tokenizer(e).Count(text);
      const auto took = std::chrono::steady_clock::now() - start;
      INFO(EncodingName(e) << " " << absl::CEscape(unit) << " x " << text.size() / unit.size()
                           << ": " << count << " tokens");
      CHECK(count > 0);
      CHECK(count <= text.size());
      // tiktoken's quadratic merge needs minutes on such a piece (bpe_merge.h).
      CHECK(took < std::chrono::seconds(5));
    }
  }
}

TEST_CASE("Load: NOT_FOUND, INVALID_ARGUMENT naming the line, DATA_LOSS for another table",
          "[bpe]") {
  auto missing = BpeTokenizer::Load(Encoding::kCl100kBase, TempPath("nope.tiktoken"));
  CHECK(absl::IsNotFound(missing.status()));
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("nope.tiktoken"));

  const std::string bad = TempPath("bad.tiktoken");
  std::ofstream(bad) << "IQ== 0\nIg== 1\nnot-base64! 2\n";
  auto malformed = BpeTokenizer::Load(Encoding::kCl100kBase, bad);
  CHECK(absl::IsInvalidArgument(malformed.status()));
  CHECK_THAT(std::string(malformed.status().message()), Catch::Contains("line 3"));

  std::ofstream(bad) << "IQ== 0\nIg== x\n";
  CHECK(absl::IsInvalidArgument(BpeTokenizer::Load(Encoding::kCl100kBase, bad).status()));
  std::ofstream(bad) << "IQ== 0\nIQ== 1\n";
  CHECK(absl::IsInvalidArgument(BpeTokenizer::Load(Encoding::kCl100kBase, bad).status()));

  // Complete (all bytes, ranks dense) but not the published table: the first 1000 lines.
  const std::string cl100k = ReadFile(RankFile(Encoding::kCl100kBase));
  size_t end = 0;
  for (int i = 0; i < 1000; ++i) end = cl100k.find('\n', end) + 1;
  const std::string truncated = TempPath("truncated.tiktoken");
  std::ofstream(truncated) << cl100k.substr(0, end);
  auto short_table = BpeTokenizer::Load(Encoding::kCl100kBase, truncated);
  CHECK(absl::IsDataLoss(short_table.status()));
  CHECK_THAT(std::string(short_table.status().message()), Catch::Contains("fetch_ranks.sh"));
  // The right file for the other encoding.
  CHECK(absl::IsDataLoss(
      BpeTokenizer::Load(Encoding::kO200kBase, RankFile(Encoding::kCl100kBase)).status()));
  // A gap in the ranks; a byte without a rank ('!', rank 0, replaced by another token).
  const std::string without_first = cl100k.substr(cl100k.find('\n') + 1);
  auto gap = RankTable::Parse(without_first, "t");
  CHECK(absl::IsDataLoss(gap.status()));
  CHECK_THAT(std::string(gap.status().message()), Catch::Contains("rank 0 is missing"));
  auto no_byte = RankTable::Parse("AAECAw== 0\n" + without_first, "t");
  CHECK(absl::IsDataLoss(no_byte.status()));
  CHECK_THAT(std::string(no_byte.status().message()), Catch::Contains("byte 33"));
  auto repeated = RankTable::Parse("Ig== 0\n" + without_first, "t");  // '"' is rank 1 too
  CHECK(absl::IsInvalidArgument(repeated.status()));
}

}  // namespace
}  // namespace sochdb::context
