// Catch2 assertions for absl::Status / absl::StatusOr shared by every engine test: the status
// text is printed when an assertion fails, so a failure says why.
#ifndef SOCHDB_TESTS_COMMON_STATUS_TESTING_H_
#define SOCHDB_TESTS_COMMON_STATUS_TESTING_H_

#include <catch2/catch.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define REQUIRE_OK(expr)                 \
  do {                                   \
    const absl::Status status_ = (expr); \
    INFO(status_.ToString());            \
    REQUIRE(status_.ok());               \
  } while (false)

namespace sochdb::testing {

// The value of `value`, failing the test (with the status text) when it holds an error.
template <typename T>
T ValueOrFail(absl::StatusOr<T> value) {
  INFO(value.status().ToString());
  REQUIRE(value.ok());
  return std::move(value).value();
}

// Asserts `status` has `code` and exactly the message `text`.
inline void RequireError(const absl::Status& status, absl::StatusCode code,
                         const std::string& text) {
  INFO(status.ToString() << " (expected: " << text << ")");
  REQUIRE(status.code() == code);
  REQUIRE(std::string(status.message()) == text);
}

// Asserts `status` has `code` and that its message contains `text`.
inline void RequireErrorContaining(const absl::Status& status, absl::StatusCode code,
                                   const std::string& text) {
  INFO(status.ToString() << " (expected text: " << text << ")");
  REQUIRE(status.code() == code);
  REQUIRE(std::string(status.message()).find(text) != std::string::npos);
}

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_COMMON_STATUS_TESTING_H_
