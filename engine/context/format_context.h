// FormatContext: ContextService.FormatContext's conversion of a piece of content to an output
// format. Content that is a JSON value becomes that value in TOON (engine/context/toon.h), so
// a TOON decoder gives it back; other text becomes a TOON string. JSON, MARKDOWN and TEXT keep
// upstream's forms: {"content": "<text>"}, a ``` fence around the text, the text itself.
#ifndef SOCHDB_ENGINE_CONTEXT_FORMAT_CONTEXT_H_
#define SOCHDB_ENGINE_CONTEXT_FORMAT_CONTEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/context/context_query.h"

namespace sochdb::context {

// JSON content nested deeper than this is formatted as text.
inline constexpr size_t kMaxFormatDepth = 64;

// INVALID_ARGUMENT from the TOON encoder (context/toon.h) for a value it refuses.
absl::StatusOr<std::string> FormatContent(std::string_view content, OutputFormat format);

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_FORMAT_CONTEXT_H_
