#include "services/common/status.h"

#include <string>

#include "spdlog/spdlog.h"

namespace sochdb::services {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnknown:
      spdlog::error("unclassified engine error answered as INTERNAL: {}", message);
      return grpc::Status(grpc::StatusCode::INTERNAL, message);
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
      spdlog::error("engine error: {}: {}", absl::StatusCodeToString(status.code()), message);
      break;
    default:
      break;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace sochdb::services
