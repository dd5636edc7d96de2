#include "server/rpc/health_service.h"

#include <limits>
#include <optional>

namespace sochdb::server {

namespace health = grpc::health::v1;

HealthService::HealthService(const std::vector<std::string>& services, absl::Duration watch_poll)
    : services_(services.begin(), services.end()), watch_poll_(watch_poll) {}

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (serving_ == serving) return;
  serving_ = serving;
  ++changes_;
}

void HealthService::EndWatches() {
  absl::MutexLock lock(&mu_);
  watches_ended_ = true;
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& service) const {
  if (!service.empty() && !services_.contains(service)) {
    return health::HealthCheckResponse::SERVICE_UNKNOWN;
  }
  return serving_ ? health::HealthCheckResponse::SERVING
                  : health::HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const health::HealthCheckRequest* request,
                                  health::HealthCheckResponse* response) {
  absl::ReaderMutexLock lock(&mu_);
  const ServingStatus status = StatusOf(request->service());
  if (status == health::HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service: " + request->service());
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const health::HealthCheckRequest* request,
                                  grpc::ServerWriter<health::HealthCheckResponse>* writer) {
  struct Wait {
    const HealthService* self;
    uint64_t seen;
  };
  Wait wait{this, std::numeric_limits<uint64_t>::max()};  // nothing seen: answer at once
  std::optional<ServingStatus> sent;
  for (;;) {
    ServingStatus status = health::HealthCheckResponse::UNKNOWN;
    bool end = false;
    {
      absl::MutexLock lock(&mu_);
      // Wakes at a change or, every watch_poll_, to notice a client that has gone away.
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return w->self->changes_ != w->seen || w->self->watches_ended_;
              },
              &wait),
          watch_poll_);
      wait.seen = changes_;
      status = StatusOf(request->service());
      end = watches_ended_;
    }
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    if (status != sent) {
      health::HealthCheckResponse response;
      response.set_status(status);
      if (!writer->Write(response)) return grpc::Status::CANCELLED;  // the client went away
      sent = status;
    }
    // The protocol asks clients to watch again after any end other than UNIMPLEMENTED.
    if (end) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  }
}

}  // namespace sochdb::server
