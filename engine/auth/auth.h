// Authentication and authorization: who a caller is (a Principal, from an API key) and what it may
// touch (capabilities, namespaces). The server's call layer runs Authorizer on every call before
// a handler sees the request; nothing else decides access.
//
// Keys are never stored: the key file holds each key's SHA-256 digest, compared in constant time
// (CRYPTO_memcmp). Error texts never contain key material.
//
// Development mode (no key file): every caller is the principal "anonymous" of tenant "default"
// with every capability, and may use every namespace.
//
// Namespace ownership (keys loaded): a tenant owns the namespace named exactly like the tenant and
// every namespace under it, "<tenant>/<anything>". A principal with the Admin capability may use
// every namespace. "default" is owned by the tenant "default" only: it is not shared.
#ifndef SOCHDB_ENGINE_AUTH_AUTH_H_
#define SOCHDB_ENGINE_AUTH_AUTH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace sochdb::auth {

// Bit flags. Names (CapabilityName) follow the upstream server's texts.
enum class Capability : uint32_t {
  kRead = 1u << 0,
  kWrite = 1u << 1,
  kManageCollections = 1u << 2,
  kManageIndexes = 1u << 3,
  kViewMetrics = 1u << 4,
  kAdmin = 1u << 5,  // implies every other capability and every namespace
};
// "Read", "Write", "ManageCollections", "ManageIndexes", "ViewMetrics", "Admin".
std::string_view CapabilityName(Capability capability);

enum class Role { kAdmin, kEditor, kViewer };
// "admin" | "editor" | "viewer" (case-insensitive) -> Role; else INVALID_ARGUMENT.
absl::StatusOr<Role> ParseRole(std::string_view text);
std::string_view RoleName(Role role);  // lower case
// admin: all; editor: Read, Write, ManageCollections, ManageIndexes; viewer: Read, ViewMetrics.
uint32_t CapabilitiesOf(Role role);

struct Principal {
  std::string id;      // key label from the key file ("anonymous" in development mode)
  std::string tenant;  // owner of namespaces and tenant-scoped objects
  Role role = Role::kViewer;
  uint32_t capabilities = 0;

  bool Has(Capability capability) const;  // true for everything when Admin is held
  bool OwnsNamespace(std::string_view ns) const;
};

// SHA-256 of `data`, lower-case hex (64 characters).
std::string Sha256Hex(std::string_view data);

// The parsed key file. Format: one entry per line, '#' starts a comment, blank lines ignored:
//   sha256:<64 hex> tenant=<name> role=<admin|editor|viewer> [id=<label>]
// Tenant names: 1..128 bytes of [A-Za-z0-9._-]. id defaults to "key-" + the first 8 hex digits;
// a given id is 1..128 printable ASCII characters without spaces or '#'. Fields may come in any
// order; an unknown or repeated field, a repeated digest, the digest of the empty key, or a file
// with no entries is INVALID_ARGUMENT. Every parse error names the line number and never echoes a
// digest or any field's value (a mistyped line may hold a raw key).
class KeyRing {
 public:
  static absl::StatusOr<std::shared_ptr<const KeyRing>> Parse(std::string_view text);
  // NOT_FOUND when the file is missing; other I/O failures carry the errno's code; a file over
  // 16 MiB is INVALID_ARGUMENT; otherwise Parse's errors, prefixed by the path.
  static absl::StatusOr<std::shared_ptr<const KeyRing>> LoadFile(const std::string& path);

  // The principal whose digest equals SHA-256(presented_key), or nullptr. Compares against every
  // entry without early exit, so timing does not reveal which entry (or how much of one) matched.
  std::shared_ptr<const Principal> Find(std::string_view presented_key) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    unsigned char digest[32];
    std::shared_ptr<const Principal> principal;
  };
  std::vector<Entry> entries_;
};

// The key-file line for `key` (what `sochdb-keytool` prints), without a trailing newline; an empty
// `id` leaves the field out (Parse then uses the default). INVALID_ARGUMENT for an empty key or one
// a request header cannot carry (anything but printable ASCII without spaces), a bad tenant name,
// or an id that Parse would reject.
absl::StatusOr<std::string> MakeKeyEntry(std::string_view key, std::string_view tenant, Role role,
                                         std::string_view id);

class Authorizer {
 public:
  // `keys` == nullptr: development mode.
  explicit Authorizer(std::shared_ptr<const KeyRing> keys);

  bool development_mode() const;

  // The caller's principal from the request's credentials: `authorization` ("Bearer <key>") or,
  // when that is absent, `x_api_key`. UNAUTHENTICATED when neither is present or well formed
  // ("Authentication required. Provide a Bearer token or API key.") or the key is unknown
  // ("Invalid API key."). In development mode: the development principal, whatever is sent.
  absl::StatusOr<std::shared_ptr<const Principal>> Authenticate(
      std::optional<std::string_view> authorization,
      std::optional<std::string_view> x_api_key) const;

  // PERMISSION_DENIED "Insufficient permissions. Required: <Cap>, principal: <id>".
  static absl::Status CheckCapability(const Principal& principal, Capability capability);
  // PERMISSION_DENIED "Access denied to namespace '<ns>' for tenant '<tenant>'" unless
  // `principal` owns `ns`. Always OK in development mode, whose principal holds Admin.
  static absl::Status CheckNamespace(const Principal& principal, std::string_view ns);

  // Replaces the key ring (key rotation without restart). Calls in flight keep the principal
  // they authenticated with. Switching between development mode and keys is not allowed:
  // FAILED_PRECONDITION.
  absl::Status ReplaceKeys(std::shared_ptr<const KeyRing> keys);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const KeyRing> keys_ ABSL_GUARDED_BY(mu_);
  const bool development_mode_;
  const std::shared_ptr<const Principal> development_principal_;
};

}  // namespace sochdb::auth

#endif  // SOCHDB_ENGINE_AUTH_AUTH_H_
