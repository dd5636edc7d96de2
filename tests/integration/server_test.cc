// The sochdb-grpc process as operators and tools see it: reflection (what grpcurl uses), health,
// the Prometheus endpoint, services not yet implemented, API keys and tenants, refusals at
// start-up, and shutdown on signals.
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/auth/auth.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "sochdb/v1/capability.grpc.pb.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/trace.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

namespace reflection = grpc::reflection::v1alpha;
namespace health = grpc::health::v1;

grpc::Status KvPut(const ServerProcess& server, const std::string& key, const std::string& ns,
                   const std::string& api_key = "", bool use_x_api_key = false) {
  auto stub = v1::KvService::NewStub(server.Channel());
  v1::KvPutRequest req;
  req.set_namespace_(ns);
  req.set_key(key);
  req.set_value("v");
  v1::KvPutResponse resp;
  auto ctx = MakeContext(use_x_api_key ? "" : api_key);
  if (use_x_api_key) ctx->AddMetadata("x-api-key", api_key);
  return stub->Put(ctx.get(), req, &resp);
}

TEST_CASE("reflection lists the live services and describes them (grpcurl list/describe)") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = reflection::ServerReflection::NewStub(server.Channel());
  auto ctx = MakeContext();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  reflection::ServerReflectionRequest list;
  list.set_list_services("");
  REQUIRE(stream->Write(list));
  reflection::ServerReflectionResponse resp;
  REQUIRE(stream->Read(&resp));
  std::set<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.insert(s.name());
  CHECK(names.count("sochdb.v1.KvService") == 1);
  CHECK(names.count("grpc.health.v1.Health") == 1);
  CHECK(names.count("grpc.reflection.v1alpha.ServerReflection") == 1);
  CHECK(names.count("sochdb.v1.GraphService") == 1);
  CHECK(names.count("sochdb.v1.GraphExtensionService") == 1);
  CHECK(names.count("sochdb.v1.ContextService") == 1);
  CHECK(names.count("sochdb.v1.ContextExtensionService") == 1);
  CHECK(names.count("sochdb.v1.SemanticCacheService") == 1);
  CHECK(names.count("sochdb.v1.SemanticCacheExtensionService") == 1);
  CHECK(names.count("sochdb.v1.RetrievalService") == 1);
  CHECK(names.count("sochdb.v1.RetrievalExtensionService") == 1);
  CHECK(names.count("sochdb.v1.CapabilityService") == 1);
  CHECK(names.count("sochdb.v1.TraceService") == 0);  // not implemented yet: not served

  reflection::ServerReflectionRequest describe;
  describe.set_file_containing_symbol("sochdb.v1.KvService");
  REQUIRE(stream->Write(describe));
  REQUIRE(stream->Read(&resp));
  REQUIRE(resp.file_descriptor_response().file_descriptor_proto_size() >= 1);
  google::protobuf::FileDescriptorProto file;
  REQUIRE(file.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0)));
  CHECK(file.package() == "sochdb.v1");
  bool found_scan = false;
  for (const auto& service : file.service()) {
    for (const auto& method : service.method()) {
      if (service.name() == "KvService" && method.name() == "Scan") {
        found_scan = method.server_streaming();
      }
    }
  }
  CHECK(found_scan);
  stream->WritesDone();
  CHECK(stream->Finish().ok());
}

TEST_CASE("reflection answers build every listed service, as grpcurl builds them") {
  // grpcurl asks for the file holding each service and builds a descriptor pool from the
  // answer, which must therefore bring every file it imports. An unknown symbol is an error in
  // the answer; the stream stays open for the next request.
  ServerProcess server({});
  StartOrFail(server);
  auto stub = reflection::ServerReflection::NewStub(server.Channel());
  auto ctx = MakeContext();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  reflection::ServerReflectionResponse listed;
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&listed));
  REQUIRE(listed.list_services_response().service_size() >= 3);
  for (const auto& service : listed.list_services_response().service()) {
    request.set_file_containing_symbol(service.name());
    reflection::ServerReflectionResponse answer;
    REQUIRE(stream->Write(request));
    REQUIRE(stream->Read(&answer));
    // As grpcurl's descriptor source: files found by name, imports built on demand.
    google::protobuf::SimpleDescriptorDatabase answered;
    for (const std::string& bytes : answer.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      REQUIRE(file.ParseFromString(bytes));
      answered.Add(file);
    }
    google::protobuf::DescriptorPool pool(&answered);
    INFO(service.name());
    CHECK(pool.FindServiceByName(service.name()) != nullptr);
  }
  request.set_file_containing_symbol("sochdb.v1.NoSuchThing");
  reflection::ServerReflectionResponse missing;
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&missing));
  CHECK(missing.error_response().error_code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));
  request.set_file_by_filename("sochdb/v1/kv.proto");
  reflection::ServerReflectionResponse by_name;
  REQUIRE(stream->Write(request));
  REQUIRE(stream->Read(&by_name));
  CHECK(by_name.file_descriptor_response().file_descriptor_proto_size() >= 1);
  stream->WritesDone();
  CHECK(stream->Finish().ok());
}

