// The Prometheus endpoint of the real binary under the conditions an operator meets: an IPv6
// --metrics-host, a metrics port some other process holds, and clients that connect to the
// port and send nothing (issue 15 adversary findings F7, F8).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/server_process.h"

namespace sochdb::testing {
namespace {

// Whether this machine can listen on and reach ::1 (containers often have no IPv6 at all).
bool Ipv6LoopbackAvailable() {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return bound;
}

// A socket listening on 127.0.0.1 at a free port, standing for another process on the port.
int ListenOnFreePort(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST_CASE("an IPv6 --metrics-host serves /metrics over IPv6, or is refused saying why") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("skipped: this machine has no IPv6 loopback (::1) to listen on");
    return;
  }
  for (const std::string host : {"::", "::1"}) {
    INFO("--metrics-host " << host);
    ServerProcessOptions options;
    options.metrics = true;
    options.args = {"--metrics-host", host};
    ServerProcess server(options);
    std::string error;
    if (server.Start(&error)) {
      // An HTTP server built with IPv6 (civetweb with USE_IPV6).
      const std::string body = HttpGet(server.metrics_port(), "/metrics", "::1").value_or("");
      CHECK(body.find("sochdb_build_info") != std::string::npos);
      continue;
    }
    // Debian's civetweb has no IPv6: a setting it cannot serve, refused like any bad setting
    // (exit 2, before the database opens), not civetweb's "null context" failure (exit 1).
    WARN("the metrics HTTP server has no IPv6 here; checked the refusal instead");
    INFO(error);
    CHECK(server.start_exit_code() == 2);
    CHECK(error.find(absl::StrCat("--metrics-host ", host, " is an IPv6 address")) !=
          std::string::npos);
    CHECK(error.find("give an IPv4 address") != std::string::npos);
    CHECK(error.find("database open") == std::string::npos);
    CHECK(error.find("null context") == std::string::npos);
  }
}

TEST_CASE("a metrics port in use stops start-up with 'address in use', naming the port") {
  int port = 0;
  const int holder = ListenOnFreePort(&port);
  REQUIRE(holder >= 0);
  std::string output;
  const int code = ServerProcess::RunToExit({"--port", "0", "--metrics-port", std::to_string(port),
                                             "--data-dir", NewTempDir("metrics-in-use") + "/data"},
                                            &output);
  close(holder);
  INFO(output);
  CHECK(code != 0);
  CHECK(code != -1);  // it exited, rather than hanging until the timeout
  CHECK(output.find(absl::StrCat("address in use: another process listens on port ", port,
                                 " (--metrics-port ", port, ")")) != std::string::npos);
  CHECK(output.find("null context") == std::string::npos);
}

TEST_CASE("clients that connect to the metrics port and send nothing do not hold a scrape back") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  std::string error;
  INFO(error);
  REQUIRE(server.Start(&error));
  // prometheus-cpp's default Exposer had 2 worker threads, each held by such a client for
  // civetweb's 30 s request timeout: 8 of them kept a scrape waiting 4 x 30 s.
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(OpenTcpConnection(server.metrics_port()));
    REQUIRE(idle.back() >= 0);
  }
  const absl::Time start = absl::Now();
  const std::optional<std::string> body = HttpGet(server.metrics_port(), "/metrics");
  const absl::Duration took = absl::Now() - start;
  for (int fd : idle) close(fd);
  INFO("the scrape took " << absl::FormatDuration(took));
  REQUIRE(body.has_value());  // none when no answer came within HttpGet's 10 s
  CHECK(body->find("sochdb_build_info") != std::string::npos);
  CHECK(took < absl::Seconds(10));
}

}  // namespace
}  // namespace sochdb::testing
