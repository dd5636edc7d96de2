// NamespaceService through the real binary: each RPC's contract and error channel, records that
// survive a restart, DeleteNamespace removing a namespace's KV keys (TTL ones too) and collections
// only with `force`, tenants that can neither create, see, get nor delete each other's namespaces,
// and a delete killed (-9) midway that the next start finishes.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/auth/auth.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "sochdb/v1/collection.grpc.pb.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/namespace.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

struct Client {
  explicit Client(const ServerProcess& server, std::string key = "")
      : ns(v1::NamespaceService::NewStub(server.Channel())),
        kv(v1::KvService::NewStub(server.Channel())),
        collections(v1::CollectionService::NewStub(server.Channel())),
        api_key(std::move(key)) {}

  grpc::Status Create(const std::string& name, v1::CreateNamespaceResponse* resp,
                      const std::string& description = "") {
    v1::CreateNamespaceRequest req;
    req.set_name(name);
    req.set_description(description);
    return ns->CreateNamespace(MakeContext(api_key).get(), req, resp);
  }
  grpc::Status Get(const std::string& name, v1::GetNamespaceResponse* resp) {
    v1::GetNamespaceRequest req;
    req.set_name(name);
    return ns->GetNamespace(MakeContext(api_key).get(), req, resp);
  }
  std::vector<std::string> List(grpc::Status* status = nullptr) {
    v1::ListNamespacesResponse resp;
    const grpc::Status s = ns->ListNamespaces(MakeContext(api_key).get(), {}, &resp);
    if (status != nullptr) *status = s;
    std::vector<std::string> names;
    for (const v1::Namespace& n : resp.namespaces()) names.push_back(n.name());
    return names;
  }
  grpc::Status Delete(const std::string& name, bool force, v1::DeleteNamespaceResponse* resp) {
    v1::DeleteNamespaceRequest req;
    req.set_name(name);
    req.set_force(force);
    return ns->DeleteNamespace(MakeContext(api_key, absl::Seconds(120)).get(), req, resp);
  }
  void Put(const std::string& space, const std::string& key, uint64_t ttl = 0) {
    v1::KvPutRequest req;
    req.set_namespace_(space);
    req.set_key(key);
    req.set_value("value of " + key);
    req.set_ttl_seconds(ttl);
    v1::KvPutResponse resp;
    REQUIRE(kv->Put(MakeContext(api_key).get(), req, &resp).ok());
  }
  bool Found(const std::string& space, const std::string& key) {
    v1::KvGetRequest req;
    req.set_namespace_(space);
    req.set_key(key);
    v1::KvGetResponse resp;
    REQUIRE(kv->Get(MakeContext(api_key).get(), req, &resp).ok());
    return resp.found();
  }
  int ScanCount(const std::string& space) {
    v1::KvScanRequest req;
    req.set_namespace_(space);
    auto ctx = MakeContext(api_key);
    auto reader = kv->Scan(ctx.get(), req);
    v1::KvScanResponse entry;
    int n = 0;
    while (reader->Read(&entry)) ++n;
    REQUIRE(reader->Finish().ok());
    return n;
  }
  // `count` keys with TTLs, in batches.
  void PutMany(const std::string& space, int count) {
    for (int first = 0; first < count; first += 10'000) {
      v1::KvBatchPutRequest req;
      req.set_namespace_(space);
      for (int i = first; i < count && i < first + 10'000; ++i) {
        v1::KvPutEntry* e = req.add_entries();
        e->set_key(absl::StrCat("key-", i));
        e->set_value(std::string(32, 'v'));
        e->set_ttl_seconds(i % 3 == 0 ? 3600 : 0);
      }
      v1::KvBatchPutResponse resp;
      REQUIRE(kv->BatchPut(MakeContext(api_key, absl::Seconds(120)).get(), req, &resp).ok());
    }
  }
  void AddCollection(const std::string& space, const std::string& name, int documents) {
    v1::CreateCollectionRequest create;
    create.set_namespace_(space);
    create.set_name(name);
    create.set_dimension(2);
    v1::CreateCollectionResponse created;
    REQUIRE(collections->CreateCollection(MakeContext(api_key).get(), create, &created).ok());
    REQUIRE(created.success());
    v1::AddDocumentsRequest add;
    add.set_namespace_(space);
    add.set_collection_name(name);
    for (int i = 0; i < documents; ++i) {
      v1::Document* d = add.add_documents();
      d->set_id(absl::StrCat("d", i));
      d->add_embedding(1);
      d->add_embedding(0.001f * i);
      d->set_content("words");
    }
    v1::AddDocumentsResponse added;
    REQUIRE(collections->AddDocuments(MakeContext(api_key, absl::Seconds(120)).get(), add, &added)
                .ok());
  }
  int CollectionCount(const std::string& space) {
    v1::ListCollectionsRequest req;
    req.set_namespace_(space);
    v1::ListCollectionsResponse resp;
    REQUIRE(collections->ListCollections(MakeContext(api_key).get(), req, &resp).ok());
    return resp.collections_size();
  }

