#include "server/rpc/grpc_server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/grpc.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {
namespace {

// The name policies know a service by (their `service` variable): the data families, with the
// extension services that work on the same data under the same name.
std::string PolicyServiceName(std::string_view full_name) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"sochdb.v1.KvService", "kv"},
      {"sochdb.v1.CollectionService", "collection"},
      {"sochdb.v1.CollectionDocumentService", "collection"},
      {"sochdb.v1.VectorIndexService", "vector"},
      {"sochdb.v1.RetrievalService", "vector"},
      {"sochdb.v1.GraphService", "graph"},
      {"sochdb.v1.GraphExtensionService", "graph"},
      {"sochdb.v1.ContextService", "context"},
      {"sochdb.v1.ContextExtensionService", "context"},
      {"sochdb.v1.SemanticCacheService", "cache"},
      {"sochdb.v1.SemanticCacheExtensionService", "cache"},
      {"sochdb.v1.NamespaceService", "namespace"},
  };
  for (const auto& [service, name] : kNames) {
    if (service == full_name) return std::string(name);
  }
  return std::string(full_name);
}

}  // namespace

void DieBadRegistration(std::string_view service, std::string_view method, std::string_view why) {
  std::fprintf(stderr, "fatal: bad registration of %.*s/%.*s: %.*s\n",
               static_cast<int>(service.size()), service.data(), static_cast<int>(method.size()),
               method.data(), static_cast<int>(why.size()), why.data());
  std::abort();
}

MethodBinding ServiceRegistrar::Bind(std::string_view method, Kind kind,
                                     const google::protobuf::Descriptor* request,
                                     const google::protobuf::Descriptor* response,
                                     auth::Capability capability, Execution execution) {
  const google::protobuf::ServiceDescriptor& service = service_->descriptor();
  const google::protobuf::MethodDescriptor* m =
      service.FindMethodByName(std::string(method));
  if (m == nullptr) DieBadRegistration(service.full_name(), method, "no such method");
  const Kind declared = m->client_streaming()
                            ? (m->server_streaming() ? Kind::kUnary : Kind::kClientStream)
                            : (m->server_streaming() ? Kind::kServerStream : Kind::kUnary);
  if (m->client_streaming() && m->server_streaming()) {
    DieBadRegistration(service.full_name(), method, "bidirectional streams are not supported");
  }
  if (declared != kind) DieBadRegistration(service.full_name(), method, "wrong RPC kind");
  if (m->input_type() != request || m->output_type() != response) {
    DieBadRegistration(service.full_name(), method, "wrong request or response type");
  }
  MethodBinding binding;
  binding.info = server_->DescribeMethod(*service_, method, capability, execution);
  binding.service = service_;
  binding.index = m->index();
  return binding;
}

GrpcServer::GrpcServer(GrpcServerOptions options, const auth::Authorizer* authorizer,
                       RpcMetrics* metrics, const governance::Governance* governance)
    : options_(std::move(options)), metrics_(metrics) {
  pool_ = std::make_unique<WorkerPool>(options_.worker_threads, options_.worker_queue);
  runtime_.authorizer = authorizer;
  runtime_.governance =
      governance != nullptr ? governance : &governance::Governance::NamespaceRuleOnly();
  runtime_.pool = pool_.get();
  runtime_.max_call_duration = options_.max_call_duration;
  runtime_.max_response_bytes = options_.max_response_bytes;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

ServiceRegistrar GrpcServer::AddService(std::string_view full_name) {
  if (running_) DieBadRegistration(full_name, "*", "services must be added before Start");
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          std::string(full_name));
  if (descriptor == nullptr) DieBadRegistration(full_name, "*", "no such service descriptor");
  if (registered_.count(descriptor->full_name()) > 0) {
    DieBadRegistration(full_name, "*", "service added twice");
  }
  registered_[descriptor->full_name()];
  services_.push_back(std::make_unique<RawService>(*descriptor));
  return ServiceRegistrar(services_.back().get(), this);
}

