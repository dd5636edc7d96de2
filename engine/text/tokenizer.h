// The tokenizer shared by BM25 indexing and BM25 queries: both sides must cut text into the same
// terms, or a query could never match what was indexed. It is deliberately simple and byte-based
// (no Unicode tables, no stemming, no stop words) so that it is deterministic across builds and
// versions: a changed tokenizer would silently desynchronise postings already on disk.
#ifndef SOCHDB_ENGINE_TEXT_TOKENIZER_H_
#define SOCHDB_ENGINE_TEXT_TOKENIZER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sochdb::text {

// Tokens shorter than this many bytes are dropped ("a", "I", single digits): they match nearly
// every document and carry no ranking signal. One two-byte UTF-8 character ("é") is kept.
inline constexpr size_t kMinTokenBytes = 2;
// Tokens longer than this many bytes are dropped, not truncated: such runs are ids, hashes or
// base64 blobs, and a truncated prefix would match unrelated long strings.
inline constexpr size_t kMaxTokenBytes = 64;
// At most this many tokens are produced per text; the rest of the text is ignored. Bounds the
// postings (and the write batch) one huge document can create.
inline constexpr size_t kMaxTokensPerText = 65536;

// Splits `text` into terms, in order of appearance (duplicates kept: term frequency matters).
//   - Word bytes are ASCII letters and digits and every byte >= 0x80, so UTF-8 words stay whole
//     (and invalid UTF-8 is still tokenized deterministically, byte by byte). Every other byte
//     (spaces, punctuation, controls, NUL) separates tokens.
//   - ASCII letters are lowercased; bytes >= 0x80 are kept as they are (no Unicode case folding).
//   - Tokens outside [kMinTokenBytes, kMaxTokenBytes] are dropped; at most kMaxTokensPerText
//     tokens are returned (dropped tokens do not count toward that cap).
// Thread-safe; never fails.
std::vector<std::string> Tokenize(std::string_view text);

}  // namespace sochdb::text

#endif  // SOCHDB_ENGINE_TEXT_TOKENIZER_H_