  std::unique_ptr<v1::NamespaceService::Stub> ns;
  std::unique_ptr<v1::KvService::Stub> kv;
  std::unique_ptr<v1::CollectionService::Stub> collections;
  std::string api_key;
};

TEST_CASE("NamespaceService: each RPC's contract and error channel, across a restart") {
  ServerProcess server({{}, {"--sync", "off"}});
  StartOrFail(server);
  Client c(server);

  v1::CreateNamespaceRequest req;
  req.set_name("proj");
  req.set_description("a project");
  req.mutable_quota()->set_max_vectors(100);
  (*req.mutable_metadata())["team"] = "search";
  v1::CreateNamespaceResponse created;
  REQUIRE(c.ns->CreateNamespace(MakeContext().get(), req, &created).ok());
  CHECK(created.success());
  CHECK(created.error().empty());
  CHECK(created.namespace_().name() == "proj");
  CHECK(created.namespace_().created_at() > 1'700'000'000);
  CHECK(created.namespace_().quota().max_vectors() == 100);
  CHECK(created.namespace_().has_stats());
  CHECK(created.namespace_().metadata().at("team") == "search");
  REQUIRE(c.ns->CreateNamespace(MakeContext().get(), req, &created).ok());
  CHECK_FALSE(created.success());
  CHECK(created.error() == "Namespace 'proj' already exists");
  grpc::Status s = c.Create("", &created);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "name must not be empty");
  s = c.Create("big", &created, std::string(4097, 'd'));
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "description is 4097 bytes; the limit is 4096 bytes");

  v1::GetNamespaceResponse got;
  REQUIRE(c.Get("nope", &got).ok());
  CHECK(got.error() == "Namespace 'nope' not found");
  CHECK_FALSE(got.has_namespace_());

  v1::SetQuotaRequest quota;
  quota.set_namespace_("proj");
  quota.mutable_quota()->set_max_collections(4);
  v1::SetQuotaResponse set;
  REQUIRE(c.ns->SetQuota(MakeContext().get(), quota, &set).ok());
  CHECK(set.success());
  quota.set_namespace_("nope");
  REQUIRE(c.ns->SetQuota(MakeContext().get(), quota, &set).ok());
  CHECK_FALSE(set.success());
  CHECK(set.error() == "Namespace 'nope' not found");

  REQUIRE(c.Create("other", &created).ok());
  REQUIRE(server.Stop(SIGTERM) == 0);
  StartOrFail(server);
  Client again(server);
  REQUIRE(again.Get("proj", &got).ok());
  CHECK(got.namespace_().description() == "a project");
  CHECK(got.namespace_().quota().max_collections() == 4);  // replaced: max_vectors gone
  CHECK(got.namespace_().quota().max_vectors() == 0);
  CHECK(again.List() == std::vector<std::string>{"other", "proj"});

  v1::DeleteNamespaceResponse deleted;
  REQUIRE(again.Delete("other", false, &deleted).ok());
  CHECK(deleted.success());
  REQUIRE(again.Delete("other", false, &deleted).ok());
  CHECK_FALSE(deleted.success());
  CHECK(deleted.error() == "Namespace 'other' not found");
}

