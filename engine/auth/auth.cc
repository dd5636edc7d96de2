// Implementation of engine/auth/auth.h: key-file parsing, constant-time key lookup, and the
// authorization checks the call layer runs before every handler. Error texts are part of the
// contract (clients and the auth-matrix test match on them) and never carry key material: parse
// errors name the line and the field, not the value, because a mistyped file may hold a raw key.
#include "engine/auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/common/absl_view.h"
#include "engine/common/hex.h"

namespace sochdb::auth {
namespace {

constexpr std::string_view kAuthenticationRequired =
    "Authentication required. Provide a Bearer token or API key.";
constexpr std::string_view kInvalidApiKey = "Invalid API key.";

constexpr size_t kDigestBytes = 32;
constexpr size_t kMaxNameBytes = 128;  // tenant names and key ids
// A key file is a list of short lines; anything larger is a wrong path, not a key file.
constexpr size_t kMaxKeyFileBytes = 16u << 20;

constexpr uint32_t kAllCapabilities =
    static_cast<uint32_t>(Capability::kRead) | static_cast<uint32_t>(Capability::kWrite) |
    static_cast<uint32_t>(Capability::kManageCollections) |
    static_cast<uint32_t>(Capability::kManageIndexes) |
    static_cast<uint32_t>(Capability::kViewMetrics) | static_cast<uint32_t>(Capability::kAdmin);

// A refused namespace is echoed in the error, but it is the caller's input: control bytes are
// escaped and a long name is cut, so the status stays printable and well under gRPC's metadata
// limit (a 16 KiB name would otherwise turn PERMISSION_DENIED into a transport error).
std::string PrintableNamespace(std::string_view ns) {
  constexpr size_t kShown = 128;
  std::string out = absl::CHexEscape(AbslView(ns.substr(0, kShown)));
  if (ns.size() > kShown) absl::StrAppend(&out, "... (", ns.size(), " bytes)");
  return out;
}
std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// The characters absl::StripAsciiWhitespace strips (absl::ascii_isspace).
constexpr char kAsciiWhitespace[] = " \t\n\v\f\r";

std::string_view StripWhitespace(std::string_view s) {
  return StdView(absl::StripAsciiWhitespace(AbslView(s)));
}

// A key, id or tenant ends up in HTTP headers, logs and error texts: printable ASCII only.
bool IsPrintableNoSpace(char c) { return c > ' ' && c <= '~'; }

bool IsValidTenant(std::string_view tenant) {
  if (tenant.empty() || tenant.size() > kMaxNameBytes) return false;
  for (char c : tenant) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// '#' would start a comment in the key file, so an id holding one could not be read back.
bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxNameBytes) return false;
  for (char c : id) {
    if (!IsPrintableNoSpace(c) || c == '#') return false;
  }
  return true;
}

bool IsValidKey(std::string_view key) {
  for (char c : key) {
    if (!IsPrintableNoSpace(c)) return false;
  }
  return !key.empty();
}

void Sha256(std::string_view data, unsigned char out[kDigestBytes]) {
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr) != 1 ||
      size != kDigestBytes) {
    // Only a broken libcrypto gets here; carrying on would make every key compare equal to junk.
    std::fprintf(stderr, "sochdb: OpenSSL EVP_Digest(SHA-256) failed\n");
    std::abort();
  }
}

std::string HexOf(const unsigned char* bytes, size_t size) {
  return BytesToHex(std::string_view(reinterpret_cast<const char*>(bytes), size));
}

bool DecodeDigest(std::string_view hex, unsigned char out[kDigestBytes]) {
  std::string bytes;
  if (hex.size() != 2 * kDigestBytes || !HexToBytes(hex, &bytes)) return false;
  std::memcpy(out, bytes.data(), kDigestBytes);
  return true;
}

struct ParsedEntry {
  unsigned char digest[kDigestBytes];
  Principal principal;
};

