// VectorIndexService answers, bounded and honest, through the real binary: an answer past the
// byte budget (--max-response-mb) is RESOURCE_EXHAUSTED naming the limit; request fields copied
// into answers are bounded (view_type, index names in error texts); a SearchBatch ends with a
// status for the whole call (a NaN query, the deadline), never OK with empty lists; ef has one
// limit; a batch naming an id twice is refused rather than over-counted.
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/vector_client.h"

namespace sochdb::testing {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

v1::SearchBatchRequest Batch(const std::string& index, uint32_t queries, uint32_t dim, uint32_t k,
                             float value = 0.5f) {
  v1::SearchBatchRequest req;
  req.set_index_name(index);
  req.set_num_queries(queries);
  req.set_k(k);
  for (size_t i = 0; i < size_t{queries} * dim; ++i) req.add_queries(value);
  return req;
}

TEST_CASE("SearchBatch refuses a NaN query naming its position, and ef past 65,536 everywhere") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("v", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  v1::InsertBatchResponse inserted;
  REQUIRE(c.Insert("v", 0, RandomVectors(50, 4, 1), 4, &inserted).ok());

  // Before: OK with results for queries 0 and 2 and an empty list for query 1.
  v1::SearchBatchRequest batch = Batch("v", 3, 4, 2);
  batch.set_queries(5, kNaN);
  v1::SearchBatchResponse resp;
  grpc::Status s = c.stub->SearchBatch(MakeContext().get(), batch, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "queries[1][1] is NaN");

  // Before: Search clamped any ef silently, and SearchBatch ignored it.
  v1::SearchRequest search;
  search.set_index_name("v");
  for (int i = 0; i < 4; ++i) search.add_query(1.f);
  search.set_k(3);
  search.set_ef(65'537);
  v1::SearchResponse one;
  s = c.stub->Search(MakeContext().get(), search, &one);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "ef is 65537; the range is 0..65536");
  batch = Batch("v", 2, 4, 2);
  batch.set_ef(65'537);
  s = c.stub->SearchBatch(MakeContext().get(), batch, &resp);
  CHECK(s.error_message() == "ef is 65537; the range is 0..65536");
  search.set_ef(65'536);
  REQUIRE(c.stub->Search(MakeContext().get(), search, &one).ok());
  batch.set_ef(65'536);
  REQUIRE(c.stub->SearchBatch(MakeContext().get(), batch, &resp).ok());
  REQUIRE(resp.results_size() == 2);
  CHECK(resp.results(1).results_size() == 2);
}

TEST_CASE("a SearchBatch that outlasts the server's call limit answers DEADLINE_EXCEEDED") {
  ServerProcess server({{}, {"--max-call-s", "1"}});
  StartOrFail(server);
  VectorClient c(server);
  constexpr uint32_t kDim = 512;
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("slow", kDim, v1::DISTANCE_METRIC_L2, &created).ok());
  v1::InsertBatchResponse inserted;
  // 4,000 vectors: past the exact-search threshold at this dimension (1,000), so ef applies.
  for (uint64_t start = 0; start < 4000; start += 500) {
    REQUIRE(c.Insert("slow", start, RandomVectors(500, kDim, start), kDim, &inserted).ok());
  }
  // 10,000 queries with ef 65,536 each visit the whole graph: far more than one second of work.
  // Before: OK, with an empty result list for every query after the first second.
  v1::SearchBatchRequest batch = Batch("slow", 10'000, kDim, 10);
  batch.set_ef(65'536);
  v1::SearchBatchResponse resp;
  const grpc::Status s =
      c.stub->SearchBatch(MakeContext("", absl::Seconds(120)).get(), batch, &resp);
  CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(s.error_message() ==
        "deadline exceeded: the server allows at most 1s per call (--max-call-s)");
}

TEST_CASE("answers are bounded: view_type, echoed names, and the SearchBatch byte budget") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("labels", 4, v1::DISTANCE_METRIC_L2, &created).ok());

  // view_type is copied into every hit of its vector: before, any size was stored.
  v1::InsertBatchRequest insert;
  insert.set_index_name("labels");
  for (uint64_t id = 0; id < 2; ++id) {
    insert.add_ids(id);
    for (int j = 0; j < 4; ++j) insert.add_vectors(1.f);
    insert.add_metadata()->set_view_type(std::string(id == 0 ? 256 : 257, 'v'));
  }
  v1::InsertBatchResponse inserted;
  grpc::Status s = c.stub->InsertBatch(MakeContext().get(), insert, &inserted);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "metadata[1].view_type is 257 bytes; the limit is 256 bytes");
  CHECK(c.Count("labels") == 0);

  // A name that cannot exist is refused, not copied into "Index not found: ..." (before:
  // NOT_FOUND echoing all 300 bytes).
  v1::SearchResponse one;
  s = c.Search(std::string(300, 'n'), {1.f, 1.f, 1.f, 1.f}, 1, &one);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "index name is 300 bytes; the limit is 256 bytes");

  // 1,000 vectors with 256-byte labels: 10,000 queries x k 100 would be ~290 MB of answer.
  // Before: built whole, then refused by gRPC ("Sent message larger than max").
  insert.Clear();
  insert.set_index_name("labels");
  const std::vector<float> data = RandomVectors(1000, 4, 7);
  for (uint64_t id = 0; id < 1000; ++id) {
    insert.add_ids(id);
    for (int j = 0; j < 4; ++j) insert.add_vectors(data[id * 4 + j]);
    insert.add_metadata()->set_view_type(std::string(256, 'v'));
  }
  REQUIRE(c.stub->InsertBatch(MakeContext().get(), insert, &inserted).ok());
  v1::SearchBatchResponse resp;
  s = c.stub->SearchBatch(MakeContext("", absl::Seconds(120)).get(),
                          Batch("labels", 10'000, 4, 100), &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "SearchBatch answer exceeds 50331648 bytes (--max-response-mb); ask for fewer queries "
        "or a smaller k");
  // 100 queries (2.9 MB) fit.
  REQUIRE(c.stub->SearchBatch(MakeContext().get(), Batch("labels", 100, 4, 100), &resp).ok());
  REQUIRE(resp.results_size() == 100);
  CHECK(resp.results(99).results(99).view_type().size() == 256);
}

TEST_CASE("a SearchBatch whose smallest answer cannot fit is refused before any search") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("wide", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  // 10,000 vectors with 256-byte labels: every hit of k 10,000 answers at least ~265 bytes.
  const std::vector<float> data = RandomVectors(10'000, 4, 11);
  for (uint64_t start = 0; start < 10'000; start += 2'500) {
    v1::InsertBatchRequest insert;
    insert.set_index_name("wide");
    for (uint64_t id = start; id < start + 2'500; ++id) {
      insert.add_ids(id);
      for (int j = 0; j < 4; ++j) insert.add_vectors(data[id * 4 + j]);
      insert.add_metadata()->set_view_type(std::string(256, 'v'));
    }
    v1::InsertBatchResponse inserted;
    REQUIRE(c.stub->InsertBatch(MakeContext().get(), insert, &inserted).ok());
  }
  const double searches_before = Metric(server, "sochdb_vector_searches_total");
  REQUIRE(searches_before >= 0);

  // 100 queries x k 10,000: at least 265 MB. Before: ~18 queries were searched and ~50 MB of
  // answer built before the refusal.
  v1::SearchBatchResponse resp;
  grpc::Status s = c.stub->SearchBatch(MakeContext("", absl::Seconds(120)).get(),
                                       Batch("wide", 100, 4, 10'000), &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "SearchBatch answer exceeds 50331648 bytes (--max-response-mb); ask for fewer queries "
        "or a smaller k");
  CHECK(Metric(server, "sochdb_vector_searches_total") == searches_before);

  // Two such queries (5.5 MB) fit, and are searched.
  REQUIRE(c.stub->SearchBatch(MakeContext("", absl::Seconds(120)).get(),
                              Batch("wide", 2, 4, 10'000), &resp)
              .ok());
  CHECK(resp.results(1).results_size() == 10'000);
  CHECK(Metric(server, "sochdb_vector_searches_total") == searches_before + 2);
}

TEST_CASE("a budget set by --max-response-mb bounds Search and SearchBatch") {
  ServerProcess server({{}, {"--max-response-mb", "1"}});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("b", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  v1::InsertBatchRequest insert;
  insert.set_index_name("b");
  const std::vector<float> data = RandomVectors(5000, 4, 3);
  for (uint64_t id = 0; id < 5000; ++id) {
    insert.add_ids(id);
    for (int j = 0; j < 4; ++j) insert.add_vectors(data[id * 4 + j]);
    insert.add_metadata()->set_view_type(std::string(200, 'v'));
  }
  v1::InsertBatchResponse inserted;
  REQUIRE(c.stub->InsertBatch(MakeContext().get(), insert, &inserted).ok());
  v1::SearchResponse one;
  // 5,000 hits of ~220 bytes: past 1 MiB.
  grpc::Status s = c.Search("b", {0.f, 0.f, 0.f, 0.f}, 5000, &one);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "Search answer exceeds 1048576 bytes (--max-response-mb); ask for a smaller k");
  REQUIRE(c.Search("b", {0.f, 0.f, 0.f, 0.f}, 1000, &one).ok());
  CHECK(one.results_size() == 1000);
  v1::SearchBatchResponse resp;
  s = c.stub->SearchBatch(MakeContext().get(), Batch("b", 10, 4, 1000), &resp);
  CHECK(s.error_message() ==
        "SearchBatch answer exceeds 1048576 bytes (--max-response-mb); ask for fewer queries or "
        "a smaller k");
}

TEST_CASE("InsertBatch refuses an id given twice instead of counting it twice") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("d", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  v1::InsertBatchRequest req;
  req.set_index_name("d");
  for (uint64_t id : {7, 7, 7}) {
    req.add_ids(id);
    for (int j = 0; j < 4; ++j) req.add_vectors(static_cast<float>(j));
  }
  // Before: OK with inserted_count 3, for one stored vector.
  v1::InsertBatchResponse inserted;
  const grpc::Status s = c.stub->InsertBatch(MakeContext().get(), req, &inserted);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "ids[1] duplicates ids[0] (7)");
  CHECK(c.Count("d") == 0);
  // Replacing an id in a later call is an upsert, counted once per call.
  REQUIRE(c.Insert("d", 7, std::vector<float>(4, 1.f), 4, &inserted).ok());
  REQUIRE(c.Insert("d", 7, std::vector<float>(4, 2.f), 4, &inserted).ok());
  CHECK(inserted.inserted_count() == 1);
  CHECK(c.Count("d") == 1);
}

}  // namespace
}  // namespace sochdb::testing
