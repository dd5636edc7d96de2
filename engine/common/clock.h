// The engine's sources of time. Everything that stamps or expires data (KV TTL, creation times)
// reads wall-clock time through a Clock; what measures how long something took (a vector
// writer's hold of its index, the turn it leaves searches) reads a SteadyClock. Tests move
// either by hand.
#ifndef SOCHDB_ENGINE_COMMON_CLOCK_H_
#define SOCHDB_ENGINE_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace sochdb {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }

  // The process-wide real clock (never null, never destroyed).
  static const Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  void AdvanceMicros(int64_t delta) { now_.fetch_add(delta, std::memory_order_relaxed); }
  void AdvanceSeconds(int64_t seconds) { AdvanceMicros(seconds * 1'000'000); }

 private:
  std::atomic<int64_t> now_;
};

// Elapsed time: a steady clock, unaffected by changes to the wall clock. Thread-safe.
class SteadyClock {
 public:
  virtual ~SteadyClock() = default;
  // Nanoseconds since an arbitrary fixed point.
  virtual int64_t NowNanos() const = 0;
  // Lets about `nanos` of this clock's time pass (the real clock sleeps).
  virtual void SleepNanos(int64_t nanos) const = 0;

  // The process-wide real steady clock (never null, never destroyed).
  static const SteadyClock* Real();
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_CLOCK_H_
