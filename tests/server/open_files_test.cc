// The open-file limit the server raises at start and the connection cap it derives from it.
#include "server/open_files.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>

namespace sochdb::server {
namespace {

TEST_CASE("the default connection cap keeps a quarter of the descriptors, 1,088 at least") {
  CHECK(DefaultMaxConnections(1024) == 512);     // half: 1,088 would leave nothing
  CHECK(DefaultMaxConnections(4096) == 3008);    // 4096 - 1088
  CHECK(DefaultMaxConnections(20000) == 15000);  // a quarter
  CHECK(DefaultMaxConnections(1048576) == 786432);
  CHECK(ReservedDescriptors(256) == 128);
}

TEST_CASE("the soft open-file limit is raised to the hard limit") {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 128) return;  // nothing to show
  rlimit lowered = limit;
  lowered.rlim_cur = 64;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  const OpenFileLimit raised = RaiseOpenFileLimit();
  CHECK(raised.before == 64);
  CHECK(raised.now > 64);
  rlimit now{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(now.rlim_cur == raised.now);
  if (limit.rlim_max != RLIM_INFINITY) CHECK(now.rlim_cur == limit.rlim_max);
}

TEST_CASE("an unreadable open-file limit gives a usable connection cap, not zero") {
  // Before: getrlimit failing left the limit 0 and the derived cap 0, so every connection was
  // closed at accept.
  RlimitCalls failing;
  failing.get = [](rlimit*) { return -1; };
  failing.set = [](const rlimit*) { return -1; };
  const OpenFileLimit limit = RaiseOpenFileLimit(failing);
  CHECK_FALSE(limit.known);
  CHECK(limit.now == kAssumedOpenFileLimit);
  CHECK(DefaultMaxConnections(limit.now) == 512);
}

}  // namespace
}  // namespace sochdb::server
