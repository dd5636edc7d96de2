// Policy patterns: which keys a policy applies to. A pattern is a glob with upstream's rules,
// turned into an anchored regular expression and compiled with RE2 (linear time, bounded
// memory, whatever a caller writes):
//   '*' -> '.*' (any run of bytes), '?' -> '.' (one byte), '.' -> '\.' (a literal dot);
//   every other character is passed to the regular expression as it is, so classes such as
//   [a-z] and alternatives such as a|b work.
// The whole pattern must match the whole key: it is anchored as ^(?:...)$, so an alternative
// cannot escape the anchors (upstream's ^...$ lets "ab|cd" match any key ending in "cd").
// The empty pattern matches only the empty key. Keys are bytes: matching is byte by byte.
// Where upstream lets a pattern that does not compile match every key, it is refused here.
#ifndef SOCHDB_ENGINE_POLICY_PATTERN_H_
#define SOCHDB_ENGINE_POLICY_PATTERN_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace sochdb::policy {

inline constexpr size_t kMaxPatternBytes = 1024;
// How many leading bytes of the match range MayMatchUnder asks RE2 for.
inline constexpr int kMatchRangeBytes = 64;

class Pattern {
 public:
  // INVALID_ARGUMENT ("pattern: missing ]: [a-z") when the pattern is too long, holds a NUL
  // byte or does not compile.
  static absl::StatusOr<Pattern> Compile(std::string_view glob);

  bool Matches(std::string_view key) const;
  // Whether some key that starts with `prefix` may match: never false when one does, and true
  // for some prefixes under which none does (it compares the range of strings RE2 says can
  // match with the prefix's range). What a scan of a prefix is checked with.
  bool MayMatchUnder(std::string_view prefix) const;

  // Bytes every matching key starts with (possibly none): what an index of many patterns
  // can look keys up by before running any of them.
  const std::string& literal_prefix() const { return literal_prefix_; }
  const std::string& glob() const { return glob_; }

 private:
  Pattern(std::string glob, std::shared_ptr<const re2::RE2> regex, std::string literal_prefix)
      : glob_(std::move(glob)), regex_(std::move(regex)),
        literal_prefix_(std::move(literal_prefix)) {}

  std::string glob_;
  std::shared_ptr<const re2::RE2> regex_;  // immutable once compiled: copies share it
  std::string literal_prefix_;
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_PATTERN_H_
