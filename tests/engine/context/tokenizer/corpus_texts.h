// The texts the tokenizer tests and its benchmark encode: the hand-written corpus files
// (corpus/*.txt: code in several languages, prose, scripts, emoji, special-token strings),
// whitespace runs, and seeded random strings. All valid UTF-8, so a reference tokenizer that
// takes Unicode strings (JavaScript's) sees the same bytes.
#ifndef SOCHDB_TESTS_ENGINE_CONTEXT_TOKENIZER_CORPUS_TEXTS_H_
#define SOCHDB_TESTS_ENGINE_CONTEXT_TOKENIZER_CORPUS_TEXTS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sochdb::context::testing {

// Each corpus file whole, then its parts between lines of "=====". Files are read from
// `corpus_dir` (a runfiles-relative path); none when it is missing.
std::vector<std::string> CorpusFileTexts(const std::string& corpus_dir);
// Spaces, tabs, newlines, \r\n and Unicode spaces in runs of 1 to 1,000 (5,000 for
// the ASCII ones), alone, between
// words, before punctuation and digits, at the start and at the end.
std::vector<std::string> WhitespaceTexts();
// `count` random strings from `seed`: words in mixed case, digits, contractions, punctuation,
// whitespace, characters of many scripts, combining marks, emoji and any code point assigned
// in Unicode 15.0.
std::vector<std::string> RandomTexts(uint64_t seed, int count);

// Appends the UTF-8 encoding of `code_point` to `out`.
void AppendUtf8(uint32_t code_point, std::string* out);

}  // namespace sochdb::context::testing

#endif  // SOCHDB_TESTS_ENGINE_CONTEXT_TOKENIZER_CORPUS_TEXTS_H_
