// GrpcServer: the process's gRPC front: the listening port (ConnectionListener, which caps
// connections) and credentials, gRPC limits, several completion queues with one poller thread
// each, the worker pool, health (HealthService) and reflection (ReflectionService), and the
// registry of services. A service is a RawService built from its descriptor; its methods are
// registered through ServiceRegistrar, one line each, and checked against the descriptor (name,
// RPC kind, request and response types) at start-up. Start() binds and posts calls; Shutdown()
// drains and stops in the order gRPC requires. Every method is served from the completion
// queues: gRPC's synchronous thread pool is never started.
#ifndef SOCHDB_SERVER_RPC_GRPC_SERVER_H_
#define SOCHDB_SERVER_RPC_GRPC_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/rpc/call_context.h"
#include "server/rpc/calls.h"
#include "server/rpc/connection_listener.h"
#include "server/rpc/health_service.h"
#include "server/rpc/raw_service.h"
#include "server/rpc/reflection_service.h"
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
  // Connections open at once (see ConnectionListener); past it a new one is closed at accept.
  size_t max_connections = 1024;
  // A connection with no call for this long is closed (GOAWAY; clients reconnect when they next
  // call). Zero: never.
  absl::Duration max_connection_idle = absl::ZeroDuration();
  // A connection is sent a GOAWAY after this long (gRPC adds +-10% jitter), and closed
  // max_connection_age_grace later whatever its calls are doing: a slow client whose call never
  // sends its request (gRPC holds a unary call until its message has come, out of our sight)
  // keeps its connection slot no longer than that. Zero: never.
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::Minutes(5);
  // At shutdown, once no call is in flight: how long the remaining (idle) connections have to
  // close after the GOAWAY before the server closes them.
  absl::Duration idle_connection_grace = absl::Seconds(1);
  size_t memory_quota_bytes = 1u << 30;     // grpc::ResourceQuota for the transport
  // Health Watch calls open at once (each costs memory, no thread), in all and on one connection
  // (at least 1); past either RESOURCE_EXHAUSTED. With max_health_watches at least
  // max_connections x the per-connection bound, no connection can be refused a watch by others.
  size_t max_health_watches = 8 * 1024;
  size_t max_health_watches_per_connection = 8;
  absl::Duration max_call_duration = absl::Minutes(5);
  size_t max_response_bytes = 48u << 20;  // answer budget; at most max_message_bytes
};

// Registration mistakes are programming errors: report and abort at start-up.
[[noreturn]] void DieBadRegistration(std::string_view service, std::string_view method,
                                     std::string_view why);

class GrpcServer;

// Keeps a parameter out of template argument deduction, so handlers can be lambdas and policies
// braced lists.
template <class T>
struct NonDeducedType {
  using type = T;
};
template <class T>
using NonDeduced = typename NonDeducedType<T>::type;

// Registers one service's methods. Obtained from GrpcServer::AddService before Start. Each
// method comes in two spellings: a handler function with explicit <Req, Resp>, or an object and
// its member function (types deduced):
//   r.Unary("Get", {Capability::kRead, &KvGetRequest::namespace_}, this, &KvService::Get);
class ServiceRegistrar {
 public:
  ServiceRegistrar(RawService* service, GrpcServer* server) : service_(service), server_(server) {}

  template <class Req, class Resp>
  void Unary(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
             NonDeduced<UnaryHandler<Req, Resp>> handler);
  template <class T, class Req, class Resp>
  void Unary(std::string_view method, NonDeduced<MethodPolicy<Req>> policy, T* self,
             grpc::Status (T::*fn)(CallContext&, const Req&, Resp*)) {
    Unary<Req, Resp>(method, std::move(policy), BindHandler(self, fn));
  }

  template <class Req, class Resp>
  void ServerStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                    NonDeduced<ServerStreamHandler<Req, Resp>> handler);
  template <class T, class Req, class Resp>
  void ServerStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy, T* self,
                    grpc::Status (T::*fn)(CallContext&, const Req&,
                                          std::unique_ptr<StreamSource<Resp>>*)) {
    ServerStream<Req, Resp>(method, std::move(policy), BindHandler(self, fn));
  }

  // Client streams carry their namespaces and keys in their messages: the policy's Target is
  // applied to each message before the sink sees it.
  template <class Req, class Resp>
  void ClientStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                    NonDeduced<ClientStreamHandler<Req, Resp>> handler);
  template <class T, class Req, class Resp>
  void ClientStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy, T* self,
                    grpc::Status (T::*fn)(CallContext&, std::unique_ptr<StreamSink<Req, Resp>>*)) {
    ClientStream<Req, Resp>(method, std::move(policy), BindHandler(self, fn));
  }

 private:
  enum class Kind { kUnary, kServerStream, kClientStream };
  // The method's binding, after checking it exists with this kind and these message types.
  MethodBinding Bind(std::string_view method, Kind kind,
                     const google::protobuf::Descriptor* request,
                     const google::protobuf::Descriptor* response, auth::Capability capability,
                     Execution execution);

  RawService* const service_;
  GrpcServer* const server_;
};

