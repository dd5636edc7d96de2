#include "engine/common/clock.h"

#include <chrono>
#include <thread>

namespace sochdb {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class RealSteadyClock final : public SteadyClock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void SleepNanos(int64_t nanos) const override {
    std::this_thread::sleep_for(std::chrono::nanoseconds(nanos));
  }
};

}  // namespace

const Clock* Clock::Real() {
  static const RealClock* const clock = new RealClock();
  return clock;
}

const SteadyClock* SteadyClock::Real() {
  static const RealSteadyClock* const clock = new RealSteadyClock();
  return clock;
}

}  // namespace sochdb
