// Tests of the call layer (server/rpc) through a real in-process gRPC server and the test-only
// EchoService: each RPC kind, admission (authentication, capability, namespace), deadlines,
// exceptions, worker-pool overload, metrics, and shutdown with calls in flight.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/auth/auth.h"
#include "grpcpp/create_channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/rpc/grpc_server.h"
#include "sochdb_test/echo.grpc.pb.h"
#include "tests/common/wait_until.h"

namespace sochdb::server {
namespace {

using sochdb::testing::WaitUntil;
using test::EchoRequest;
using test::EchoResponse;
using test::EchoService;

// Runs the behaviour a request asks for (fail, throw), shared by every handler. Nothing sleeps:
// a call that must take a while is held at an event (HoldGate, a passed deadline).
grpc::Status Behave(const EchoRequest& req) {
  if (req.fail_with() == "error") {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text is not acceptable");
  }
  if (req.fail_with() == "throw") throw std::runtime_error("boom");
  return grpc::Status::OK;
}

class RepeatSource final : public StreamSource<EchoResponse> {
 public:
  explicit RepeatSource(EchoRequest req) : req_(std::move(req)) {}
  grpc::Status Next(CallContext& ctx, EchoResponse* out, bool* has_message) override {
    if (sent_ >= req_.count()) return grpc::Status::OK;
    // A source slower than the call may run: its message is ready only once the deadline has
    // passed (the event, rather than a sleep long enough to pass it).
    if (req_.fail_with() == "outlast_deadline" && !WaitUntil([&] { return ctx.Expired(); })) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "the deadline never passed");
    }
    grpc::Status status = Behave(req_);
    if (!status.ok()) return status;
    out->set_text(req_.text());
    out->set_index(sent_++);
    *has_message = true;
    return grpc::Status::OK;
  }

 private:
  EchoRequest req_;
  int sent_ = 0;
};

class ConcatSink final : public StreamSink<EchoRequest, EchoResponse> {
 public:
  explicit ConcatSink(std::atomic<int>* commits) : commits_(commits) {}
  grpc::Status OnMessage(CallContext& ctx, const EchoRequest& message) override {
    grpc::Status status = ctx.CheckNamespace(message.namespace_());
    if (!status.ok()) return status;
    status = Behave(message);
    if (!status.ok()) return status;
    text_ += message.text();
    ++count_;
    return grpc::Status::OK;
  }
  grpc::Status Finish(CallContext&, EchoResponse* response) override {
    ++*commits_;
    response->set_text(text_);
    response->set_index(count_);
    return grpc::Status::OK;
  }

 private:
  std::atomic<int>* const commits_;
  std::string text_;
  int count_ = 0;
};

std::unique_ptr<grpc::ClientContext> Context(const std::string& key = "", int deadline_ms = 10000) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  if (!key.empty()) ctx->AddMetadata("x-api-key", key);
  return ctx;
}

EchoRequest Request(const std::string& ns, const std::string& text) {
  EchoRequest req;
  req.set_namespace_(ns);
  req.set_text(text);
  return req;
}

// Holds the EchoBlocking calls that ask for it (fail_with "hold") until the test releases them:
// the test waits for the calls to be where it wants them instead of sleeping while they get there.
struct HoldGate {
  void Pass() {
    ++entered;
    release.WaitForNotification();
  }
  void Release() { release.Notify(); }
  std::atomic<int> entered{0};
  absl::Notification release;
};

