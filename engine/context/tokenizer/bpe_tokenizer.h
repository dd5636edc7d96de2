// Exact token counts for OpenAI's cl100k_base and o200k_base encodings: a tiktoken-compatible
// byte-pair encoder (the encodings' pre-tokenizers, pretokenizer.h, then the merge by rank,
// bpe_merge.h) over the published rank tables, loaded from tiktoken's file format.
//
// It encodes ordinary text: special-token strings such as `<|endoftext|>` are plain text, as in
// tiktoken's encode_ordinary. Any bytes are accepted: a byte that is not valid UTF-8 is one
// character (of no Unicode class) to the pre-tokenizer, and the merge works on bytes anyway.
// Time is linear in the input up to a log factor, whatever its content (see bpe_merge.h).
// Character classes are Unicode 15.0's (unicode_class.h): a character assigned in a later
// Unicode version is split as an unassigned one, where a tokenizer built on newer tables may
// split it as a letter or a number.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_TOKENIZER_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/context/tokenizer/pretokenizer.h"
#include "engine/context/tokenizer/rank_table.h"

namespace sochdb::context {

enum class Encoding { kCl100kBase, kO200kBase };

// Token counts of lines already counted, for a caller that counts many texts sharing most of
// their lines (BudgetFit's probes render documents that differ in a line or two). Only
// whole lines are remembered, and only where the pre-tokenizer itself ended a piece at the
// newline, so a count through the memo equals Count(text) exactly (see Count). Grows with
// what it is given: one per task, not one per process. Not thread-safe.
class CountMemo {
 private:
  friend class BpeTokenizer;
  // Key: the line's bytes and the byte after it (0 and a flag at the text's end): the byte
  // after decides how the line's last piece ends.
  absl::flat_hash_map<std::string, size_t> lines_;
};

// "cl100k_base" / "o200k_base": also the rank file's name without ".tiktoken".
absl::string_view EncodingName(Encoding encoding);

// Immutable after Load; Count and Encode may be called from any number of threads.
class BpeTokenizer {
 public:
  // Reads `rank_file` (tiktoken's format: base64(token) SPACE rank, one a line). NOT_FOUND
  // naming the path when it does not exist; INVALID_ARGUMENT naming the line when a line is
  // malformed; DATA_LOSS when the file is not the table OpenAI publishes for `encoding` (its
  // SHA-256 differs: truncated, damaged, or another encoding's), so counts are never computed
  // against a wrong table.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Load(Encoding encoding,
                                                            const std::string& rank_file);

  Encoding encoding() const { return encoding_; }
  // The number of tokens of `text`: Encode(text).size(), without building the vector.
  size_t Count(absl::string_view text) const;
  // The same count, merging only the lines `memo` has not seen. The text is pre-tokenized
  // whole, as by Count; it is then cut after every piece that ends in a newline. Where a
  // piece ends depends only on the bytes from its start up to the byte after its end, so a
  // line that starts where a piece starts and is followed by the same byte is cut into the
  // same pieces in any text: its count can be reused.
  size_t Count(absl::string_view text, CountMemo* memo) const;
  // Where each token of `text` ends (a byte offset into `text`): Encode(text).size() of them,
  // ascending, the last text.size(). A token may end inside a UTF-8 character (BPE works on
  // bytes).
  std::vector<size_t> TokenEnds(absl::string_view text) const;
  // The token ids (ranks) of `text`, as tiktoken's encode_ordinary returns them.
  std::vector<uint32_t> Encode(absl::string_view text) const;

 private:
  BpeTokenizer(Encoding encoding, RankTable ranks);
  // The tokens of one piece of the pre-tokenizer's.
  size_t CountPiece(absl::string_view piece, std::vector<uint32_t>* bounds) const;

  const Encoding encoding_;
  const PieceEndFunction piece_end_;
  const RankTable ranks_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_TOKENIZER_H_
