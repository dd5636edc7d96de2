// Tests for engine/auth: digests, key-file parsing, constant-time lookup, roles and capabilities,
// namespace ownership, authentication from headers, development mode and key rotation. Every
// error path also checks that no key or digest leaks into the message, because error texts reach
// clients and logs (RELIABILITY.md, T8).
#include "engine/auth/auth.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"

namespace sochdb::auth {
namespace {

constexpr std::string_view kAuthRequired =
    "Authentication required. Provide a Bearer token or API key.";
constexpr std::string_view kInvalidKey = "Invalid API key.";

constexpr std::string_view kAcmeKey = "sk_acme_editor_key_0123456789";
constexpr std::string_view kGlobexKey = "sk_globex_viewer_key_9876543210";
constexpr std::string_view kRootKey = "sk_root_admin_key_abcdefabcdef";

std::string Message(const absl::Status& status) { return std::string(status.message()); }

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// A key file with the three keys above, comments, blank lines and an upper-case digest.
std::string GoodKeyFile() {
  std::string upper = Sha256Hex(kGlobexKey);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "# sochdb keys\n"
         "\n"
         "sha256:" +
         Sha256Hex(kAcmeKey) +
         " tenant=acme role=editor id=acme-ci  # CI\n"
         "   \t\n"
         "role=viewer tenant=globex sha256:" +
         upper +
         "\r\n"
         "sha256:" +
         Sha256Hex(kRootKey) + "\ttenant=ops role=Admin id=root\n";
}

std::shared_ptr<const KeyRing> GoodRing() {
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = KeyRing::Parse(GoodKeyFile());
  REQUIRE(ring.ok());
  return *ring;
}

// Parses `text`, expects INVALID_ARGUMENT naming `line`, and that nothing secret is echoed.
std::string ExpectParseError(const std::string& text, int line) {
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = KeyRing::Parse(text);
  REQUIRE_FALSE(ring.ok());
  CHECK(ring.status().code() == absl::StatusCode::kInvalidArgument);
  std::string message = Message(ring.status());
  CHECK(Contains(message, "line " + std::to_string(line) + ": "));
  CHECK_FALSE(Contains(message, Sha256Hex(kAcmeKey).substr(0, 16)));
  CHECK_FALSE(Contains(message, Sha256Hex(kGlobexKey).substr(0, 16)));
  CHECK_FALSE(Contains(message, kAcmeKey));
  return message;
}

}  // namespace

TEST_CASE("Sha256Hex matches the FIPS 180-2 vectors", "[auth]") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Sha256Hex(std::string_view("a\0b", 3)) != Sha256Hex("ab"));
}

TEST_CASE("Parse reads a good file with comments, blank lines and any field order", "[auth]") {
  std::shared_ptr<const KeyRing> ring = GoodRing();
  CHECK(ring->size() == 3);

  std::shared_ptr<const Principal> acme = ring->Find(kAcmeKey);
  REQUIRE(acme != nullptr);
  CHECK(acme->id == "acme-ci");
  CHECK(acme->tenant == "acme");
  CHECK(acme->role == Role::kEditor);
  CHECK(acme->capabilities == CapabilitiesOf(Role::kEditor));

  std::shared_ptr<const Principal> globex = ring->Find(kGlobexKey);  // upper-case digest
  REQUIRE(globex != nullptr);
  CHECK(globex->id == "key-" + Sha256Hex(kGlobexKey).substr(0, 8));
  CHECK(globex->tenant == "globex");
  CHECK(globex->role == Role::kViewer);

  std::shared_ptr<const Principal> root = ring->Find(kRootKey);
  REQUIRE(root != nullptr);
  CHECK(root->role == Role::kAdmin);
  CHECK(root->id == "root");
}

