#include "engine/context/tokenizer/rank_table.h"

#include <vector>

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

// Every byte must have a rank, and the ranks must be exactly 0..size-1 (no gaps).
absl::Status CheckComplete(const RankTable& table, const std::vector<bool>& seen_rank,
                           absl::string_view name) {
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    if (table.Find(absl::string_view(&byte, 1)) == kNoRank) {
      return absl::DataLossError(absl::StrCat(name, ": byte ", b, " has no rank"));
    }
  }
  for (size_t r = 0; r < seen_rank.size(); ++r) {
    if (!seen_rank[r]) {
      return absl::DataLossError(absl::StrCat(name, ": rank ", r, " is missing (",
                                              table.size(), " tokens)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RankTable> RankTable::Parse(absl::string_view contents, absl::string_view name) {
  RankTable table;
  table.ranks_.reserve(contents.size() / 12);
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
    if (rank >= seen_rank.size()) seen_rank.resize(rank + 1, false);
    if (seen_rank[rank]) return BadLine(name, line_number, "rank repeats an earlier line's");
    seen_rank[rank] = true;
    if (!table.ranks_.emplace(token, rank).second) {
      return BadLine(name, line_number, "token repeats an earlier line's");
    }
  }
  const absl::Status complete = CheckComplete(table, seen_rank, name);
  if (!complete.ok()) return complete;
  return table;
}

}  // namespace sochdb::context
