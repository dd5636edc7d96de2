#include "server/rpc/rpc_metrics.h"

#include <utility>

#include "absl/time/time.h"

namespace sochdb::server {
namespace {

// From 100 µs (a cached read) to 10 s (a large batch under --sync full on a slow disk).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5, 5.0, 10.0};
  return *buckets;
}

}  // namespace

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::DO_NOT_USE: break;
  }
  return "UNKNOWN";
}

MethodMetrics::MethodMetrics(prometheus::Family<prometheus::Counter>* requests,
                             prometheus::Histogram* duration, prometheus::Gauge* inflight,
                             std::string service, std::string method)
    : requests_(requests),
      duration_(duration),
      inflight_(inflight),
      service_(std::move(service)),
      method_(std::move(method)) {
  // OK is by far the most common answer: resolve it now so the first call pays nothing.
  CounterFor(grpc::StatusCode::OK);
}

prometheus::Counter* MethodMetrics::CounterFor(grpc::StatusCode code) {
  int index = static_cast<int>(code);
  if (index < 0 || index >= kCodes) index = static_cast<int>(grpc::StatusCode::UNKNOWN);
  prometheus::Counter* counter = by_code_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add is idempotent for equal labels, so a race only resolves the same child twice.
    counter = &requests_->Add(
        {{"service", service_},
         {"method", method_},
         {"code", std::string(StatusCodeName(static_cast<grpc::StatusCode>(index)))}});
    by_code_[index].store(counter, std::memory_order_release);
  }
  return counter;
}

void MethodMetrics::Finished(grpc::StatusCode code, absl::Duration elapsed) {
  CounterFor(code)->Increment();
  duration_->Observe(absl::ToDoubleSeconds(elapsed));
  inflight_->Decrement();
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("sochdb_grpc_requests_total")
                    .Help("gRPC calls answered, by service, method and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("sochdb_grpc_request_duration_seconds")
                    .Help("Time from a call's arrival to its answer, in seconds.")
                    .Register(registry)),
      inflight_(prometheus::BuildGauge()
                    .Name("sochdb_grpc_inflight")
                    .Help("gRPC calls started and not yet answered.")
                    .Register(registry)),
      connections_open_(prometheus::BuildGauge()
                            .Name("sochdb_grpc_connections")
                            .Help("Connections open on the gRPC port (counted at each accept "
                                  "and at least every 10 s).")
                            .Register(registry)
                            .Add({})),
      connections_refused_(prometheus::BuildCounter()
                               .Name("sochdb_grpc_connections_refused_total")
                               .Help("Connections closed as soon as they were accepted, because "
                                     "--max-connections were open.")
                               .Register(registry)
                               .Add({})) {}

MethodMetrics* RpcMetrics::ForMethod(std::string_view service, std::string_view method) {
  const std::map<std::string, std::string> labels = {{"service", std::string(service)},
                                                     {"method", std::string(method)}};
  absl::MutexLock lock(&mu_);
  methods_.push_back(std::make_unique<MethodMetrics>(
      &requests_, &duration_.Add(labels, LatencyBuckets()), &inflight_.Add(labels),
      std::string(service), std::string(method)));
  return methods_.back().get();
}

int64_t RpcMetrics::InflightCalls() {
  absl::MutexLock lock(&mu_);
  int64_t calls = 0;
  for (const auto& method : methods_) calls += method->inflight();
  return calls;
}

}  // namespace sochdb::server