TEST_CASE("Parse errors name the line and never echo a digest or key", "[auth]") {
  const std::string acme = "sha256:" + Sha256Hex(kAcmeKey) + " tenant=acme role=editor\n";
  const std::string globex_digest = "sha256:" + Sha256Hex(kGlobexKey);

  CHECK(
      Contains(ExpectParseError(acme + "\n" + globex_digest + " tenant=g role=viewer color=red", 3),
               "unrecognised field"));
  // A raw key pasted where the digest belongs is an unknown field, and is not echoed.
  CHECK(Contains(ExpectParseError(std::string(kAcmeKey) + " tenant=acme role=editor\n", 1),
                 "unrecognised field"));
  CHECK(Contains(ExpectParseError(acme + acme, 2), "duplicate key digest (first on line 1)"));
  // The same digest in the other case is still a duplicate.
  std::string upper = Sha256Hex(kAcmeKey);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(Contains(ExpectParseError(acme + "sha256:" + upper + " tenant=x role=viewer\n", 2),
                 "duplicate key digest"));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant=a tenant=b role=viewer", 1),
                 "duplicate tenant= field"));
  CHECK(
      Contains(ExpectParseError("# c\n" + globex_digest.substr(0, 40) + " tenant=a role=viewer", 2),
               "64 hex digits"));
  CHECK(Contains(ExpectParseError("sha256:" + std::string(63, 'a') + "g tenant=a role=viewer", 1),
                 "64 hex digits"));
  CHECK(Contains(ExpectParseError("tenant=a role=viewer", 1), "missing sha256"));
  CHECK(Contains(ExpectParseError(globex_digest + " role=viewer", 1), "missing tenant="));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant=a/b role=viewer", 1), "tenant must"));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant= role=viewer", 1), "tenant must"));
  CHECK(Contains(
      ExpectParseError(globex_digest + " tenant=" + std::string(129, 't') + " role=viewer", 1),
      "tenant must"));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant=a", 1), "missing role="));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant=a role=" + std::string(kAcmeKey), 1),
                 "role must be admin, editor or viewer"));
  CHECK(Contains(ExpectParseError(globex_digest + " tenant=a role=viewer id=", 1), "id must"));
  CHECK(Contains(ExpectParseError("sha256:" + Sha256Hex("") + " tenant=a role=viewer", 1),
                 "empty key"));
}

TEST_CASE("Parse refuses a file without entries", "[auth]") {
  for (const char* text : {"", "\n\n", "# only a comment\n   \n# another\n"}) {
    absl::StatusOr<std::shared_ptr<const KeyRing>> ring = KeyRing::Parse(text);
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Message(ring.status()) == "key file has no entries");
  }
}

TEST_CASE("LoadFile reports a missing file and prefixes parse errors with the path", "[auth]") {
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  absl::StatusOr<std::shared_ptr<const KeyRing>> missing =
      KeyRing::LoadFile(dir + "/no-such-key-file");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);

  const std::string good_path = dir + "/good_keys.txt";
  std::ofstream(good_path) << GoodKeyFile();
  absl::StatusOr<std::shared_ptr<const KeyRing>> good = KeyRing::LoadFile(good_path);
  REQUIRE(good.ok());
  CHECK((*good)->size() == 3);

  const std::string bad_path = dir + "/bad_keys.txt";
  std::ofstream(bad_path) << "\n" << kAcmeKey << " tenant=acme role=editor\n";
  absl::StatusOr<std::shared_ptr<const KeyRing>> bad = KeyRing::LoadFile(bad_path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Contains(Message(bad.status()), bad_path + ": line 2: "));
  CHECK_FALSE(Contains(Message(bad.status()), kAcmeKey));
}

TEST_CASE("Find accepts only the exact key", "[auth]") {
  std::shared_ptr<const KeyRing> ring = GoodRing();
  CHECK(ring->Find(kAcmeKey) != nullptr);
  CHECK(ring->Find("sk_wrong") == nullptr);
  CHECK(ring->Find(kAcmeKey.substr(0, kAcmeKey.size() - 1)) == nullptr);  // prefix
  CHECK(ring->Find(std::string(kAcmeKey) + "x") == nullptr);              // extension
  CHECK(ring->Find("") == nullptr);
  CHECK(ring->Find(Sha256Hex(kAcmeKey)) == nullptr);  // the digest itself is not a key
}

