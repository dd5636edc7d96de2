// KvService end to end: the real sochdb-grpc binary, called through generated stubs. Covers every
// RPC, namespaces, TTL, the documented limits and their error codes, and durability across a
// clean restart and kill -9.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace sochdb::testing {
namespace {

using v1::KvService;

struct Kv {
  explicit Kv(const ServerProcess& server) : stub(KvService::NewStub(server.Channel())) {}

  grpc::Status Put(const std::string& ns, const std::string& key, const std::string& value,
                   uint64_t ttl = 0) {
    v1::KvPutRequest req;
    req.set_namespace_(ns);
    req.set_key(key);
    req.set_value(value);
    req.set_ttl_seconds(ttl);
    v1::KvPutResponse resp;
    grpc::Status s = stub->Put(MakeContext().get(), req, &resp);
    if (s.ok() && !resp.success()) return grpc::Status(grpc::StatusCode::UNKNOWN, "success=false");
    return s;
  }

  // The value, or "<missing>" when not found; "<error CODE: message>" on failure.
  std::string Get(const std::string& ns, const std::string& key) {
    v1::KvGetRequest req;
    req.set_namespace_(ns);
    req.set_key(key);
    v1::KvGetResponse resp;
    grpc::Status s = stub->Get(MakeContext().get(), req, &resp);
    if (!s.ok()) return absl::StrCat("<error ", s.error_code(), ": ", s.error_message(), ">");
    return resp.found() ? resp.value() : "<missing>";
  }

  std::vector<std::pair<std::string, std::string>> Scan(const std::string& ns,
                                                        const std::string& prefix,
                                                        uint32_t limit, grpc::Status* status) {
    v1::KvScanRequest req;
    req.set_namespace_(ns);
    req.set_prefix(prefix);
    req.set_limit(limit);
    auto ctx = MakeContext();
    auto reader = stub->Scan(ctx.get(), req);
    std::vector<std::pair<std::string, std::string>> out;
    v1::KvScanResponse item;
    while (reader->Read(&item)) out.emplace_back(item.key(), item.value());
    *status = reader->Finish();
    return out;
  }

  std::unique_ptr<KvService::Stub> stub;
};

TEST_CASE("Put, Get and Delete round-trip in any namespace, isolated from each other") {
  ServerProcess server({});
  std::string error;
  REQUIRE(server.Start(&error));
  Kv kv(server);
  for (const std::string ns : {"default", "another", "", "smart_home"}) {
    REQUIRE(kv.Put(ns, "greeting", "hello " + ns).ok());
  }
  CHECK(kv.Get("default", "greeting") == "hello default");
  CHECK(kv.Get("another", "greeting") == "hello another");
  CHECK(kv.Get("", "greeting") == "hello ");
  CHECK(kv.Get("default", "absent") == "<missing>");

  REQUIRE(kv.Put("default", "greeting", "replaced").ok());
  CHECK(kv.Get("default", "greeting") == "replaced");

  v1::KvDeleteRequest del;
  del.set_namespace_("default");
  del.set_key("greeting");
  v1::KvDeleteResponse del_resp;
  REQUIRE(kv.stub->Delete(MakeContext().get(), del, &del_resp).ok());
  CHECK(del_resp.success());
  REQUIRE(kv.stub->Delete(MakeContext().get(), del, &del_resp).ok());
  CHECK(!del_resp.success());  // nothing left to delete
  CHECK(kv.Get("default", "greeting") == "<missing>");
  CHECK(kv.Get("another", "greeting") == "hello another");

  // Binary keys and values pass through untouched.
  const std::string binary_key("k\0\xff\x01", 4), binary_value("\0\0v\xfe", 4);
  REQUIRE(kv.Put("default", binary_key, binary_value).ok());
  CHECK(kv.Get("default", binary_key) == binary_value);
}

TEST_CASE("Scan streams keys in ascending order; limit keeps the first N; prefix filters") {
  ServerProcess server({});
  std::string error;
  REQUIRE(server.Start(&error));
  Kv kv(server);
  v1::KvBatchPutRequest batch;
  batch.set_namespace_("scan");
  for (int i = 99; i >= 0; --i) {  // written in reverse order on purpose
    v1::KvPutEntry* e = batch.add_entries();
    e->set_key(absl::StrCat(i % 2 == 0 ? "even/" : "odd/", absl::Dec(i, absl::kZeroPad3)));
    e->set_value(absl::StrCat("v", i));
  }
  v1::KvBatchPutResponse batch_resp;
  REQUIRE(kv.stub->BatchPut(MakeContext().get(), batch, &batch_resp).ok());
  CHECK(batch_resp.success_count() == 100);
  REQUIRE(kv.Put("scan-other", "even/000", "elsewhere").ok());

  grpc::Status s;
  auto all = kv.Scan("scan", "", 0, &s);
  REQUIRE(s.ok());
  REQUIRE(all.size() == 100);
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].first < all[i].first);

  auto evens = kv.Scan("scan", "even/", 0, &s);
  REQUIRE(evens.size() == 50);
  CHECK(evens.front() == std::make_pair(std::string("even/000"), std::string("v0")));

  auto first3 = kv.Scan("scan", "odd/", 3, &s);
  REQUIRE(first3.size() == 3);
  CHECK(first3[0].first == "odd/001");
  CHECK(first3[1].first == "odd/003");
  CHECK(first3[2].first == "odd/005");

  CHECK(kv.Scan("scan", "none/", 0, &s).empty());
  CHECK(s.ok());
}