MethodInfo GrpcServer::DescribeMethod(const RawService& service, std::string_view method,
                                      auth::Capability capability, Execution execution) {
  const std::string& name = service.descriptor().full_name();
  std::vector<std::string>& methods = registered_[name];
  if (std::find(methods.begin(), methods.end(), method) != methods.end()) {
    DieBadRegistration(name, method, "method registered twice");
  }
  methods.emplace_back(method);
  MethodInfo info;
  info.service = name;
  info.method = std::string(method);
  info.policy_service = PolicyServiceName(name);
  info.capability = capability;
  info.execution = execution;
  info.metrics = metrics_->ForMethod(name, method);
  info.runtime = &runtime_;
  return info;
}

void GrpcServer::AddMethod(std::shared_ptr<const void> method,
                           std::function<void(CompletionQueueGate*)> post) {
  if (running_) DieBadRegistration("", "", "methods must be registered before Start");
  methods_.push_back(std::move(method));
  posters_.push_back(std::move(post));
}

void GrpcServer::CheckEveryMethodRegistered() const {
  for (const auto& service : services_) {
    const google::protobuf::ServiceDescriptor& d = service->descriptor();
    const std::vector<std::string>& methods = registered_.at(d.full_name());
    if (static_cast<int>(methods.size()) != d.method_count()) {
      DieBadRegistration(d.full_name(), "*",
                         absl::StrCat("registered ", methods.size(), " of ", d.method_count(),
                                      " methods (", absl::StrJoin(methods, ", "),
                                      "); every method of a served service needs a handler"));
    }
  }
}

void GrpcServer::ApplyOptions(grpc::ServerBuilder& builder) {
  const auto ms = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, options_.max_metadata_bytes);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, ms(options_.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(options_.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, options_.max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options_.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options_.keepalive_timeout));
  // gRPC sets SO_REUSEPORT by default: a second server on the same port would bind it too and
  // take a share of the connections (and of the writes). The port is ConnectionListener's, which
  // never sets it; this keeps gRPC from doing so should it ever listen itself.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options_.max_connection_idle > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(options_.max_connection_idle));
  }
  if (options_.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(options_.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               ms(options_.max_connection_age_grace));
  }
  grpc::ResourceQuota quota("sochdb-grpc");
  quota.Resize(options_.memory_quota_bytes);
  builder.SetResourceQuota(quota);
}

absl::Status GrpcServer::Start() {
  if (running_ || server_ != nullptr) {
    return absl::FailedPreconditionError("a server can be started only once");
  }
  CheckEveryMethodRegistered();
  // Health and reflection are ours (HealthService, ReflectionService): gRPC's built-in health
  // would add callback threads, its reflection plugin holds a synchronous thread per stream.
  grpc::EnableDefaultHealthCheckService(false);

  ConnectionListenerOptions listening;
  listening.max_connections = options_.max_connections;
  listening.connections_open = &metrics_->connections_open();
  listening.connections_refused = &metrics_->connections_refused();
  absl::StatusOr<std::unique_ptr<ConnectionListener>> listener =
      ConnectionListener::Bind(options_.address, listening);
  if (!listener.ok()) return listener.status();

  grpc::ServerBuilder builder;
  ApplyOptions(builder);
  health_ = std::make_unique<HealthService>(service_names(), options_.max_health_watches,
                                            options_.max_health_watches_per_connection);
  builder.RegisterService(health_->service());
  std::vector<std::string> served = service_names();
  served.push_back(grpc::health::v1::Health::service_full_name());
  served.push_back(grpc::reflection::v1alpha::ServerReflection::service_full_name());
  reflection_ = std::make_unique<ReflectionService>(std::move(served));
  builder.RegisterService(reflection_->service());
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
          options_.credentials ? options_.credentials : grpc::InsecureServerCredentials());
  for (auto& service : services_) builder.RegisterService(service.get());
  const int queues = std::max(1, options_.completion_queues);
  for (int i = 0; i < queues; ++i) {
    gates_.push_back(std::make_unique<CompletionQueueGate>(builder.AddCompletionQueue()));
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    gates_.clear();
    health_.reset();
    reflection_.reset();
    return absl::UnavailableError("cannot start the gRPC server (its log lines above say why)");
  }
  listener_ = *std::move(listener);
  port_ = listener_->port();
  running_ = true;
  for (auto& gate : gates_) {
    for (const auto& post : posters_) {
      for (int i = 0; i < options_.calls_posted_per_method; ++i) post(gate.get());
    }
    health_->Post(gate.get(), options_.calls_posted_per_method);
    reflection_->Post(gate.get(), options_.calls_posted_per_method);
  }
  for (auto& gate : gates_) pollers_.emplace_back([this, cq = gate->cq()] { Poll(cq); });
  listener_->Start(std::move(acceptor));

  health_->SetServing(true);
  return absl::OkStatus();
}

