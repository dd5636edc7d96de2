// Policy patterns (pattern.h) over RE2.
#include "engine/policy/pattern.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "re2/re2.h"

namespace sochdb::policy {
namespace {

// RE2's memory budget for one pattern: far above any 1 KB glob's needs, far below trouble.
constexpr int64_t kMaxRegexMemory = 1 << 20;

// The regular expression of a glob, by upstream's rules, anchored as a whole.
std::string RegexOf(std::string_view glob) {
  std::string regex = "^(?:";
  for (char c : glob) {
    switch (c) {
      case '*': regex += ".*"; break;
      case '?': regex += '.'; break;
      case '.': regex += "\\."; break;
      default: regex += c;
    }
  }
  regex += ")$";
  return regex;
}

// The bytes at the start of the glob that every match must start with: plain characters (a
// glob's '.' is a literal dot) up to the first one with a meaning in a regular expression. A
// character followed by a quantifier that may drop it ('{0,1}') is not included, and an
// alternative anywhere ('|') means no prefix at all.
std::string LiteralPrefixOf(std::string_view glob) {
  if (glob.find('|') != std::string_view::npos) return "";
  constexpr std::string_view kSpecial = "*?[](){}+^$\\";
  size_t end = 0;
  while (end < glob.size() && kSpecial.find(glob[end]) == std::string_view::npos) ++end;
  if (end < glob.size() && glob[end] == '{' && end > 0) --end;
  return std::string(glob.substr(0, end));
}

}  // namespace

absl::StatusOr<Pattern> Pattern::Compile(std::string_view glob) {
  if (glob.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pattern is %d bytes; the limit is %d bytes", glob.size(), kMaxPatternBytes));
  }
  if (glob.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("pattern must not contain NUL bytes");
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);  // keys are bytes, not UTF-8 text
  options.set_dot_nl(true);  // '*' and '?' match any byte, a newline included
  options.set_log_errors(false);
  options.set_max_mem(kMaxRegexMemory);
  const std::string regex = RegexOf(glob);
  auto compiled = std::make_shared<const RE2>(re2::StringPiece(regex.data(), regex.size()),
                                              options);
  if (!compiled->ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("pattern: %s: %s", compiled->error(), std::string(glob)));
  }
  return Pattern(std::string(glob), std::move(compiled), LiteralPrefixOf(glob));
}

bool Pattern::Matches(std::string_view key) const {
  return RE2::FullMatch(re2::StringPiece(key.data(), key.size()), *regex_);
}

bool Pattern::MayMatchUnder(std::string_view prefix) const {
  if (prefix.empty()) return true;
  std::string min, max;
  // Every match m satisfies min <= m <= max. Unknown (a leading wildcard): assume it may.
  if (!regex_->PossibleMatchRange(&min, &max, kMatchRangeBytes)) return true;
  if (std::string_view(max) < prefix) return false;  // every match sorts before the prefix
  // Every key under the prefix sorts before the prefix with its last byte below 0xff raised.
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return true;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return std::string_view(min) < end;
}

}  // namespace sochdb::policy
