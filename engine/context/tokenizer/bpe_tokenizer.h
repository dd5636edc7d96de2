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

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/context/tokenizer/pretokenizer.h"
#include "engine/context/tokenizer/rank_table.h"

namespace sochdb::context {

enum class Encoding { kCl100kBase, kO200kBase };

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
  // Where each token of `text` ends (a byte offset into `text`): Encode(text).size() of them,
  // ascending, the last text.size(). A token may end inside a UTF-8 character (BPE works on
  // bytes).
  std::vector<size_t> TokenEnds(absl::string_view text) const;
  // The token ids (ranks) of `text`, as tiktoken's encode_ordinary returns them.
  std::vector<uint32_t> Encode(absl::string_view text) const;

 private:
  BpeTokenizer(Encoding encoding, RankTable ranks);

  const Encoding encoding_;
  const PieceEndFunction piece_end_;
  const RankTable ranks_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_BPE_TOKENIZER_H_
