// LogLimit: lets one log line through per interval from one source, and counts the rest, so an
// error a client can repeat at will (re-reading a damaged key) cannot flood the server log. The
// metric that counts the errors still counts every one; the log says how many it left out.
#ifndef SOCHDB_ENGINE_COMMON_LOG_LIMIT_H_
#define SOCHDB_ENGINE_COMMON_LOG_LIMIT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sochdb {

class LogLimit {
 public:
  static constexpr uint64_t kSkip = ~uint64_t{0};

  explicit LogLimit(absl::Duration interval = absl::Seconds(1))
      : interval_ms_(absl::ToInt64Milliseconds(interval)) {}

  // kSkip when a line went out less than the interval ago (this one is counted as left out);
  // otherwise the number left out since the last line that went out (now reset). Thread-safe.
  uint64_t Turn() {
    // Elapsed time, so that the wall clock stepping back cannot silence the log.
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
    int64_t next_ms = next_ms_.load(std::memory_order_relaxed);
    if (now_ms < next_ms || !next_ms_.compare_exchange_strong(next_ms, now_ms + interval_ms_,
                                                              std::memory_order_relaxed)) {
      left_out_.fetch_add(1, std::memory_order_relaxed);
      return kSkip;
    }
    return left_out_.exchange(0, std::memory_order_relaxed);
  }

  // The tail a line that went out appends: empty, or " (N more ... were not logged)".
  static std::string LeftOutNote(uint64_t left_out, const char* what) {
    if (left_out == 0) return std::string();
    return absl::StrCat(" (", left_out, " more ", what,
                        " since the last such line were not logged)");
  }

 private:
  const int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> left_out_{0};
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_LOG_LIMIT_H_
