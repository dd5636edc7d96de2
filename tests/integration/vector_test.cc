// VectorIndexService end to end through the real binary: every RPC's contract and error channel,
// distances and ordering against brute force, grouping and diagnostics, tenant scoping,
// persistence across restart, kill -9 and a corrupt snapshot, and bad inputs.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "engine/auth/auth.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/vector_client.h"

namespace sochdb::testing {
namespace {

using v1::VectorIndexService;

using Client = VectorClient;

// Exact L2 neighbours by brute force, ties by id.
std::vector<std::pair<float, uint64_t>> BruteForceL2(const std::vector<float>& data, uint32_t dim,
                                                     const std::vector<float>& q, size_t k) {
  std::vector<std::pair<float, uint64_t>> all;
  for (size_t i = 0; i < data.size() / dim; ++i) {
    double d = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      const double diff = data[i * dim + j] - q[j];
      d += diff * diff;
    }
    all.emplace_back(static_cast<float>(std::sqrt(d)), i);
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(k, all.size()));
  return all;
}

TEST_CASE("CreateIndex, DropIndex, GetStats and HealthCheck follow the upstream contract") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("docs", 8, v1::DISTANCE_METRIC_UNSPECIFIED, &created).ok());
  CHECK(created.success());
  CHECK(created.info().name() == "docs");
  CHECK(created.info().dimension() == 8);
  CHECK(created.info().metric() == v1::DISTANCE_METRIC_UNSPECIFIED);  // verbatim
  CHECK(created.info().config().max_connections() == 0);              // verbatim zeros
  CHECK(created.info().created_at() > 1'600'000'000);

  v1::CreateIndexResponse again;
  REQUIRE(c.Create("docs", 8, v1::DISTANCE_METRIC_L2, &again).ok());
  CHECK(!again.success());
  CHECK(again.error() == "Index 'docs' already exists");

  CHECK(c.Create("bad", 0, v1::DISTANCE_METRIC_L2, &again).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(c.Create("bad", 8, static_cast<v1::DistanceMetric>(9), &again).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(c.Create("", 8, v1::DISTANCE_METRIC_L2, &again).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetStatsRequest stats_req;
  stats_req.set_index_name("docs");
  v1::GetStatsResponse stats;
  REQUIRE(c.stub->GetStats(MakeContext().get(), stats_req, &stats).ok());
  CHECK(stats.stats().dimension() == 8);
  CHECK(stats.stats().num_vectors() == 0);
  stats_req.set_index_name("nope");
  REQUIRE(c.stub->GetStats(MakeContext().get(), stats_req, &stats).ok());
  CHECK(stats.error() == "Index 'nope' not found");

  v1::HealthCheckResponse health;
  REQUIRE(c.stub->HealthCheck(MakeContext().get(), v1::HealthCheckRequest(), &health).ok());
  CHECK(health.status() == v1::HealthCheckResponse::SERVING);
  CHECK(health.version() == "2.1.0");
  CHECK(health.indexes_size() == 0);

  v1::DropIndexRequest drop;
  drop.set_name("docs");
  v1::DropIndexResponse dropped;
  REQUIRE(c.stub->DropIndex(MakeContext().get(), drop, &dropped).ok());
  CHECK(dropped.success());
  REQUIRE(c.stub->DropIndex(MakeContext().get(), drop, &dropped).ok());
  CHECK(!dropped.success());
  CHECK(dropped.error() == "Index 'docs' not found");
  v1::SearchResponse resp;
  const grpc::Status gone = c.Search("docs", std::vector<float>(8, 0.f), 3, &resp);
  CHECK(gone.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(gone.error_message() == "Index not found: default:docs");
}

TEST_CASE("Search returns exact nearest neighbours below the graph threshold, ordered") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("l2", 16, v1::DISTANCE_METRIC_L2, &created).ok());
  const std::vector<float> data = RandomVectors(500, 16, 1);
  v1::InsertBatchResponse inserted;
  REQUIRE(c.Insert("l2", 0, data, 16, &inserted).ok());
  CHECK(inserted.inserted_count() == 500);
  const std::vector<float> queries = RandomVectors(20, 16, 2);
  for (size_t q = 0; q < 20; ++q) {
    const std::vector<float> query(queries.begin() + q * 16, queries.begin() + (q + 1) * 16);
    v1::SearchResponse resp;
    REQUIRE(c.Search("l2", query, 10, &resp).ok());
    const auto expected = BruteForceL2(data, 16, query, 10);
    REQUIRE(resp.results_size() == 10);
    CHECK(resp.metric() == v1::DISTANCE_METRIC_L2);
    for (int i = 0; i < 10; ++i) {
      CHECK(resp.results(i).id() == expected[i].second);
      CHECK(resp.results(i).distance() == Approx(expected[i].first).epsilon(1e-4));
      CHECK(resp.results(i).metric() == "euclidean");
      CHECK(!resp.results(i).has_result_rank());
    }
  }
  // k = 0 means 1; duplicates of one vector tie on distance and order by id.
  std::vector<float> twin(16, 0.25f);
  std::vector<float> twins;
  for (int i = 0; i < 3; ++i) twins.insert(twins.end(), twin.begin(), twin.end());
  REQUIRE(c.Insert("l2", 1000, twins, 16, &inserted).ok());
  v1::SearchResponse resp;
  REQUIRE(c.Search("l2", twin, 3, &resp).ok());
  REQUIRE(resp.results_size() == 3);
  CHECK(resp.results(0).id() == 1000);
  CHECK(resp.results(1).id() == 1001);
  CHECK(resp.results(2).id() == 1002);
  REQUIRE(c.Search("l2", twin, 0, &resp).ok());
  CHECK(resp.results_size() == 1);
}

TEST_CASE("bad vector inputs get INVALID_ARGUMENT with upstream texts; nothing is inserted") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("v", 4, v1::DISTANCE_METRIC_COSINE, &created).ok());
  v1::InsertBatchResponse inserted;
  grpc::Status s = c.Insert("v", 0, std::vector<float>(7, 1.f), 4, &inserted);  // 1 id, 7 floats
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  v1::InsertBatchRequest bad;
  bad.set_index_name("v");
  bad.add_ids(1);
  for (int i = 0; i < 7; ++i) bad.add_vectors(1.f);
  s = c.stub->InsertBatch(MakeContext().get(), bad, &inserted);
  CHECK(s.error_message() == "Vector data size mismatch: expected 4 floats, got 7");
  bad.clear_vectors();
  for (float x : {1.f, std::numeric_limits<float>::quiet_NaN(), 0.f, 0.f}) bad.add_vectors(x);
  s = c.stub->InsertBatch(MakeContext().get(), bad, &inserted);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("NaN") != std::string::npos);
  bad.clear_vectors();
  for (float x : {1.f, std::numeric_limits<float>::infinity(), 0.f, 0.f}) bad.add_vectors(x);
  CHECK(c.stub->InsertBatch(MakeContext().get(), bad, &inserted).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  bad.clear_vectors();
  for (int i = 0; i < 4; ++i) bad.add_vectors(1.f);
  bad.add_metadata();
  bad.add_metadata();
  s = c.stub->InsertBatch(MakeContext().get(), bad, &inserted);
  CHECK(s.error_message() == "Metadata length mismatch: expected 1 entries, got 2");

  v1::InsertBatchRequest empty;
  empty.set_index_name("v");
  REQUIRE(c.stub->InsertBatch(MakeContext().get(), empty, &inserted).ok());
  CHECK(inserted.inserted_count() == 0);

  v1::SearchResponse resp;
  s = c.Search("v", {1.f, 2.f, 3.f}, 3, &resp);
  CHECK(s.error_message() == "Query dimension mismatch: expected 4, got 3");
  s = c.Search("v", {1.f, std::numeric_limits<float>::quiet_NaN(), 0.f, 0.f}, 3, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  s = c.Search("v", {1.f, 0.f, 0.f, 0.f}, 1'000'000, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("10000") != std::string::npos);
  s = c.Search("missing", {1.f, 0.f, 0.f, 0.f}, 3, &resp);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  v1::GetStatsRequest stats_req;
  stats_req.set_index_name("v");
  v1::GetStatsResponse stats;
  REQUIRE(c.stub->GetStats(MakeContext().get(), stats_req, &stats).ok());
  CHECK(stats.stats().num_vectors() == 0);  // every failed batch wrote nothing
}

TEST_CASE("grouping by parent_id, diagnostics and SearchBatch") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("g", 2, v1::DISTANCE_METRIC_L2, &created).ok());
  v1::InsertBatchRequest req;
  req.set_index_name("g");
  // Parent p has views at distance 0.1*i along x; three parents.
  for (uint64_t parent = 0; parent < 3; ++parent) {
    for (uint64_t view = 0; view < 4; ++view) {
      req.add_ids(parent * 10 + view);
      req.add_vectors(static_cast<float>(parent) + 0.01f * view);
      req.add_vectors(0.f);
      v1::VectorMetadata* m = req.add_metadata();
      m->set_parent_id(parent);
      m->set_view_type(absl::StrCat("view", view));
    }
  }
  v1::InsertBatchResponse inserted;
  REQUIRE(c.stub->InsertBatch(MakeContext().get(), req, &inserted).ok());

  v1::SearchRequest search;
  search.set_index_name("g");
  search.add_query(0.f);
  search.add_query(0.f);
  search.set_k(3);
  search.mutable_grouping()->set_group_by(v1::GROUP_BY_PARENT_ID);
  search.set_include_diagnostics(true);
  v1::SearchResponse resp;
  REQUIRE(c.stub->Search(MakeContext().get(), search, &resp).ok());
  REQUIRE(resp.results_size() == 3);
  CHECK(resp.results(0).id() == 0);
  CHECK(resp.results(1).id() == 10);
  CHECK(resp.results(2).id() == 20);
  CHECK(resp.results(1).parent_id() == 1);
  CHECK(resp.results(1).view_type() == "view0");
  CHECK(resp.results(2).result_rank() == 3);
  CHECK(resp.grouping().candidate_k() == 12);  // 0 -> 4k
  CHECK(resp.grouping().returned_group_count() == 3);
  CHECK(resp.diagnostics().grouping_applied());
  CHECK(resp.diagnostics().deterministic_tie_breaker() == "distance_then_id");
  CHECK(resp.diagnostics().excluded_by_group_limit() == 9);

  search.mutable_grouping()->set_candidate_k(2);
  const grpc::Status s = c.stub->Search(MakeContext().get(), search, &resp);
  CHECK(s.error_message() == "candidate_k (2) must be >= k (3) when grouping is active");

  v1::SearchBatchRequest batch;
  batch.set_index_name("g");
  batch.set_num_queries(2);
  for (float x : {0.f, 0.f, 2.f, 0.f}) batch.add_queries(x);
  batch.set_k(2);
  v1::SearchBatchResponse batch_resp;
  REQUIRE(c.stub->SearchBatch(MakeContext().get(), batch, &batch_resp).ok());
  REQUIRE(batch_resp.results_size() == 2);
  CHECK(batch_resp.results(0).results(0).id() == 0);
  CHECK(batch_resp.results(1).results(0).id() == 20);
  batch.add_queries(1.f);
  CHECK(c.stub->SearchBatch(MakeContext().get(), batch, &batch_resp).error_message() ==
        "Query data size mismatch: expected 4 floats, got 5");
}

