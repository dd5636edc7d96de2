// The one translation from engine errors (absl::Status) to the wire (grpc::Status). The absl
// codes equal the gRPC codes, so the code passes through; the only rewrite is for errors the
// engine could not classify (UNKNOWN), which become INTERNAL with a log line, never a silent OK.
#ifndef SOCHDB_SERVICES_COMMON_STATUS_H_
#define SOCHDB_SERVICES_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace sochdb::services {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_COMMON_STATUS_H_
