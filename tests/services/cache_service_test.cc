// SemanticCacheService and SemanticCacheExtensionService over the real call layer and a real
// Engine, in process: what the service layer decides rather than the engine: a miss is an OK
// answer with empty fields, Put answers success, GetStats of a cache nobody used answers zeros
// (upstream's channel) and carries size_bytes (field 100), bad input is a status naming the
// field, the extension RPCs' flags and listings, and what policies see: the service `cache`, an
// entry as its key (Put, DeleteEntry), and the prefix "" (every key) for a Get. The cache's own
// semantics are the engine's tests; the Python end-to-end tests run the SDK's calls against the
// binary.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "engine/engine.h"
#include "engine/policy/policy.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/registry.h"
#include "server/rpc/grpc_server.h"
#include "services/cache/semantic_cache_extension_service.h"
#include "services/cache/semantic_cache_service.h"
#include "sochdb/v1/semantic_cache.grpc.pb.h"
#include "sochdb/v1/semantic_cache_extension.grpc.pb.h"

namespace sochdb {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return context;
}

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/cache_service");
  std::filesystem::remove_all(dir);
  return dir;
}

struct Harness {
  Harness() : metrics(registry) {
    EngineOptions options;
    options.data_dir = TestDir();
    options.store.sync_mode = storage::SyncMode::kOff;
    engine = std::move(Engine::Open(options)).value();
    server::GrpcServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    server = std::make_unique<server::GrpcServer>(server_options, &authorizer, &metrics,
                                                  &engine->governance());
    cache = std::make_unique<services::SemanticCacheService>(&engine->cache());
    extensions = std::make_unique<services::SemanticCacheExtensionService>(&engine->cache());
    cache->Register(*server);
    extensions->Register(*server);
    REQUIRE(server->Start().ok());
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                       grpc::InsecureChannelCredentials());
    stub = v1::SemanticCacheService::NewStub(channel);
    ext = v1::SemanticCacheExtensionService::NewStub(channel);
  }
  ~Harness() { server->Shutdown(absl::Seconds(5)); }

  void Deny(const std::string& name, const std::string& pattern, policy::Trigger trigger) {
    policy::PolicyRule rule;
    rule.name = name;
    rule.pattern = pattern;
    rule.trigger = trigger;
    rule.action = policy::Action::kDeny;
    rule.expression = "service == 'cache'";
    const std::shared_ptr<const auth::Principal> who =
        *authorizer.Authenticate(std::nullopt, std::nullopt);
    REQUIRE(engine->policies().Register(*who, rule).ok());
  }

  grpc::Status Put(const std::string& key, std::vector<float> embedding,
                   const std::string& cache_name = "c") {
    v1::SemanticCachePutRequest req;
    req.set_cache_name(cache_name);
    req.set_key(key);
    req.set_value("value of " + key);
    for (float x : embedding) req.add_key_embedding(x);
    v1::SemanticCachePutResponse resp;
    grpc::Status s = stub->Put(Context().get(), req, &resp);
    if (s.ok()) CHECK(resp.success());
    return s;
  }
  grpc::Status Get(std::vector<float> embedding, v1::SemanticCacheGetResponse* resp) {
    v1::SemanticCacheGetRequest req;
    req.set_cache_name("c");
    for (float x : embedding) req.add_query_embedding(x);
    return stub->Get(Context().get(), req, resp);
  }

  prometheus::Registry registry;
  auth::Authorizer authorizer{nullptr};
  server::RpcMetrics metrics;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<server::GrpcServer> server;
  std::unique_ptr<services::SemanticCacheService> cache;
  std::unique_ptr<services::SemanticCacheExtensionService> extensions;
  std::unique_ptr<v1::SemanticCacheService::Stub> stub;
  std::unique_ptr<v1::SemanticCacheExtensionService::Stub> ext;
};

TEST_CASE("hits, empty misses, stats with size_bytes, zeros for an unused cache") {
  Harness h;
  REQUIRE(h.Put("k", {1, 0}).ok());
  v1::SemanticCacheGetResponse hit;
  REQUIRE(h.Get({1, 0.05f}, &hit).ok());
  CHECK(hit.hit());
  CHECK(hit.cached_value() == "value of k");
  CHECK(hit.matched_key() == "k");
  CHECK(hit.similarity_score() > 0.99f);
  v1::SemanticCacheGetResponse miss;
  REQUIRE(h.Get({0, 1}, &miss).ok());
  CHECK(miss.ByteSizeLong() == 0);  // every field empty, as upstream

  v1::SemanticCacheStatsRequest req;
  req.set_cache_name("c");
  v1::SemanticCacheStatsResponse stats;
  REQUIRE(h.stub->GetStats(Context().get(), req, &stats).ok());
  CHECK(stats.hits() == 1);
  CHECK(stats.misses() == 1);
  CHECK(stats.entry_count() == 1);
  CHECK(stats.hit_rate() == 0.5f);
  CHECK(stats.size_bytes() == 1 + 10 + 8);
  req.set_cache_name("unused");
  v1::SemanticCacheStatsResponse zeros;
  REQUIRE(h.stub->GetStats(Context().get(), req, &zeros).ok());
  CHECK(zeros.ByteSizeLong() == 0);
}

