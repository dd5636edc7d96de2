// The semantic caches in the server's Prometheus metrics: how many caches and live entries, and
// Gets that hit or missed since start (a Get of a cache that does not exist is a miss there).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sochdb/v1/semantic_cache.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

namespace v1 = sochdb::v1;

TEST_CASE("semantic cache figures in the metrics") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  StartOrFail(server);
  auto stub = v1::SemanticCacheService::NewStub(server.Channel());
  auto put = [&](const std::string& key, std::vector<float> embedding) {
    v1::SemanticCachePutRequest req;
    req.set_cache_name("c");
    req.set_key(key);
    req.set_value("answer");
    req.mutable_key_embedding()->Add(embedding.begin(), embedding.end());
    v1::SemanticCachePutResponse resp;
    REQUIRE(stub->Put(MakeContext().get(), req, &resp).ok());
  };
  auto get = [&](const std::string& cache, std::vector<float> embedding) {
    v1::SemanticCacheGetRequest req;
    req.set_cache_name(cache);
    req.mutable_query_embedding()->Add(embedding.begin(), embedding.end());
    v1::SemanticCacheGetResponse resp;
    REQUIRE(stub->Get(MakeContext().get(), req, &resp).ok());
    return resp.hit();
  };
  CHECK(Metric(server, "sochdb_semantic_caches") == 0);
  put("north", {1, 0});
  put("east", {0, 1});
  CHECK(get("c", {1, 0.05f}));
  CHECK_FALSE(get("c", {-1, 0}));
  CHECK_FALSE(get("nobody-put-here", {1, 0}));
  CHECK(Metric(server, "sochdb_semantic_caches") == 1);
  CHECK(Metric(server, "sochdb_semantic_cache_entries") == 2);
  CHECK(Metric(server, "sochdb_semantic_cache_hits_total") == 1);
  CHECK(Metric(server, "sochdb_semantic_cache_misses_total") == 2);
}

}  // namespace
}  // namespace sochdb::testing
