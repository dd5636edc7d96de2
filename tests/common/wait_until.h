// Waiting in a test for an event another thread causes (a writer queued, a fault latched, a
// background sync done). Tests assert the order of events, never how long something took (CI
// machines are shared and slow): the guard only turns a hang into a failure.
#ifndef SOCHDB_TESTS_COMMON_WAIT_UNTIL_H_
#define SOCHDB_TESTS_COMMON_WAIT_UNTIL_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sochdb::testing {

// Polls `condition` (every millisecond) until it holds: true; false when `guard` runs out first.
inline bool WaitUntil(const std::function<bool()>& condition,
                      absl::Duration guard = absl::Seconds(20)) {
  const absl::Time give_up = absl::Now() + guard;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_COMMON_WAIT_UNTIL_H_