void GrpcServer::Poll(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  // Next returns false only once the queue is shut down and fully drained.
  while (cq->Next(&tag, &ok)) static_cast<CallTag*>(tag)->Proceed(ok);
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (!running_) return;
  running_ = false;
  runtime_.accepting.store(false, std::memory_order_release);
  // No new connections: gRPC would drop the ones handed to it once it shuts down.
  listener_->Stop();
  // Watchers hear NOT_SERVING and are let go: gRPC's shutdown waits for calls in flight.
  health_->SetServing(false);
  health_->EndWatches();
  // Stops accepting calls; calls in flight may finish until the deadline, then are cancelled.
  // The pollers keep running meanwhile so those calls can complete.
  ShutdownGrpc(absl::Now() + grace);
  // Tasks still queued on the pool answer their calls now, while the queues are open.
  pool_->Drain();
  for (auto& gate : gates_) gate->Close();
  for (std::thread& poller : pollers_) poller.join();
  pollers_.clear();
  runtime_.pool = nullptr;
  pool_.reset();
  server_.reset();
  listener_.reset();
  gates_.clear();
  health_.reset();
  reflection_.reset();
}

void GrpcServer::ShutdownGrpc(absl::Time deadline) {
  // gRPC's shutdown sends every connection a GOAWAY and then waits for each to close, idle ones
  // included; a client that does not read its idle connection (a gRPC client with no call in
  // progress may not, for seconds) or never closes it held SIGTERM up for up to 20 s (the
  // GOAWAY's ping timeout) or the grace period. Once no call is in flight, nothing is lost by
  // closing them: grpc_server_cancel_all_calls also disconnects every connection. (Health and
  // reflection calls are not counted; a health Check takes no time and watches have ended.)
  absl::Mutex mu;
  bool done = false;
  std::thread closer([&] {
    absl::MutexLock lock(&mu);
    absl::Time quiet_since = absl::InfiniteFuture();
    while (!mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(20))) {
      const absl::Time now = absl::Now();
      if (now >= deadline) return;  // gRPC cancels everything itself
      // A call that has finished may still have its last messages in a send queue (a client
      // slow to read them); closing now would reset the connection and lose them.
      if (metrics_->InflightCalls() > 0 || listener_->UnsentBytes() > 0) {
        quiet_since = absl::InfiniteFuture();
      } else if (quiet_since == absl::InfiniteFuture()) {
        quiet_since = now;
      } else if (now - quiet_since >= options_.idle_connection_grace) {
        grpc_server_cancel_all_calls(server_->c_server());
        return;
      }
    }
  });
  server_->Shutdown(absl::ToChronoTime(deadline));
  {
    absl::MutexLock lock(&mu);
    done = true;
  }
  closer.join();
}

std::vector<std::string> GrpcServer::service_names() const {
  std::vector<std::string> names;
  for (const auto& service : services_) names.push_back(service->descriptor().full_name());
  return names;
}

}  // namespace sochdb::server