TEST_CASE("Roles grant their documented capabilities", "[auth]") {
  const uint32_t read = static_cast<uint32_t>(Capability::kRead);
  const uint32_t write = static_cast<uint32_t>(Capability::kWrite);
  const uint32_t collections = static_cast<uint32_t>(Capability::kManageCollections);
  const uint32_t indexes = static_cast<uint32_t>(Capability::kManageIndexes);
  const uint32_t metrics = static_cast<uint32_t>(Capability::kViewMetrics);
  const uint32_t admin = static_cast<uint32_t>(Capability::kAdmin);
  CHECK(CapabilitiesOf(Role::kAdmin) == (read | write | collections | indexes | metrics | admin));
  CHECK(CapabilitiesOf(Role::kEditor) == (read | write | collections | indexes));
  CHECK(CapabilitiesOf(Role::kViewer) == (read | metrics));

  CHECK(*ParseRole("viewer") == Role::kViewer);
  CHECK(*ParseRole("EDITOR") == Role::kEditor);
  CHECK(*ParseRole("Admin") == Role::kAdmin);
  CHECK(ParseRole("root").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseRole("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(RoleName(Role::kEditor) == "editor");
  CHECK(CapabilityName(Capability::kManageCollections) == "ManageCollections");
  CHECK(CapabilityName(Capability::kViewMetrics) == "ViewMetrics");
}

TEST_CASE("Has: Admin implies every capability", "[auth]") {
  Principal viewer{"v", "acme", Role::kViewer, CapabilitiesOf(Role::kViewer)};
  CHECK(viewer.Has(Capability::kRead));
  CHECK(viewer.Has(Capability::kViewMetrics));
  CHECK_FALSE(viewer.Has(Capability::kWrite));
  CHECK_FALSE(viewer.Has(Capability::kAdmin));

  Principal admin_only{"a", "ops", Role::kAdmin, static_cast<uint32_t>(Capability::kAdmin)};
  for (Capability c : {Capability::kRead, Capability::kWrite, Capability::kManageCollections,
                       Capability::kManageIndexes, Capability::kViewMetrics, Capability::kAdmin}) {
    CHECK(admin_only.Has(c));
  }
  Principal nothing{"n", "acme", Role::kViewer, 0};
  CHECK_FALSE(nothing.Has(Capability::kRead));
}

TEST_CASE("OwnsNamespace: the tenant's own name and what lies under it", "[auth]") {
  Principal acme{"e", "acme", Role::kEditor, CapabilitiesOf(Role::kEditor)};
  CHECK(acme.OwnsNamespace("acme"));
  CHECK(acme.OwnsNamespace("acme/x"));
  CHECK(acme.OwnsNamespace("acme/x/y"));
  CHECK_FALSE(acme.OwnsNamespace("acmex"));
  CHECK_FALSE(acme.OwnsNamespace("acm"));
  CHECK_FALSE(acme.OwnsNamespace("default"));
  CHECK_FALSE(acme.OwnsNamespace(""));
  CHECK_FALSE(acme.OwnsNamespace("globex/acme"));
  CHECK_FALSE(acme.OwnsNamespace("ACME"));

  Principal admin{"r", "ops", Role::kAdmin, CapabilitiesOf(Role::kAdmin)};
  CHECK(admin.OwnsNamespace("acme"));
  CHECK(admin.OwnsNamespace("default"));

  Principal no_tenant{"x", "", Role::kEditor, CapabilitiesOf(Role::kEditor)};
  CHECK_FALSE(no_tenant.OwnsNamespace(""));
  CHECK_FALSE(no_tenant.OwnsNamespace("/x"));
}

TEST_CASE("Authenticate reads Bearer or x-api-key and never echoes the key", "[auth]") {
  Authorizer authorizer(GoodRing());
  CHECK_FALSE(authorizer.development_mode());
  using Opt = std::optional<std::string_view>;
  const std::string bearer = "Bearer " + std::string(kAcmeKey);

  auto tenant_of = [&](Opt authorization, Opt api_key) -> std::string {
    absl::StatusOr<std::shared_ptr<const Principal>> p =
        authorizer.Authenticate(authorization, api_key);
    REQUIRE(p.ok());
    return (*p)->tenant;
  };
  CHECK(tenant_of(bearer, std::nullopt) == "acme");
  CHECK(tenant_of("bearer  " + std::string(kAcmeKey) + " ", std::nullopt) == "acme");
  CHECK(tenant_of(std::nullopt, kGlobexKey) == "globex");
  CHECK(tenant_of(bearer, kGlobexKey) == "acme");       // Bearer wins
  CHECK(tenant_of("Basic x", kGlobexKey) == "globex");  // not Bearer: fall back
  CHECK(tenant_of("Bearer ", kGlobexKey) == "globex");  // empty Bearer: fall back

  auto error_of = [&](Opt authorization, Opt api_key) -> absl::Status {
    absl::StatusOr<std::shared_ptr<const Principal>> p =
        authorizer.Authenticate(authorization, api_key);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
    // Every key in this test starts with "sk_"; only the two fixed texts may come back.
    CHECK_FALSE(Contains(Message(p.status()), "sk_"));
    CHECK((Message(p.status()) == kAuthRequired || Message(p.status()) == kInvalidKey));
    return p.status();
  };
  CHECK(Message(error_of(std::nullopt, std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of("Basic x", std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of("Bearer ", std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of("Bearer", std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of("Bearer" + std::string(kAcmeKey), std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of(std::string(kAcmeKey), std::nullopt)) == kAuthRequired);
  CHECK(Message(error_of(std::nullopt, "  ")) == kAuthRequired);
  CHECK(Message(error_of("Bearer sk_unknown_key", std::nullopt)) == kInvalidKey);
  CHECK(Message(error_of(std::nullopt, "sk_unknown_key")) == kInvalidKey);
  CHECK(Message(error_of("Bearer sk_unknown_key", kAcmeKey)) == kInvalidKey);  // one key only
  CHECK(Message(error_of("Bearer " + std::string(kAcmeKey.substr(0, 10)), std::nullopt)) ==
        kInvalidKey);
}

TEST_CASE("CheckCapability and CheckNamespace texts", "[auth]") {
  Authorizer authorizer(GoodRing());
  Principal viewer{"dash", "globex", Role::kViewer, CapabilitiesOf(Role::kViewer)};
  CHECK(Authorizer::CheckCapability(viewer, Capability::kRead).ok());
  absl::Status denied = Authorizer::CheckCapability(viewer, Capability::kWrite);
  CHECK(denied.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Message(denied) == "Insufficient permissions. Required: Write, principal: dash");

  CHECK(authorizer.CheckNamespace(viewer, "globex/docs").ok());
  absl::Status other = authorizer.CheckNamespace(viewer, "acme");
  CHECK(other.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Message(other) == "Access denied to namespace 'acme' for tenant 'globex'");
  CHECK_FALSE(authorizer.CheckNamespace(viewer, "default").ok());
}

TEST_CASE("Development mode: everyone is the anonymous admin of tenant default", "[auth]") {
  Authorizer authorizer(nullptr);
  CHECK(authorizer.development_mode());
  for (std::optional<std::string_view> header :
       {std::optional<std::string_view>(), std::optional<std::string_view>("Bearer whatever"),
        std::optional<std::string_view>("garbage")}) {
    absl::StatusOr<std::shared_ptr<const Principal>> p = authorizer.Authenticate(header, "x");
    REQUIRE(p.ok());
    CHECK((*p)->id == "anonymous");
    CHECK((*p)->tenant == "default");
    CHECK((*p)->role == Role::kAdmin);
    CHECK((*p)->capabilities == CapabilitiesOf(Role::kAdmin));
  }
  // Every namespace is the development principal's: it holds Admin (the namespace rule has no
  // development-mode exception of its own, so no other principal gains one).
  absl::StatusOr<std::shared_ptr<const Principal>> anonymous =
      authorizer.Authenticate(std::nullopt, std::nullopt);
  REQUIRE(anonymous.ok());
  CHECK(Authorizer::CheckNamespace(**anonymous, "acme").ok());
  Principal viewer{"v", "globex", Role::kViewer, CapabilitiesOf(Role::kViewer)};
  CHECK(!Authorizer::CheckNamespace(viewer, "acme").ok());
}

TEST_CASE("ReplaceKeys rotates keys; calls in flight keep their principal", "[auth]") {
  Authorizer authorizer(GoodRing());
  absl::StatusOr<std::shared_ptr<const Principal>> before =
      authorizer.Authenticate(std::nullopt, kAcmeKey);
  REQUIRE(before.ok());

  const std::string new_key = "sk_acme_rotated_key_000000000";
  absl::StatusOr<std::string> entry = MakeKeyEntry(new_key, "acme", Role::kEditor, "rotated");
  REQUIRE(entry.ok());
  absl::StatusOr<std::shared_ptr<const KeyRing>> rotated = KeyRing::Parse(*entry);
  REQUIRE(rotated.ok());
  REQUIRE(authorizer.ReplaceKeys(*rotated).ok());

  absl::StatusOr<std::shared_ptr<const Principal>> old_key =
      authorizer.Authenticate(std::nullopt, kAcmeKey);
  REQUIRE_FALSE(old_key.ok());
  CHECK(Message(old_key.status()) == kInvalidKey);
  absl::StatusOr<std::shared_ptr<const Principal>> fresh =
      authorizer.Authenticate("Bearer " + new_key, std::nullopt);
  REQUIRE(fresh.ok());
  CHECK((*fresh)->id == "rotated");
  CHECK((*before)->id == "acme-ci");  // the old principal is still alive and unchanged

  absl::Status to_dev = authorizer.ReplaceKeys(nullptr);
  CHECK(to_dev.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(authorizer.Authenticate("Bearer " + new_key, std::nullopt).ok());  // unchanged

  Authorizer development(nullptr);
  CHECK(development.ReplaceKeys(GoodRing()).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(development.development_mode());
  CHECK(development.ReplaceKeys(nullptr).ok());
}

TEST_CASE("ReplaceKeys is safe while other threads authenticate", "[auth]") {
  Authorizer authorizer(GoodRing());
  const std::string rotated_key = "sk_rotated_concurrent_key_00000";
  absl::StatusOr<std::string> entry = MakeKeyEntry(rotated_key, "acme", Role::kEditor, "");
  REQUIRE(entry.ok());
  absl::StatusOr<std::shared_ptr<const KeyRing>> rotated = KeyRing::Parse(*entry);
  REQUIRE(rotated.ok());

  std::atomic<int> unexpected{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        absl::StatusOr<std::shared_ptr<const Principal>> p =
            authorizer.Authenticate(std::nullopt, i % 2 ? kAcmeKey : rotated_key);
        bool ok = p.ok() ? (*p)->tenant == "acme" : Message(p.status()) == kInvalidKey;
        if (!ok) unexpected.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    REQUIRE(authorizer.ReplaceKeys(i % 2 ? GoodRing() : *rotated).ok());
  }
  for (std::thread& reader : readers) reader.join();
  CHECK(unexpected.load() == 0);
}

TEST_CASE("MakeKeyEntry round-trips through Parse and Find", "[auth]") {
  const std::string key = "sk_0123456789abcdef0123456789abcdef";
  absl::StatusOr<std::string> entry = MakeKeyEntry(key, "acme.prod-1", Role::kViewer, "ci@bot");
  REQUIRE(entry.ok());
  CHECK(*entry == "sha256:" + Sha256Hex(key) + " tenant=acme.prod-1 role=viewer id=ci@bot");
  CHECK_FALSE(Contains(*entry, key));
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring = KeyRing::Parse(*entry + "\n");
  REQUIRE(ring.ok());
  std::shared_ptr<const Principal> p = (*ring)->Find(key);
  REQUIRE(p != nullptr);
  CHECK(p->tenant == "acme.prod-1");
  CHECK(p->role == Role::kViewer);
  CHECK(p->id == "ci@bot");

  absl::StatusOr<std::string> no_id = MakeKeyEntry(key, "acme", Role::kAdmin, "");
  REQUIRE(no_id.ok());
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring2 = KeyRing::Parse(*no_id);
  REQUIRE(ring2.ok());
  REQUIRE((*ring2)->Find(key) != nullptr);
  CHECK((*ring2)->Find(key)->id == "key-" + Sha256Hex(key).substr(0, 8));
}

TEST_CASE("MakeKeyEntry rejects what Parse or a header could not carry", "[auth]") {
  const std::string key = "sk_secret_value_123456";
  for (auto [k, tenant, id] : {std::tuple<std::string, std::string, std::string>{"", "a", ""},
                               {"sk with space", "a", ""},
                               {"sk_\x01", "a", ""},
                               {key, "", ""},
                               {key, "a/b", ""},
                               {key, "a b", ""},
                               {key, "a", "has space"},
                               {key, "a", "has#hash"},
                               {key, "a", std::string(129, 'i')}}) {
    absl::StatusOr<std::string> entry = MakeKeyEntry(k, tenant, Role::kViewer, id);
    REQUIRE_FALSE(entry.ok());
    CHECK(entry.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(Contains(Message(entry.status()), "sk_"));
  }
}

TEST_CASE("a refused namespace is echoed escaped and cut short") {
  absl::StatusOr<std::shared_ptr<const KeyRing>> keys =
      KeyRing::Parse(*MakeKeyEntry("sk_echo_test_key_0001", "acme", Role::kEditor, "echo"));
  REQUIRE(keys.ok());
  Authorizer authorizer(*keys);
  auto principal = authorizer.Authenticate(std::string_view("Bearer sk_echo_test_key_0001"),
                                           std::nullopt);
  REQUIRE(principal.ok());
  const absl::Status control = authorizer.CheckNamespace(**principal, std::string("be\nta\0x", 7));
  CHECK(Message(control) == "Access denied to namespace 'be\\nta\\x00x' for tenant 'acme'");
  const absl::Status huge = authorizer.CheckNamespace(**principal, std::string(20000, 'z'));
  CHECK(huge.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Message(huge).size() < 300);
  CHECK(Contains(Message(huge), "(20000 bytes)"));
}

}  // namespace sochdb::auth
