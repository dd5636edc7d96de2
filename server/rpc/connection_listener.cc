#include "server/rpc/connection_listener.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {
namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

absl::StatusOr<HostPort> SplitHostPort(const std::string& address) {
  HostPort parsed;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"", address, "\""));
    }
    parsed.host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" has no port"));
    }
    parsed.host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (!absl::SimpleAtoi(port, &parsed.port) || parsed.port < 0 || parsed.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in address \"", address, "\""));
  }
  return parsed;
}

std::string Reason(int error) {
  switch (error) {
    case EADDRINUSE:
      return "address in use (is another server listening on this port?)";
    case EADDRNOTAVAIL:
      return "no such address on this machine";
    case EACCES:
      return "permission denied (ports below 1024 need privileges)";
    default:
      return std::strerror(error);
  }
}

// The kernel's cap on a listen queue, as gRPC uses it.
int ListenBacklog() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int backlog = 0;
  if (in >> backlog && backlog > 0) return backlog;
  return SOMAXCONN;
}

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool dual_stack = false;  // an IPv6 wildcard that also takes IPv4 connections

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  void set_port(int port) {
    if (storage.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<uint16_t>(port));
    } else {
      reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(static_cast<uint16_t>(port));
    }
  }
};

SocketAddress Wildcard(int family) {
  SocketAddress address;
  address.storage.ss_family = static_cast<sa_family_t>(family);
  if (family == AF_INET) {
    address.length = sizeof(sockaddr_in);
    reinterpret_cast<sockaddr_in*>(&address.storage)->sin_addr.s_addr = htonl(INADDR_ANY);
  } else {
    address.length = sizeof(sockaddr_in6);
    reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_addr = in6addr_any;
    address.dual_stack = true;
  }
  return address;
}

absl::StatusOr<std::vector<SocketAddress>> Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), nullptr, &hints, &found); error != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve host \"", host, "\": ", gai_strerror(error)));
  }
  std::vector<SocketAddress> addresses;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    SocketAddress address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    bool seen = false;
    for (const SocketAddress& other : addresses) {
      seen = seen || (other.length == address.length &&
                      std::memcmp(&other.storage, &address.storage, address.length) == 0);
    }
    if (!seen) addresses.push_back(address);
  }
  freeaddrinfo(found);
  return addresses;
}

// A listening socket on `address`, or -1 with the error in `*error`.
int Listen(const SocketAddress& address, int* error) {
  const int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return -1;
  }
  const int on = 1;
  // Lets a restarted server bind while its old connections linger in TIME_WAIT. Unlike
  // SO_REUSEPORT (never set) it does not let a second listener bind the port.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (address.storage.ss_family == AF_INET6) {
    const int v6_only = address.dual_stack ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6_only, sizeof(v6_only));
  }
  if (bind(fd, address.get(), address.length) != 0 || listen(fd, ListenBacklog()) != 0) {
    *error = errno;
    close(fd);
    return -1;
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
}

bool IsWildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

// Binds every address of `host`. An address of a family the machine lacks ("localhost" gives
// ::1 on a host without IPv6) is skipped while another one binds; any other failure fails all.
absl::StatusOr<std::vector<int>> BindAll(const std::string& address, const HostPort& target) {
  std::vector<SocketAddress> addresses;
  if (IsWildcard(target.host)) {
    addresses = {Wildcard(AF_INET6), Wildcard(AF_INET)};  // the second only if the first fails
  } else {
    absl::StatusOr<std::vector<SocketAddress>> resolved = Resolve(target.host);
    if (!resolved.ok()) return resolved.status();
    addresses = *std::move(resolved);
  }
  std::vector<int> sockets;
  int port = target.port;
  int last_error = EADDRNOTAVAIL;
  for (SocketAddress& a : addresses) {
    if (IsWildcard(target.host) && !sockets.empty()) break;
    a.set_port(port);
    int error = 0;
    const int fd = Listen(a, &error);
    if (fd < 0) {
      last_error = error;
      if (error == EAFNOSUPPORT || error == EADDRNOTAVAIL) continue;
      for (int s : sockets) close(s);
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", address, ": ", Reason(error)));
    }
    if (port == 0) port = BoundPort(fd);
    sockets.push_back(fd);
  }
  if (sockets.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", Reason(last_error)));
  }
  return sockets;
}

}  // namespace

ConnectionTracker::ConnectionTracker(size_t max_connections, absl::Duration sweep_interval)
    : max_connections_(max_connections), sweep_interval_(sweep_interval) {}

bool ConnectionTracker::SameFile(int fd, const Identity& identity) {
  struct stat now {};
  return fstat(fd, &now) == 0 && S_ISSOCK(now.st_mode) && now.st_dev == identity.device &&
         now.st_ino == identity.inode;
}

bool ConnectionTracker::Admit(int fd, absl::Time now) {
  // The kernel gave `fd` this number, so whatever the number stood for before is closed.
  open_.erase(fd);
  if (open_.size() >= max_connections_ && now - last_sweep_ >= sweep_interval_) {
    Sweep();
    last_sweep_ = now;
  }
  if (open_.size() >= max_connections_) return false;
  struct stat info {};
  if (fstat(fd, &info) != 0) return false;
  open_[fd] = Identity{info.st_dev, info.st_ino};
  return true;
}

uint64_t ConnectionTracker::UnsentBytes() const {
  uint64_t unsent = 0;
  for (const auto& [fd, identity] : open_) {
    int queued = 0;
    if (SameFile(fd, identity) && ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0) {
      unsent += static_cast<uint64_t>(queued);
    }
  }
  return unsent;
}

