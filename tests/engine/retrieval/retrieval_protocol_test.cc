// Tests of the retrieval v2 protocol rules: token signatures pinned to known answers (so the
// byte layout of ../shared/UPSTREAM.md §2.10 cannot drift), the verification order and codes,
// contract / deadline / generation checks, and the operation and evidence digests.
#include "engine/retrieval/retrieval_protocol.h"

#include <catch2/catch.hpp>
#include <string>

#include "engine/common/hex.h"

namespace sochdb::retrieval {
namespace {

TokenSigner Signer(char fill = 'k') { return *TokenSigner::Create(std::string(32, fill)); }

CapabilityToken Token(uint64_t expires = 1000) {
  CapabilityToken t;
  t.index_key = "t:docs";
  t.tenant = "t";
  t.expires_at_unix_ms = expires;
  t.policy_scope_digest = "p";
  t.operation = static_cast<int32_t>(Operation::kSearch);
  return t;
}

TokenDemand Demand(uint64_t now = 900) { return {"t:docs", "t", Operation::kSearch, "p", now}; }

TEST_CASE("a token's signature is HMAC-SHA256 over upstream's canonical bytes") {
  CapabilityToken t = Token();
  Signer().Sign(&t);
  CHECK(BytesToHex(t.signature) ==
        "95cf7afbc28d01388b5c4ab6965dd6afe0c7a0793278495138e029db5a8c33ff");
  CHECK(Signer().Verify(t, Demand()).ok());
}

TEST_CASE("short signing keys are refused") {
  CHECK(absl::IsInvalidArgument(TokenSigner::Create(std::string(31, 'k')).status()));
  CHECK(TokenSigner::Random().Verify(std::nullopt, Demand()).code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("verification refuses in upstream's order with its codes") {
  const TokenSigner signer = Signer();
  auto signed_token = [&](CapabilityToken t) {
    signer.Sign(&t);
    return t;
  };
  CapabilityToken forged = signed_token(Token());
  forged.signature[5] ^= 1;
  CHECK(signer.Verify(forged, Demand()).code() == absl::StatusCode::kUnauthenticated);
  CapabilityToken truncated = signed_token(Token());
  truncated.signature.pop_back();
  CHECK(signer.Verify(truncated, Demand()).code() == absl::StatusCode::kUnauthenticated);
  // Another key's signature, even on an otherwise perfect token.
  CapabilityToken other = Token();
  Signer('x').Sign(&other);
  CHECK(signer.Verify(other, Demand()).message() ==
        "capability signature does not match its scope");
  // A forged token is refused for its signature before its expiry is looked at.
  CapabilityToken expired_forged = Token(1);
  CHECK(signer.Verify(expired_forged, Demand()).message() ==
        "capability signature does not match its scope");
  CHECK(signer.Verify(signed_token(Token(900)), Demand(900)).message() ==
        "capability expired at 900ms, now 900ms");
  CHECK(signer.Verify(signed_token(Token(900 + kMaxTokenLifetimeMs + 1)), Demand()).message() ==
        "capability lifetime 300001ms exceeds the maximum 300000ms");
  CHECK(signer.Verify(signed_token(Token(900 + kMaxTokenLifetimeMs)), Demand()).ok());
  CapabilityToken wrong = Token();
  wrong.index_key = "t:other";
  wrong.tenant = "u";  // the index is checked before the tenant
  CHECK(signer.Verify(signed_token(wrong), Demand()).code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(signer.Verify(signed_token(wrong), Demand()).message() ==
        "capability grants index 't:other', request addresses 't:docs'");
  wrong = Token();
  wrong.tenant = "u";
  CHECK(signer.Verify(signed_token(wrong), Demand()).message() ==
        "capability was issued to tenant 'u', caller is 't'");
  wrong = Token();
  wrong.operation = static_cast<int32_t>(Operation::kIngest);
  wrong.policy_scope_digest = "q";  // the operation is checked before the scope
  CHECK(signer.Verify(signed_token(wrong), Demand()).message() ==
        "capability does not grant this operation");
  wrong = Token();
  wrong.policy_scope_digest = "q";
  CHECK(signer.Verify(signed_token(wrong), Demand()).code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("contract, deadline and generation checks") {
  CHECK(CheckContract(std::nullopt).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckContract(std::make_pair(1u, 0u)).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckContract(std::make_pair(2u, 1u)).code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckContract(std::make_pair(2u, 0u)).ok());
  CHECK(CheckDeadline(0, 5).ok());
  CHECK(CheckDeadline(6, 5).ok());
  CHECK(CheckDeadline(5, 5).code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(CheckGeneration(0, 9).ok());
  CHECK(CheckGeneration(9, 9).ok());
  CHECK(CheckGeneration(8, 9).code() == absl::StatusCode::kAborted);
}

TEST_CASE("operation ids and evidence digests follow upstream's layouts") {
  CHECK(OperationId(Id128{0, 42}, 0, "snap-1", 3) ==
        "eaddca5ca51fec888431f0771077800378860409fc00c9dda9cb260e2efba17d");
  CHECK(OperationId(Id128{0, 42}, 0, "snap-1", 4) != OperationId(Id128{0, 42}, 0, "snap-1", 3));
  CHECK(EvidenceDigest(Id128{1, 42}, 7, "s", {{Id128{0, 5}, 0.5f}}) ==
        "915aebd551516d0a91c352e2c12efe05677967d884ae20d40c4dc54a3d5510f3");
}

}  // namespace
}  // namespace sochdb::retrieval
