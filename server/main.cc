// sochdb-grpc: entry point. Parses flags, environment and config file, then runs the server.
#include <string>
#include <vector>

#include "server/config.h"
#include "server/server_main.h"

int main(int argc, char** argv) {
  // Before any thread exists, so only the signal-waiting thread ever receives these.
  sochdb::server::BlockShutdownSignals();
  const std::vector<std::string> args(argv + 1, argv + argc);
  sochdb::server::ConfigResult parsed =
      sochdb::server::ParseServerConfig(args, sochdb::server::ProcessEnvironment());
  if (parsed.exit_code.has_value()) return *parsed.exit_code;
  return sochdb::server::RunServer(parsed.config);
}