TEST_CASE("BatchGet answers in request order with found flags") {
  ServerProcess server({});
  std::string error;
  REQUIRE(server.Start(&error));
  Kv kv(server);
  REQUIRE(kv.Put("b", "k1", "one").ok());
  REQUIRE(kv.Put("b", "k3", "three").ok());
  v1::KvBatchGetRequest req;
  req.set_namespace_("b");
  for (const char* k : {"k3", "k2", "k1", "k3"}) req.add_keys(k);
  v1::KvBatchGetResponse resp;
  REQUIRE(kv.stub->BatchGet(MakeContext().get(), req, &resp).ok());
  REQUIRE(resp.entries_size() == 4);
  CHECK((resp.entries(0).key() == "k3" && resp.entries(0).found() && resp.entries(0).value() == "three"));
  CHECK((resp.entries(1).key() == "k2" && !resp.entries(1).found()));
  CHECK((resp.entries(2).key() == "k1" && resp.entries(2).value() == "one"));
  CHECK(resp.entries(3).value() == "three");
}

TEST_CASE("BatchGet's answer is bounded by --max-response-mb, named in the error") {
  ServerProcess server({{}, {"--max-response-mb", "1"}});
  std::string error;
  INFO(error);
  REQUIRE(server.Start(&error));
  Kv kv(server);
  REQUIRE(kv.Put("b", "big", std::string(600 << 10, 'v')).ok());
  v1::KvBatchGetRequest req;
  req.set_namespace_("b");
  req.add_keys("big");
  v1::KvBatchGetResponse resp;
  REQUIRE(kv.stub->BatchGet(MakeContext().get(), req, &resp).ok());  // 600 KiB fits in 1 MiB
  req.add_keys("big");
  const grpc::Status s = kv.stub->BatchGet(MakeContext().get(), req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "BatchGet result exceeds 1048576 bytes (--max-response-mb); request fewer keys");
}

TEST_CASE("BatchGet's budget counts the framing: at --max-response-mb = --max-message-mb") {
  ServerProcess server({{}, {"--max-message-mb", "2", "--max-response-mb", "2"}});
  std::string error;
  INFO(error);
  REQUIRE(server.Start(&error));
  Kv kv(server);
  // Each entry takes 14 bytes besides its value: 1 + 3 (entry tag, length), 1 + 1 + 2 (key
  // "k0"), 2 (found), 1 + 3 (value tag, length). Two of these make exactly 2 MiB.
  constexpr size_t kValue = (1u << 20) - 14;
  REQUIRE(kv.Put("f", "k0", std::string(kValue, 'v')).ok());
  REQUIRE(kv.Put("f", "k1", std::string(kValue + 1, 'v')).ok());
  v1::KvBatchGetRequest req;
  req.set_namespace_("f");
  req.add_keys("k0");
  req.add_keys("k0");
  v1::KvBatchGetResponse resp;
  REQUIRE(kv.stub->BatchGet(MakeContext().get(), req, &resp).ok());  // the limit itself fits
  CHECK(resp.ByteSizeLong() == (2u << 20));
  // One byte more. Before: keys and values (2 MiB - 23 bytes) passed the budget and gRPC
  // failed the call: "Sent message larger than max (2097153 vs. 2097152)".
  req.set_keys(1, "k1");
  const grpc::Status s = kv.stub->BatchGet(MakeContext().get(), req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "BatchGet result exceeds 2097152 bytes (--max-response-mb); request fewer keys");
}

TEST_CASE("TTL: an expired key disappears from Get, Scan and BatchGet") {
  ServerProcess server({{}, {"--ttl-purge-interval-ms", "100"}});
  std::string error;
  REQUIRE(server.Start(&error));
  Kv kv(server);
  REQUIRE(kv.Put("ttl", "short", "soon gone", 1).ok());
  REQUIRE(kv.Put("ttl", "long", "stays", 3600).ok());
  REQUIRE(kv.Put("ttl", "forever", "stays").ok());
  CHECK(kv.Get("ttl", "short") == "soon gone");
  // Expiry is judged against the server clock in milliseconds: 1 s plus a margin.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  CHECK(kv.Get("ttl", "short") == "<missing>");
  CHECK(kv.Get("ttl", "long") == "stays");
  grpc::Status s;
  auto rows = kv.Scan("ttl", "", 0, &s);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].first == "forever");
  CHECK(rows[1].first == "long");
  // Rewriting without a TTL makes the key permanent again.
  REQUIRE(kv.Put("ttl", "short", "back").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(kv.Get("ttl", "short") == "back");
}