// One key-file entry from its tokens. Messages name the field, never its value.
absl::StatusOr<ParsedEntry> ParseEntry(const std::vector<std::string_view>& tokens) {
  std::optional<std::string_view> digest_hex, tenant, role, id;
  for (std::string_view token : tokens) {
    std::optional<std::string_view>* field = nullptr;
    std::string_view prefix;
    if (absl::StartsWith(AbslView(token), "sha256:")) {
      field = &digest_hex, prefix = "sha256:";
    } else if (absl::StartsWith(AbslView(token), "tenant=")) {
      field = &tenant, prefix = "tenant=";
    } else if (absl::StartsWith(AbslView(token), "role=")) {
      field = &role, prefix = "role=";
    } else if (absl::StartsWith(AbslView(token), "id=")) {
      field = &id, prefix = "id=";
    } else {
      return absl::InvalidArgumentError(
          "unrecognised field (expected sha256:<64 hex>, tenant=, role= and optional id=)");
    }
    if (field->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate ", AbslView(prefix), " field"));
    }
    *field = token.substr(prefix.size());
  }
  ParsedEntry entry;
  if (!digest_hex) return absl::InvalidArgumentError("missing sha256:<64 hex> digest");
  if (!DecodeDigest(*digest_hex, entry.digest)) {
    return absl::InvalidArgumentError("sha256 digest must be exactly 64 hex digits");
  }
  if (!tenant) return absl::InvalidArgumentError("missing tenant=");
  if (!IsValidTenant(*tenant)) {
    return absl::InvalidArgumentError("tenant must be 1..128 bytes of [A-Za-z0-9._-]");
  }
  if (!role) return absl::InvalidArgumentError("missing role=");
  absl::StatusOr<Role> parsed_role = ParseRole(*role);
  if (!parsed_role.ok()) return parsed_role.status();
  if (id && !IsValidId(*id)) {
    return absl::InvalidArgumentError(
        "id must be 1..128 printable ASCII characters without spaces or '#'");
  }
  entry.principal.tenant = std::string(*tenant);
  entry.principal.role = *parsed_role;
  entry.principal.capabilities = CapabilitiesOf(*parsed_role);
  entry.principal.id = id ? std::string(*id) : "key-" + HexOf(entry.digest, 4);
  return entry;
}

// The key from "Bearer <key>" (scheme case-insensitive), or nullopt when malformed or empty.
std::optional<std::string_view> BearerKey(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  authorization = StripWhitespace(authorization);
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(AbslView(authorization.substr(0, kScheme.size())),
                              AbslView(kScheme)) ||
      authorization[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view key = StripWhitespace(authorization.substr(kScheme.size() + 1));
  if (key.empty()) return std::nullopt;
  return key;
}

// The one key the caller presents. A well-formed Bearer header wins; x-api-key is only the
// fallback, so a caller is never tried against two keys.
std::optional<std::string_view> PresentedKey(std::optional<std::string_view> authorization,
                                             std::optional<std::string_view> x_api_key) {
  if (authorization) {
    if (std::optional<std::string_view> key = BearerKey(*authorization)) return key;
  }
  if (x_api_key) {
    std::string_view key = StripWhitespace(*x_api_key);
    if (!key.empty()) return key;
  }
  return std::nullopt;
}

std::shared_ptr<const Principal> MakeDevelopmentPrincipal() {
  auto principal = std::make_shared<Principal>();
  principal->id = "anonymous";
  principal->tenant = "default";
  principal->role = Role::kAdmin;
  principal->capabilities = CapabilitiesOf(Role::kAdmin);
  return principal;
}

}  // namespace

std::string_view CapabilityName(Capability capability) {
  switch (capability) {
    case Capability::kRead:
      return "Read";
    case Capability::kWrite:
      return "Write";
    case Capability::kManageCollections:
      return "ManageCollections";
    case Capability::kManageIndexes:
      return "ManageIndexes";
    case Capability::kViewMetrics:
      return "ViewMetrics";
    case Capability::kAdmin:
      return "Admin";
  }
  return "Unknown";  // a value cast from bits that name no single capability
}

