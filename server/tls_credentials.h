// The TLS credentials of the gRPC port, read from the PEM files named by --tls-cert, --tls-key
// and --tls-ca and checked with OpenSSL before gRPC sees them. gRPC 1.51 reports a certificate
// it cannot parse, or a key that does not belong to the certificate, only as a failure to open
// the listening port, which reads like "address in use". Checked here, each
// problem names its flag and file, and start-up stops with exit code 2 like any bad setting.
#ifndef SOCHDB_SERVER_TLS_CREDENTIALS_H_
#define SOCHDB_SERVER_TLS_CREDENTIALS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/config.h"

namespace sochdb::server {

// Plaintext credentials when --tls-cert is empty; otherwise TLS with the certificate chain and
// key (and, with --tls-ca, required client certificates signed by that CA). NOT_FOUND when a
// file cannot be read; INVALID_ARGUMENT, naming the flag and the file, when a file is empty,
// holds no PEM certificate, when the key is not PEM (DER), is encrypted (no passphrase can be
// given) or is missing, or when the key does not match the first certificate of the chain.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const ServerConfig& config);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_TLS_CREDENTIALS_H_
