#include "engine/context/tokenizer/pretokenizer.h"

#include <cstdint>

#include "engine/context/tokenizer/unicode_class.h"

namespace sochdb::context {
namespace {

constexpr size_t kNoMatch = absl::string_view::npos;

// [^\r\n\p{L}\p{N}]: the optional character before a word.
bool IsWordPrefix(uint8_t bits) { return (bits & (kLineBreak | kLetter | kNumber)) == 0; }
// [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, invalid bytes.
bool IsPunctuation(uint8_t bits) { return (bits & (kSpace | kLetter | kNumber)) == 0; }

// The end of the run of characters from `pos` whose class has a bit of `mask`.
size_t RunEnd(absl::string_view text, size_t pos, uint8_t mask) {
  while (pos < text.size()) {
    const CharClass c = ClassifyAt(text, pos);
    if ((c.bits & mask) == 0) break;
    pos += c.size;
  }
  return pos;
}

size_t PunctuationRunEnd(absl::string_view text, size_t pos) {
  while (pos < text.size()) {
    const CharClass c = ClassifyAt(text, pos);
    if (!IsPunctuation(c.bits)) break;
    pos += c.size;
  }
  return pos;
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at `pos`: its end, or kNoMatch. Case-insensitive as the regex
// crate is (simple case folding), so 's also matches U+017F LATIN SMALL LETTER LONG S.
size_t ContractionEnd(absl::string_view text, size_t pos) {
  if (pos + 1 >= text.size() || text[pos] != '\'') return kNoMatch;
  const char c1 = AsciiLower(text[pos + 1]);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return pos + 2;
  if (text.substr(pos + 1, 2) == "\xC5\xBF") return pos + 3;  // U+017F
  if (pos + 2 >= text.size()) return kNoMatch;
  const char c2 = AsciiLower(text[pos + 2]);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    return pos + 3;
  }
  return kNoMatch;
}

// \p{N}{1,3}
size_t NumberEnd(absl::string_view text, size_t pos) {
  for (int i = 0; i < 3 && pos < text.size(); ++i) {
    const CharClass c = ClassifyAt(text, pos);
    if ((c.bits & kNumber) == 0) break;
    pos += c.size;
  }
  return pos;
}

// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with '/' in the last class for o200k_base), or kNoMatch.
size_t PunctuationEnd(absl::string_view text, size_t pos, bool slash_after) {
  size_t p = pos;
  if (text[p] == ' ' && p + 1 < text.size() && IsPunctuation(ClassifyAt(text, p + 1).bits)) {
    ++p;
  }
  if (!IsPunctuation(ClassifyAt(text, p).bits)) return kNoMatch;
  p = PunctuationRunEnd(text, p);
  while (p < text.size() &&
         (text[p] == '\r' || text[p] == '\n' || (slash_after && text[p] == '/'))) {
    ++p;
  }
  return p;
}

// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace character. Over the whitespace run W from pos:
// the first alternative ends after W's last line break; the second takes all of W at the end
// of the text, else W less its last character (which then prefixes the next word, or stands
// alone); the third takes the one character left when W is a single character.
size_t WhitespaceEnd(absl::string_view text, size_t pos) {
  size_t end = pos;
  size_t last_start = pos;
  size_t after_last_break = kNoMatch;
  while (end < text.size()) {
    const CharClass c = ClassifyAt(text, end);
    if ((c.bits & kSpace) == 0) break;
    if (c.bits & kLineBreak) after_last_break = end + c.size;
    last_start = end;
    end += c.size;
  }
  if (after_last_break != kNoMatch) return after_last_break;
  if (end == text.size() || last_start == pos) return end;
  return last_start;
}

// The alternatives after the words: numbers, punctuation, whitespace.
size_t NonWordEnd(absl::string_view text, size_t pos, uint8_t bits, bool slash_after) {
  if (bits & kNumber) return NumberEnd(text, pos);
  const size_t end = PunctuationEnd(text, pos, slash_after);
  if (end != kNoMatch) return end;
  return WhitespaceEnd(text, pos);
}

// o200k_base's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ from `pos`, or
// kNoMatch. The classes overlap (Lm, Lo, M are in both): when the greedy first run is not
// followed by a lowercase-class character, the regex backs off to the run's last character in
// the lowercase class and ends just after it.
size_t LowerWordEnd(absl::string_view text, size_t pos) {
  size_t end = pos;
  size_t after_last_lower = kNoMatch;
  while (end < text.size()) {
    const CharClass c = ClassifyAt(text, end);
    if ((c.bits & kUpperish) == 0) break;
    if (c.bits & kLowerish) after_last_lower = end + c.size;
    end += c.size;
  }
  if (end < text.size() && (ClassifyAt(text, end).bits & kLowerish)) {
    return RunEnd(text, end, kLowerish);
  }
  return after_last_lower;
}

// o200k_base's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* from `pos`, or kNoMatch.
size_t UpperWordEnd(absl::string_view text, size_t pos) {
  const size_t end = RunEnd(text, pos, kUpperish);
  if (end == pos) return kNoMatch;
  return RunEnd(text, end, kLowerish);
}

// o200k_base's first two alternatives: [^\r\n\p{L}\p{N}]? then a word, then an optional
// contraction. The regex tries the prefix taken before the prefix skipped, per alternative.
size_t O200kWordEnd(absl::string_view text, size_t pos, CharClass first) {
  const bool prefix = IsWordPrefix(first.bits) && pos + first.size < text.size();
  size_t end = kNoMatch;
  if (prefix) end = LowerWordEnd(text, pos + first.size);
  if (end == kNoMatch) end = LowerWordEnd(text, pos);
  if (end == kNoMatch && prefix) end = UpperWordEnd(text, pos + first.size);
  if (end == kNoMatch) end = UpperWordEnd(text, pos);
  if (end == kNoMatch) return kNoMatch;
  const size_t contraction = ContractionEnd(text, end);
  return contraction != kNoMatch ? contraction : end;
}

}  // namespace

size_t Cl100kPieceEnd(absl::string_view text, size_t pos) {
  const size_t contraction = ContractionEnd(text, pos);
  if (contraction != kNoMatch) return contraction;
  const CharClass first = ClassifyAt(text, pos);
  const size_t next = pos + first.size;
  if (IsWordPrefix(first.bits) && next < text.size() &&
      (ClassifyAt(text, next).bits & kLetter)) {
    return RunEnd(text, next, kLetter);
  }
  if (first.bits & kLetter) return RunEnd(text, pos, kLetter);
  return NonWordEnd(text, pos, first.bits, /*slash_after=*/false);
}

size_t O200kPieceEnd(absl::string_view text, size_t pos) {
  const CharClass first = ClassifyAt(text, pos);
  const size_t word = O200kWordEnd(text, pos, first);
  if (word != kNoMatch) return word;
  return NonWordEnd(text, pos, first.bits, /*slash_after=*/true);
}

}  // namespace sochdb::context