TEST_CASE("InsertStream inserts in batches and reports errors in the response") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("s", 4, v1::DISTANCE_METRIC_DOT_PRODUCT, &created).ok());
  {
    v1::InsertStreamResponse resp;
    auto ctx = MakeContext();
    auto writer = c.stub->InsertStream(ctx.get(), &resp);
    for (uint64_t i = 0; i < 300; ++i) {
      v1::InsertStreamRequest m;
      if (i == 0) m.set_index_name("s");
      m.set_id(i);
      for (int j = 0; j < 4; ++j) m.add_vector(static_cast<float>(i + j));
      REQUIRE(writer->Write(m));
    }
    writer->WritesDone();
    REQUIRE(writer->Finish().ok());
    CHECK(resp.total_inserted() == 300);
    CHECK(resp.errors_size() == 0);
  }
  {
    v1::InsertStreamResponse resp;
    auto ctx = MakeContext();
    auto writer = c.stub->InsertStream(ctx.get(), &resp);
    v1::InsertStreamRequest m;
    m.set_index_name("nope");
    m.set_id(1);
    writer->Write(m);
    writer->WritesDone();
    REQUIRE(writer->Finish().ok());
    CHECK(resp.total_inserted() == 0);
    REQUIRE(resp.errors_size() == 1);
    CHECK(resp.errors(0) == "Index not found: default:nope");
  }
  v1::SearchResponse resp;
  REQUIRE(c.Search("s", {1.f, 1.f, 1.f, 1.f}, 1, &resp).ok());
  CHECK(resp.results(0).id() == 299);  // the largest dot product
  CHECK(resp.results(0).metric() == "dot_product");
  CHECK(resp.results(0).distance() == Approx(-(299.f * 4 + 6)));
}

