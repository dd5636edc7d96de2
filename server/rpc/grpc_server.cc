#include "server/rpc/grpc_server.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {

void DieBadRegistration(std::string_view service, std::string_view method, std::string_view why) {
  std::fprintf(stderr, "fatal: bad registration of %.*s/%.*s: %.*s\n",
               static_cast<int>(service.size()), service.data(), static_cast<int>(method.size()),
               method.data(), static_cast<int>(why.size()), why.data());
  std::abort();
}

GrpcServer::GrpcServer(GrpcServerOptions options, const auth::Authorizer* authorizer,
                       RpcMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {
  pool_ = std::make_unique<WorkerPool>(options_.worker_threads, options_.worker_queue);
  runtime_.authorizer = authorizer;
  runtime_.pool = pool_.get();
  runtime_.max_call_duration = options_.max_call_duration;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

MethodInfo GrpcServer::DescribeMethod(std::string_view service, std::string_view method,
                                      auth::Capability capability, Execution execution) {
  ++registered_methods_[std::string(service)];
  MethodInfo info;
  info.service = std::string(service);
  info.method = std::string(method);
  info.capability = capability;
  info.execution = execution;
  info.metrics = metrics_->ForMethod(service, method);
  info.runtime = &runtime_;
  return info;
}

void GrpcServer::AddMethod(std::shared_ptr<const void> method,
                           std::function<void(grpc::ServerCompletionQueue*)> post) {
  if (running_) DieBadRegistration("", "", "methods must be registered before Start");
  methods_.push_back(std::move(method));
  posters_.push_back(std::move(post));
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
  grpc::ResourceQuota quota("sochdb-grpc");
  quota.Resize(options_.memory_quota_bytes);
  builder.SetResourceQuota(quota);
}

absl::Status GrpcServer::Start() {
  if (running_) return absl::FailedPreconditionError("server already started");
  for (const std::string& name : service_names_) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    const int expected = descriptor != nullptr ? descriptor->method_count() : -1;
    if (registered_methods_[name] != expected) {
      DieBadRegistration(name, "*",
                         absl::StrCat("registered ", registered_methods_[name], " of ", expected,
                                      " methods; every method of a served service needs a "
                                      "handler"));
    }
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  ApplyOptions(builder);
  builder.AddListeningPort(options_.address,
                           options_.credentials ? options_.credentials
                                                : grpc::InsecureServerCredentials(),
                           &port_);
  for (auto& service : services_) builder.RegisterService(service.get());
  const int queues = options_.completion_queues < 1 ? 1 : options_.completion_queues;
  for (int i = 0; i < queues; ++i) queues_.push_back(builder.AddCompletionQueue());

  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    queues_.clear();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.address,
                     " (address in use, not local, or not permitted)"));
  }
  running_ = true;

  for (auto& cq : queues_) {
    for (const auto& post : posters_) {
      for (int i = 0; i < options_.calls_posted_per_method; ++i) post(cq.get());
    }
  }
  for (auto& cq : queues_) pollers_.emplace_back([this, q = cq.get()] { Poll(q); });

  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    for (const std::string& name : service_names_) health->SetServingStatus(name, true);
  }
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
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) health->SetServingStatus(false);
  // Stops accepting calls; calls in flight may finish until the deadline, then are cancelled.
  // The pollers keep running meanwhile so those calls can complete.
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  for (auto& cq : queues_) cq->Shutdown();
  for (std::thread& poller : pollers_) poller.join();
  pollers_.clear();
  pool_.reset();  // every call has finished, so the queue is empty: this just joins
  server_.reset();
  queues_.clear();
}

}  // namespace sochdb::server
