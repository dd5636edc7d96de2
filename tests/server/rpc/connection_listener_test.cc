// Tests of ConnectionListener's parts: the tracker that counts the connections handed to gRPC
// (closed ones found by their descriptors, numbers reused for other files told apart), and
// binding (a port in use and an unknown host are named as such).
#include "server/rpc/connection_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "tests/common/wait_until.h"

namespace sochdb::server {
namespace {

// A connected pair of sockets; `first` stands for an accepted connection.
std::pair<int, int> SocketPair() {
  int fds[2] = {-1, -1};
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  return {fds[0], fds[1]};
}

TEST_CASE("the tracker admits up to its cap and counts a closed connection as gone") {
  ConnectionTracker tracker(2, absl::ZeroDuration());
  const auto [a, a_peer] = SocketPair();
  const auto [b, b_peer] = SocketPair();
  const auto [c, c_peer] = SocketPair();
  CHECK(tracker.Admit(a, absl::Now()));
  CHECK(tracker.Admit(b, absl::Now()));
  CHECK_FALSE(tracker.Admit(c, absl::Now()));
  CHECK(tracker.open() == 2);
  close(b);  // gRPC closed that connection
  CHECK(tracker.Admit(c, absl::Now()));
  CHECK(tracker.open() == 2);
  for (int fd : {a, c, a_peer, b_peer, c_peer}) close(fd);
}

TEST_CASE("a closed connection's descriptor number reused for a file is not a connection") {
  ConnectionTracker tracker(1, absl::ZeroDuration());
  const auto [a, a_peer] = SocketPair();
  REQUIRE(tracker.Admit(a, absl::Now()));
  close(a);
  // The lowest free number: the one `a` had, now a file (as when LevelDB opens a table).
  const int file = open("/dev/null", O_RDONLY);
  REQUIRE(file == a);
  tracker.Sweep();
  CHECK(tracker.open() == 0);
  close(file);
  close(a_peer);
}

TEST_CASE("at the cap, closed connections are looked for at most once per interval") {
  ConnectionTracker tracker(1, absl::Seconds(10));
  const auto [a, a_peer] = SocketPair();
  const auto [b, b_peer] = SocketPair();
  const absl::Time start = absl::Now();
  REQUIRE(tracker.Admit(a, start));
  close(a);
  CHECK(tracker.Admit(b, start));  // first time at the cap: it looks, and finds `a` gone
  const auto [c, c_peer] = SocketPair();
  close(b);
  CHECK_FALSE(tracker.Admit(c, start + absl::Seconds(1)));  // too soon to look again
  CHECK(tracker.Admit(c, start + absl::Seconds(11)));
  for (int fd : {c, a_peer, b_peer, c_peer}) close(fd);
}

TEST_CASE("binding: a free port, a port in use, an unknown host") {
  absl::StatusOr<std::unique_ptr<ConnectionListener>> first =
      ConnectionListener::Bind("127.0.0.1:0", {});
  REQUIRE(first.ok());
  const int port = (*first)->port();
  CHECK(port > 0);
  absl::StatusOr<std::unique_ptr<ConnectionListener>> second =
      ConnectionListener::Bind("127.0.0.1:" + std::to_string(port), {});
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
  CHECK(second.status().message().find("address in use") != std::string::npos);
  absl::StatusOr<std::unique_ptr<ConnectionListener>> unknown =
      ConnectionListener::Bind("no-such-host.invalid:0", {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("cannot resolve host") != std::string::npos);
  (*first)->Stop();  // before Start too
  absl::StatusOr<std::unique_ptr<ConnectionListener>> again =
      ConnectionListener::Bind("127.0.0.1:" + std::to_string(port), {});
  CHECK(again.ok());
}

// Stands for gRPC: counts the connections handed over and closes them.
class CountingAcceptor final : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  explicit CountingAcceptor(std::atomic<int>* count) : count_(count) {}
  void HandleNewConnection(NewConnectionParameters* connection) override {
    close(connection->fd);
    ++*count_;
  }

 private:
  std::atomic<int>* const count_;
};

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

std::atomic<int> poll_failures_left{0};

int PollFailingAtFirst(pollfd* fds, nfds_t count, int timeout_ms) {
  if (poll_failures_left.fetch_sub(1) > 0) {
    errno = ENOMEM;
    return -1;
  }
  return ::poll(fds, count, timeout_ms);
}

TEST_CASE("a failing poll() is retried: the listener goes on accepting") {
  // Before: the accept thread logged the first failure and ended; the port stayed open and
  // every later connection waited in the listen queue forever.
  poll_failures_left = 3;
  absl::StatusOr<std::unique_ptr<ConnectionListener>> listener =
      ConnectionListener::Bind("127.0.0.1:0", {}, PollFailingAtFirst);
  REQUIRE(listener.ok());
  std::atomic<int> handed_over{0};
  (*listener)->Start(std::make_unique<CountingAcceptor>(&handed_over));
  REQUIRE(testing::WaitUntil([] { return poll_failures_left.load() < 0; }));
  const int client = ConnectTo((*listener)->port());
  CHECK(testing::WaitUntil([&] { return handed_over.load() == 1; }));
  (*listener)->Stop();
  close(client);
}

}  // namespace
}  // namespace sochdb::server