void ConnectionTracker::Sweep() {
  for (auto it = open_.begin(); it != open_.end();) {
    if (SameFile(it->first, it->second)) {
      ++it;
    } else {
      open_.erase(it++);
    }
  }
}

absl::StatusOr<std::unique_ptr<ConnectionListener>> ConnectionListener::Bind(
    const std::string& address, ConnectionListenerOptions options, PollFunction poll) {
  absl::StatusOr<HostPort> target = SplitHostPort(address);
  if (!target.ok()) return absl::UnavailableError(target.status().message());
  absl::StatusOr<std::vector<int>> sockets = BindAll(address, *target);
  if (!sockets.ok()) return sockets.status();
  const int port = BoundPort(sockets->front());
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    const int error = errno;
    for (int s : *sockets) close(s);
    return absl::UnavailableError(absl::StrCat("eventfd: ", std::strerror(error)));
  }
  return std::unique_ptr<ConnectionListener>(
      new ConnectionListener(*std::move(sockets), port, wake_fd, options, poll));
}

ConnectionListener::ConnectionListener(std::vector<int> sockets, int port, int wake_fd,
                                       ConnectionListenerOptions options, PollFunction poll)
    : sockets_(std::move(sockets)),
      port_(port),
      wake_fd_(wake_fd),
      options_(options),
      poll_(poll),
      tracker_(options.max_connections, options.cap_sweep_interval) {}

ConnectionListener::~ConnectionListener() { Stop(); }

void ConnectionListener::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { AcceptLoop(); });
}

void ConnectionListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) != sizeof(one)) {
    spdlog::error("cannot wake the accept thread: {}", std::strerror(errno));
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : sockets_) close(fd);
  close(wake_fd_);
}

void ConnectionListener::AcceptLoop() {
  std::vector<pollfd> fds;
  for (int fd : sockets_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_fd_, POLLIN, 0});
  absl::Time next_sweep = absl::Now() + options_.idle_sweep_interval;
  for (;;) {
    const int timeout_ms = tracker_.open() == 0
                               ? -1
                               : static_cast<int>(std::max<int64_t>(
                                     0, absl::ToInt64Milliseconds(next_sweep - absl::Now()) + 1));
    const int ready = poll_(fds.data(), fds.size(), timeout_ms);
    if (stopping_.load(std::memory_order_acquire)) return;
    if (ready < 0) {
      // Transient (ENOMEM): ending the thread would leave the port open but never accepted.
      if (errno != EINTR) PauseAfterPollError(errno);
      continue;
    }
    if (fds.back().revents != 0) return;  // Stop()
    if (absl::Now() >= next_sweep) {
      tracker_.Sweep();
      UpdateGauge();
      next_sweep = absl::Now() + options_.idle_sweep_interval;
    }
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents != 0) AcceptAll(fds[i].fd);
    }
  }
}

void ConnectionListener::AcceptAll(int listener) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (tracker_.Admit(fd, absl::Now())) {
        HandOver(listener, fd);
      } else {
        Refuse(fd);
      }
      UpdateGauge();
      continue;
    }
    const int error = errno;
    if (error == EINTR || error == ECONNABORTED) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    // Out of descriptors or memory: the connection waits in the listen queue; so does the loop,
    // rather than spin on a queue that stays readable.
    spdlog::error("cannot accept a connection: {}; retrying in 1 s", std::strerror(error));
    WaitForStop(absl::Seconds(1));
    return;
  }
}

void ConnectionListener::HandOver(int listener, int fd) {
  const int on = 1;
  // As on gRPC's own listener: small messages (most answers) go out without Nagle's delay.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters connection;
  connection.listener_fd = listener;
  connection.fd = fd;
  acceptor_->HandleNewConnection(&connection);  // gRPC owns `fd` from here
}

void ConnectionListener::Refuse(int fd) {
  // Counted before the client can see the close, so whoever saw a refusal finds it counted.
  if (options_.connections_refused != nullptr) options_.connections_refused->Increment();
  close(fd);
  const absl::Time now = absl::Now();
  if (now - last_refusal_log_ >= absl::Seconds(10)) {
    last_refusal_log_ = now;
    spdlog::warn(
        "refusing connections: {} open, the limit is {} (--max-connections); idle ones close "
        "after --max-connection-idle-s, any after --max-connection-age-s plus --max-call-s",
        tracker_.open(), tracker_.max_connections());
  }
}

void ConnectionListener::PauseAfterPollError(int error) {
  const absl::Time now = absl::Now();
  if (now - last_poll_error_log_ >= absl::Seconds(10)) {
    last_poll_error_log_ = now;
    spdlog::error("accept loop: poll failed: {}; retrying every 100 ms", std::strerror(error));
  }
  WaitForStop(absl::Milliseconds(100));
}

bool ConnectionListener::WaitForStop(absl::Duration timeout) const {
  pollfd wake{wake_fd_, POLLIN, 0};
  const int ready = ::poll(&wake, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  // Should this poll fail too, sleep anyway: the callers retry, and must not spin.
  if (ready < 0) std::this_thread::sleep_for(absl::ToChronoMilliseconds(timeout));
  return ready > 0;
}

void ConnectionListener::UpdateGauge() const {
  if (options_.connections_open != nullptr) {
    options_.connections_open->Set(static_cast<double>(tracker_.open()));
  }
}

}  // namespace sochdb::server
