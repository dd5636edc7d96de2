// The byte-pair merge of one piece, by rank, as tiktoken's _byte_pair_merge does it: start
// from single bytes and repeatedly join the adjacent pair whose joined bytes have the lowest
// rank (the leftmost pair on a tie) until no adjacent pair joins into a token.
//
// Two implementations with the same result: tiktoken's own (a vector of parts rescanned after
// each join: O(n * joins), fastest for the short pieces of ordinary text), and a heap over a
// linked list of parts (O(n log n)) for long pieces, where the rescan is quadratic: a 1 MB run
// of one character is one piece. BytePairMerge picks by the piece's size.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_MERGE_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_MERGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/context/tokenizer/rank_table.h"

namespace sochdb::context {

// Pieces of at least this many bytes are merged with the heap (measured with
// tools/bench/token_bench.sh: 16 beat 32 and 64 on mixed-script text, and tied on English/code).
inline constexpr size_t kHeapMergeMinBytes = 16;

// Each sets *bounds to the start offset of every resulting token in `piece` followed by
// piece.size() (so token i is [bounds[i], bounds[i+1])). `piece` must not be empty; every
// single byte must have a rank in `ranks`.
void MergeByScan(const RankTable& ranks, absl::string_view piece, std::vector<uint32_t>* bounds);
void MergeByHeap(const RankTable& ranks, absl::string_view piece, std::vector<uint32_t>* bounds);

inline void BytePairMerge(const RankTable& ranks, absl::string_view piece,
                          std::vector<uint32_t>* bounds) {
  if (piece.size() >= kHeapMergeMinBytes) {
    MergeByHeap(ranks, piece, bounds);
  } else {
    MergeByScan(ranks, piece, bounds);
  }
}

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_MERGE_H_
