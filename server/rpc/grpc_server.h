// GrpcServer: the process's gRPC front: listening port and credentials, gRPC limits, several
// completion queues with one poller thread each, the worker pool, health and reflection, and the
// registry of async services. Services register their methods through ServiceRegistrar (one line
// per method); Start() binds and pre-posts calls; Shutdown() drains and stops in the order gRPC
// requires: server, then queues, then drain, then join.
#ifndef SOCHDB_SERVER_RPC_GRPC_SERVER_H_
#define SOCHDB_SERVER_RPC_GRPC_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/rpc/call_context.h"
#include "server/rpc/calls.h"
#include "server/rpc/rpc_metrics.h"
#include "server/rpc/worker_pool.h"

namespace sochdb::server {

struct GrpcServerOptions {
  std::string address = "127.0.0.1:50051";  // host:port; port 0 picks a free one
  std::shared_ptr<grpc::ServerCredentials> credentials;  // nullptr = plaintext
  int completion_queues = 2;                // one poller thread each
  size_t worker_threads = 16;               // blocking work (fsync, big scans)
  size_t worker_queue = 4096;               // tasks waiting beyond this get RESOURCE_EXHAUSTED
  int calls_posted_per_method = 4;          // per queue: calls waiting for a request
  size_t max_message_bytes = 64u << 20;     // receive and send
  int max_concurrent_streams = 256;         // per HTTP/2 connection
  int max_metadata_bytes = 16 * 1024;
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration min_client_ping_interval = absl::Seconds(10);  // faster pings earn strikes
  int max_ping_strikes = 2;                 // then the connection is closed (GOAWAY)
  absl::Duration keepalive_time = absl::Minutes(1);    // server pings an idle connection
  absl::Duration keepalive_timeout = absl::Seconds(20);
  size_t memory_quota_bytes = 1u << 30;     // grpc::ResourceQuota for the transport
  absl::Duration max_call_duration = absl::Minutes(5);
};

class GrpcServer;

// Keeps a parameter out of template argument deduction, so handlers can be lambdas and policies
// braced lists: the types come from the generated RequestXxx member alone.
template <class T>
struct NonDeducedType {
  using type = T;
};
template <class T>
using NonDeduced = typename NonDeducedType<T>::type;

// Registration mistakes are programming errors: report and abort at start-up.
[[noreturn]] void DieBadRegistration(std::string_view service, std::string_view method,
                                     std::string_view why);

// Registers one async service's methods. Obtained from GrpcServer::AddService before Start.
template <class AsyncService>
class ServiceRegistrar {
 public:
  ServiceRegistrar(AsyncService* service, std::string service_name, GrpcServer* server)
      : service_(service), service_name_(std::move(service_name)), server_(server) {}

  // One line per method, e.g.
  //   r.Unary(&KvService::AsyncService::RequestGet, "Get",
  //           {Capability::kRead, &KvGetRequest::namespace_}, handler);
  template <class Base, class Req, class Resp>
  void Unary(void (Base::*request)(grpc::ServerContext*, Req*,
                                   grpc::ServerAsyncResponseWriter<Resp>*,
                                   grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
             std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
             NonDeduced<UnaryHandler<Req, Resp>> handler);

  template <class Base, class Req, class Resp>
  void ServerStream(void (Base::*request)(grpc::ServerContext*, Req*,
                                          grpc::ServerAsyncWriter<Resp>*, grpc::CompletionQueue*,
                                          grpc::ServerCompletionQueue*, void*),
                    std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                    NonDeduced<ServerStreamHandler<Req, Resp>> handler);

  // Client streams carry no namespace in the call itself: the policy's namespace_of must be null
  // and the sink checks each message's namespace with CallContext::CheckNamespace.
  template <class Base, class Req, class Resp>
  void ClientStream(void (Base::*request)(grpc::ServerContext*,
                                          grpc::ServerAsyncReader<Resp, Req>*,
                                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                          void*),
                    std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                    NonDeduced<ClientStreamHandler<Req, Resp>> handler);

 private:
  AsyncService* const service_;
  const std::string service_name_;
  GrpcServer* const server_;
};

class GrpcServer {
 public:
  GrpcServer(GrpcServerOptions options, const auth::Authorizer* authorizer, RpcMetrics* metrics);
  ~GrpcServer();  // Shutdown(0) if still running

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Creates and owns the AsyncService of a generated service class (e.g. v1::KvService);
  // register its methods on the returned registrar. Before Start only.
  template <class GeneratedService>
  ServiceRegistrar<typename GeneratedService::AsyncService> AddService() {
    using AsyncService = typename GeneratedService::AsyncService;
    auto service = std::make_unique<AsyncService>();
    AsyncService* raw = service.get();
    services_.push_back(std::move(service));
    service_names_.push_back(GeneratedService::service_full_name());
    return ServiceRegistrar<AsyncService>(raw, service_names_.back(), this);
  }