TEST_CASE("bad input is INVALID_ARGUMENT naming the field") {
  Harness h;
  REQUIRE(h.Put("k", {1, 0}).ok());
  grpc::Status s = h.Put("k2", {1, 0, 0});
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "key_embedding has 3 floats; cache 'c' has dimension 2 (set by its "
                             "first Put)");
  v1::SemanticCacheGetResponse resp;
  s = h.Get({1, 0, 0}, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().rfind("query_embedding has 3 floats", 0) == 0);
  v1::SemanticCacheInvalidateRequest invalidate;
  invalidate.set_cache_name("c");
  invalidate.set_pattern("(");
  v1::SemanticCacheInvalidateResponse invalidated;
  s = h.stub->Invalidate(Context().get(), invalidate, &invalidated);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().rfind("pattern", 0) == 0);
  v1::ConfigureCacheRequest configure;
  configure.set_cache_name("c");
  configure.set_max_entries(2'000'000);
  v1::ConfigureCacheResponse configured;
  s = h.ext->ConfigureCache(Context().get(), configure, &configured);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "max_entries is 2000000; the limit is 1000000");
}

TEST_CASE("the extension service: configure, list, delete one entry, clear") {
  Harness h;
  v1::ConfigureCacheRequest configure;
  configure.set_cache_name("c");
  configure.set_max_entries(2);
  v1::ConfigureCacheResponse configured;
  REQUIRE(h.ext->ConfigureCache(Context().get(), configure, &configured).ok());
  CHECK(configured.cache().cache_name() == "c");
  CHECK(configured.cache().max_entries() == 2);
  REQUIRE(h.Put("a", {1, 0}).ok());
  REQUIRE(h.Put("b", {0, 1}).ok());
  REQUIRE(h.Put("c", {1, 1}).ok());  // evicts a
  REQUIRE(h.Put("x", {1, 0, 0}, "other").ok());
  v1::ListCachesResponse listed;
  REQUIRE(h.ext->ListCaches(Context().get(), v1::ListCachesRequest(), &listed).ok());
  REQUIRE(listed.caches_size() == 2);
  CHECK(listed.caches(0).cache_name() == "c");
  CHECK(listed.caches(0).entry_count() == 2);
  CHECK(listed.caches(0).dimension() == 2);
  CHECK(listed.caches(1).cache_name() == "other");

  v1::DeleteCacheEntryRequest del;
  del.set_cache_name("c");
  del.set_key("a");
  v1::DeleteCacheEntryResponse deleted;
  REQUIRE(h.ext->DeleteEntry(Context().get(), del, &deleted).ok());
  CHECK_FALSE(deleted.deleted());  // evicted already
  del.set_key("b");
  REQUIRE(h.ext->DeleteEntry(Context().get(), del, &deleted).ok());
  CHECK(deleted.deleted());

  v1::ClearCacheRequest clear;
  clear.set_cache_name("other");
  v1::ClearCacheResponse cleared;
  REQUIRE(h.ext->ClearCache(Context().get(), clear, &cleared).ok());
  CHECK(cleared.cleared());
  REQUIRE(h.ext->ClearCache(Context().get(), clear, &cleared).ok());
  CHECK_FALSE(cleared.cleared());
}

TEST_CASE("policies see the service 'cache', entry keys, and every key for a Get") {
  Harness h;
  REQUIRE(h.Put("public", {1, 0}).ok());
  h.Deny("no drafts", "draft:*", policy::Trigger::kBeforeWrite);
  grpc::Status s = h.Put("draft:1", {0, 1});
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message() == "Denied by policy: no drafts");
  CHECK(h.Put("final:1", {0, 1}).ok());
  v1::SemanticCacheGetResponse resp;
  REQUIRE(h.Get({1, 0}, &resp).ok());
  h.Deny("sealed", "secret", policy::Trigger::kBeforeRead);
  s = h.Get({1, 0}, &resp);
  CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(s.error_message() == "Denied by policy: sealed");
}

}  // namespace
}  // namespace sochdb
