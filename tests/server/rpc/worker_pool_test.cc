// WorkerPool's lanes, by order of events (never by timing): with the long lane full of blocked
// tasks, short work still finds a worker and finishes first; long work beyond the lane waits for
// a long task to end, not for a free worker; a drain runs everything queued.
#include "server/rpc/worker_pool.h"

#include <atomic>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/synchronization/notification.h"
#include "tests/common/wait_until.h"

namespace sochdb::server {
namespace {

using Lane = WorkerPool::Lane;
using testing::WaitUntil;

TEST_CASE("short work is never queued behind a full long lane") {
  WorkerPool pool(4, 100);
  REQUIRE(pool.long_limit() == 3);  // one of four workers is kept for short work
  absl::Notification release;
  std::atomic<int> long_done{0};
  // Five blocked long tasks (slow searches): three run, two wait for the lane.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(pool.TrySubmit(
        [&] {
          release.WaitForNotification();
          ++long_done;
        },
        Lane::kLong));
  }
  REQUIRE(WaitUntil([&] { return pool.running_long() == 3; }));
  // Before the lanes (long_limit = threads): the fourth worker took a fourth search, and this
  // Put waited until one of them ended.
  absl::Notification short_done;
  std::atomic<int> long_done_when_short_ran{-1};
  REQUIRE(pool.TrySubmit([&] {
    long_done_when_short_ran = long_done.load();
    short_done.Notify();
  }));
  REQUIRE(short_done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  CHECK(long_done_when_short_ran == 0);
  CHECK(pool.running_long() == 3);  // the free worker did not take a queued long task
  CHECK(pool.queued() == 2);
  release.Notify();
  pool.Drain();
  CHECK(long_done == 5);
}

TEST_CASE("a pool of one worker runs long work too") {
  WorkerPool pool(1, 10);
  CHECK(pool.long_limit() == 1);
  std::atomic<int> done{0};
  REQUIRE(pool.TrySubmit([&] { ++done; }, Lane::kLong));
  REQUIRE(pool.TrySubmit([&] { ++done; }));
  pool.Drain();
  CHECK(done == 2);
}

TEST_CASE("the queue bound counts both lanes") {
  WorkerPool pool(2, 2);
  absl::Notification release;
  std::atomic<int> done{0};
  auto blocked = [&] {
    release.WaitForNotification();
    ++done;
  };
  REQUIRE(pool.TrySubmit(blocked));  // both workers busy
  REQUIRE(pool.TrySubmit(blocked));
  REQUIRE(WaitUntil([&] { return pool.queued() == 0; }));
  REQUIRE(pool.TrySubmit(blocked, Lane::kLong));
  REQUIRE(pool.TrySubmit(blocked));
  CHECK_FALSE(pool.TrySubmit(blocked, Lane::kLong));
  CHECK_FALSE(pool.TrySubmit(blocked));
  release.Notify();
  pool.Drain();
  CHECK(done == 4);
}

}  // namespace
}  // namespace sochdb::server
