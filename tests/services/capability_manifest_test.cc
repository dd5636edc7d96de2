// Tests of the capability manifest: what a full server lists passes §2.9's rules, a capability
// is listed only when every service it needs is served, and each rule of ValidateManifest
// refuses a manifest that breaks it.
#include "services/capability/manifest.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace sochdb::services {
namespace {

const std::vector<std::string> kAll = {
    "sochdb.v1.KvService",           "sochdb.v1.VectorIndexService",
    "sochdb.v1.CollectionService",   "sochdb.v1.GraphService",
    "sochdb.v1.GraphExtensionService", "sochdb.v1.ContextService",
    "sochdb.v1.ContextExtensionService", "sochdb.v1.SemanticCacheService",
    "sochdb.v1.SemanticCacheExtensionService", "sochdb.v1.PolicyService",
    "sochdb.v1.NamespaceService",    "sochdb.v1.RetrievalService",
    "sochdb.v1.RetrievalExtensionService"};

std::vector<std::string> Names(const v1::CapabilityManifest& m) {
  std::vector<std::string> names;
  for (const auto& d : m.capabilities()) names.push_back(d.name());
  return names;
}

TEST_CASE("the full server's manifest passes the rules and lists every capability") {
  const v1::CapabilityManifest m = BuildManifest(kAll);
  CHECK(ValidateManifest(m).ok());
  CHECK(m.capabilities_size() == 10);
  CHECK(m.server_version() == "2.1.0");
  for (const auto& d : m.capabilities()) {
    CHECK(d.durability() == v1::CAPABILITY_DURABILITY_DURABLE);  // everything here persists
  }
}

TEST_CASE("a capability is listed only when its services are served") {
  const std::vector<std::string> kv_only = {"sochdb.v1.KvService"};
  CHECK(Names(BuildManifest(kv_only)) == std::vector<std::string>{"kv.store"});
  // Retrieval v2 needs MintToken's service too: without it no client could get a token.
  const std::vector<std::string> v2_alone = {"sochdb.v1.RetrievalService"};
  CHECK(BuildManifest(v2_alone).capabilities_size() == 0);
  CHECK(BuildManifest({}).capabilities_size() == 0);
}

TEST_CASE("each rule refuses the manifest that breaks it") {
  const v1::CapabilityManifest good = BuildManifest(kAll);
  auto broken = [&](auto&& change) {
    v1::CapabilityManifest m = good;
    change(m.mutable_capabilities(0));
    return ValidateManifest(m);
  };
  CHECK(absl::IsFailedPrecondition(broken([](v1::CapabilityDescriptor* d) {
    d->set_durability(v1::CAPABILITY_DURABILITY_EPHEMERAL);  // SUPPORTED but EPHEMERAL
  })));
  CHECK(absl::IsFailedPrecondition(
      broken([](v1::CapabilityDescriptor* d) { d->clear_guarantees(); })));
  CHECK(absl::IsFailedPrecondition(broken([](v1::CapabilityDescriptor* d) { d->clear_limits(); })));
  CHECK(broken([](v1::CapabilityDescriptor* d) {
          d->set_maturity(v1::CAPABILITY_MATURITY_EXPERIMENTAL);
          d->clear_limits();  // below PREVIEW a limit is not required
        }).ok());
  CHECK(absl::IsFailedPrecondition(broken(
      [](v1::CapabilityDescriptor* d) { d->set_maturity(v1::CAPABILITY_MATURITY_UNSPECIFIED); })));
  v1::CapabilityManifest twice = good;
  *twice.add_capabilities() = good.capabilities(0);
  CHECK(ValidateManifest(twice).message() ==
        "capability 'kv.store' breaks the manifest rules: its name is listed twice");
}

}  // namespace
}  // namespace sochdb::services
