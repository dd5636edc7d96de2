// LoadServerCredentials: an encrypted private key is refused with its message, never by asking
// for a passphrase on the terminal (OpenSSL's default when no callback is given), which held
// start-up at "Enter PEM pass phrase:" whenever the server had a terminal; and each kind of bad
// key file (empty, DER, encrypted, PEM without a key) is told apart in the message.
#include "server/tls_credentials.h"

#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <fstream>
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

// A self-signed pair under TestDir(): <name>.crt and <name>.key (PEM, not encrypted).
ServerConfig MakePair(const std::string& name) {
  const std::string dir = TestDir();
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout ", dir, "/",
      name, ".key -out ", dir, "/", name, ".crt >", dir, "/openssl.log 2>&1");
  REQUIRE(std::system(command.c_str()) == 0);
  ServerConfig config;
  config.tls_cert = absl::StrCat(dir, "/", name, ".crt");
  config.tls_key = absl::StrCat(dir, "/", name, ".key");
  return config;
}

// The message LoadServerCredentials refuses `config` with; "" when it accepts it.
std::string Refusal(const ServerConfig& config) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      LoadServerCredentials(config);
  if (credentials.ok()) return "";
  CHECK(absl::IsInvalidArgument(credentials.status()));
  return std::string(credentials.status().message());
}

TEST_CASE("each kind of bad key file is named for what it is") {
  ServerConfig config = MakePair("kinds");
  REQUIRE(Refusal(config).empty());
  const std::string pem_key = config.tls_key;
  const std::string dir = TestDir();

  SECTION("an empty key file") {
    config.tls_key = dir + "/empty.key";
    std::ofstream(config.tls_key).flush();
    const std::string message = Refusal(config);
    CHECK(message.find("--tls-key " + config.tls_key + ": the file is empty") != std::string::npos);
    CHECK(message.find("encrypted") == std::string::npos);
  }
  SECTION("a DER key") {
    config.tls_key = dir + "/der.key";
    REQUIRE(std::system(
                absl::StrCat("openssl pkey -in ", pem_key, " -outform DER -out ", config.tls_key)
                    .c_str()) == 0);
    const std::string message = Refusal(config);
    CHECK(message.find("not PEM") != std::string::npos);
    CHECK(message.find("-inform DER") != std::string::npos);
    CHECK(message.find("encrypted") == std::string::npos);
  }
  SECTION("an encrypted PEM key") {
    config.tls_key = dir + "/encrypted-pkcs8.key";
    REQUIRE(std::system(absl::StrCat("openssl pkey -in ", pem_key, " -aes256 -passout pass:x -out ",
                                     config.tls_key)
                            .c_str()) == 0);
    const std::string message = Refusal(config);
    CHECK(message.find("the key is encrypted") != std::string::npos);
    CHECK(message.find("openssl pkey -in " + config.tls_key) != std::string::npos);
  }
  SECTION("a PEM file with no key in it (the certificate given twice)") {
    config.tls_key = config.tls_cert;
    const std::string message = Refusal(config);
    CHECK(message.find("no PEM private key") != std::string::npos);
    CHECK(message.find("encrypted") == std::string::npos);
  }
  SECTION("an empty certificate file") {
    config.tls_cert = dir + "/empty.crt";
    std::ofstream(config.tls_cert).flush();
    CHECK(Refusal(config).find("--tls-cert " + config.tls_cert + ": the file is empty") !=
          std::string::npos);
  }
}

}  // namespace
}  // namespace sochdb::server
