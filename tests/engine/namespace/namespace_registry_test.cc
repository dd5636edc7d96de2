// NamespaceRegistry: each call's contract and error texts, limits, persistence across a reopen,
// what it asks of the UsageTracker, and DeleteNamespace's deletion of a namespace's data in every
// family (checked by scanning the whole store), its refusal without force, and the resumption of
// a delete a crash interrupted.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/engine/namespace/namespace_test_util.h"

namespace sochdb::namespaces {
namespace {

using namespace testing;  // NOLINT: this test's helpers
using storage::KeyBuilder;
using storage::KeyFamily;

TEST_CASE("Create, Get, List and SetQuota keep their contract across a reopen", "[namespace]") {
  Fixture f("registry_contract");
  NamespaceDefinition d;
  d.name = "team-a";
  d.description = "the A team";
  d.quota = Quota{1000, 20, 3};
  d.metadata = {{"owner", "ann"}, {"k\x01", "v\xff"}};
  const NamespaceInfo created = ValueOrFail(f.registry->Create(d));
  CHECK(created.definition.created_at == 1'700'000'000);
  CHECK(created.usage == Usage{7, 3, 1});  // the tracker's figures
  RequireError(f.registry->Create(d).status(), absl::StatusCode::kAlreadyExists,
               "Namespace 'team-a' already exists");
  f.Create("team-b");
  f.Create("other");

  f.Reopen();
  const NamespaceInfo got = ValueOrFail(f.registry->Get("team-a"));
  CHECK(got.definition.description == "the A team");
  CHECK(got.definition.quota == Quota{1000, 20, 3});
  CHECK(got.definition.metadata == d.metadata);
  CHECK(got.definition.created_at == 1'700'000'000);
  CHECK_FALSE(ValueOrFail(f.registry->Get("team-b")).definition.quota.has_value());
  RequireError(f.registry->Get("nope").status(), absl::StatusCode::kNotFound,
               "Namespace 'nope' not found");

  std::vector<std::string> listed;
  for (const NamespaceInfo& info :
       f.registry->List([](const std::string& ns) { return ns.rfind("team-", 0) == 0; })) {
    listed.push_back(info.definition.name);
  }
  CHECK(listed == std::vector<std::string>{"team-a", "team-b"});

  REQUIRE_OK(f.registry->SetQuota("team-b", Quota{0, 5, 0}));
  REQUIRE_OK(f.registry->SetQuota("team-a", std::nullopt));  // absent quota clears it
  RequireError(f.registry->SetQuota("nope", Quota{}), absl::StatusCode::kNotFound,
               "Namespace 'nope' not found");
  f.Reopen();
  CHECK(ValueOrFail(f.registry->Get("team-b")).definition.quota == Quota{0, 5, 0});
  CHECK_FALSE(ValueOrFail(f.registry->Get("team-a")).definition.quota.has_value());
}

TEST_CASE("the tracker tracks every live namespace, with its quota, until it is deleted",
          "[namespace]") {
  Fixture f("registry_tracker");
  f.Create("a", Quota{1, 2, 3});
  f.Create("b");
  CHECK(f.tracker.quotas() == std::map<std::string, Quota>{{"a", {1, 2, 3}}, {"b", {}}});
  REQUIRE_OK(f.registry->SetQuota("b", Quota{9, 9, 9}));
  CHECK(f.tracker.quotas().at("b") == Quota{9, 9, 9});
  REQUIRE_OK(f.registry->Delete("a", false));
  CHECK(f.tracker.quotas() == std::map<std::string, Quota>{{"b", {9, 9, 9}}});

  f.Close();
  f.tracker.Untrack("b");
  f.Open();  // Open tracks what is registered
  CHECK(f.tracker.quotas() == std::map<std::string, Quota>{{"b", {9, 9, 9}}});
}

TEST_CASE("names, descriptions and metadata are bounded, with messages naming the limit",
          "[namespace]") {
  Fixture f("registry_limits");
  const auto create = [&](NamespaceDefinition d) { return f.registry->Create(d).status(); };
  NamespaceDefinition d;
  RequireError(create(d), absl::StatusCode::kInvalidArgument, "name must not be empty");
  d.name = std::string(257, 'n');
  RequireError(create(d), absl::StatusCode::kInvalidArgument,
               "name is 257 bytes; the limit is 256 bytes");
  d.name = std::string("a\0b", 3);
  RequireError(create(d), absl::StatusCode::kInvalidArgument, "name must not contain NUL bytes");
  d.name = "ok";
  d.description = std::string(4097, 'd');
  RequireError(create(d), absl::StatusCode::kInvalidArgument,
               "description is 4097 bytes; the limit is 4096 bytes");
  d.description = std::string(4096, 'd');
  for (int i = 0; i < 257; ++i) d.metadata[absl::StrCat("k", i)] = "v";
  RequireError(create(d), absl::StatusCode::kInvalidArgument,
               "metadata is 257 entries; the limit is 256 entries");
  d.metadata = {{"big", std::string(64 * 1024, 'v')}};
  RequireError(create(d), absl::StatusCode::kInvalidArgument,
               "metadata is 65539 bytes; the limit is 65536 bytes");
  d.metadata = {{"big", std::string(64 * 1024 - 3, 'v')}};
  d.name = std::string(256, 'n');
  REQUIRE_OK(create(d));  // every limit reached exactly
  RequireError(f.registry->Get("").status(), absl::StatusCode::kInvalidArgument,
               "name must not be empty");
  RequireError(f.registry->SetQuota("", Quota{}), absl::StatusCode::kInvalidArgument,
               "namespace must not be empty");
  RequireError(f.registry->Delete("", true), absl::StatusCode::kInvalidArgument,
               "name must not be empty");
}

// Data of `ns` in every family: KV keys with and without TTL, a hybrid collection (documents,
// vectors, vector log, postings), and graph-family keys (keyed namespace-first, so a raw key
// stands for them).
void FillNamespace(Fixture& f, const std::string& ns) {
  REQUIRE_OK(f.kv->Put(ns, "plain", "v", 0));
  REQUIRE_OK(f.kv->Put(ns, "expiring", "v", 3600));
  f.AddCollection(ns, "docs");
  f.AddCollection(ns, "more");
  storage::WriteBatch batch;
  for (KeyFamily family : {KeyFamily::kGraphNode, KeyFamily::kGraphOutEdge,
                           KeyFamily::kGraphInEdge, KeyFamily::kGraphTemporalEdge,
                           KeyFamily::kGraphTemporalInEdge}) {
    batch.Put(KeyBuilder(family).Name(ns).Raw("node-1").key(), "x");
  }
  REQUIRE_OK(f.store->Write(&batch));
}

TEST_CASE("DeleteNamespace with force deletes the namespace's keys in every family, and only "
          "them",
          "[namespace]") {
  Fixture f("registry_delete_all");
  const std::string ns = "zebra-ns";
  f.Create(ns);
  FillNamespace(f, ns);
  FillNamespace(f, ns + "/sub");  // a namespace whose name starts with ns
  FillNamespace(f, "neighbour");
  REQUIRE(f.KeysNaming(ns).size() > 10);
  const std::vector<std::string> sub_keys = f.KeysNaming(ns + "/sub", false);
  const std::vector<std::string> neighbour_keys = f.KeysNaming("neighbour", false);

  RequireError(f.registry->Delete(ns, false), absl::StatusCode::kFailedPrecondition,
               "Namespace 'zebra-ns' is not empty (it holds 2 collections, KV keys, graph "
               "data); set force to delete it with its data");
  CHECK(ValueOrFail(f.registry->Get(ns)).definition.name == ns);  // refused: nothing changed

  REQUIRE_OK(f.registry->Delete(ns, true));
  CHECK(f.KeysNaming(ns).empty());
  CHECK(ValueOrFail(f.kv->Get(ns, "plain")) == std::nullopt);
  CHECK(f.collections->List([&](const std::string& c) { return c == ns; }).empty());
  RequireError(f.registry->Get(ns).status(), absl::StatusCode::kNotFound,
               "Namespace 'zebra-ns' not found");
  CHECK(f.KeysNaming(ns + "/sub", false) == sub_keys);
  CHECK(f.KeysNaming("neighbour", false) == neighbour_keys);
  CHECK(ValueOrFail(f.registry->Holdings(ns)).empty());

  f.Reopen();  // nothing comes back, nothing else is lost
  CHECK(f.KeysNaming(ns).empty());
  CHECK(f.KeysNaming("neighbour", false) == neighbour_keys);
  CHECK(ValueOrFail(f.collections->Get("neighbour", "docs")).document_count == 2);
  // The name can be used again.
  f.Create(ns);
  REQUIRE_OK(f.kv->Put(ns, "again", "v", 0));
}

TEST_CASE("DeleteNamespace of an empty or unregistered namespace", "[namespace]") {
  Fixture f("registry_delete_cases");
  f.Create("empty");
  REQUIRE_OK(f.registry->Delete("empty", false));  // holds nothing: no force needed
  RequireError(f.registry->Delete("empty", false), absl::StatusCode::kNotFound,
               "Namespace 'empty' not found");
  // Unregistered but holding data: refused without force, deleted with it.
  REQUIRE_OK(f.kv->Put("lazy", "k", "v", 0));
  RequireError(f.registry->Delete("lazy", false), absl::StatusCode::kFailedPrecondition,
               "Namespace 'lazy' is not empty (it holds KV keys); set force to delete it with "
               "its data");
  REQUIRE_OK(f.registry->Delete("lazy", true));
  CHECK(f.KeysNaming("lazy").empty());
  RequireError(f.registry->Delete("lazy", true), absl::StatusCode::kNotFound,
               "Namespace 'lazy' not found");
}

TEST_CASE("a delete a crash interrupted is finished by the next open", "[namespace]") {
  Fixture f("registry_resume");
  f.Create("registered", Quota{5, 5, 5});
  FillNamespace(f, "registered");
  FillNamespace(f, "unregistered");
  FillNamespace(f, "kept");
  const std::vector<std::string> kept = f.KeysNaming("kept", false);
  f.Close();
  {
    // What Delete writes before it deletes any data: the records in state "deleting" (for the
    // unregistered namespace, a record of its own).
    storage::StoreOptions options;
    auto store = ValueOrFail(storage::Store::Open(f.dir + "/db", options));
    storage::WriteBatch batch;
    batch.Put(storage::NamespaceRecordKey("registered"),
              "state=1 description= created_at=5 has_quota=1 max_storage_bytes=5 max_vectors=5 "
              "max_collections=5");
    batch.Put(storage::NamespaceRecordKey("unregistered"),
              "state=1 description= created_at=5 has_quota=0");
    REQUIRE_OK(store->Write(&batch));
  }
  f.Open();
  CHECK(f.KeysNaming("registered").empty());
  CHECK(f.KeysNaming("unregistered").empty());
  CHECK(f.KeysNaming("kept", false) == kept);
  CHECK(f.tracker.quotas().count("registered") == 0);
  REQUIRE(f.registry->Enter("registered").ok());  // open again
}

TEST_CASE("a damaged namespace record fails the open with DATA_LOSS naming it", "[namespace]") {
  Fixture f("registry_damaged");
  f.Close();
  {
    storage::StoreOptions options;
    auto store = ValueOrFail(storage::Store::Open(f.dir + "/db", options));
    storage::WriteBatch batch;
    batch.Put(storage::NamespaceRecordKey("bad"), "state=7 description= created_at=5");
    REQUIRE_OK(store->Write(&batch));
  }
  storage::StoreOptions options;
  auto store = ValueOrFail(storage::Store::Open(f.dir + "/db", options));
  collection::CollectionStoreOptions collection_options;
  collection_options.snapshot_dir = f.dir + "/snapshots";
  auto collections = ValueOrFail(collection::CollectionStore::Open(store.get(), collection_options));
  RequireError(NamespaceRegistry::Open(store.get(), collections.get(), nullptr).status(),
               absl::StatusCode::kDataLoss,
               "the namespace record of \"bad\" holds a malformed field state");
}

}  // namespace
}  // namespace sochdb::namespaces
