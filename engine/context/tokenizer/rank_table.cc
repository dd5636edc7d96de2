#include "engine/context/tokenizer/rank_table.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sochdb::context {
namespace {

// Far above any published table (o200k_base has 199,998 tokens); bounds what a damaged rank
// field can make Parse allocate.
constexpr uint32_t kMaxRank = 1u << 24;

absl::Status BadLine(absl::string_view name, size_t line, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(name, " line ", line, ": ", why, " (want `base64 SPACE rank`)"));
}

// splitmix64's finalizer: every input bit reaches every output bit.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Reads `tokens` (indexed by rank) from the file's lines. A rank missing is left empty.
absl::Status ParseLines(absl::string_view contents, absl::string_view name,
                        std::vector<std::string>* tokens) {
  std::vector<bool> seen_rank;
  std::string token;
  size_t line_number = 0;
  while (!contents.empty()) {
    ++line_number;
    const size_t newline = contents.find('\n');
    absl::string_view line = contents.substr(0, newline);
    contents.remove_prefix(newline == absl::string_view::npos ? contents.size() : newline + 1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return BadLine(name, line_number, "no space");
    uint32_t rank = 0;
    if (!absl::SimpleAtoi(line.substr(space + 1), &rank) || rank >= kMaxRank) {
      return BadLine(name, line_number, absl::StrCat("rank is not a number below ", kMaxRank));
    }
    if (!absl::Base64Unescape(line.substr(0, space), &token) || token.empty()) {
      return BadLine(name, line_number, "token is not non-empty base64");
    }
    if (rank >= seen_rank.size()) {
      seen_rank.resize(rank + 1, false);
      tokens->resize(rank + 1);
    }
    if (seen_rank[rank]) return BadLine(name, line_number, "rank repeats an earlier line's");
    seen_rank[rank] = true;
    (*tokens)[rank] = token;
  }
  for (size_t r = 0; r < seen_rank.size(); ++r) {
    if (!seen_rank[r]) {
      return absl::DataLossError(
          absl::StrCat(name, ": rank ", r, " is missing (", seen_rank.size(), " ranks)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t RankTable::Hash(absl::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t hash = 0x9E3779B97F4A7C15ull * (n + 1);
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    hash = Mix(hash ^ word);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, n);
    hash = Mix(hash ^ word ^ (uint64_t{n} << 59));
  }
  return Mix(hash);
}

void RankTable::Build(const std::vector<std::string>& tokens) {
  size_t slots = 1;
  while (slots < tokens.size() * 2) slots <<= 1;  // load factor <= 1/2
  slots_.assign(slots, 0);
  mask_ = slots - 1;
  for (uint32_t rank = 0; rank < tokens.size(); ++rank) {
    arena_ += tokens[rank];
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
    const auto* bytes = reinterpret_cast<const unsigned char*>(tokens[rank].data());
    if (tokens[rank].size() == 1) short_ranks_[bytes[0]] = rank;
    if (tokens[rank].size() == 2) short_ranks_[256 + (bytes[0] << 8 | bytes[1])] = rank;
    const uint64_t hash = Hash(tokens[rank]);
    size_t i = hash & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (hash >> 32 << 32) | (uint64_t{rank} + 1);
  }
}

absl::StatusOr<RankTable> RankTable::Parse(absl::string_view contents, absl::string_view name) {
  std::vector<std::string> tokens;
  const absl::Status parsed = ParseLines(contents, name, &tokens);
  if (!parsed.ok()) return parsed;
  RankTable table;
  table.Build(tokens);
  // Distinct tokens: a repeat would make one of its ranks unreachable.
  for (uint32_t rank = 0; rank < tokens.size(); ++rank) {
    if (table.Find(tokens[rank]) != rank) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": the token of rank ", rank, " repeats another rank's"));
    }
  }
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    if (table.Find(absl::string_view(&byte, 1)) == kNoRank) {
      return absl::DataLossError(absl::StrCat(name, ": byte ", b, " has no rank"));
    }
  }
  return table;
}

}  // namespace sochdb::context