  // Binds the port, starts the pollers and marks every service SERVING. UNAVAILABLE when the
  // address cannot be bound. Aborts when a service left one of its methods unregistered: an
  // async method nobody requests would leave its callers waiting forever.
  absl::Status Start();
  // The bound port (useful with port 0). Valid after Start.
  int port() const { return port_; }

  // Marks every service NOT_SERVING, stops accepting calls, lets calls in flight finish for up
  // to `grace` (then cancels them), stops the queues and joins every thread. Idempotent.
  void Shutdown(absl::Duration grace);

  const std::vector<std::string>& service_names() const { return service_names_; }

  // For ServiceRegistrar: a method's shared description, and a function that posts its first
  // calls on a queue once the server runs.
  MethodInfo DescribeMethod(std::string_view service, std::string_view method,
                            auth::Capability capability, Execution execution);
  void AddMethod(std::shared_ptr<const void> method,
                 std::function<void(grpc::ServerCompletionQueue*)> post);

 private:
  void Poll(grpc::ServerCompletionQueue* cq);
  void ApplyOptions(grpc::ServerBuilder& builder);

  const GrpcServerOptions options_;
  RpcMetrics* const metrics_;
  ServerRuntime runtime_;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::vector<std::string> service_names_;
  std::map<std::string, int> registered_methods_;  // by service name
  std::vector<std::shared_ptr<const void>> methods_;
  std::vector<std::function<void(grpc::ServerCompletionQueue*)>> posters_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> pollers_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool running_ = false;
};

template <class AsyncService>
template <class Base, class Req, class Resp>
void ServiceRegistrar<AsyncService>::Unary(
    void (Base::*request)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
    NonDeduced<UnaryHandler<Req, Resp>> handler) {
  using Method = UnaryMethod<Base, Req, Resp>;
  auto m = std::make_shared<Method>(Method{
      server_->DescribeMethod(service_name_, method, policy.capability,
                              policy.execution),
      service_, request, std::move(policy.namespace_of), std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](grpc::ServerCompletionQueue* cq) {
    UnaryCall<Base, Req, Resp>::Post(raw, cq);
  });
}

template <class AsyncService>
template <class Base, class Req, class Resp>
void ServiceRegistrar<AsyncService>::ServerStream(
    void (Base::*request)(grpc::ServerContext*, Req*, grpc::ServerAsyncWriter<Resp>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
    NonDeduced<ServerStreamHandler<Req, Resp>> handler) {
  using Method = ServerStreamMethod<Base, Req, Resp>;
  auto m = std::make_shared<Method>(Method{
      server_->DescribeMethod(service_name_, method, policy.capability,
                              policy.execution),
      service_, request, std::move(policy.namespace_of), std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](grpc::ServerCompletionQueue* cq) {
    ServerStreamCall<Base, Req, Resp>::Post(raw, cq);
  });
}

template <class AsyncService>
template <class Base, class Req, class Resp>
void ServiceRegistrar<AsyncService>::ClientStream(
    void (Base::*request)(grpc::ServerContext*, grpc::ServerAsyncReader<Resp, Req>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
    NonDeduced<ClientStreamHandler<Req, Resp>> handler) {
  using Method = ClientStreamMethod<Base, Req, Resp>;
  if (policy.namespace_of != nullptr) {
    // A programming error, found at start-up: the namespace would never be checked.
    DieBadRegistration(service_name_, method,
                       "a client stream cannot have a request namespace field");
  }
  auto m = std::make_shared<Method>(Method{
      server_->DescribeMethod(service_name_, method, policy.capability,
                              policy.execution),
      service_, request, std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](grpc::ServerCompletionQueue* cq) {
    ClientStreamCall<Base, Req, Resp>::Post(raw, cq);
  });
}

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_GRPC_SERVER_H_
