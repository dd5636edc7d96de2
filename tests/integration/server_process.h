// ServerProcess: runs the real sochdb-grpc binary for integration tests, the way an operator
// would: its own process, a free port (--port 0 + --port-file), a temporary data directory, its
// log captured to a file. Tests stop it with SIGTERM, kill it with SIGKILL, and restart it on the
// same data directory.
#ifndef SOCHDB_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define SOCHDB_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace sochdb::testing {

// A new empty directory under $TEST_TMPDIR (or /tmp).
std::string NewTempDir(const std::string& name);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeTcpPort();

// The body of GET http://<host>:<port><path> (host an IPv4 or IPv6 literal, the latter without
// brackets), or std::nullopt when it fails or a read of the answer waits over 10 s.
std::optional<std::string> HttpGet(int port, const std::string& path,
                                   const std::string& host = "127.0.0.1");

class ServerProcess;
// The value of an unlabelled metric of `server` (started with metrics on), or -1 when it is
// absent.
double Metric(const ServerProcess& server, const std::string& name);

// Path of the built sochdb-grpc binary (from the test's runfiles).
std::string ServerBinary();

struct ServerProcessOptions {
  std::string data_dir;                       // empty: a fresh temporary directory
  std::vector<std::string> args;              // extra flags
  std::map<std::string, std::string> env;     // extra environment variables
  bool metrics = false;                       // pick a free metrics port (else --metrics-port 0)
  int open_files = 0;  // > 0: the server's RLIMIT_NOFILE, soft and hard (as `ulimit -n`)
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerProcessOptions options);
  ~ServerProcess();  // SIGKILL if still running

  // Starts the binary and waits (up to `timeout`) until it serves. False with the reason (and
  // the server's log) in `*error` when it exits or does not come up.
  bool Start(std::string* error, absl::Duration timeout = absl::Seconds(30));
  // Runs the binary to completion with `args` and returns its exit code (for refusals).
  static int RunToExit(const std::vector<std::string>& args, std::string* output,
                       absl::Duration timeout = absl::Seconds(30));

  // Sends `signal` and waits for the exit; returns the exit code, 128+signal when killed by a
  // signal, or -1 on timeout (then SIGKILLs).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));
  // SIGKILL, no grace. Returns once the process is gone.
  void Kill9();
  bool running() const { return pid_ > 0; }
  // When Start saw the process exit during start-up: its exit code (128+signal when killed).
  std::optional<int> start_exit_code() const { return start_exit_code_; }

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const;
  const std::string& data_dir() const { return options_.data_dir; }
  std::string log() const;  // everything the server wrote to stderr/stdout so far
  std::shared_ptr<grpc::Channel> Channel() const;

 private:
  ServerProcessOptions options_;
  std::string work_dir_;
  std::string port_file_;
  std::string log_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::optional<int> start_exit_code_;
};

// A TCP connection to 127.0.0.1:<port> on which nothing has been sent; the socket, or -1.
int OpenTcpConnection(int port);

// A client that opens an HTTP/2 connection to 127.0.0.1:<port> (the preface and an empty
// SETTINGS frame, as every gRPC client sends first) and then sends nothing: no call, no key.
// Returns the socket, or -1.
int OpenIdleHttp2Connection(int port);
// A slow client (slowloris): an HTTP/2 connection as above that then opens a call to `path`
// ("/sochdb.v1.KvService/Get") — a HEADERS frame without END_STREAM — and never sends its
// request message. Returns the socket, or -1.
int OpenStalledHttp2Call(int port, const std::string& path);
// Reads and discards what the server sends on `fd` until it closes the connection (true) or
// `timeout` passes (false). Does not close `fd`.
bool WaitForServerClose(int fd, absl::Duration timeout);
// Raises this process's soft open-file limit to at least `wanted` (within the hard limit);
// false when the hard limit is lower.
bool RaiseOwnOpenFileLimit(int wanted);

// A ClientContext with a deadline, and optionally an API key as a Bearer token.
std::unique_ptr<grpc::ClientContext> MakeContext(const std::string& api_key = "",
                                                 absl::Duration deadline = absl::Seconds(20));

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_INTEGRATION_SERVER_PROCESS_H_
