#include "server/rpc/status.h"

#include <string>

#include "engine/common/log_limit.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {

namespace {

// A client can repeat a call that fails this way at will (re-reading a damaged key), so these
// lines are limited to one a second for each kind (damage cannot hide an internal error); the
// storage layer has logged the detail already.
void LogEngineError(const absl::Status& status) {
  static LogLimit data_loss_limit;
  static LogLimit internal_limit;
  LogLimit& limit = status.code() == absl::StatusCode::kDataLoss ? data_loss_limit : internal_limit;
  const uint64_t left_out = limit.Turn();
  if (left_out == LogLimit::kSkip) return;
  spdlog::error("engine error answered as {}: {}{}",
                status.code() == absl::StatusCode::kUnknown
                    ? "INTERNAL (unclassified)"
                    : absl::StatusCodeToString(status.code()),
                std::string(status.message()), LogLimit::LeftOutNote(left_out, "engine errors"));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnknown:
      LogEngineError(status);
      return grpc::Status(grpc::StatusCode::INTERNAL, message);
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
      LogEngineError(status);
      break;
    default:
      break;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace sochdb::server