absl::StatusOr<Role> ParseRole(std::string_view text) {
  if (absl::EqualsIgnoreCase(AbslView(text), "admin")) return Role::kAdmin;
  if (absl::EqualsIgnoreCase(AbslView(text), "editor")) return Role::kEditor;
  if (absl::EqualsIgnoreCase(AbslView(text), "viewer")) return Role::kViewer;
  return absl::InvalidArgumentError("role must be admin, editor or viewer");
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kEditor:
      return "editor";
    case Role::kViewer:
      return "viewer";
  }
  return "unknown";
}

uint32_t CapabilitiesOf(Role role) {
  switch (role) {
    case Role::kAdmin:
      return kAllCapabilities;
    case Role::kEditor:
      return static_cast<uint32_t>(Capability::kRead) | static_cast<uint32_t>(Capability::kWrite) |
             static_cast<uint32_t>(Capability::kManageCollections) |
             static_cast<uint32_t>(Capability::kManageIndexes);
    case Role::kViewer:
      return static_cast<uint32_t>(Capability::kRead) |
             static_cast<uint32_t>(Capability::kViewMetrics);
  }
  return 0;  // an out-of-range Role grants nothing
}

bool Principal::Has(Capability capability) const {
  const uint32_t admin = static_cast<uint32_t>(Capability::kAdmin);
  const uint32_t wanted = static_cast<uint32_t>(capability);
  return (capabilities & admin) != 0 || (capabilities & wanted) == wanted;
}

bool Principal::OwnsNamespace(std::string_view ns) const {
  if (Has(Capability::kAdmin)) return true;
  // An empty tenant would otherwise own "" and every "/..." namespace.
  if (tenant.empty()) return false;
  if (ns == tenant) return true;
  return ns.size() > tenant.size() && absl::StartsWith(AbslView(ns), tenant) &&
         ns[tenant.size()] == '/';
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[kDigestBytes];
  Sha256(data, digest);
  return HexOf(digest, kDigestBytes);
}

absl::StatusOr<std::shared_ptr<const KeyRing>> KeyRing::Parse(std::string_view text) {
  auto ring = std::make_shared<KeyRing>();
  // Digest (lower-case hex) -> line it first appeared on, to name both lines of a duplicate.
  absl::flat_hash_map<std::string, int> seen;
  const std::string empty_key_digest = Sha256Hex("");
  int line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;

    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> tokens;
    for (absl::string_view token :
         absl::StrSplit(AbslView(line), absl::ByAnyChar(kAsciiWhitespace), absl::SkipEmpty())) {
      tokens.push_back(StdView(token));
    }
    if (tokens.empty()) continue;
    absl::StatusOr<ParsedEntry> parsed = ParseEntry(tokens);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", parsed.status().message()));
    }
    std::string hex = HexOf(parsed->digest, kDigestBytes);
    if (hex == empty_key_digest) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": digest is that of the empty key, which is never accepted"));
    }
    auto [it, inserted] = seen.emplace(std::move(hex), line_number);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": duplicate key digest (first on line ", it->second, ")"));
    }
    Entry entry;
    std::memcpy(entry.digest, parsed->digest, kDigestBytes);
    entry.principal = std::make_shared<const Principal>(std::move(parsed->principal));
    ring->entries_.push_back(std::move(entry));
  }
  if (ring->entries_.empty()) {
    // Loading no keys would lock every caller out without saying why.
    return absl::InvalidArgumentError("key file has no entries");
  }
  return std::shared_ptr<const KeyRing>(std::move(ring));
}

absl::StatusOr<std::shared_ptr<const KeyRing>> KeyRing::LoadFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open key file ", path));
  }
  std::string text;
  char buffer[8192];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxKeyFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key file is larger than ", kMaxKeyFileBytes, " bytes"));
    }
  }
  if (std::ferror(file.get())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read key file ", path));
  }
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = Parse(text);
  if (!ring.ok()) {
    return absl::Status(ring.status().code(), absl::StrCat(path, ": ", ring.status().message()));
  }
  return ring;
}

