// LogCapture: collects what spdlog's default logger writes while it lives (debug level and up),
// for tests that check what the server logs and how often.
#ifndef SOCHDB_TESTS_COMMON_LOG_CAPTURE_H_
#define SOCHDB_TESTS_COMMON_LOG_CAPTURE_H_

#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace sochdb::testing {

class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    auto logger = std::make_shared<spdlog::logger>("capture", std::move(sink));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(std::move(logger));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

// How many times `needle` occurs in `text` (overlapping occurrences count).
inline size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_COMMON_LOG_CAPTURE_H_
