// A BPE rank table: token bytes -> rank (the token id), read from tiktoken's file format, one
// token a line: base64(token bytes) SPACE decimal rank. This is the format OpenAI publishes
// (cl100k_base.tiktoken, o200k_base.tiktoken) and the one tools/tokenizer/fetch_ranks.sh writes.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sochdb::context {

inline constexpr uint32_t kNoRank = UINT32_MAX;

class RankTable {
 public:
  // Parses `contents` (the file's bytes; `name` names it in errors). INVALID_ARGUMENT naming
  // the line when a line is not `base64 SPACE rank`, or a token or a rank repeats; DATA_LOSS
  // when one of the 256 single bytes has no rank (the merge starts from single bytes, so every
  // byte must be a token) or the ranks are not 0..size-1.
  static absl::StatusOr<RankTable> Parse(absl::string_view contents, absl::string_view name);

  // The rank of `bytes`, or kNoRank.
  uint32_t Find(absl::string_view bytes) const {
    const auto it = ranks_.find(bytes);
    return it == ranks_.end() ? kNoRank : it->second;
  }
  size_t size() const { return ranks_.size(); }

 private:
  absl::flat_hash_map<std::string, uint32_t> ranks_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_
