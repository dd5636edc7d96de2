// The rules of retrieval protocol v2 (RetrievalService) that decide whether a request may run at
// all, free of gRPC and of server state so that each negative case is tested on its own:
// contract-version negotiation, the caller's deadline, generation pins, HMAC-SHA256 capability
// tokens, the name of an Ingest operation and the digest a Retrieve answer commits to. The byte
// layouts are upstream's (../shared/UPSTREAM.md §2.10), so tokens and digests interoperate.
//
// Every failure is an absl::Status whose code is the wire's: UNAUTHENTICATED (no token, bad
// signature, expired, lifetime over kMaxTokenLifetimeMs), PERMISSION_DENIED (another index,
// tenant, operation or policy scope), DEADLINE_EXCEEDED, ABORTED (generation pin),
// INVALID_ARGUMENT (contract version).
//
// Thread safety: TokenSigner is immutable after construction; everything else is a function.
#ifndef SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_PROTOCOL_H_
#define SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sochdb::retrieval {

inline constexpr uint32_t kContractMajor = 2;
inline constexpr uint32_t kContractMinor = 0;
// The longest a token may still have to live when it is presented: a grant that outlives the
// decision behind it keeps working after the answer changed.
inline constexpr uint64_t kMaxTokenLifetimeMs = 5 * 60 * 1000;
// Shorter signing keys are refused: HMAC-SHA256's strength is capped by its key.
inline constexpr size_t kMinSigningKeyBytes = 32;

// The operations a token grants (RetrievalOperation's numbers).
enum class Operation : int32_t { kUnspecified = 0, kSearch = 1, kIngest = 2 };

// A 128-bit object or vector id (Uint128 on the wire).
struct Id128 {
  uint64_t high = 0;
  uint64_t low = 0;
  bool zero() const { return high == 0 && low == 0; }
  // 16 bytes, big-endian: what digests and keys use.
  std::string Bytes() const;
};

// A capability token as presented (RetrievalCapabilityToken).
struct CapabilityToken {
  std::string index_key;  // "<tenant>:<index name>"
  std::string tenant;
  uint64_t expires_at_unix_ms = 0;
  std::string policy_scope_digest;
  int32_t operation = 0;
  std::string signature;  // 32 bytes of HMAC-SHA256
};

// What a request asks to do, for Verify.
struct TokenDemand {
  std::string_view index_key;
  std::string_view tenant;
  Operation operation = Operation::kUnspecified;
  std::string_view policy_scope_digest;
  uint64_t now_unix_ms = 0;
};

// "<tenant>:<name>", as tokens and upstream's messages name an index.
std::string IndexKey(std::string_view tenant, std::string_view name);

class TokenSigner {
 public:
  // `key`: at least kMinSigningKeyBytes (INVALID_ARGUMENT otherwise, naming the limit only).
  static absl::StatusOr<TokenSigner> Create(std::string key);
  // A signer with kMinSigningKeyBytes random bytes from OpenSSL's generator.
  static TokenSigner Random();

  // Fills token->signature over the other fields.
  void Sign(CapabilityToken* token) const;
  // Checks `token` (nullopt: none presented) in upstream's order: signature (constant time),
  // expiry, remaining lifetime, index, tenant, operation, policy scope.
  absl::Status Verify(const std::optional<CapabilityToken>& token, const TokenDemand& demand) const;

 private:
  explicit TokenSigner(std::string key) : key_(std::move(key)) {}
  std::string Mac(const CapabilityToken& token) const;

  std::string key_;
};

// INVALID_ARGUMENT unless present with major == kContractMajor and minor <= kContractMinor.
absl::Status CheckContract(std::optional<std::pair<uint32_t, uint32_t>> version);
// DEADLINE_EXCEEDED when a deadline is set (non-zero) and not after `now_unix_ms`.
absl::Status CheckDeadline(uint64_t deadline_unix_ms, uint64_t now_unix_ms);
// ABORTED when `required` is set (non-zero) and differs from `active`.
absl::Status CheckGeneration(uint64_t required, uint64_t active);

// Hex SHA-256 naming one Ingest batch: a retry of the same batch has the same name.
std::string OperationId(const Id128& index_object_id, uint64_t generation,
                        std::string_view source_snapshot_id, uint64_t batch_sequence);
// Hex SHA-256 of what a Retrieve answer commits to (index, generation, snapshot, candidates in
// order with their distances' bits).
std::string EvidenceDigest(const Id128& index_object_id, uint64_t generation,
                           std::string_view source_snapshot_id,
                           const std::vector<std::pair<Id128, float>>& candidates);

}  // namespace sochdb::retrieval

#endif  // SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_PROTOCOL_H_
