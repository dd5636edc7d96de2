// ToGrpcStatus: engine codes reach clients unchanged (UNKNOWN as INTERNAL), ToAbslStatus the
// other way, and the server-side log line for INTERNAL / DATA_LOSS cannot be flooded by a client
// repeating a failing call.
#include "server/rpc/status.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/status/status.h"
#include "tests/common/log_capture.h"

namespace sochdb::server {
namespace {

using sochdb::testing::LogCapture;
using sochdb::testing::Occurrences;

TEST_CASE("engine codes map to gRPC codes with the message unchanged", "[status]") {
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
  const grpc::Status not_found = ToGrpcStatus(absl::NotFoundError("index \"a\" does not exist"));
  CHECK(not_found.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(not_found.error_message() == "index \"a\" does not exist");
  CHECK(ToGrpcStatus(absl::UnknownError("x")).error_code() == grpc::StatusCode::INTERNAL);
}

TEST_CASE("a call-layer status reaches an engine callback with its code and message", "[status]") {
  CHECK(ToAbslStatus(grpc::Status::OK).ok());
  const absl::Status late =
      ToAbslStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded"));
  CHECK(late.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(late.message() == "deadline exceeded");
  CHECK(ToGrpcStatus(late).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_CASE("a repeated DATA_LOSS answer is logged at most once a second", "[status]") {
  LogCapture log;
  constexpr int kCalls = 1000;
  for (int i = 0; i < kCalls; ++i) {
    const grpc::Status status =
        ToGrpcStatus(absl::DataLossError("stored data is damaged (reading key \"k\")"));
    REQUIRE(status.error_code() == grpc::StatusCode::DATA_LOSS);  // every answer is still given
  }
  const size_t lines = Occurrences(log.text(), "stored data is damaged");
  INFO(lines << " log lines");
  CHECK(lines >= 1);
  // One line a second at most (a slow machine may straddle a few seconds). Before: 1,000 lines.
  CHECK(lines <= 10);
}

}  // namespace
}  // namespace sochdb::server
