// The scalar half of the TOON encoder (toon.h): how one string, key or number is written —
// the spec's quoting rules (§7.2), escapes (§7.1), key form (§7.3) and canonical numbers (§2).
// Internal to //engine/context:toon; toon.cc lays these out into lines.
#ifndef SOCHDB_ENGINE_CONTEXT_TOON_SCALARS_H_
#define SOCHDB_ENGINE_CONTEXT_TOON_SCALARS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sochdb::context::toon_internal {

// Appends `text` (valid UTF-8) as a string value: bare when §7.2 allows it with `delimiter` as
// the relevant delimiter, else quoted and escaped (see toon.h for the two extra cases quoted).
void AppendStringValue(std::string_view text, char delimiter, std::string* out);

// Appends an object key or tabular field name: bare when it matches ^[A-Za-z_][A-Za-z0-9_.]*$,
// else quoted and escaped (§7.3).
void AppendKey(std::string_view key, std::string* out);

// True when `segment` may be part of a folded key (§1.9 IdentifierSegment).
bool IsIdentifierSegment(std::string_view segment);

// Appends a number in the spec's canonical form (§2); NaN and +-inf as null (§3).
void AppendDouble(double value, std::string* out);
void AppendInteger(int64_t value, std::string* out);
void AppendUnsigned(uint64_t value, std::string* out);

}  // namespace sochdb::context::toon_internal

#endif  // SOCHDB_ENGINE_CONTEXT_TOON_SCALARS_H_