TEST_CASE("health reports SERVING overall and per service") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = health::Health::NewStub(server.Channel());
  for (const std::string name : {"", "sochdb.v1.KvService"}) {
    health::HealthCheckRequest req;
    req.set_service(name);
    health::HealthCheckResponse resp;
    REQUIRE(stub->Check(MakeContext().get(), req, &resp).ok());
    CHECK(resp.status() == health::HealthCheckResponse::SERVING);
  }
  health::HealthCheckRequest unknown;
  unknown.set_service("sochdb.v1.NoSuchService");
  health::HealthCheckResponse resp;
  CHECK(stub->Check(MakeContext().get(), unknown, &resp).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("health refuses a service name over 256 bytes, naming the limit, without echoing it") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = health::Health::NewStub(server.Channel());
  health::HealthCheckRequest longest;
  longest.set_service(std::string(256, 'x'));
  health::HealthCheckResponse resp;
  CHECK(stub->Check(MakeContext().get(), longest, &resp).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  for (const size_t size : {size_t{257}, size_t{1} << 20}) {
    INFO("a name of " << size << " bytes");
    health::HealthCheckRequest req;
    req.set_service(std::string(size, 'x'));
    const grpc::Status check = stub->Check(MakeContext().get(), req, &resp);
    CHECK(check.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(check.error_message() ==
          absl::StrCat("HealthCheckRequest.service is ", size, " bytes; the limit is 256"));
    // A watcher would hold the name for as long as it stays: it ends at once instead.
    auto context = MakeContext();
    auto watch = stub->Watch(context.get(), req);
    CHECK_FALSE(watch->Read(&resp));
    const grpc::Status watched = watch->Finish();
    CHECK(watched.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(watched.error_message() == check.error_message());
  }
}

TEST_CASE("health Watch reports the status, then NOT_SERVING at shutdown, and ends") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = health::Health::NewStub(server.Channel());
  health::HealthCheckRequest whole;
  health::HealthCheckRequest unknown;
  unknown.set_service("sochdb.v1.NoSuchService");
  auto whole_context = MakeContext("", absl::Seconds(30));
  auto unknown_context = MakeContext("", absl::Seconds(30));
  auto watch = stub->Watch(whole_context.get(), whole);
  auto watch_unknown = stub->Watch(unknown_context.get(), unknown);
  health::HealthCheckResponse resp;
  REQUIRE(watch->Read(&resp));
  CHECK(resp.status() == health::HealthCheckResponse::SERVING);
  REQUIRE(watch_unknown->Read(&resp));
  CHECK(resp.status() == health::HealthCheckResponse::SERVICE_UNKNOWN);

  // Shutdown waits for calls in flight; open watches must not hold it up.
  const absl::Time stopping = absl::Now();
  CHECK(server.Stop(SIGTERM) == 0);
  CHECK(absl::Now() - stopping < absl::Seconds(10));
  REQUIRE(watch->Read(&resp));
  CHECK(resp.status() == health::HealthCheckResponse::NOT_SERVING);
  CHECK_FALSE(watch->Read(&resp));
  // Any end but UNIMPLEMENTED tells a client to watch again later.
  CHECK(watch->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_FALSE(watch_unknown->Read(&resp));  // an unknown service's status did not change
  CHECK(watch_unknown->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("no number of idle health watchers stops Check or reflection from answering") {
  // gRPC's synchronous threads (64) once served Watch, one thread per watcher: 63 idle keyless
  // watchers made Check, and reflection, answer RESOURCE_EXHAUSTED, and Kubernetes probes fail.
  // 8 watches per connection (a connection may hold no more), on 25 connections.
  ServerProcess server({});
  StartOrFail(server);
  auto channel = server.Channel();
  auto stub = health::Health::NewStub(channel);
  constexpr int kWatchers = 200;
  constexpr int kWatchesPerConnection = 8;
  std::vector<std::unique_ptr<health::Health::Stub>> watch_stubs;
  for (int i = 0; i < kWatchers / kWatchesPerConnection; ++i) {
    grpc::ChannelArguments own_connection;
    own_connection.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    watch_stubs.push_back(health::Health::NewStub(grpc::CreateCustomChannel(
        server.address(), grpc::InsecureChannelCredentials(), own_connection)));
  }
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<health::HealthCheckResponse>>> watches;
  int serving = 0;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(MakeContext("", absl::Seconds(60)));
    watches.push_back(watch_stubs[i / kWatchesPerConnection]->Watch(
        contexts.back().get(), health::HealthCheckRequest()));
    health::HealthCheckResponse resp;
    if (watches.back()->Read(&resp) && resp.status() == health::HealthCheckResponse::SERVING) {
      ++serving;
    }
  }
  CHECK(serving == kWatchers);
  health::HealthCheckResponse resp;
  const grpc::Status check = stub->Check(MakeContext().get(), health::HealthCheckRequest(), &resp);
  INFO(check.error_message());
  CHECK(check.ok());
  CHECK(resp.status() == health::HealthCheckResponse::SERVING);

  auto reflection_stub = reflection::ServerReflection::NewStub(channel);
  auto ctx = MakeContext();
  auto stream = reflection_stub->ServerReflectionInfo(ctx.get());
  reflection::ServerReflectionRequest list;
  list.set_list_services("");
  REQUIRE(stream->Write(list));
  reflection::ServerReflectionResponse listed;
  CHECK(stream->Read(&listed));
  CHECK(listed.list_services_response().service_size() > 0);
  stream->WritesDone();
  CHECK(stream->Finish().ok());
  for (auto& context : contexts) context->TryCancel();
  for (auto& watch : watches) watch->Finish();
}

TEST_CASE("services not implemented yet answer UNIMPLEMENTED") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = v1::TraceService::NewStub(server.Channel());
  v1::StartTraceRequest req;
  v1::StartTraceResponse resp;
  CHECK(stub->StartTrace(MakeContext().get(), req, &resp).error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
}

// /metrics once it shows `needle` (a call's counter is added as the call ends, after the client
// has its answer), or after two seconds as it is then.
std::string ScrapeUntil(const ServerProcess& server, const std::string& needle) {
  std::string body;
  for (int attempt = 0; attempt < 100; ++attempt) {
    body = HttpGet(server.metrics_port(), "/metrics").value_or("");
    if (body.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return body;
}

TEST_CASE("CapabilityService answers the manifest and is labelled in the metrics") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  StartOrFail(server);
  auto stub = v1::CapabilityService::NewStub(server.Channel());
  v1::CapabilityManifest manifest;
  REQUIRE(stub->GetCapabilities(MakeContext().get(), v1::GetCapabilitiesRequest(), &manifest)
              .ok());
  std::set<std::string> names;
  for (const auto& d : manifest.capabilities()) names.insert(d.name());
  CHECK(names.count("retrieval.protocol.v2") == 1);
  CHECK(names.count("graph.service") == 1);
  const std::string body = ScrapeUntil(server, "method=\"GetCapabilities\"");
  INFO(body);
  CHECK(body.find("sochdb_grpc_requests_total{code=\"OK\",method=\"GetCapabilities\","
                  "service=\"sochdb.v1.CapabilityService\"} 1") != std::string::npos);
  CHECK(body.find("sochdb_grpc_inflight{method=\"Retrieve\",service=\"sochdb.v1.RetrievalService\"} 0") !=
        std::string::npos);
}

TEST_CASE("the metrics endpoint shows KV counters, latency and storage gauges") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  StartOrFail(server);
  for (int i = 0; i < 3; ++i) REQUIRE(KvPut(server, absl::StrCat("m", i), "metrics").ok());
  CHECK(KvPut(server, "", "metrics").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  const std::string body = ScrapeUntil(server, "code=\"INVALID_ARGUMENT\",method=\"Put\"");
  INFO(body);
  CHECK(body.find("sochdb_grpc_requests_total{code=\"OK\",method=\"Put\",service=\"sochdb.v1.KvService\"} 3") !=
        std::string::npos);
  CHECK(body.find("sochdb_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"Put\",service=\"sochdb.v1.KvService\"} 1") !=
        std::string::npos);
  CHECK(body.find("sochdb_grpc_request_duration_seconds_bucket{method=\"Put\"") != std::string::npos);
  CHECK(body.find("sochdb_grpc_inflight{method=\"Get\",service=\"sochdb.v1.KvService\"} 0") !=
        std::string::npos);
  CHECK(body.find("sochdb_storage_batches_written_total") != std::string::npos);
  CHECK(body.find("sochdb_storage_faulted 0") != std::string::npos);
  CHECK(body.find("sochdb_storage_corruption_errors_total 0") != std::string::npos);
  CHECK(body.find("sochdb_kv_ttl_undecodable_total 0") != std::string::npos);
  CHECK(body.find("sochdb_storage_disk_bytes") != std::string::npos);
}

// A key file for servers that listen beyond loopback (they refuse to start without one).
std::string WriteKeyFile(const std::string& name) {
  const std::string path = NewTempDir(name) + "/keys";
  std::ofstream out(path);
  out << *auth::MakeKeyEntry("sk_ops_0123456789abcdef", "ops", auth::Role::kAdmin, "ops") << "\n";
  return path;
}

TEST_CASE("/metrics listens on loopback only unless --metrics-host opens it") {
  // 127.0.0.2 reaches a socket bound to any address but not one bound to 127.0.0.1: it stands
  // for "another host" without leaving the machine.
  const std::string keys = WriteKeyFile("metrics-host");
  ServerProcessOptions options;
  options.metrics = true;
  options.args = {"--host", "0.0.0.0", "--auth-keys", keys};
  {
    ServerProcess server(options);
    StartOrFail(server);
    CHECK(HttpGet(server.metrics_port(), "/metrics").has_value());
    CHECK_FALSE(HttpGet(server.metrics_port(), "/metrics", "127.0.0.2").has_value());
  }
  options.args.insert(options.args.end(), {"--metrics-host", "0.0.0.0"});
  ServerProcess open(options);
  StartOrFail(open);
  CHECK(HttpGet(open.metrics_port(), "/metrics", "127.0.0.2").has_value());
}

TEST_CASE("with a key file: no key, a wrong key and another tenant's key are refused") {
  const std::string dir = NewTempDir("keys");
  const std::string key_file = dir + "/keys";
  {
    std::ofstream out(key_file);
    out << "# test keys\n"
        << *auth::MakeKeyEntry("sk_alpha_0123456789abcdef", "alpha", auth::Role::kEditor, "alpha-app")
        << "\n"
        << *auth::MakeKeyEntry("sk_beta_0123456789abcdef", "beta", auth::Role::kEditor, "beta-app")
        << "\n"
        << *auth::MakeKeyEntry("sk_viewer_0123456789abcdef", "alpha", auth::Role::kViewer, "alpha-ro")
        << "\n";
  }
  ServerProcess server({{}, {"--auth-keys", key_file}});
  StartOrFail(server);

  CHECK(KvPut(server, "k", "alpha", "sk_alpha_0123456789abcdef").ok());
  CHECK(KvPut(server, "k", "alpha/docs", "sk_alpha_0123456789abcdef", /*use_x_api_key=*/true).ok());

  const grpc::Status no_key = KvPut(server, "k", "alpha");
  CHECK(no_key.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status wrong = KvPut(server, "k", "alpha", "sk_alpha_0123456789abcdeX");
  CHECK(wrong.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(wrong.error_message().find("sk_alpha") == std::string::npos);
  const grpc::Status other = KvPut(server, "k", "alpha", "sk_beta_0123456789abcdef");
  CHECK(other.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(KvPut(server, "k", "default", "sk_beta_0123456789abcdef").error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status viewer = KvPut(server, "k", "alpha", "sk_viewer_0123456789abcdef");
  CHECK(viewer.error_code() == grpc::StatusCode::PERMISSION_DENIED);

  // Health stays reachable without a key (load balancers have none).
  auto health_stub = health::Health::NewStub(server.Channel());
  health::HealthCheckRequest req;
  health::HealthCheckResponse resp;
  CHECK(health_stub->Check(MakeContext().get(), req, &resp).ok());

  // Keys never reach the log.
  CHECK(server.log().find("sk_alpha_0123456789abcdef") == std::string::npos);
  CHECK(server.log().find("sk_beta_0123456789abcdef") == std::string::npos);
}

TEST_CASE("start-up refusals exit non-zero with a reason") {
  std::string output;
  CHECK(ServerProcess::RunToExit({"--host", "0.0.0.0", "--port", "0", "--metrics-port", "0",
                                  "--data-dir", NewTempDir("refuse") + "/data"},
                                 &output) == 2);
  CHECK(output.find("--auth-keys") != std::string::npos);
  CHECK(ServerProcess::RunToExit({"--sync", "maybe"}, &output) == 2);
  CHECK(ServerProcess::RunToExit({"--version"}, &output) == 0);
  CHECK(output.find("sochdb-grpc") != std::string::npos);
}

TEST_CASE("a second server on the same data directory is refused while the first runs") {
  ServerProcess first({});
  StartOrFail(first);
  ServerProcess second({first.data_dir()});
  std::string error;
  CHECK(!second.Start(&error));
  CHECK(error.find("cannot open the database") != std::string::npos);
}

TEST_CASE("a second server on the same port is refused: address in use") {
  // gRPC sets SO_REUSEPORT by default, which let a second server bind the port and take a share
  // of the connections (and of the writes) from the first.
  ServerProcess first({});
  StartOrFail(first);
  std::string output;
  const int code = ServerProcess::RunToExit(
      {"--port", std::to_string(first.port()), "--metrics-port", "0", "--data-dir",
       NewTempDir("second") + "/data"},
      &output, absl::Seconds(20));
  INFO(output);
  CHECK(code == 1);
  CHECK(output.find("address in use") != std::string::npos);
}

TEST_CASE("SIGTERM during a long scan finishes the stream and exits 0; SIGINT exits 0 too") {
  ServerProcess server({});
  StartOrFail(server);
  auto stub = v1::KvService::NewStub(server.Channel());
  v1::KvBatchPutRequest batch;
  batch.set_namespace_("big");
  for (int i = 0; i < 5000; ++i) {
    v1::KvPutEntry* e = batch.add_entries();
    e->set_key(absl::StrCat("key", absl::Dec(i, absl::kZeroPad6)));
    e->set_value(std::string(100, 'x'));
  }
  v1::KvBatchPutResponse batch_resp;
  REQUIRE(stub->BatchPut(MakeContext().get(), batch, &batch_resp).ok());

  v1::KvScanRequest scan;
  scan.set_namespace_("big");
  auto ctx = MakeContext();
  auto reader = stub->Scan(ctx.get(), scan);
  v1::KvScanResponse item;
  REQUIRE(reader->Read(&item));
  std::thread stopper([&] { CHECK(server.Stop(SIGTERM) == 0); });
  int rows = 1;
  while (reader->Read(&item)) ++rows;
  const grpc::Status finished = reader->Finish();
  stopper.join();
  // Within the grace period the scan completes; either way the server exits cleanly.
  CHECK((finished.ok() ? rows == 5000 : true));

  StartOrFail(server);
  CHECK(server.Stop(SIGINT) == 0);
}

TEST_CASE("SIGTERM is not held up by idle clients") {
  // gRPC's shutdown waits until every connection has closed, idle ones included. A client that
  // does not read its idle connection (an idle gRPC client kept it waiting ~4.5 s) held SIGTERM
  // up until the GOAWAY's ping timed out: 20 s, or the grace period if shorter. Now idle
  // connections get 1 s once no call is in flight. The bound is loose on purpose (a busy
  // machine); the grace (60 s) is far above it, so only the idle connections can hold it.
  ServerProcess server({{}, {"--shutdown-grace-s", "60"}});
  StartOrFail(server);
  REQUIRE(KvPut(server, "k", "idle").ok());  // that channel stays connected, idle
  const int idle = OpenIdleHttp2Connection(server.port());
  REQUIRE(idle >= 0);
  const absl::Time stopping = absl::Now();
  CHECK(server.Stop(SIGTERM, absl::Seconds(60)) == 0);
  const absl::Duration took = absl::Now() - stopping;
  INFO("SIGTERM to exit: " << absl::FormatDuration(took));
  CHECK(took < absl::Seconds(10));
  close(idle);
}

TEST_CASE("at SIGTERM, idle connections are closed but a call in flight keeps its grace") {
  ServerProcess server({{}, {"--shutdown-grace-s", "60"}});
  StartOrFail(server);
  auto stub = v1::KvService::NewStub(server.Channel());
  v1::KvBatchPutRequest batch;
  batch.set_namespace_("slow");
  for (int i = 0; i < 2000; ++i) {
    v1::KvPutEntry* e = batch.add_entries();
    e->set_key(absl::StrCat("key", absl::Dec(i, absl::kZeroPad6)));
    e->set_value(std::string(1000, 'x'));
  }
  v1::KvBatchPutResponse batch_resp;
  REQUIRE(stub->BatchPut(MakeContext().get(), batch, &batch_resp).ok());
  const int idle = OpenIdleHttp2Connection(server.port());
  REQUIRE(idle >= 0);

  // A scan whose client reads one row and then waits: the call stays in flight.
  v1::KvScanRequest scan;
  scan.set_namespace_("slow");
  auto ctx = MakeContext("", absl::Seconds(60));
  auto reader = stub->Scan(ctx.get(), scan);
  v1::KvScanResponse item;
  REQUIRE(reader->Read(&item));
  std::thread stopper([&] { CHECK(server.Stop(SIGTERM) == 0); });
  // Longer than idle connections are given once no call is in flight; this one is in flight.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  int rows = 1;
  while (reader->Read(&item)) ++rows;
  const grpc::Status finished = reader->Finish();
  INFO(finished.error_message());
  CHECK(finished.ok());
  CHECK(rows == 2000);
  // Then the idle connection is closed and the server exits.
  CHECK(WaitForServerClose(idle, absl::Seconds(30)));
  stopper.join();
  close(idle);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("TLS: clients that trust the certificate are served; plaintext clients are not") {
  const std::string dir = NewTempDir("tls");
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ", dir, "/server.key -out ", dir,
      "/server.crt >", dir, "/openssl.log 2>&1");
  REQUIRE(std::system(command.c_str()) == 0);
  ServerProcess server({{}, {"--tls-cert", dir + "/server.crt", "--tls-key", dir + "/server.key"}});
  StartOrFail(server);

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrEmpty(dir + "/server.crt");
  auto secure = grpc::CreateChannel(absl::StrCat("localhost:", server.port()),
                                    grpc::SslCredentials(ssl));
  auto stub = v1::KvService::NewStub(secure);
  v1::KvPutRequest put;
  put.set_namespace_("tls");
  put.set_key("k");
  put.set_value("over TLS");
  v1::KvPutResponse put_resp;
  REQUIRE(stub->Put(MakeContext().get(), put, &put_resp).ok());
  v1::KvGetRequest get;
  get.set_namespace_("tls");
  get.set_key("k");
  v1::KvGetResponse get_resp;
  REQUIRE(stub->Get(MakeContext().get(), get, &get_resp).ok());
  CHECK(get_resp.value() == "over TLS");

  // A plaintext client cannot talk to the TLS port.
  CHECK(!KvPut(server, "k", "tls").ok());
}


TEST_CASE("TLS: a key that does not match its certificate is named as such, not \"address in use\"") {
  const std::string dir = NewTempDir("tls-mismatch");
  for (const std::string name : {"a", "b"}) {
    const std::string command = absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout ", dir,
        "/", name, ".key -out ", dir, "/", name, ".crt >", dir, "/openssl.log 2>&1");
    REQUIRE(std::system(command.c_str()) == 0);
  }
  {
    std::ofstream garbage(dir + "/garbage.pem");
    garbage << "not a PEM file\n";
  }
  const std::vector<std::string> common = {"--port", "0", "--metrics-port", "0", "--data-dir",
                                           dir + "/data"};
  const auto run = [&](std::vector<std::string> tls, std::string* output) {
    tls.insert(tls.begin(), common.begin(), common.end());
    return ServerProcess::RunToExit(tls, output);
  };
  // Each case: the exit code, and a word its message must hold.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tls-cert", dir + "/a.crt", "--tls-key", dir + "/b.key"}, "does not match"},
      {{"--tls-cert", dir + "/garbage.pem", "--tls-key", dir + "/a.key"}, "--tls-cert"},
      {{"--tls-cert", dir + "/a.crt", "--tls-key", dir + "/garbage.pem"}, "--tls-key"},
      {{"--tls-cert", dir + "/a.crt", "--tls-key", dir + "/a.key", "--tls-ca",
        dir + "/garbage.pem"},
       "--tls-ca"},
  };
  for (const auto& [flags, expected] : cases) {
    std::string output;
    const int code = run(flags, &output);
    CAPTURE(expected, output);
    CHECK(code == 2);
    CHECK(output.find(expected) != std::string::npos);
    CHECK(output.find("address in use") == std::string::npos);
  }
  // The matching pair still serves.
  ServerProcess server({{}, {"--tls-cert", dir + "/a.crt", "--tls-key", dir + "/a.key"}});
  StartOrFail(server);
}

}  // namespace
}  // namespace sochdb::testing