struct Harness {
  explicit Harness(std::shared_ptr<const auth::KeyRing> keys = nullptr,
                   GrpcServerOptions options = {})
      : authorizer(std::move(keys)), metrics(registry) {
    options.address = "127.0.0.1:0";
    server = std::make_unique<GrpcServer>(options, &authorizer, &metrics);
    auto r = server->AddService<EchoService>();
    auto ns = [](const EchoRequest& req) -> std::string_view { return req.namespace_(); };
    r.Unary<EchoRequest, EchoResponse>("Echo", {auth::Capability::kRead, ns},
            [this](CallContext& ctx, const EchoRequest& req, EchoResponse* resp) {
              ++handled;
              resp->set_text(absl::StrCat(ctx.principal().tenant, ":", req.text()));
              return Behave(req);
            });
    r.Unary<EchoRequest, EchoResponse>("EchoBlocking",
            {auth::Capability::kWrite, ns, Execution::kWorkerPool},
            [this](CallContext&, const EchoRequest& req, EchoResponse* resp) {
              ++handled;
              if (req.fail_with() == "hold") hold.Pass();
              resp->set_text(req.text());
              return Behave(req);
            });
    r.ServerStream<EchoRequest, EchoResponse>("Repeat", {auth::Capability::kRead, ns},
                   [this](CallContext&, const EchoRequest& req,
                          std::unique_ptr<StreamSource<EchoResponse>>* source) {
                     ++handled;
                     *source = std::make_unique<RepeatSource>(req);
                     return grpc::Status::OK;
                   });
    r.ClientStream<EchoRequest, EchoResponse>("Concat", {auth::Capability::kWrite},
                   [this](CallContext&, std::unique_ptr<StreamSink<EchoRequest, EchoResponse>>* sink) {
                     ++handled;
                     *sink = std::make_unique<ConcatSink>(&commits);
                     return grpc::Status::OK;
                   });
    const absl::Status started = server->Start();
    REQUIRE(started.ok());
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                  grpc::InsecureChannelCredentials());
    stub = EchoService::NewStub(channel);
  }

  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(registry.Collect());
  }

  // Metrics are recorded when the server sees its answer delivered, a moment after the client
  // has it: waits for them.
  bool MetricsShow(const std::string& text) {
    return WaitUntil([&] { return Metrics().find(text) != std::string::npos; });
  }

  // Whether the server has begun to shut down: a new call is no longer served. Calls of other
  // kinds than Echo are not disturbed (Echo runs inline, never on the worker pool).
  bool RefusesNewCalls() {
    EchoResponse resp;
    return !stub->Echo(Context("", 1000).get(), Request("ns", "probe"), &resp).ok();
  }

  prometheus::Registry registry;
  auth::Authorizer authorizer;
  RpcMetrics metrics;
  std::unique_ptr<GrpcServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<EchoService::Stub> stub;
  std::atomic<int> handled{0};
  std::atomic<int> commits{0};  // client streams answered after the client half-closed
  HoldGate hold;
};

