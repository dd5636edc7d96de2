// Long or blocking calls never hold a completion-queue thread, and no stats read waits for a
// writer. The KV, vector index and collection services run over the real call layer and a real
// Engine, in process, with ONE completion queue (as `--threads 1`). An InsertBatch is held
// inside its index's lock (VectorSpaceObserver::InIndexChunk, given to Engine::Open) until
// every other call below has completed: a metrics scrape (Engine::Stats), KV Get / BatchGet /
// Scan, GetStats and Search of another index,
// GetStats of the index being written, SearchCollection. Before, the scrape waited for the
// writer while holding the index store's lock, GetStats ran on the queue's thread and waited
// for the writer too, and with that thread stuck no other call was served.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "engine/engine.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/registry.h"
#include "server/rpc/grpc_server.h"
#include "services/collection/collection_service.h"
#include "services/kv/kv_service.h"
#include "services/vector/vector_index_service.h"
#include "sochdb/v1/collection.grpc.pb.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/engine/vector/space_hooks.h"

namespace sochdb {
namespace {

constexpr int kDim = 8;
// How long the held writer waits for the other calls before letting go anyway (only when the
// test fails), and the deadline of each of those calls.
constexpr absl::Duration kHoldLimit = absl::Seconds(60);
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/blocking_calls");
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = kCallDeadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

// The engine and a server with one completion queue; an InsertBatch into index "held" stops in
// its first chunk, inside the index lock, until `release` (or kHoldLimit).
struct Harness {
  Harness() : metrics(registry) {
    EngineOptions options;
    options.data_dir = TestDir();
    options.store.sync_mode = storage::SyncMode::kOff;
    hooks.in_index_chunk = [this](size_t) {
      if (!armed.exchange(false)) return;  // the first chunk once armed: the "held" insert's
      holding.Notify();
      released_by_others = release.WaitForNotificationWithTimeout(kHoldLimit);
    };
    engine = std::move(Engine::Open(options, &hooks)).value();
    server::GrpcServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    server_options.completion_queues = 1;
    server = std::make_unique<server::GrpcServer>(server_options, &authorizer, &metrics);
    kv = std::make_unique<services::KvService>(&engine->kv());
    vectors = std::make_unique<services::VectorIndexService>(&engine->vector_indexes());
    collections = std::make_unique<services::CollectionService>(&engine->collections());
    kv->Register(*server);
    vectors->Register(*server);
    collections->Register(*server);
    REQUIRE(server->Start().ok());
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                  grpc::InsecureChannelCredentials());
    kv_stub = v1::KvService::NewStub(channel);
    vector_stub = v1::VectorIndexService::NewStub(channel);
    collection_stub = v1::CollectionService::NewStub(channel);
  }
  ~Harness() {
    if (!release.HasBeenNotified()) release.Notify();
    server->Shutdown(absl::Seconds(5));
  }

  void CreateIndex(const std::string& name) {
    v1::CreateIndexRequest req;
    req.set_name(name);
    req.set_dimension(kDim);
    v1::CreateIndexResponse resp;
    REQUIRE(vector_stub->CreateIndex(Context().get(), req, &resp).ok());
    REQUIRE(resp.success());
  }

  v1::InsertBatchRequest Batch(const std::string& index, int n) {
    v1::InsertBatchRequest req;
    req.set_index_name(index);
    for (int i = 0; i < n; ++i) {
      req.add_ids(static_cast<uint64_t>(i));
      for (int j = 0; j < kDim; ++j) req.add_vectors(static_cast<float>((i + j) % 7));
    }
    return req;
  }

