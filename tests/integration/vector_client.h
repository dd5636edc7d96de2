// What the VectorIndexService integration tests share: a client for the calls they make most
// (CreateIndex, InsertBatch, Search with an optional API key), random vectors, and starting the
// server with its log in the failure message.
#ifndef SOCHDB_TESTS_INTEGRATION_VECTOR_CLIENT_H_
#define SOCHDB_TESTS_INTEGRATION_VECTOR_CLIENT_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {

inline std::vector<float> RandomVectors(size_t n, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> out(n * dim);
  for (float& x : out) x = normal(rng);
  return out;
}

struct VectorClient {
  explicit VectorClient(const ServerProcess& server, std::string key = "")
      : stub(v1::VectorIndexService::NewStub(server.Channel())), api_key(std::move(key)) {}

  grpc::Status Create(const std::string& name, uint32_t dim, v1::DistanceMetric metric,
                      v1::CreateIndexResponse* resp, uint32_t m = 0) {
    v1::CreateIndexRequest req;
    req.set_name(name);
    req.set_dimension(dim);
    req.set_metric(metric);
    req.mutable_config()->set_max_connections(m);
    return stub->CreateIndex(MakeContext(api_key).get(), req, resp);
  }

  // Ids first_id, first_id + 1, ... for the flat.size() / dim vectors of `flat`.
  grpc::Status Insert(const std::string& name, uint64_t first_id, const std::vector<float>& flat,
                      uint32_t dim, v1::InsertBatchResponse* resp) {
    v1::InsertBatchRequest req;
    req.set_index_name(name);
    for (size_t i = 0; i < flat.size() / dim; ++i) req.add_ids(first_id + i);
    for (float x : flat) req.add_vectors(x);
    return stub->InsertBatch(MakeContext(api_key, absl::Seconds(120)).get(), req, resp);
  }

  grpc::Status Search(const std::string& name, const std::vector<float>& query, uint32_t k,
                      v1::SearchResponse* resp) {
    v1::SearchRequest req;
    req.set_index_name(name);
    for (float x : query) req.add_query(x);
    req.set_k(k);
    return stub->Search(MakeContext(api_key).get(), req, resp);
  }

  // The index's vector count from GetStats (-1 when the call fails).
  int64_t Count(const std::string& name) {
    v1::GetStatsRequest req;
    req.set_index_name(name);
    v1::GetStatsResponse resp;
    if (!stub->GetStats(MakeContext(api_key).get(), req, &resp).ok()) return -1;
    return static_cast<int64_t>(resp.stats().num_vectors());
  }

  std::unique_ptr<v1::VectorIndexService::Stub> stub;
  std::string api_key;
};

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_INTEGRATION_VECTOR_CLIENT_H_
