// TOON (Token-Oriented Object Notation) encoder: writes a JSON value in the token-efficient
// text form that ContextService and FormatContext return for the TOON output format. Follows
// the TOON specification v3.3 (@toon-format/spec 3.3.2, https://github.com/toon-format/spec):
// objects by indentation, primitive arrays inline (`tags[3]: a,b,c`), arrays of uniform
// primitive-valued objects as one header plus a row per item (`users[2]{id,name}:`), other
// arrays as `- ` list items, minimal quoting, canonical numbers. Its conformance is checked
// against the spec's own encode fixtures (tests/engine/context/toon_test) and by decoding its
// output with the reference decoder @toon-format/toon (tests/tools/toon_reference).
//
// Choices the spec leaves to the encoder:
//   - Key order is the order the JSON value holds: insertion order for nlohmann::ordered_json
//     (what context builders should use), sorted order for nlohmann::json.
//   - Numbers: integers (int64 / uint64) are written exactly; doubles in the shortest form that
//     reads back to the same double, without exponent when 1e-6 <= |n| < 1e21 (the spec's
//     canonical range), else as `1.5e-7` / `1e+21`. -0 is written 0; NaN and +-inf null (§3).
//   - Empty arrays are `key: []` / `[]` at the root, and `- [0]:` as a list item (§9.1, §9.2).
//   - Quoting is the spec's §7.2 rule set plus two cases the spec leaves optional ("MAY be
//     emitted without quotes"): a string is also quoted when it starts or ends with any
//     Unicode white space (NBSP, U+3000, BOM, ...: decoders built on a host trim() would drop
//     it), or starts with `#` (a comment in newer drafts, @toon-format/toon 4.x). Both read
//     back the same with every decoder; the spec's fixtures contain neither case.
//   - Key folding (§13.4, "safe" mode) is off unless ToonOptions::fold_keys asks for it.
//
// Failure, as INVALID_ARGUMENT naming the limit: a value nested deeper than kMaxToonDepth
// containers (the encoder recurses once per level, so the bound keeps the stack small whatever
// a client sends); a string or key that is not valid UTF-8 (TOON text is UTF-8); a binary or
// discarded nlohmann value (not JSON); an indent outside 1..kMaxToonIndent.
// Thread-safe: no shared state.
#ifndef SOCHDB_ENGINE_CONTEXT_TOON_H_
#define SOCHDB_ENGINE_CONTEXT_TOON_H_

#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sochdb::context {

// The delimiter of inline arrays and tabular rows (§11). Comma headers carry no symbol; tab and
// pipe appear inside the brackets (`[3|]`), so a decoder learns it from each header.
enum class ToonDelimiter { kComma, kTab, kPipe };

// Deepest container nesting EncodeToon accepts (the outermost array or object is level 1).
inline constexpr int kMaxToonDepth = 256;
// Widest indentation step EncodeToon accepts.
inline constexpr int kMaxToonIndent = 16;

struct ToonOptions {
  // Spaces per indentation level (the spec's indentSize), 1..kMaxToonIndent. Default 2.
  int indent = 2;
  // The document delimiter: what every array header declares and quoting checks for.
  ToonDelimiter delimiter = ToonDelimiter::kComma;
  // Key folding, spec §13.4 "safe" mode: a chain of single-key objects whose keys are all
  // identifiers ([A-Za-z_][A-Za-z0-9_]*) is written as one dotted key (`a.b.c: 1`) unless that
  // key equals a sibling's. Decoders give back the nested form only with path expansion on, so
  // it is off by default.
  bool fold_keys = false;
  // With fold_keys: the most segments one folded key may hold (the spec's flattenDepth; values
  // below 2 fold nothing). Default: unbounded.
  int flatten_depth = std::numeric_limits<int>::max();
};

// Encodes `value` as a TOON document (spec v3.3), with no trailing newline. An empty object
// encodes as the empty document "" (§8); a string, number, bool or null as one line.
absl::StatusOr<std::string> EncodeToon(const nlohmann::ordered_json& value,
                                       const ToonOptions& options = {});
absl::StatusOr<std::string> EncodeToon(const nlohmann::json& value,
                                       const ToonOptions& options = {});

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOON_H_
