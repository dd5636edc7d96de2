// A BPE rank table: token bytes -> rank (the token id), read from tiktoken's file format, one
// token a line: base64(token bytes) SPACE decimal rank. This is the format OpenAI publishes
// (cl100k_base.tiktoken, o200k_base.tiktoken) and the one tools/tokenizer/fetch_ranks.sh writes.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sochdb::context {

inline constexpr uint32_t kNoRank = UINT32_MAX;

// Looked up once per piece and several times per merge step, so it is built for lookups: one
// open-addressing table of 64-bit slots (a 32-bit hash tag beside the rank), the token bytes in
// one arena in rank order: 8 bytes a slot at load factor <= 1/2 instead of a 32-byte string
// per entry, and a tag check before any byte comparison, so a lookup is about one cache miss.
class RankTable {
 public:
  // Parses `contents` (the file's bytes; `name` names it in errors). INVALID_ARGUMENT naming
  // the line when a line is not `base64 SPACE rank`, or a token or a rank repeats; DATA_LOSS
  // when one of the 256 single bytes has no rank (the merge starts from single bytes, so every
  // byte must be a token) or the ranks are not 0..size-1.
  static absl::StatusOr<RankTable> Parse(absl::string_view contents, absl::string_view name);

  // The rank of `bytes`, or kNoRank.
  uint32_t Find(absl::string_view bytes) const {
    if (bytes.size() <= 2) return FindShort(bytes);
    const uint64_t hash = Hash(bytes);
    const uint64_t tag = hash >> 32;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return kNoRank;
      if ((slot >> 32) == tag) {
        const uint32_t rank = static_cast<uint32_t>(slot) - 1;
        if (Token(rank) == bytes) return rank;
      }
    }
  }
  // The bytes of token `rank` (< size()).
  absl::string_view Token(uint32_t rank) const {
    return absl::string_view(arena_).substr(offsets_[rank], offsets_[rank + 1] - offsets_[rank]);
  }
  size_t size() const { return offsets_.size() - 1; }

 private:
  // One- and two-byte strings, a direct index into short_ranks_: the merge's first step looks
  // up every adjacent byte pair of a piece, and this keeps those lookups in a 257 KiB array
  // (cache-resident) instead of missing in the large table.
  uint32_t FindShort(absl::string_view bytes) const {
    if (bytes.empty()) return kNoRank;
    const auto b0 = static_cast<unsigned char>(bytes[0]);
    if (bytes.size() == 1) return short_ranks_[b0];
    return short_ranks_[256 + (b0 << 8 | static_cast<unsigned char>(bytes[1]))];
  }
  static uint64_t Hash(absl::string_view bytes);
  // Builds the arena and the slots from tokens[rank]; tokens are distinct.
  void Build(const std::vector<std::string>& tokens);

  std::string arena_;
  std::vector<uint32_t> offsets_ = {0};  // token r is arena_[offsets_[r], offsets_[r + 1])
  std::vector<uint64_t> slots_;          // (hash >> 32) << 32 | (rank + 1); 0 = empty
  size_t mask_ = 0;                      // slots_.size() - 1 (a power of two)
  std::vector<uint32_t> short_ranks_ = std::vector<uint32_t>(256 + 65536, kNoRank);
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_RANK_TABLE_H_
