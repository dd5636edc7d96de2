// RunServer: the life of the sochdb-grpc process once its configuration is known: checks the
// security settings, opens the engine, starts metrics and the gRPC server, serves until SIGTERM
// or SIGINT (SIGHUP reloads the API key file), then shuts down gracefully: stop accepting, let
// calls in flight finish within the grace period, flush and close storage, exit 0.
#ifndef SOCHDB_SERVER_SERVER_MAIN_H_
#define SOCHDB_SERVER_SERVER_MAIN_H_

#include "server/config.h"

namespace sochdb::server {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread; call before any thread is created so
// every thread inherits the mask and the signals are taken by RunServer's sigwait alone.
void BlockShutdownSignals();

// Returns the process exit code: 0 after a clean shutdown, 1 when start-up failed, 2 for a
// configuration the server refuses (e.g. a remote host without keys).
int RunServer(const ServerConfig& config);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_SERVER_MAIN_H_