TEST_CASE("indexes are scoped by the caller's tenant") {
  const std::string dir = NewTempDir("vkeys");
  {
    std::ofstream keys(dir + "/keys");
    keys << *auth::MakeKeyEntry("sk_vec_alpha_000001", "alpha", auth::Role::kEditor, "a") << "\n"
         << *auth::MakeKeyEntry("sk_vec_beta_0000001", "beta", auth::Role::kEditor, "b") << "\n";
  }
  ServerProcess server({{}, {"--auth-keys", dir + "/keys"}});
  StartOrFail(server);
  Client alpha(server, "sk_vec_alpha_000001"), beta(server, "sk_vec_beta_0000001");
  v1::CreateIndexResponse created;
  REQUIRE(alpha.Create("shared-name", 2, v1::DISTANCE_METRIC_L2, &created).ok());
  REQUIRE(created.success());
  v1::InsertBatchResponse inserted;
  REQUIRE(alpha.Insert("shared-name", 7, {1.f, 1.f}, 2, &inserted).ok());
  v1::SearchResponse resp;
  const grpc::Status other = beta.Search("shared-name", {1.f, 1.f}, 1, &resp);
  CHECK(other.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(other.error_message() == "Index not found: beta:shared-name");
  REQUIRE(beta.Create("shared-name", 2, v1::DISTANCE_METRIC_L2, &created).ok());
  CHECK(created.success());
  REQUIRE(beta.Search("shared-name", {1.f, 1.f}, 1, &resp).ok());
  CHECK(resp.results_size() == 0);
  REQUIRE(alpha.Search("shared-name", {1.f, 1.f}, 1, &resp).ok());
  REQUIRE(resp.results_size() == 1);
  CHECK(resp.results(0).id() == 7);
}

// Searches `queries` and returns the ids of each answer, to compare before and after restarts.
std::vector<std::vector<uint64_t>> Answers(Client& c, const std::string& index,
                                           const std::vector<float>& queries, uint32_t dim) {
  std::vector<std::vector<uint64_t>> out;
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    v1::SearchResponse resp;
    std::vector<float> query(queries.begin() + q * dim, queries.begin() + (q + 1) * dim);
    REQUIRE(c.Search(index, query, 10, &resp).ok());
    std::vector<uint64_t> ids;
    for (const auto& r : resp.results()) ids.push_back(r.id());
    out.push_back(ids);
  }
  return out;
}