std::shared_ptr<const Principal> KeyRing::Find(std::string_view presented_key) const {
  if (presented_key.empty()) return nullptr;
  unsigned char digest[kDigestBytes];
  Sha256(presented_key, digest);
  // Visit every entry and pick the match with masks rather than a branch, so neither the
  // matching entry's position nor a partial match shows in the timing.
  size_t match_index = 0;
  size_t found = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    uint32_t diff = static_cast<uint32_t>(CRYPTO_memcmp(digest, entries_[i].digest, kDigestBytes));
    size_t equal = static_cast<size_t>(((diff | (0u - diff)) >> 31) ^ 1u);  // 1 iff diff == 0
    size_t mask = 0 - equal;
    match_index = (match_index & ~mask) | (i & mask);
    found |= equal;
  }
  return found != 0 ? entries_[match_index].principal : nullptr;
}

absl::StatusOr<std::string> MakeKeyEntry(std::string_view key, std::string_view tenant, Role role,
                                         std::string_view id) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty");
  if (!IsValidKey(key)) {
    return absl::InvalidArgumentError(
        "key must be printable ASCII without spaces (it travels in a request header)");
  }
  if (!IsValidTenant(tenant)) {
    return absl::InvalidArgumentError("tenant must be 1..128 bytes of [A-Za-z0-9._-]");
  }
  if (!id.empty() && !IsValidId(id)) {
    return absl::InvalidArgumentError(
        "id must be 1..128 printable ASCII characters without spaces or '#'");
  }
  std::string entry = absl::StrCat("sha256:", Sha256Hex(key), " tenant=", AbslView(tenant),
                                   " role=", AbslView(RoleName(role)));
  if (!id.empty()) absl::StrAppend(&entry, " id=", AbslView(id));
  return entry;
}

Authorizer::Authorizer(std::shared_ptr<const KeyRing> keys)
    : keys_(keys),
      development_mode_(keys == nullptr),
      development_principal_(keys == nullptr ? MakeDevelopmentPrincipal() : nullptr) {}

bool Authorizer::development_mode() const { return development_mode_; }

absl::StatusOr<std::shared_ptr<const Principal>> Authorizer::Authenticate(
    std::optional<std::string_view> authorization,
    std::optional<std::string_view> x_api_key) const {
  if (development_mode_) return development_principal_;
  std::optional<std::string_view> key = PresentedKey(authorization, x_api_key);
  if (!key) return absl::UnauthenticatedError(AbslView(kAuthenticationRequired));
  std::shared_ptr<const KeyRing> keys;
  {
    absl::ReaderMutexLock lock(&mu_);
    keys = keys_;  // never null outside development mode: ReplaceKeys refuses nullptr
  }
  std::shared_ptr<const Principal> principal = keys->Find(*key);
  if (principal == nullptr) return absl::UnauthenticatedError(AbslView(kInvalidApiKey));
  return principal;
}

absl::Status Authorizer::CheckCapability(const Principal& principal, Capability capability) {
  if (principal.Has(capability)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("Insufficient permissions. Required: ", AbslView(CapabilityName(capability)),
                   ", principal: ", principal.id));
}

absl::Status Authorizer::CheckNamespace(const Principal& principal, std::string_view ns) {
  if (principal.OwnsNamespace(ns)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("Access denied to namespace '",
                                                  PrintableNamespace(ns), "' for tenant '",
                                                  principal.tenant, "'"));
}

absl::Status Authorizer::ReplaceKeys(std::shared_ptr<const KeyRing> keys) {
  if (development_mode_ && keys != nullptr) {
    return absl::FailedPreconditionError(
        "the server runs in development mode (no key file); restart it with a key file to "
        "turn authentication on");
  }
  if (!development_mode_ && keys == nullptr) {
    return absl::FailedPreconditionError(
        "cannot turn authentication off while the server runs; restart it without a key file");
  }
  {
    absl::MutexLock lock(&mu_);
    keys_.swap(keys);
  }
  // `keys` now holds the old ring; it is released here, outside the lock.
  return absl::OkStatus();
}

}  // namespace sochdb::auth
