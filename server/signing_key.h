// The key that signs retrieval v2 capability tokens (--retrieval-signing-key-file), loaded once
// at start-up. The key's bytes are never logged or put in an error message.
#ifndef SOCHDB_SERVER_SIGNING_KEY_H_
#define SOCHDB_SERVER_SIGNING_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/retrieval/retrieval_protocol.h"

namespace sochdb::server {

// `path` empty: a random key, with a warning that tokens stop verifying at a restart.
// Otherwise the file's bytes (one trailing newline dropped), at least
// retrieval::kMinSigningKeyBytes (INVALID_ARGUMENT naming the file and the limit); a file that
// its group or others may read is used with a warning.
absl::StatusOr<retrieval::TokenSigner> LoadRetrievalSigner(const std::string& path);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_SIGNING_KEY_H_