// Fraction of `exact` ids found in `got`, over all queries.
double Recall(const std::vector<std::vector<uint64_t>>& got,
              const std::vector<std::vector<uint64_t>>& exact) {
  size_t hits = 0, total = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    for (uint64_t id : exact[q]) {
      hits += std::count(got[q].begin(), got[q].end(), id);
      ++total;
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(total);
}

TEST_CASE("vectors survive kill -9, a clean restart, and a corrupt snapshot") {
  ServerProcess server({});
  StartOrFail(server);
  constexpr uint32_t kDim = 32;
  const std::vector<float> queries = RandomVectors(10, kDim, 9);
  const std::vector<float> big = RandomVectors(12'000, kDim, 4);  // past the 10k threshold
  std::vector<std::vector<uint64_t>> exact;
  for (size_t q = 0; q < 10; ++q) {
    std::vector<float> query(queries.begin() + q * kDim, queries.begin() + (q + 1) * kDim);
    std::vector<uint64_t> ids;
    for (const auto& [d, id] : BruteForceL2(big, kDim, query, 10)) ids.push_back(id);
    exact.push_back(ids);
  }
  std::vector<std::vector<uint64_t>> before;
  {
    Client c(server);
    v1::CreateIndexResponse created;
    REQUIRE(c.Create("small", kDim, v1::DISTANCE_METRIC_COSINE, &created).ok());
    REQUIRE(c.Create("big", kDim, v1::DISTANCE_METRIC_L2, &created, 16).ok());
    v1::InsertBatchResponse inserted;
    REQUIRE(c.Insert("small", 0, RandomVectors(300, kDim, 3), kDim, &inserted).ok());
    for (size_t start = 0; start < 12'000; start += 3000) {
      std::vector<float> part(big.begin() + start * kDim, big.begin() + (start + 3000) * kDim);
      REQUIRE(c.Insert("big", start, part, kDim, &inserted).ok());
    }
    before = Answers(c, "big", queries, kDim);
    CHECK(Recall(before, exact) >= 0.9);
  }
  server.Kill9();  // nothing snapshotted yet: the index is rebuilt from its records
  StartOrFail(server);
  std::vector<std::vector<uint64_t>> rebuilt;
  {
    Client c(server);
    // A rebuilt HNSW graph is not bit-identical (parallel inserts), so compare with the truth.
    rebuilt = Answers(c, "big", queries, kDim);
    CHECK(Recall(rebuilt, exact) >= 0.9);
    v1::SearchResponse resp;
    REQUIRE(c.Search("small", std::vector<float>(queries.begin(), queries.begin() + kDim), 300,
                     &resp).ok());
    CHECK(resp.results_size() == 300);
  }
  CHECK(server.Stop(SIGTERM) == 0);  // snapshots every index on the way out
  size_t snapshots = 0;
  for (const auto& entry : std::filesystem::directory_iterator(server.data_dir() + "/vectors")) {
    if (entry.path().extension() == ".snap") ++snapshots;
  }
  CHECK(snapshots == 2);
  // A snapshot a crash cut short (its temporary file) is removed at start-up; the finished
  // ones are loaded.
  std::string cut_short;
  for (const auto& entry : std::filesystem::directory_iterator(server.data_dir() + "/vectors")) {
    cut_short = entry.path().string() + ".tmp";
  }
  std::ofstream(cut_short) << "half a snapshot";
  StartOrFail(server);
  CHECK(server.log().find("from snapshot") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cut_short));
  {
    Client c(server);
    CHECK(Answers(c, "big", queries, kDim) == rebuilt);  // the very same graph
  }
  CHECK(server.Stop(SIGTERM) == 0);
  for (const auto& entry : std::filesystem::directory_iterator(server.data_dir() + "/vectors")) {
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("garbage!", 8);
  }
  StartOrFail(server);
  CHECK(server.log().find("unusable") != std::string::npos);
  Client c(server);
  CHECK(Recall(Answers(c, "big", queries, kDim), exact) >= 0.9);
}

}  // namespace
}  // namespace sochdb::testing
