#include "server/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace sochdb::server {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, " ", path, ": cannot read the file"));
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": the file is empty"));
  }
  return content.str();
}

// OpenSSL's default passphrase callback asks on the terminal: a server with one (started by hand,
// or by `docker run -t`) waited at "Enter PEM pass phrase:" instead of refusing the key. `asked`,
// when given, is a bool set when OpenSSL wanted a passphrase: the key is encrypted.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*for_writing*/, void* asked) {
  if (asked != nullptr) *static_cast<bool*>(asked) = true;
  return -1;
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate in `pem` (the leaf, for a chain); nullptr when there is none.
Certificate FirstCertificate(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();  // OpenSSL's error queue is per thread; leave nothing for gRPC to find
  return cert;
}

absl::Status CheckCertificates(const std::string& flag, const std::string& path,
                               const std::string& pem) {
  if (FirstCertificate(pem) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": no PEM certificate (\"BEGIN CERTIFICATE\") in it"));
  }
  return absl::OkStatus();
}

// The key in `pem`, or INVALID_ARGUMENT saying which of the usual mistakes it is: a DER file
// (not PEM at all), an encrypted key, or a PEM file with no private key in it.
absl::StatusOr<PrivateKey> ParsePrivateKey(const std::string& path, const std::string& pem) {
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key ", path,
        ": not PEM (no \"-----BEGIN ... PRIVATE KEY-----\" line); for a DER key, convert it: "
        "openssl pkey -inform DER -in ",
        path, " -out key.pem"));
  }
  Bio bio = MemoryBio(pem);
  bool asked_for_passphrase = false;
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, &asked_for_passphrase));
  ERR_clear_error();
  if (key != nullptr) return key;
  if (asked_for_passphrase) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key ", path,
        ": the key is encrypted, and the server takes no passphrase; decrypt it: openssl pkey -in ",
        path, " -out key.pem"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--tls-key ", path,
                   ": no PEM private key in it (\"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE "
                   "KEY\" or \"BEGIN EC PRIVATE KEY\"), or a damaged one"));
}

absl::Status CheckKeyMatches(const ServerConfig& c, const std::string& cert_pem,
                             const std::string& key_pem) {
  SOCHDB_ASSIGN_OR_RETURN(PrivateKey key, ParsePrivateKey(c.tls_key, key_pem));
  const Certificate leaf = FirstCertificate(cert_pem);
  const bool matches = X509_check_private_key(leaf.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key ", c.tls_key,
                                                   " does not match the certificate in --tls-cert ",
                                                   c.tls_cert, " (a key from another pair?)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  SOCHDB_ASSIGN_OR_RETURN(std::string cert, ReadPem("--tls-cert", c.tls_cert));
  SOCHDB_ASSIGN_OR_RETURN(std::string key, ReadPem("--tls-key", c.tls_key));
  SOCHDB_RETURN_IF_ERROR(CheckCertificates("--tls-cert", c.tls_cert, cert));
  SOCHDB_RETURN_IF_ERROR(CheckKeyMatches(c, cert, key));
  grpc::SslServerCredentialsOptions ssl(
      c.tls_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  if (!c.tls_ca.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(std::string ca, ReadPem("--tls-ca", c.tls_ca));
    SOCHDB_RETURN_IF_ERROR(CheckCertificates("--tls-ca", c.tls_ca, ca));
    ssl.pem_root_certs = std::move(ca);
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace sochdb::server
