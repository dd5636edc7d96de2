// sochdb-keytool: prints the key-file line (engine/auth/auth.h) for an API key, so operators never
// write digests by hand and the server never sees a raw key on disk.
//
// Usage:
//   printf '%s\n' "$KEY" | sochdb-keytool --tenant acme --role editor [--id ci-bot] >> keys.txt
//   sochdb-keytool --generate --tenant acme --role viewer [--id dashboard] >> keys.txt
// Without --generate the key is the first line of stdin (trailing newline stripped). With
// --generate a new key is made from 32 bytes of OpenSSL's RAND_bytes, written as "sk_" + 64
// lower-case hex digits (plain hex: safe in headers, shells and YAML without quoting); it is
// printed once on stderr and never again. The entry always goes to stdout. Any error: exit 2 and
// a message on stderr.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/auth/auth.h"

namespace {

constexpr int kExitError = 2;
constexpr size_t kGeneratedKeyBytes = 32;
// Shorter typed keys are accepted but are guessable; say so rather than refuse.
constexpr size_t kRecommendedMinKeyLength = 20;

struct Options {
  std::string tenant;
  std::string role;
  std::string id;
  bool generate = false;
};

absl::StatusOr<std::string> GenerateKey() {
  unsigned char bytes[kGeneratedKeyBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed; no key was generated");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string key = "sk_";
  for (unsigned char byte : bytes) {
    key.push_back(kDigits[byte >> 4]);
    key.push_back(kDigits[byte & 0xf]);
  }
  OPENSSL_cleanse(bytes, sizeof(bytes));
  return key;
}

absl::StatusOr<std::string> ReadKeyFromStdin() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    return absl::InvalidArgumentError(
        "no key on stdin: pipe the key in as one line, or pass --generate");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

int Fail(const absl::Status& status) {
  std::cerr << "sochdb-keytool: " << status.message() << "\n";
  return kExitError;
}

int Run(const Options& options) {
  absl::StatusOr<sochdb::auth::Role> role = sochdb::auth::ParseRole(options.role);
  if (!role.ok()) return Fail(role.status());
  absl::StatusOr<std::string> key = options.generate ? GenerateKey() : ReadKeyFromStdin();
  if (!key.ok()) return Fail(key.status());
  absl::StatusOr<std::string> entry =
      sochdb::auth::MakeKeyEntry(*key, options.tenant, *role, options.id);
  if (!entry.ok()) {
    OPENSSL_cleanse(key->data(), key->size());
    return Fail(entry.status());
  }
  if (options.generate) {
    std::cerr << "New API key (store it now; it will not be shown again):\n" << *key << "\n";
  } else if (key->size() < kRecommendedMinKeyLength) {
    std::cerr << "sochdb-keytool: warning: the key is shorter than " << kRecommendedMinKeyLength
              << " characters; prefer --generate\n";
  }
  OPENSSL_cleanse(key->data(), key->size());
  std::cout << *entry << "\n";
  std::cout.flush();
  if (!std::cout) return Fail(absl::UnavailableError("cannot write the entry to stdout"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Prints the sochdb key-file entry (SHA-256 digest, tenant, role) for an API key."};
  Options options;
  app.add_option("--tenant", options.tenant, "Tenant that owns the key ([A-Za-z0-9._-], 1..128)")
      ->required();
  app.add_option("--role", options.role, "admin, editor or viewer")->required();
  app.add_option("--id", options.id, "Label for logs and errors (default: key-<8 hex digits>)");
  app.add_flag("--generate", options.generate,
               "Generate a random key and print it once on stderr instead of reading stdin");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // app.exit prints help (exit 0) or the usage error; every error exits 2.
    return app.exit(e) == 0 ? 0 : kExitError;
  }
  try {
    return Run(options);
  } catch (const std::exception& e) {
    std::cerr << "sochdb-keytool: " << e.what() << "\n";
    return kExitError;
  }
}