TEST_CASE("DeleteNamespace deletes the namespace's KV keys and collections, only with force") {
  ServerProcess server({{}, {"--sync", "off"}});
  StartOrFail(server);
  Client c(server);
  v1::CreateNamespaceResponse created;
  REQUIRE(c.Create("doomed", &created).ok());
  for (int i = 0; i < 50; ++i) c.Put("doomed", absl::StrCat("k", i), i % 2 == 0 ? 0 : 3600);
  c.AddCollection("doomed", "kb", 20);
  c.AddCollection("doomed", "notes", 5);
  c.Put("doomed/sub", "k");  // a neighbour whose name starts the same
  c.AddCollection("kept", "kb", 3);

  v1::DeleteNamespaceResponse deleted;
  grpc::Status s = c.Delete("doomed", false, &deleted);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message() ==
        "Namespace 'doomed' is not empty (it holds 2 collections, KV keys); set force to delete "
        "it with its data");
  CHECK(c.ScanCount("doomed") == 50);

  REQUIRE(c.Delete("doomed", true, &deleted).ok());
  CHECK(deleted.success());
  CHECK(c.ScanCount("doomed") == 0);
  CHECK_FALSE(c.Found("doomed", "k1"));
  CHECK(c.CollectionCount("doomed") == 0);
  v1::GetNamespaceResponse got;
  REQUIRE(c.Get("doomed", &got).ok());
  CHECK(got.error() == "Namespace 'doomed' not found");
  CHECK(c.Found("doomed/sub", "k"));
  CHECK(c.CollectionCount("kept") == 1);

  // An unregistered namespace holding data is deleted with force too.
  REQUIRE(c.Delete("doomed/sub", true, &deleted).ok());
  CHECK(deleted.success());
  CHECK_FALSE(c.Found("doomed/sub", "k"));
  server.Kill9();
  StartOrFail(server);
  Client again(server);
  CHECK(again.ScanCount("doomed") == 0);
  CHECK(again.CollectionCount("doomed") == 0);
  CHECK(again.CollectionCount("kept") == 1);
}

TEST_CASE("a tenant can neither create, see, get nor delete another tenant's namespace") {
  const std::string dir = NewTempDir("nskeys");
  {
    std::ofstream keys(dir + "/keys");
    keys << *auth::MakeKeyEntry("sk_ns_alpha_0000001", "alpha", auth::Role::kEditor, "a") << "\n"
         << *auth::MakeKeyEntry("sk_ns_beta_00000001", "beta", auth::Role::kEditor, "b") << "\n"
         << *auth::MakeKeyEntry("sk_ns_viewer_000001", "beta", auth::Role::kViewer, "v") << "\n"
         << *auth::MakeKeyEntry("sk_ns_admin_0000001", "ops", auth::Role::kAdmin, "root") << "\n";
  }
  ServerProcess server({{}, {"--auth-keys", dir + "/keys", "--sync", "off"}});
  StartOrFail(server);
  Client alpha(server, "sk_ns_alpha_0000001"), beta(server, "sk_ns_beta_00000001"),
      viewer(server, "sk_ns_viewer_000001"), admin(server, "sk_ns_admin_0000001");
  v1::CreateNamespaceResponse created;
  REQUIRE(alpha.Create("alpha/x", &created).ok());
  REQUIRE(created.success());
  REQUIRE(beta.Create("beta", &created).ok());
  REQUIRE(created.success());

  grpc::Status s = beta.Create("alpha/stolen", &created);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message() == "Access denied to namespace 'alpha/stolen' for tenant 'beta'");
  s = viewer.Create("beta/v", &created);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message() == "Insufficient permissions. Required: ManageCollections, principal: v");
  v1::GetNamespaceResponse got;
  s = beta.Get("alpha/x", &got);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE(viewer.Get("beta", &got).ok());
  CHECK(got.namespace_().name() == "beta");
  CHECK(beta.List() == std::vector<std::string>{"beta"});
  CHECK(alpha.List() == std::vector<std::string>{"alpha/x"});
  CHECK(admin.List() == std::vector<std::string>{"alpha/x", "beta"});

  v1::DeleteNamespaceResponse deleted;
  s = beta.Delete("alpha/x", true, &deleted);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  s = alpha.Delete("alpha/x", true, &deleted);  // its own, but deleting takes Admin
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message() == "Insufficient permissions. Required: Admin, principal: a");
  v1::SetQuotaRequest quota;
  quota.set_namespace_("alpha/x");
  v1::SetQuotaResponse set;
  s = alpha.ns->SetQuota(MakeContext(alpha.api_key).get(), quota, &set);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE(admin.Delete("alpha/x", false, &deleted).ok());
  CHECK(deleted.success());
  CHECK(alpha.List().empty());
}

