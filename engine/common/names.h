// The rules for names that callers choose and the engine keeps: namespaces, collection names,
// vector index names. Every subsystem checks them here, so one namespace is valid (or refused
// with the same message) in KV and in collections alike. A name becomes a length-prefixed key
// component (any bytes would fit), but names are echoed in messages and listings and handed to
// clients that end strings at NUL, so they are bounded and hold no NUL byte.
#ifndef SOCHDB_ENGINE_COMMON_NAMES_H_
#define SOCHDB_ENGINE_COMMON_NAMES_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace sochdb {

// The longest namespace, for every service that takes one (docs/services.md).
inline constexpr size_t kMaxNamespaceBytes = 256;

enum class EmptyName { kAllowed, kRefused };

// INVALID_ARGUMENT naming `field`: "<field> must not be empty" (when `empty` refuses it),
// "<field> is 300 bytes; the limit is 256 bytes", "<field> must not contain NUL bytes".
absl::Status ValidateName(std::string_view field, std::string_view name, size_t max_bytes,
                          EmptyName empty);

// A namespace: 0..kMaxNamespaceBytes bytes (the empty namespace is one of its own), no NUL.
// INVALID_ARGUMENT "namespace is 300 bytes; the limit is 256 bytes", "namespace must not
// contain NUL bytes".
absl::Status ValidateNamespace(std::string_view ns);

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_NAMES_H_
