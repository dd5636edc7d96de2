// sochdb-echo-server: the benchmark's reference ceiling. It serves sochdb.v1.KvService through
// exactly the same front as sochdb-grpc (server/rpc: queues, pollers, call templates, admission,
// metrics) but its handlers do no work: Get answers "not found", Put answers success. The
// difference between the two servers under the same load is the cost of the engine.
//
//   sochdb-echo-server --port 50052 [--threads N] [--port-file F]
#include <signal.h>

#include <fstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "engine/auth/auth.h"
#include "prometheus/registry.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/kv.grpc.pb.h"

namespace {

using sochdb::auth::Capability;
using sochdb::server::CallContext;
namespace v1 = sochdb::v1;

void RegisterEchoKv(sochdb::server::GrpcServer& server) {
  using sochdb::server::Execution;
  using sochdb::server::StreamSource;
  auto r = server.AddService<v1::KvService>();
  // Same placement as sochdb-grpc: reads inline, writes on the worker pool.
  r.Unary<v1::KvGetRequest, v1::KvGetResponse>(
      "Get", {Capability::kRead, &v1::KvGetRequest::namespace_},
      [](CallContext&, const v1::KvGetRequest&, v1::KvGetResponse*) { return grpc::Status::OK; });
  r.Unary<v1::KvPutRequest, v1::KvPutResponse>(
      "Put", {Capability::kWrite, &v1::KvPutRequest::namespace_, Execution::kWorkerPool},
      [](CallContext&, const v1::KvPutRequest&, v1::KvPutResponse* resp) {
        resp->set_success(true);
        return grpc::Status::OK;
      });
  r.Unary<v1::KvDeleteRequest, v1::KvDeleteResponse>(
      "Delete", {Capability::kWrite, &v1::KvDeleteRequest::namespace_, Execution::kWorkerPool},
      [](CallContext&, const v1::KvDeleteRequest&, v1::KvDeleteResponse*) {
        return grpc::Status::OK;
      });
  r.ServerStream<v1::KvScanRequest, v1::KvScanResponse>(
      "Scan", {Capability::kRead, &v1::KvScanRequest::namespace_},
      [](CallContext&, const v1::KvScanRequest&, std::unique_ptr<StreamSource<v1::KvScanResponse>>*) {
        return grpc::Status::OK;
      });
  r.Unary<v1::KvBatchGetRequest, v1::KvBatchGetResponse>(
      "BatchGet", {Capability::kRead, &v1::KvBatchGetRequest::namespace_},
      [](CallContext&, const v1::KvBatchGetRequest&, v1::KvBatchGetResponse*) {
        return grpc::Status::OK;
      });
  r.Unary<v1::KvBatchPutRequest, v1::KvBatchPutResponse>(
      "BatchPut",
      {Capability::kWrite, &v1::KvBatchPutRequest::namespace_, Execution::kWorkerPool},
      [](CallContext&, const v1::KvBatchPutRequest& req, v1::KvBatchPutResponse* resp) {
        resp->set_success_count(static_cast<uint32_t>(req.entries_size()));
        return grpc::Status::OK;
      });
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app("sochdb-echo-server: no-op KvService on sochdb-grpc's call layer");
  int port = 50052;
  int threads = 0;
  std::string port_file;
  app.add_option("--port", port, "port on 127.0.0.1 (0 = any)");
  app.add_option("--threads", threads, "completion queues (0 = one per core)");
  app.add_option("--port-file", port_file, "write the bound port here");
  CLI11_PARSE(app, argc, argv);

  prometheus::Registry registry;
  sochdb::server::RpcMetrics metrics(registry);
  sochdb::auth::Authorizer authorizer(nullptr);
  sochdb::server::GrpcServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.completion_queues =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  sochdb::server::GrpcServer server(options, &authorizer, &metrics);
  RegisterEchoKv(server);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  if (!port_file.empty()) std::ofstream(port_file) << server.port() << "\n";
  std::fprintf(stderr, "echo server on 127.0.0.1:%d\n", server.port());
  int sig = 0;
  sigwait(&signals, &sig);
  server.Shutdown(absl::Seconds(2));
  return 0;
}