// The keys of the store under `data_dir` (the server stopped) in which the length-prefixed name
// `ns` occurs, in any family.
int StoredKeysNaming(const std::string& data_dir, const std::string& ns) {
  storage::StoreOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(data_dir + "/store", options);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  const std::string needle =
      storage::KeyBuilder(storage::KeyFamily::kMeta).Name(ns).key().substr(1);
  std::unique_ptr<storage::Iterator> it = (*store)->NewIterator();
  int n = 0;
  for (it->Seek(""); it->Valid(); it->Next()) {
    if (it->key().find(needle) != std::string_view::npos) ++n;
  }
  REQUIRE(it->status().ok());
  return n;
}

TEST_CASE("a DeleteNamespace killed (-9) midway is finished by the next start") {
  // --sync full: every batch of the delete waits for an fsync, so the delete takes long enough
  // to be killed inside.
  ServerProcess server({{}, {"--sync", "full"}});
  StartOrFail(server);
  Client c(server);
  v1::CreateNamespaceResponse created;
  REQUIRE(c.Create("big", &created).ok());
  c.PutMany("big", 120'000);
  c.AddCollection("big", "kb", 5'000);
  c.AddCollection("big", "kb2", 5'000);
  c.PutMany("neighbour", 100);

  std::thread deleter([&] {
    Client d(server);
    v1::DeleteNamespaceResponse deleted;
    d.Delete("big", true, &deleted);  // cut off by the kill
  });
  const absl::Time start = absl::Now();
  while (server.log().find("namespace 'big': deleting it with its data") == std::string::npos &&
         absl::Now() - start < absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  server.Kill9();
  deleter.join();

  StartOrFail(server);
  const bool resumed =
      server.log().find("namespace 'big': finished the delete left unfinished") !=
      std::string::npos;
  std::printf("namespace kill -9: the delete was %s\n",
              resumed ? "cut off and finished at start-up" : "complete before the kill");
  CHECK(resumed);  // the kill fell inside the delete (its batches wait for fsyncs)
  Client again(server);
  v1::GetNamespaceResponse got;
  REQUIRE(again.Get("big", &got).ok());
  CHECK(got.error() == "Namespace 'big' not found");
  CHECK(again.ScanCount("big") == 0);
  CHECK(again.CollectionCount("big") == 0);
  CHECK(again.ScanCount("neighbour") == 100);
  REQUIRE(server.Stop(SIGTERM) == 0);
  CHECK(StoredKeysNaming(server.data_dir(), "big") == 0);
  CHECK(StoredKeysNaming(server.data_dir(), "neighbour") > 100);  // records and TTL entries
}

}  // namespace
}  // namespace sochdb::testing
