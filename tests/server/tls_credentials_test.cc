// LoadServerCredentials on a terminal: an encrypted private key is refused with its message,
// never by asking for a passphrase (OpenSSL's default when no callback is given), which held
// start-up at "Enter PEM pass phrase:" whenever the server had a terminal.
#include "server/tls_credentials.h"

#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace sochdb::server {
namespace {

std::string TestDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp");
}

// What the child's LoadServerCredentials came to, as its exit code.
constexpr int kRefusedAsInvalid = 3;
constexpr int kOtherOutcome = 4;

TEST_CASE("an encrypted key is refused without asking for its passphrase on the terminal") {
  const std::string dir = TestDir();
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -passout pass:secret -days 2 -subj /CN=localhost "
      "-keyout ",
      dir, "/encrypted.key -out ", dir, "/encrypted.crt >", dir, "/openssl.log 2>&1");
  REQUIRE(std::system(command.c_str()) == 0);
  ServerConfig config;
  config.tls_cert = dir + "/encrypted.crt";
  config.tls_key = dir + "/encrypted.key";

  // The child runs with a pseudo-terminal as its controlling terminal, as a server started by
  // hand (or by `docker run -t`) does; the test reads what the child writes to it.
  int terminal = -1;
  const pid_t child = forkpty(&terminal, nullptr, nullptr, nullptr);
  REQUIRE(child >= 0);
  if (child == 0) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        LoadServerCredentials(config);
    _exit(absl::IsInvalidArgument(credentials.status()) ? kRefusedAsInvalid : kOtherOutcome);
  }
  std::string shown;
  bool prompted = false;
  char buffer[256];
  for (;;) {
    const ssize_t n = read(terminal, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: the child has exited and closed the terminal
    shown.append(buffer, static_cast<size_t>(n));
    if (shown.find("pass phrase") != std::string::npos) {
      prompted = true;  // it would wait for an answer forever
      kill(child, SIGKILL);
    }
  }
  close(terminal);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  INFO("the terminal showed: " << shown);
  CHECK_FALSE(prompted);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == kRefusedAsInvalid);
}

}  // namespace
}  // namespace sochdb::server
