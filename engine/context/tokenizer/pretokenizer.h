// The pre-tokenizers of cl100k_base and o200k_base: they cut text into the pieces tiktoken
// byte-pair-encodes one at a time, exactly as tiktoken's split patterns do:
//
//   cl100k_base  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//                 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   o200k_base   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
//                (?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+
//                [\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}|
//                 ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// They are hand-written scanners, not RE2: `\s+(?!\S)` is a lookahead, which RE2 (linear time
// by design) does not have, and emulating it around RE2 costs a second pass per whitespace run.
// A scanner also reads each character's class once from a table, takes any bytes (an invalid
// byte is one character with no class: see unicode_class.h) and is linear in the input: each
// piece is decided by looking at most one run ahead, and every run is consumed by the piece.
// Leftmost-first semantics (the first alternative that matches, each quantifier as greedy as
// the rest of its alternative allows) are reproduced branch by branch in pretokenizer.cc.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_PRETOKENIZER_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_PRETOKENIZER_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace sochdb::context {

// The end of the piece that starts at `pos`, for pos < text.size(); always > pos.
using PieceEndFunction = size_t (*)(absl::string_view text, size_t pos);
size_t Cl100kPieceEnd(absl::string_view text, size_t pos);
size_t O200kPieceEnd(absl::string_view text, size_t pos);

// Calls piece(absl::string_view) for each piece of `text`, in order; together they are `text`.
template <typename PieceFn>
void ForEachPiece(PieceEndFunction piece_end, absl::string_view text, PieceFn&& piece) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = piece_end(text, pos);
    piece(text.substr(pos, end - pos));
    pos = end;
  }
}

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_PRETOKENIZER_H_
