#include "tests/integration/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace sochdb::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string TempRoot() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// The exit code in a waitpid status, 128+signal when killed, or -1.
int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid`; returns its exit code, 128+signal, or -1 on timeout.
int WaitForExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCode(status);
    if (absl::Now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log_file, int open_files = 0) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe work until exec.
  if (open_files > 0) {
    const rlimit limit{static_cast<rlim_t>(open_files), static_cast<rlim_t>(open_files)};
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

}  // namespace

std::string NewTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string dir =
      absl::StrCat(TempRoot(), "/", name, "-", getpid(), "-", counter.fetch_add(1));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::optional<std::string> HttpGet(int port, const std::string& path, const std::string& host) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(*v6);
  } else {
    return std::nullopt;
  }
  const int fd = socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  // A server that accepted nothing (its process out of descriptors) must fail the call, not
  // hang it: the kernel completes the connection in the listen queue either way.
  const timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string host_header = addr.ss_family == AF_INET6 ? absl::StrCat("[", host, "]") : host;
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_header,
                                           "\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string response;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos || response.rfind("HTTP/1.", 0) != 0) return std::nullopt;
  if (response.find(" 200 ") == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

double Metric(const ServerProcess& server, const std::string& name) {
  const std::string body = HttpGet(server.metrics_port(), "/metrics").value_or("");
  const size_t at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 2));
}

std::string ServerBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string root = srcdir != nullptr ? srcdir : ".";
  for (const std::string& candidate :
       {root + "/sochdb_grpc/server/sochdb-grpc", root + "/server/sochdb-grpc",
        std::string("bazel-bin/server/sochdb-grpc")}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return root + "/sochdb_grpc/server/sochdb-grpc";
}

ServerProcess::ServerProcess(ServerProcessOptions options) : options_(std::move(options)) {
  work_dir_ = NewTempDir("server");
  if (options_.data_dir.empty()) options_.data_dir = work_dir_ + "/data";
  port_file_ = work_dir_ + "/port";
  log_file_ = work_dir_ + "/server.log";
}

ServerProcess::~ServerProcess() {
  if (running()) Kill9();
}

bool ServerProcess::Start(std::string* error, absl::Duration timeout) {
  std::filesystem::remove(port_file_);
  start_exit_code_.reset();
  metrics_port_ = options_.metrics ? FreeTcpPort() : 0;
  std::vector<std::string> args = {
      ServerBinary(),    "--port",         "0",
      "--port-file",     port_file_,       "--data-dir",
      options_.data_dir, "--metrics-port", std::to_string(metrics_port_)};
  // A test may give its own grace (a flag given twice is an error).
  if (std::find(options_.args.begin(), options_.args.end(), "--shutdown-grace-s") ==
      options_.args.end()) {
    args.insert(args.end(), {"--shutdown-grace-s", "5"});
  }
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  pid_ = Spawn(args, options_.env, log_file_, options_.open_files);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(port_file_);
    if (in >> port_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      start_exit_code_ = ExitCode(status);
      *error = absl::StrCat("server exited during start-up; log:\n", log());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill9();
  *error = absl::StrCat("server did not come up in time; log:\n", log());
  return false;
}

int ServerProcess::RunToExit(const std::vector<std::string>& args, std::string* output,
                             absl::Duration timeout) {
  const std::string dir = NewTempDir("run");
  const std::string log_file = dir + "/out.log";
  std::vector<std::string> full = {ServerBinary()};
  full.insert(full.end(), args.begin(), args.end());
  const pid_t pid = Spawn(full, {}, log_file);
  int code = WaitForExit(pid, timeout);
  if (code == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  *output = ReadAll(log_file);
  return code;
}

int ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (!running()) return -1;
  kill(pid_, signal);
  const int code = WaitForExit(pid_, timeout);
  if (code == -1) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  return code;
}

void ServerProcess::Kill9() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string ServerProcess::log() const { return ReadAll(log_file_); }

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(128 << 20);
  args.SetMaxSendMessageSize(128 << 20);
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

int OpenTcpConnection(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int OpenIdleHttp2Connection(int port) {
  const int fd = OpenTcpConnection(port);
  if (fd < 0) return -1;
  // The client preface, then a SETTINGS frame with no settings (length 0, type 4, no flags,
  // stream 0).
  static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
  const ssize_t length = sizeof(kPreface) - 1;
  if (send(fd, kPreface, length, MSG_NOSIGNAL) != length) {
    close(fd);
    return -1;
  }
  return fd;
}

namespace {

// One HPACK "literal header field without indexing, new name" (RFC 7541 6.2.2), no Huffman
// coding; names and values under 127 bytes.
void AppendLiteralHeader(std::string* block, const std::string& name, const std::string& value) {
  block->push_back('\0');
  block->push_back(static_cast<char>(name.size()));
  block->append(name);
  block->push_back(static_cast<char>(value.size()));
  block->append(value);
}

}  // namespace

int OpenStalledHttp2Call(int port, const std::string& path) {
  const int fd = OpenIdleHttp2Connection(port);
  if (fd < 0) return -1;
  std::string block;
  AppendLiteralHeader(&block, ":method", "POST");
  AppendLiteralHeader(&block, ":scheme", "http");
  AppendLiteralHeader(&block, ":path", path);
  AppendLiteralHeader(&block, ":authority", "localhost");
  AppendLiteralHeader(&block, "content-type", "application/grpc");
  AppendLiteralHeader(&block, "te", "trailers");
  // HEADERS (type 1) on stream 1 with END_HEADERS (4) but not END_STREAM (1).
  std::string frame = {0, 0, static_cast<char>(block.size()), 1, 4, 0, 0, 0, 1};
  frame += block;
  const ssize_t length = static_cast<ssize_t>(frame.size());
  if (send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != length) {
    close(fd);
    return -1;
  }
  return fd;
}

bool WaitForServerClose(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (poll(&readable, 1, wait_ms) <= 0) return false;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset
  }
}

bool RaiseOwnOpenFileLimit(int wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= static_cast<rlim_t>(wanted)) {
    return true;
  }
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < static_cast<rlim_t>(wanted)) {
    return false;
  }
  limit.rlim_cur = static_cast<rlim_t>(wanted);
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

std::unique_ptr<grpc::ClientContext> MakeContext(const std::string& api_key,
                                                 absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  if (!api_key.empty()) context->AddMetadata("authorization", "Bearer " + api_key);
  return context;
}

}  // namespace sochdb::testing
