// The one translation from engine errors (absl::Status) to the wire (grpc::Status). The absl
// codes equal the gRPC codes, so the code passes through; the only rewrite is for errors the
// engine could not classify (UNKNOWN), which become INTERNAL with a log line, never a silent OK.
// It lives in the call layer, below the services: the call layer answers with it (a refused
// credential or namespace) and every handler returns through it, so both layers depend down.
#ifndef SOCHDB_SERVER_RPC_STATUS_H_
#define SOCHDB_SERVER_RPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace sochdb::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// The other way, for a status of the call layer that an engine callback must return (a
// query's StopCheck answering with the call's DEADLINE_EXCEEDED): code and message kept.
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_STATUS_H_
