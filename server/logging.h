// Process logging: spdlog's default logger, writing to stderr as text or as one JSON object per
// line (for log collectors). Everything in the process logs through spdlog::info/warn/...
#ifndef SOCHDB_SERVER_LOGGING_H_
#define SOCHDB_SERVER_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace sochdb::server {

// `level`: trace|debug|info|warn|error|critical|off; `format`: text|json.
absl::Status SetupLogging(const std::string& level, const std::string& format);

// `text` escaped as the body of a JSON string (quotes, backslashes, control characters; bytes
// that are not UTF-8 become U+FFFD).
std::string JsonEscape(std::string_view text);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_LOGGING_H_
