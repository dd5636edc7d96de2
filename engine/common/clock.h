// The engine's source of wall-clock time. Everything that stamps or expires data (KV TTL,
// creation times) reads time through a Clock so tests can move time by hand.
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

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_CLOCK_H_