  vector::SpaceHooks hooks;       // every vector index's steps (VectorSpaceObserver)
  std::atomic<bool> armed{false};  // set just before the insert into "held"
  absl::Notification holding, release;
  bool released_by_others = false;  // written by the held writer before it goes on
  prometheus::Registry registry;
  auth::Authorizer authorizer{nullptr};
  server::RpcMetrics metrics;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<server::GrpcServer> server;
  std::unique_ptr<services::KvService> kv;
  std::unique_ptr<services::VectorIndexService> vectors;
  std::unique_ptr<services::CollectionService> collections;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KvService::Stub> kv_stub;
  std::unique_ptr<v1::VectorIndexService::Stub> vector_stub;
  std::unique_ptr<v1::CollectionService::Stub> collection_stub;
};

TEST_CASE("calls complete while an insert holds its index's lock (one completion queue)") {
  Harness h;
  h.CreateIndex("held");
  h.CreateIndex("other");
  {
    v1::InsertBatchResponse resp;
    REQUIRE(h.vector_stub->InsertBatch(Context().get(), h.Batch("other", 20), &resp).ok());
    v1::KvPutRequest put;
    put.set_key("k");
    put.set_value("v");
    v1::KvPutResponse put_resp;
    REQUIRE(h.kv_stub->Put(Context().get(), put, &put_resp).ok());
    v1::CreateCollectionRequest create;
    create.set_name("c");
    create.set_dimension(2);
    v1::CreateCollectionResponse created;
    REQUIRE(h.collection_stub->CreateCollection(Context().get(), create, &created).ok());
    REQUIRE(created.success());
    v1::AddDocumentsRequest add;
    add.set_collection_name("c");
    v1::Document* doc = add.add_documents();
    doc->set_id("d");
    doc->add_embedding(1);
    doc->add_embedding(0);
    v1::AddDocumentsResponse added;
    REQUIRE(h.collection_stub->AddDocuments(Context().get(), add, &added).ok());
    REQUIRE(added.added_count() == 1);
  }

  grpc::Status insert_status;
  h.armed = true;
  std::thread insert([&] {
    v1::InsertBatchResponse resp;
    insert_status = h.vector_stub->InsertBatch(Context(kHoldLimit + absl::Seconds(60)).get(),
                                               h.Batch("held", 300), &resp);
  });
  h.holding.WaitForNotification();

  // A metrics scrape, from its own thread as the exporter's.
  absl::Notification scraped;
  EngineStats stats;
  std::thread scrape([&] {
    stats = h.engine->Stats();
    scraped.Notify();
  });
  const bool scrape_done = scraped.WaitForNotificationWithTimeout(kCallDeadline);

  v1::KvGetRequest get;
  get.set_key("k");
  v1::KvGetResponse got;
  const grpc::Status get_status = h.kv_stub->Get(Context().get(), get, &got);

  v1::GetStatsRequest other_stats_req;
  other_stats_req.set_index_name("other");
  v1::GetStatsResponse other_stats;
  const grpc::Status other_stats_status =
      h.vector_stub->GetStats(Context().get(), other_stats_req, &other_stats);

  v1::SearchRequest search;
  search.set_index_name("other");
  search.set_k(3);
  for (int j = 0; j < kDim; ++j) search.add_query(1);
  v1::SearchResponse found;
  const grpc::Status search_status = h.vector_stub->Search(Context().get(), search, &found);

  v1::GetStatsRequest held_stats_req;
  held_stats_req.set_index_name("held");
  v1::GetStatsResponse held_stats;
  const grpc::Status held_stats_status =
      h.vector_stub->GetStats(Context().get(), held_stats_req, &held_stats);

  v1::SearchCollectionRequest collection_search;
  collection_search.set_collection_name("c");
  collection_search.add_query(1);
  collection_search.add_query(0);
  collection_search.set_k(1);
  v1::SearchCollectionResponse collection_found;
  const grpc::Status collection_status =
      h.collection_stub->SearchCollection(Context().get(), collection_search, &collection_found);

  v1::KvBatchGetRequest batch_get;
  batch_get.add_keys("k");
  v1::KvBatchGetResponse batch_got;
  const grpc::Status batch_get_status = h.kv_stub->BatchGet(Context().get(), batch_get, &batch_got);

  v1::KvScanRequest scan;
  auto scan_context = Context();
  std::unique_ptr<grpc::ClientReader<v1::KvScanResponse>> reader =
      h.kv_stub->Scan(scan_context.get(), scan);
  int scanned = 0;
  for (v1::KvScanResponse item; reader->Read(&item);) ++scanned;
  const grpc::Status scan_status = reader->Finish();

  h.release.Notify();  // every call above is done: the insert may go on
  insert.join();
  scrape.join();

  CHECK(h.released_by_others);  // the writer was let go by the calls, not by the time limit
  CHECK(scrape_done);
  CHECK(stats.vector_indexes == 2);
  CHECK(stats.vectors >= 20);
  INFO(get_status.error_message());
  REQUIRE(get_status.ok());
  CHECK(got.value() == "v");
  REQUIRE(other_stats_status.ok());
  CHECK(other_stats.stats().num_vectors() == 20);
  REQUIRE(search_status.ok());
  CHECK(found.results_size() == 3);
  REQUIRE(held_stats_status.ok());
  CHECK(held_stats.stats().dimension() == kDim);
  REQUIRE(collection_status.ok());
  CHECK(collection_found.results_size() == 1);
  REQUIRE(batch_get_status.ok());
  CHECK(batch_got.entries_size() == 1);
  REQUIRE(scan_status.ok());
  CHECK(scanned == 1);
  REQUIRE(insert_status.ok());
}

}  // namespace
}  // namespace sochdb
