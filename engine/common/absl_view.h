// absl::string_view is not std::string_view in Debian's Abseil build (20220623, built with
// ABSL_OPTION_USE_STD_STRING_VIEW 0), so crossing from the engine's std::string_view into
// Abseil's string functions is explicit.
#ifndef SOCHDB_ENGINE_COMMON_ABSL_VIEW_H_
#define SOCHDB_ENGINE_COMMON_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace sochdb {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_ABSL_VIEW_H_
