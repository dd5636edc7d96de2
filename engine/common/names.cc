// The name checks behind names.h.
#include "engine/common/names.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/absl_view.h"

namespace sochdb {

absl::Status ValidateName(std::string_view field, std::string_view name, size_t max_bytes,
                          EmptyName empty) {
  if (name.empty() && empty == EmptyName::kRefused) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " must not be empty"));
  }
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat("%s is %d bytes; the limit is %d bytes",
                                                      AbslView(field), name.size(), max_bytes));
  }
  if (name.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " must not contain NUL bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateNamespace(std::string_view ns) {
  return ValidateName("namespace", ns, kMaxNamespaceBytes, EmptyName::kAllowed);
}

}  // namespace sochdb
