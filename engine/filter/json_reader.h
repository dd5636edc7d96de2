// A strict, bounded JSON reader for the small documents the engine accepts from clients (metadata
// filters), over nlohmann::json's SAX parser (the project's one JSON library). It exists so that
// parsing hostile input is safe by construction: the parser does not recurse, depth is checked
// before every container is read, nothing throws, strings must be valid UTF-8, and every error
// names the byte offset where reading stopped. It builds a small tree that the caller compiles
// into its own structure and then drops; code that builds or writes JSON uses nlohmann::json.
#ifndef SOCHDB_ENGINE_FILTER_JSON_READER_H_
#define SOCHDB_ENGINE_FILTER_JSON_READER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sochdb::filter {

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type = Type::kNull;
  bool boolean = false;                                    // kBool
  double number = 0;                                       // kNumber: always finite
  std::string string;                                      // kString: valid UTF-8, unescaped
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in document order;
                                                           // duplicate keys are kept
};

// Reads exactly one JSON value (RFC 8259), with optional whitespace around it.
//   - Arrays and objects may nest at most `max_depth` levels (the outermost container is level
//     1); deeper input fails before any deeper recursion happens.
//   - Strings must be valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF);
//     \u escapes must pair surrogates; unescaped control characters (including NUL) are errors.
//   - Numbers follow the JSON grammar and must fit a finite double ("1e999" and "1e-400" are
//     errors, as std::from_chars reads them).
// Errors are INVALID_ARGUMENT with messages such as
//   "invalid JSON at byte 17: expected ':' after an object key"
//   "nested deeper than 32 levels"
// Thread-safe (no shared state).
absl::StatusOr<JsonValue> ReadJson(std::string_view text, size_t max_depth);

}  // namespace sochdb::filter

#endif  // SOCHDB_ENGINE_FILTER_JSON_READER_H_