// Sends raw bytes as the messages of `method` through the generic API (any RPC kind) and
// returns the final status.
grpc::Status CallRaw(grpc::Channel* channel, const std::string& method,
                     const std::vector<std::string>& messages, const std::string& api_key = "") {
  grpc::GenericStub stub(channel->shared_from_this());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!api_key.empty()) ctx.AddMetadata("x-api-key", api_key);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, method, &cq);
  void* tag;
  bool ok;
  intptr_t step = 0;
  call->StartCall(reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  for (const std::string& bytes : messages) {
    grpc::Slice slice(bytes);
    call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(++step));
    cq.Next(&tag, &ok);
  }
  call->WritesDone(reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// An EchoRequest whose `namespace` (field 1, a proto3 string) holds invalid UTF-8.
std::string BadUtf8Request() { return std::string("\x0a\x02\xff\xfe", 4); }
std::string ValidRequest(const std::string& text) {
  EchoRequest req;
  req.set_namespace_("ns");
  req.set_text(text);
  return req.SerializeAsString();
}

std::shared_ptr<const auth::KeyRing> TwoTenantKeys() {
  const std::string text = absl::StrCat(
      *auth::MakeKeyEntry("acme-editor-key-0001", "acme", auth::Role::kEditor, "acme-editor"), "\n",
      *auth::MakeKeyEntry("acme-viewer-key-0001", "acme", auth::Role::kViewer, "acme-viewer"), "\n",
      *auth::MakeKeyEntry("beta-editor-key-0001", "beta", auth::Role::kEditor, "beta-editor"), "\n");
  auto keys = auth::KeyRing::Parse(text);
  REQUIRE(keys.ok());
  return *keys;
}

TEST_CASE("unary calls run their handler and answer its status") {
  Harness h;
  EchoResponse resp;
  grpc::Status s = h.stub->Echo(Context().get(), Request("anything", "hi"), &resp);
  REQUIRE(s.ok());
  CHECK(resp.text() == "default:hi");  // development principal, tenant "default"

  EchoRequest bad = Request("ns", "x");
  bad.set_fail_with("error");
  s = h.stub->Echo(Context().get(), bad, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "text is not acceptable");

  bad.set_fail_with("throw");
  s = h.stub->EchoBlocking(Context().get(), bad, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(s.error_message() == "internal error");  // never the exception text

  CHECK(h.MetricsShow(
      "sochdb_grpc_requests_total{code=\"OK\",method=\"Echo\",service=\"sochdb.test.EchoService\"} 1"));
  CHECK(h.MetricsShow("code=\"INVALID_ARGUMENT\",method=\"Echo\""));
  CHECK(h.MetricsShow("code=\"INTERNAL\",method=\"EchoBlocking\""));
  CHECK(h.MetricsShow(
      "sochdb_grpc_request_duration_seconds_count{method=\"Echo\",service=\"sochdb.test.EchoService\"} 2"));
}

TEST_CASE("server streams deliver every message in order and honour errors") {
  Harness h;
  EchoRequest req = Request("ns", "x");
  req.set_count(500);
  auto ctx = Context();
  auto reader = h.stub->Repeat(ctx.get(), req);
  EchoResponse resp;
  int expected = 0;
  while (reader->Read(&resp)) {
    REQUIRE(resp.index() == expected);
    ++expected;
  }
  CHECK(expected == 500);
  CHECK(reader->Finish().ok());

  req.set_count(3);
  req.set_fail_with("error");
  auto ctx2 = Context();
  auto failing = h.stub->Repeat(ctx2.get(), req);
  while (failing->Read(&resp)) {
  }
  CHECK(failing->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("a stream past the server's maximum call duration ends with DEADLINE_EXCEEDED") {
  GrpcServerOptions options;
  options.max_call_duration = absl::Milliseconds(300);
  Harness h(nullptr, options);
  EchoRequest req = Request("ns", "x");
  req.set_count(1000);
  req.set_fail_with("outlast_deadline");  // each message is ready only past the deadline
  auto ctx = Context("", 60'000);  // the client allows a minute; the server allows 300 ms
  auto reader = h.stub->Repeat(ctx.get(), req);
  EchoResponse resp;
  int received = 0;
  while (reader->Read(&resp)) ++received;
  const grpc::Status s = reader->Finish();
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's limit ended it, not the client's deadline: the message names the setting.
  CHECK(s.error_message() ==
        "deadline exceeded: the server allows at most 300ms per call (--max-call-s)");
  CHECK(received == 1);  // the message that was ready went out before the end
}

TEST_CASE("a client cancelling a stream frees the call") {
  Harness h;
  EchoRequest req = Request("ns", "x");
  req.set_count(1'000'000);
  auto ctx = Context();
  auto reader = h.stub->Repeat(ctx.get(), req);
  EchoResponse resp;
  for (int i = 0; i < 10; ++i) REQUIRE(reader->Read(&resp));
  ctx->TryCancel();
  while (reader->Read(&resp)) {
  }
  CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  // The server must notice and stop streaming: its in-flight gauge returns to 0.
  CHECK(h.MetricsShow(
      "sochdb_grpc_inflight{method=\"Repeat\",service=\"sochdb.test.EchoService\"} 0"));
}

TEST_CASE("client streams receive every message and answer once") {
  Harness h;
  EchoResponse resp;
  auto ctx = Context();
  auto writer = h.stub->Concat(ctx.get(), &resp);
  for (const char* part : {"a", "b", "c"}) REQUIRE(writer->Write(Request("ns", part)));
  writer->WritesDone();
  REQUIRE(writer->Finish().ok());
  CHECK(resp.text() == "abc");
  CHECK(resp.index() == 3);

  auto ctx2 = Context();
  auto failing = h.stub->Concat(ctx2.get(), &resp);
  EchoRequest bad = Request("ns", "x");
  bad.set_fail_with("error");
  failing->Write(Request("ns", "ok"));
  failing->Write(bad);
  failing->WritesDone();
  CHECK(failing->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("admission: keys, capabilities and namespaces are checked before any handler") {
  Harness h(TwoTenantKeys());
  EchoResponse resp;

  SECTION("no key or an unknown key is UNAUTHENTICATED") {
    grpc::Status s = h.stub->Echo(Context().get(), Request("acme", "x"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    s = h.stub->Echo(Context("acme-editor-key-0002").get(), Request("acme", "x"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(s.error_message().find("acme-editor-key") == std::string::npos);
    EchoResponse stream_resp;
    auto ctx = Context();
    auto writer = h.stub->Concat(ctx.get(), &stream_resp);
    writer->WritesDone();
    CHECK(writer->Finish().error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(h.handled == 0);
  }
  SECTION("a tenant uses its own namespaces only") {
    CHECK(h.stub->Echo(Context("acme-editor-key-0001").get(), Request("acme", "x"), &resp).ok());
    CHECK(resp.text() == "acme:x");
    CHECK(h.stub->Echo(Context("acme-editor-key-0001").get(), Request("acme/docs", "x"), &resp).ok());
    grpc::Status s =
        h.stub->Echo(Context("beta-editor-key-0001").get(), Request("acme", "x"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(s.error_message() == "Access denied to namespace 'acme' for tenant 'beta'");
    s = h.stub->Echo(Context("acme-editor-key-0001").get(), Request("default", "x"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(h.handled == 2);
  }
  SECTION("a viewer cannot call a Write method") {
    grpc::Status s =
        h.stub->EchoBlocking(Context("acme-viewer-key-0001").get(), Request("acme", "x"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(s.error_message() == "Insufficient permissions. Required: Write, principal: acme-viewer");
    CHECK(h.handled == 0);
  }
  SECTION("client streams check the namespace of each message") {
    auto ctx = Context("beta-editor-key-0001");
    auto writer = h.stub->Concat(ctx.get(), &resp);
    writer->Write(Request("beta", "ok"));
    writer->Write(Request("acme", "stolen"));
    writer->WritesDone();
    const grpc::Status s = writer->Finish();
    CHECK(s.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_CASE("a full worker pool answers RESOURCE_EXHAUSTED instead of queueing without bound") {
  // One worker, held by the first call; a queue of one, taken by one of the next two calls; the
  // other is refused at once.
  GrpcServerOptions options;
  options.worker_threads = 1;
  options.worker_queue = 1;
  Harness h(nullptr, options);
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  auto call = [&] {
    EchoRequest req = Request("ns", "held");
    req.set_fail_with("hold");
    EchoResponse resp;
    const grpc::Status s = h.stub->EchoBlocking(Context("", 60'000).get(), req, &resp);
    if (s.ok()) {
      ++ok;
    } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
    } else {
      ++other;
    }
  };
  std::vector<std::thread> clients;
  clients.emplace_back(call);
  REQUIRE(WaitUntil([&] { return h.hold.entered == 1; }));  // the worker is busy
  clients.emplace_back(call);
  clients.emplace_back(call);
  CHECK(WaitUntil([&] { return exhausted == 1; }));
  h.hold.Release();
  for (auto& c : clients) c.join();
  CHECK(ok == 2);
  CHECK(exhausted == 1);
  CHECK(other == 0);
}

TEST_CASE("shutdown lets calls in flight finish within the grace period") {
  Harness h;
  std::atomic<bool> answered{false};
  std::thread caller([&] {
    EchoRequest req = Request("ns", "held");
    req.set_fail_with("hold");
    EchoResponse resp;
    answered = h.stub->EchoBlocking(Context("", 60'000).get(), req, &resp).ok();
  });
  REQUIRE(WaitUntil([&] { return h.hold.entered == 1; }));  // the call is in flight
  std::thread stopper([&] { h.server->Shutdown(absl::Seconds(30)); });
  CHECK(WaitUntil([&] { return h.RefusesNewCalls(); }));  // shutting down, the call still held
  h.hold.Release();
  caller.join();
  stopper.join();
  CHECK(answered);
}

TEST_CASE("malformed requests get INVALID_ARGUMENT naming the type and field; nothing applied") {
  Harness h;
  grpc::Status s = CallRaw(h.channel.get(), "/sochdb.test.EchoService/Echo", {BadUtf8Request()});
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("request is not a valid sochdb.test.EchoRequest") !=
        std::string::npos);
  CHECK(s.error_message().find("sochdb.test.EchoRequest.namespace") != std::string::npos);

  s = CallRaw(h.channel.get(), "/sochdb.test.EchoService/Repeat", {std::string("\xff\xff\xff", 3)});
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(h.handled == 0);

  // A client stream whose second message is malformed is refused without committing the first.
  s = CallRaw(h.channel.get(), "/sochdb.test.EchoService/Concat",
              {ValidRequest("a"), BadUtf8Request(), ValidRequest("c")});
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("stream message 2") != std::string::npos);
  CHECK(h.commits == 0);
  CHECK(CallRaw(h.channel.get(), "/sochdb.test.EchoService/Concat", {ValidRequest("a")}).ok());
  CHECK(h.commits == 1);
}

TEST_CASE("an unauthenticated caller learns nothing about its malformed request") {
  Harness h(TwoTenantKeys());
  const grpc::Status s =
      CallRaw(h.channel.get(), "/sochdb.test.EchoService/Echo", {BadUtf8Request()});
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("a stream whose client stops reading is cancelled at the server's maximum duration") {
  GrpcServerOptions options;
  options.max_call_duration = absl::Milliseconds(500);
  Harness h(nullptr, options);
  EchoRequest req = Request("ns", std::string(64 * 1024, 'x'));
  req.set_count(100'000);  // ~6 GB if it were all sent: flow control stalls the server
  auto ctx = Context("", 60'000);
  auto reader = h.stub->Repeat(ctx.get(), req);
  EchoResponse resp;
  REQUIRE(reader->Read(&resp));
  // Read nothing more: the server's writes stall on flow control until its alarm fires.
  CHECK(h.MetricsShow(
      "sochdb_grpc_inflight{method=\"Repeat\",service=\"sochdb.test.EchoService\"} 0"));
  ctx->TryCancel();
}

TEST_CASE("shutdown with a backlog on the worker pool answers every call and does not crash") {
  GrpcServerOptions options;
  options.worker_threads = 1;
  options.worker_queue = 16;
  Harness h(nullptr, options);
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      EchoRequest req = Request("ns", "held");
      req.set_fail_with("hold");
      EchoResponse resp;
      h.stub->EchoBlocking(Context("", 60'000).get(), req, &resp);
      ++answered;
    });
  }
  // One call holds the worker, three wait in its queue.
  REQUIRE(WaitUntil([&] { return h.hold.entered == 1 && h.metrics.InflightCalls() == 4; }));
  std::thread stopper([&] { h.server->Shutdown(absl::ZeroDuration()); });  // no grace
  CHECK(WaitUntil([&] { return h.RefusesNewCalls(); }));
  h.hold.Release();
  for (auto& c : callers) c.join();
  stopper.join();
  CHECK(answered == 4);
}

// Opens a Watch and reads its first answer; nullptr (with the final status in `*refused`) when
// the server ends it instead.
struct OpenWatch {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> reader;
};
std::optional<OpenWatch> Watch(grpc::health::v1::Health::Stub& stub, grpc::Status* refused) {
  namespace health = grpc::health::v1;
  OpenWatch watch{Context("", 30000), nullptr};
  watch.reader = stub.Watch(watch.context.get(), health::HealthCheckRequest());
  health::HealthCheckResponse resp;
  if (watch.reader->Read(&resp)) {
    CHECK(resp.status() == health::HealthCheckResponse::SERVING);
    return watch;
  }
  *refused = watch.reader->Finish();
  return std::nullopt;
}

TEST_CASE("health watches hold no thread: past their bound they are refused, Check always answers") {
  // Watch once held one of gRPC's synchronous threads per watcher, so a few idle watchers made
  // Check answer RESOURCE_EXHAUSTED. Now watchers wait on the completion queues (no synchronous
  // thread exists), the bound is max_health_watches, and Check answers past it.
  namespace health = grpc::health::v1;
  GrpcServerOptions options;
  options.max_health_watches = 12;
  options.max_health_watches_per_connection = 100;  // the global bound is the one under test
  Harness h(nullptr, options);
  auto stub = health::Health::NewStub(h.channel);
  std::vector<OpenWatch> watches;
  grpc::Status refused;
  for (int i = 0; i < 20 && refused.ok(); ++i) {
    std::optional<OpenWatch> watch = Watch(*stub, &refused);
    if (watch.has_value()) watches.push_back(std::move(*watch));
  }
  INFO(watches.size() << " watches held; then " << refused.error_message());
  CHECK(watches.size() == 12);
  CHECK(refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.error_message().find("the limit is 12") != std::string::npos);

  grpc::ClientContext check_context;
  health::HealthCheckResponse answer;
  REQUIRE(stub->Check(&check_context, health::HealthCheckRequest(), &answer).ok());
  CHECK(answer.status() == health::HealthCheckResponse::SERVING);
  EchoResponse resp;
  REQUIRE(h.stub->Echo(Context().get(), Request("ns", "still here"), &resp).ok());

  // Watchers that leave free their places.
  for (auto& watch : watches) watch.context->TryCancel();
  for (auto& watch : watches) watch.reader->Finish();
  std::optional<OpenWatch> again;
  CHECK(WaitUntil([&] {
    again = Watch(*stub, &refused);
    return again.has_value();
  }));
  if (again.has_value()) again->context->TryCancel();
}

TEST_CASE("watchers are told NOT_SERVING at shutdown and let go; unknown services are reported") {
  namespace health = grpc::health::v1;
  Harness h;
  auto stub = health::Health::NewStub(h.channel);
  grpc::Status refused;
  std::vector<OpenWatch> watches;
  for (int i = 0; i < 3; ++i) {
    std::optional<OpenWatch> watch = Watch(*stub, &refused);
    REQUIRE(watch.has_value());
    watches.push_back(std::move(*watch));
  }
  health::HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  auto unknown_context = Context("", 30000);
  auto unknown_watch = stub->Watch(unknown_context.get(), unknown);
  health::HealthCheckResponse resp;
  REQUIRE(unknown_watch->Read(&resp));
  CHECK(resp.status() == health::HealthCheckResponse::SERVICE_UNKNOWN);
  grpc::ClientContext check_context;
  CHECK(stub->Check(&check_context, unknown, &resp).error_code() == grpc::StatusCode::NOT_FOUND);

  std::thread stopper([&] { h.server->Shutdown(absl::Seconds(30)); });
  for (auto& watch : watches) {
    REQUIRE(watch.reader->Read(&resp));
    CHECK(resp.status() == health::HealthCheckResponse::NOT_SERVING);
    CHECK_FALSE(watch.reader->Read(&resp));
    CHECK(watch.reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  CHECK_FALSE(unknown_watch->Read(&resp));
  CHECK(unknown_watch->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  stopper.join();
}

TEST_CASE("connections past max_connections are closed at accept; a freed place is reused") {
  GrpcServerOptions options;
  options.max_connections = 2;
  Harness h(nullptr, options);  // its channel is the first connection
  const auto own_channel = [&h] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", h.server->port()),
                                     grpc::InsecureChannelCredentials(), args);
  };
  EchoResponse resp;
  REQUIRE(h.stub->Echo(Context().get(), Request("ns", "one"), &resp).ok());
  auto second = own_channel();
  REQUIRE(EchoService::NewStub(second)->Echo(Context().get(), Request("ns", "two"), &resp).ok());
  const grpc::Status third =
      EchoService::NewStub(own_channel())->Echo(Context().get(), Request("ns", "three"), &resp);
  CHECK(third.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(h.MetricsShow("sochdb_grpc_connections_refused_total 1"));

  second.reset();  // its connection closes; the listener finds the place free at the next accept
  auto fourth = EchoService::NewStub(own_channel());
  auto ctx = Context();
  ctx->set_wait_for_ready(true);  // the first attempts may come before gRPC closed its socket
  CHECK(fourth->Echo(ctx.get(), Request("ns", "four"), &resp).ok());
}

}  // namespace
}  // namespace sochdb::server