class GrpcServer {
 public:
  // `governance` nullptr: the namespace rule alone (Governance::NamespaceRuleOnly), for servers
  // without an engine. Pointers are not owned and must outlive the server.
  GrpcServer(GrpcServerOptions options, const auth::Authorizer* authorizer, RpcMetrics* metrics,
             const governance::Governance* governance = nullptr);
  ~GrpcServer();  // Shutdown(0) if still running

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Serves the generated service class `GeneratedService` (e.g. v1::KvService); register every
  // one of its methods on the returned registrar. Before Start only.
  template <class GeneratedService>
  ServiceRegistrar AddService() {
    return AddService(GeneratedService::service_full_name());
  }
  ServiceRegistrar AddService(std::string_view full_name);

  // Binds the port, starts the pollers and marks every service SERVING. UNAVAILABLE naming the
  // reason when the address cannot be bound (see ConnectionListener::Bind). Aborts when a
  // service left one of its methods unregistered: a method nobody serves would leave its callers
  // waiting forever.
  absl::Status Start();
  // The bound port (useful with port 0). Valid after Start.
  int port() const { return port_; }

  // Marks every service NOT_SERVING, stops accepting connections and calls, lets calls in
  // flight finish for up to `grace` (then cancels them), closes idle connections once no call is
  // in flight (see idle_connection_grace), finishes the worker pool's tasks, stops the queues and
  // joins every thread. Idempotent.
  void Shutdown(absl::Duration grace);

  std::vector<std::string> service_names() const;

  // For ServiceRegistrar: a method's description (with its metrics), and a function that posts
  // its calls on a queue once the server runs.
  MethodInfo DescribeMethod(const RawService& service, std::string_view method,
                            auth::Capability capability, Execution execution);
  void AddMethod(std::shared_ptr<const void> method,
                 std::function<void(CompletionQueueGate*)> post);

 private:
  void Poll(grpc::ServerCompletionQueue* cq);
  // Runs gRPC's shutdown, which waits for every connection to close, until `deadline`; meanwhile
  // closes the connections left once no call has been in flight for idle_connection_grace.
  void ShutdownGrpc(absl::Time deadline);
  void ApplyOptions(grpc::ServerBuilder& builder);
  void CheckEveryMethodRegistered() const;

  const GrpcServerOptions options_;
  RpcMetrics* const metrics_;
  ServerRuntime runtime_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<ReflectionService> reflection_;
  std::vector<std::unique_ptr<RawService>> services_;
  std::map<std::string, std::vector<std::string>> registered_;  // service -> methods
  std::vector<std::shared_ptr<const void>> methods_;
  std::vector<std::function<void(CompletionQueueGate*)>> posters_;
  std::vector<std::unique_ptr<CompletionQueueGate>> gates_;
  std::vector<std::thread> pollers_;
  std::unique_ptr<ConnectionListener> listener_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool running_ = false;
};

template <class Req, class Resp>
void ServiceRegistrar::Unary(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                             NonDeduced<UnaryHandler<Req, Resp>> handler) {
  using Method = UnaryMethod<Req, Resp>;
  auto m = std::make_shared<Method>(
      Method{Bind(method, Kind::kUnary, Req::descriptor(), Resp::descriptor(), policy.capability,
                  policy.execution),
             std::move(policy.target), std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](CompletionQueueGate* gate) {
    UnaryCall<Req, Resp>::Post(raw, gate);
  });
}

template <class Req, class Resp>
void ServiceRegistrar::ServerStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                                    NonDeduced<ServerStreamHandler<Req, Resp>> handler) {
  using Method = ServerStreamMethod<Req, Resp>;
  auto m = std::make_shared<Method>(
      Method{Bind(method, Kind::kServerStream, Req::descriptor(), Resp::descriptor(),
                  policy.capability, policy.execution),
             std::move(policy.target), std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](CompletionQueueGate* gate) {
    ServerStreamCall<Req, Resp>::Post(raw, gate);
  });
}

template <class Req, class Resp>
void ServiceRegistrar::ClientStream(std::string_view method, NonDeduced<MethodPolicy<Req>> policy,
                                    NonDeduced<ClientStreamHandler<Req, Resp>> handler) {
  using Method = ClientStreamMethod<Req, Resp>;
  auto m = std::make_shared<Method>(
      Method{Bind(method, Kind::kClientStream, Req::descriptor(), Resp::descriptor(),
                  policy.capability, policy.execution),
             std::move(policy.target), std::move(handler)});
  const Method* raw = m.get();
  server_->AddMethod(std::move(m), [raw](CompletionQueueGate* gate) {
    ClientStreamCall<Req, Resp>::Post(raw, gate);
  });
}

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_GRPC_SERVER_H_
