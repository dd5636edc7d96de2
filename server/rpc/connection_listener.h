// ConnectionListener: the gRPC port's listening sockets, owned by the process rather than by
// gRPC. It accepts each connection itself and hands it to gRPC through gRPC's external-connection
// acceptor (ServerBuilder::experimental().AddExternalConnectionAcceptor), which runs the same TLS
// handshake, HTTP/2 transport and channel arguments as a port gRPC listens on itself. What this
// adds is a cap: gRPC 1.51 has no limit on connections (GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS
// came in a later release), and a few thousand idle connections that never send a call would use
// up the process's file descriptors, leaving LevelDB none for its next file. Past
// `max_connections` a new connection is closed as soon as it is accepted (the client sees
// UNAVAILABLE and retries with backoff), so descriptors stay for the database.
//
// gRPC does not say when it closes a connection. The listener remembers each one it handed over
// as (descriptor, device, inode) and counts it as gone once the descriptor no longer refers to
// that socket (closed, or its number reused for another file). It looks again when the count
// reaches the cap, at most every 100 ms so that a flood of connections costs one pass per 100
// ms, and every 10 s for the gauge.
//
// Binding: every address the host resolves to (127.0.0.1; "localhost" gives 127.0.0.1 and ::1
// where the machine has it; the wildcard 0.0.0.0 or :: is one dual-stack socket when the machine
// has IPv6, as gRPC does), without SO_REUSEPORT, so a second server on the port fails with
// "address in use" instead of sharing the connections.
#ifndef SOCHDB_SERVER_RPC_CONNECTION_LISTENER_H_
#define SOCHDB_SERVER_RPC_CONNECTION_LISTENER_H_

#include <poll.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_builder.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace sochdb::server {

// Counts the connections handed to gRPC and decides whether one more may be admitted. Not
// thread-safe: the accept thread alone uses it.
class ConnectionTracker {
 public:
  // At most `max_connections` open at once; a sweep runs at most every `sweep_interval` when the
  // cap is reached.
  ConnectionTracker(size_t max_connections, absl::Duration sweep_interval);

  // Records `fd` (an accepted socket not yet handed over) if there is room, after a sweep when
  // the cap is reached. False when the cap is reached: the caller closes `fd`.
  bool Admit(int fd, absl::Time now);
  // Forgets connections whose descriptors no longer refer to their sockets.
  void Sweep();
  size_t open() const { return open_.size(); }
  size_t max_connections() const { return max_connections_; }
  // Bytes written to the open connections that their peers have not yet acknowledged (the
  // kernel's send queues): answers still on their way.
  uint64_t UnsentBytes() const;

 private:
  struct Identity {
    dev_t device;
    ino_t inode;
  };
  static bool SameFile(int fd, const Identity& identity);

  const size_t max_connections_;
  const absl::Duration sweep_interval_;
  absl::Time last_sweep_ = absl::InfinitePast();
  absl::flat_hash_map<int, Identity> open_;  // descriptor -> the socket it was
};

struct ConnectionListenerOptions {
  size_t max_connections = 1024;
  // When the cap is reached, how often the open connections may be counted again.
  absl::Duration cap_sweep_interval = absl::Milliseconds(100);
  // How often they are counted anyway, to keep the gauge near the truth.
  absl::Duration idle_sweep_interval = absl::Seconds(10);
  prometheus::Gauge* connections_open = nullptr;       // optional
  prometheus::Counter* connections_refused = nullptr;  // optional
};

// The accept loop's poll(2): the seam through which a test makes it fail.
using PollFunction = int (*)(pollfd* fds, nfds_t count, int timeout_ms);

class ConnectionListener {
 public:
  // Binds and listens on `address` ("host:port", port 0 picks a free one; IPv6 literals in
  // brackets). UNAVAILABLE naming the address and the reason ("address in use", "no such address
  // on this machine", "permission denied", the resolver's error) when it cannot.
  // The accept loop waits with `poll` (::poll but in tests).
  static absl::StatusOr<std::unique_ptr<ConnectionListener>> Bind(
      const std::string& address, ConnectionListenerOptions options, PollFunction poll = ::poll);
  ~ConnectionListener();  // Stop()

  ConnectionListener(const ConnectionListener&) = delete;
  ConnectionListener& operator=(const ConnectionListener&) = delete;

  // The bound port.
  int port() const { return port_; }

  // Accepts on a thread of its own and hands each admitted connection to `acceptor`, which must
  // belong to a started grpc::Server and stay valid until Stop(). Once only.
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  // Stops accepting and closes the listening sockets; connections already handed over stay with
  // gRPC. Call before the gRPC server shuts down (it drops connections handed to it after).
  // Idempotent.
  void Stop();
  // Bytes of answers still in the kernel's send queues of the connections handed over: a
  // finished call's last messages may still be on their way to a slow reader. Only after Stop()
  // (the accept thread has ended), e.g. while the server shuts down.
  uint64_t UnsentBytes() const { return tracker_.UnsentBytes(); }

 private:
  ConnectionListener(std::vector<int> sockets, int port, int wake_fd,
                     ConnectionListenerOptions options, PollFunction poll);
  void AcceptLoop();
  // Accepts every connection waiting on `listener`.
  void AcceptAll(int listener);
  void HandOver(int listener, int fd);
  void Refuse(int fd);
  // poll() failed (not EINTR): logs it, at most every 10 s, and pauses before the next try.
  void PauseAfterPollError(int error);
  // Waits up to `timeout` for Stop(); true when it came.
  bool WaitForStop(absl::Duration timeout) const;
  void UpdateGauge() const;

  const std::vector<int> sockets_;
  const int port_;
  const int wake_fd_;  // an eventfd; Stop() makes it readable
  const ConnectionListenerOptions options_;
  const PollFunction poll_;
  ConnectionTracker tracker_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  absl::Time last_refusal_log_ = absl::InfinitePast();
  absl::Time last_poll_error_log_ = absl::InfinitePast();
  std::atomic<bool> stopping_{false};  // set by Stop() before it wakes the accept thread
  bool stopped_ = false;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_CONNECTION_LISTENER_H_
