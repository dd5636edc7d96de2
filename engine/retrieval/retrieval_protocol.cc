#include "engine/retrieval/retrieval_protocol.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/auth/auth.h"
#include "engine/common/absl_view.h"

namespace sochdb::retrieval {
namespace {

void AppendU64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendU32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendSized(std::string_view bytes, std::string* out) {
  AppendU64(bytes.size(), out);
  out->append(bytes);
}

// What the signature covers. Fields are length-prefixed, so no two scopes share their bytes
// (tenant "a" with index "b:c" and tenant "a:b" with index "c" do not).
std::string Canonical(const CapabilityToken& token) {
  std::string out;
  AppendSized(token.index_key, &out);
  AppendSized(token.tenant, &out);
  AppendSized(token.policy_scope_digest, &out);
  AppendU64(token.expires_at_unix_ms, &out);
  AppendU32(static_cast<uint32_t>(token.operation), &out);
  return out;
}

// Only a broken libcrypto fails here; going on would sign or verify with junk.
[[noreturn]] void DieCrypto(const char* what) {
  std::fprintf(stderr, "sochdb: OpenSSL %s failed\n", what);
  std::abort();
}

}  // namespace

std::string Id128::Bytes() const {
  std::string out;
  AppendU64(high, &out);
  AppendU64(low, &out);
  return out;
}

std::string IndexKey(std::string_view tenant, std::string_view name) {
  return absl::StrCat(AbslView(tenant), ":", AbslView(name));
}

absl::StatusOr<TokenSigner> TokenSigner::Create(std::string key) {
  if (key.size() < kMinSigningKeyBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the retrieval signing key is %d bytes; at least %d are needed", key.size(),
        kMinSigningKeyBytes));
  }
  return TokenSigner(std::move(key));
}

TokenSigner TokenSigner::Random() {
  std::string key(kMinSigningKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    DieCrypto("RAND_bytes");
  }
  return TokenSigner(std::move(key));
}

std::string TokenSigner::Mac(const CapabilityToken& token) const {
  const std::string canonical = Canonical(token);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), out,
           &size) == nullptr) {
    DieCrypto("HMAC(SHA-256)");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

void TokenSigner::Sign(CapabilityToken* token) const { token->signature = Mac(*token); }

absl::Status TokenSigner::Verify(const std::optional<CapabilityToken>& presented,
                                 const TokenDemand& demand) const {
  if (!presented.has_value()) {
    return absl::UnauthenticatedError("no retrieval capability was presented");
  }
  const CapabilityToken& token = *presented;
  // The signature first: nothing in the token is read as true before it is known to be ours.
  // Constant time, so a guess learns nothing from how long the comparison took.
  const std::string expected = Mac(token);
  if (token.signature.size() != expected.size() ||
      CRYPTO_memcmp(token.signature.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("capability signature does not match its scope");
  }
  if (token.expires_at_unix_ms <= demand.now_unix_ms) {
    return absl::UnauthenticatedError(absl::StrCat("capability expired at ",
                                                   token.expires_at_unix_ms, "ms, now ",
                                                   demand.now_unix_ms, "ms"));
  }
  const uint64_t remaining = token.expires_at_unix_ms - demand.now_unix_ms;
  if (remaining > kMaxTokenLifetimeMs) {
    return absl::UnauthenticatedError(absl::StrCat("capability lifetime ", remaining,
                                                   "ms exceeds the maximum ", kMaxTokenLifetimeMs,
                                                   "ms"));
  }
  if (token.index_key != demand.index_key) {
    return absl::PermissionDeniedError(absl::StrCat("capability grants index '", token.index_key,
                                                    "', request addresses '", AbslView(demand.index_key),
                                                    "'"));
  }
  if (token.tenant != demand.tenant) {
    return absl::PermissionDeniedError(absl::StrCat("capability was issued to tenant '",
                                                    token.tenant, "', caller is '", AbslView(demand.tenant),
                                                    "'"));
  }
  if (token.operation != static_cast<int32_t>(demand.operation)) {
    return absl::PermissionDeniedError("capability does not grant this operation");
  }
  if (token.policy_scope_digest != demand.policy_scope_digest) {
    return absl::PermissionDeniedError(
        absl::StrCat("capability was issued under policy scope '", token.policy_scope_digest,
                     "', request declares '", AbslView(demand.policy_scope_digest), "'"));
  }
  return absl::OkStatus();
}

absl::Status CheckContract(std::optional<std::pair<uint32_t, uint32_t>> version) {
  if (!version.has_value()) {
    return absl::InvalidArgumentError("malformed request: contract_version is required");
  }
  if (version->first != kContractMajor) {
    return absl::InvalidArgumentError(
        absl::StrCat("contract major ", version->first,
                     " is not implemented by this server (major ", kContractMajor, ")"));
  }
  if (version->second > kContractMinor) {
    return absl::InvalidArgumentError(absl::StrCat("client requires contract minor ",
                                                   version->second, ", server speaks ",
                                                   kContractMinor));
  }
  return absl::OkStatus();
}

absl::Status CheckDeadline(uint64_t deadline_unix_ms, uint64_t now_unix_ms) {
  if (deadline_unix_ms != 0 && deadline_unix_ms <= now_unix_ms) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline ", deadline_unix_ms, "ms already passed at ", now_unix_ms, "ms"));
  }
  return absl::OkStatus();
}

absl::Status CheckGeneration(uint64_t required, uint64_t active) {
  if (required != 0 && required != active) {
    return absl::AbortedError(absl::StrCat("request requires index generation ", required,
                                           ", active generation is ", active));
  }
  return absl::OkStatus();
}

std::string OperationId(const Id128& index_object_id, uint64_t generation,
                        std::string_view source_snapshot_id, uint64_t batch_sequence) {
  std::string bytes = index_object_id.Bytes();
  AppendU64(generation, &bytes);
  AppendSized(source_snapshot_id, &bytes);
  AppendU64(batch_sequence, &bytes);
  return auth::Sha256Hex(bytes);
}

std::string EvidenceDigest(const Id128& index_object_id, uint64_t generation,
                           std::string_view source_snapshot_id,
                           const std::vector<std::pair<Id128, float>>& candidates) {
  std::string bytes = index_object_id.Bytes();
  AppendU64(generation, &bytes);
  AppendSized(source_snapshot_id, &bytes);
  AppendU64(candidates.size(), &bytes);
  for (const auto& [id, distance] : candidates) {
    bytes.append(id.Bytes());
    uint32_t bits = 0;
    std::memcpy(&bits, &distance, sizeof(bits));
    AppendU32(bits, &bytes);
  }
  return auth::Sha256Hex(bytes);
}

}  // namespace sochdb::retrieval
