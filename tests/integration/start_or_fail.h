// Starts a ServerProcess inside a Catch2 test, failing the test with the server's reason (and
// log) when it does not come up.
#ifndef SOCHDB_TESTS_INTEGRATION_START_OR_FAIL_H_
#define SOCHDB_TESTS_INTEGRATION_START_OR_FAIL_H_

#include <catch2/catch.hpp>
#include <string>

#include "tests/integration/server_process.h"

namespace sochdb::testing {

inline void StartOrFail(ServerProcess& server) {
  std::string error;
  const bool started = server.Start(&error);
  INFO(error);  // after Start: INFO takes its text when it is written
  REQUIRE(started);
}

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_INTEGRATION_START_OR_FAIL_H_