TEST_CASE("bad input gets INVALID_ARGUMENT naming the field and the limit, and writes nothing") {
  ServerProcess server({});
  std::string error;
  REQUIRE(server.Start(&error));
  Kv kv(server);
  auto expect_invalid = [](const grpc::Status& s, const std::string& words) {
    INFO(s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find(words) != std::string::npos);
  };
  expect_invalid(kv.Put("ns", "", "v"), "key must not be empty");
  expect_invalid(kv.Put("ns", std::string(16 * 1024 + 1, 'k'), "v"), "16384");
  expect_invalid(kv.Put("ns", "k", std::string((8 << 20) + 1, 'v')), "8388608");
  expect_invalid(kv.Put(std::string(257, 'n'), "k", "v"), "namespace");
  expect_invalid(kv.Put(std::string("n\0s", 3), "k", "v"), "NUL");
  expect_invalid(kv.Put("ns", "k", "v", 99'999'999'999ULL), "ttl_seconds");

  v1::KvBatchPutRequest batch;
  batch.set_namespace_("ns");
  for (int i = 0; i < 5; ++i) {
    v1::KvPutEntry* e = batch.add_entries();
    e->set_key(i == 3 ? "" : absl::StrCat("batch", i));
    e->set_value("v");
  }
  v1::KvBatchPutResponse batch_resp;
  expect_invalid(kv.stub->BatchPut(MakeContext().get(), batch, &batch_resp), "entries[3].key");
  CHECK(kv.Get("ns", "batch0") == "<missing>");  // all or nothing

  v1::KvBatchGetRequest many;
  many.set_namespace_("ns");
  for (int i = 0; i < 10'001; ++i) many.add_keys("k");
  v1::KvBatchGetResponse many_resp;
  expect_invalid(kv.stub->BatchGet(MakeContext().get(), many, &many_resp), "10000");

  // Past the transport's limit (--max-message-mb 64) gRPC itself refuses the message.
  v1::KvBatchPutRequest huge;
  huge.set_namespace_("ns");
  for (int i = 0; i < 9; ++i) {
    v1::KvPutEntry* e = huge.add_entries();
    e->set_key(absl::StrCat("h", i));
    e->set_value(std::string(8 << 20, 'x'));
  }
  const grpc::Status too_big = kv.stub->BatchPut(MakeContext().get(), huge, &batch_resp);
  CHECK(too_big.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);

  // The server is unharmed.
  REQUIRE(kv.Put("ns", "after", "fine").ok());
  CHECK(kv.Get("ns", "after") == "fine");
}

TEST_CASE("data survives a clean restart (SIGTERM exits 0)") {
  ServerProcess server({});
  std::string error;
  REQUIRE(server.Start(&error));
  {
    Kv kv(server);
    for (int i = 0; i < 200; ++i) REQUIRE(kv.Put("durable", absl::StrCat("k", i), absl::StrCat(i)).ok());
    REQUIRE(kv.Put("durable", "ttl", "later", 3600).ok());
  }
  CHECK(server.Stop(SIGTERM) == 0);
  CHECK(server.log().find("shutdown complete") != std::string::npos);
  REQUIRE(server.Start(&error));
  Kv kv(server);
  for (int i = 0; i < 200; ++i) CHECK(kv.Get("durable", absl::StrCat("k", i)) == absl::StrCat(i));
  CHECK(kv.Get("durable", "ttl") == "later");
}

// Writers record every acknowledged put; the server is killed with SIGKILL mid-stream; after a
// restart every acknowledged key must be there with its value. Run for each durability mode.
TEST_CASE("kill -9 during a stream of acknowledged puts loses none of them") {
  for (const std::string sync : {"full", "normal", "off"}) {
    INFO("sync=" << sync);
    ServerProcess server({{}, {"--sync", sync}});
    std::string error;
    REQUIRE(server.Start(&error));
    std::mutex mu;
    std::map<std::string, std::string> acked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        Kv kv(server);
        for (int i = 0; !stop; ++i) {
          const std::string key = absl::StrCat("w", w, "-", i);
          const std::string value = absl::StrCat("value-", w, "-", i);
          if (kv.Put("crash", key, value).ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acked[key] = value;
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.Kill9();
    stop = true;
    for (auto& t : writers) t.join();
    REQUIRE(acked.size() > 20);
    REQUIRE(server.Start(&error));
    Kv kv(server);
    size_t lost = 0;
    for (const auto& [key, value] : acked) {
      if (kv.Get("crash", key) != value) ++lost;
    }
    std::printf("kill9 sync=%s: acked=%zu lost=%zu\n", sync.c_str(), acked.size(), lost);
    CHECK(lost == 0);
  }
}

}  // namespace
}  // namespace sochdb::testing
