// Per-method RPC metrics, recorded by the call layer (never by handlers):
//   sochdb_grpc_requests_total{service,method,code}       calls answered, by status code
//   sochdb_grpc_request_duration_seconds{service,method}  time from arrival to the answer
//   sochdb_grpc_inflight{service,method}                  calls started and not yet answered
//   sochdb_grpc_connections                               connections open on the gRPC port
//   sochdb_grpc_connections_refused_total                 connections closed at the cap
// Children for each method are resolved once at registration, so recording is a few atomics.
#ifndef SOCHDB_SERVER_RPC_RPC_METRICS_H_
#define SOCHDB_SERVER_RPC_RPC_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace sochdb::server {

// The metrics of one method. Thread-safe.
class MethodMetrics {
 public:
  MethodMetrics(prometheus::Family<prometheus::Counter>* requests,
                prometheus::Histogram* duration, prometheus::Gauge* inflight,
                std::string service, std::string method);

  void Started() { inflight_->Increment(); }
  void Finished(grpc::StatusCode code, absl::Duration elapsed);
  // Calls started and not yet answered.
  int64_t inflight() const { return static_cast<int64_t>(inflight_->Value()); }

 private:
  static constexpr int kCodes = 17;  // grpc::StatusCode 0..16
  prometheus::Counter* CounterFor(grpc::StatusCode code);

  prometheus::Family<prometheus::Counter>* const requests_;
  prometheus::Histogram* const duration_;
  prometheus::Gauge* const inflight_;
  const std::string service_;
  const std::string method_;
  std::array<std::atomic<prometheus::Counter*>, kCodes> by_code_{};
};

// Owns the families and every method's MethodMetrics. Thread-safe.
class RpcMetrics {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);

  // The metrics of `service`/`method`; the pointer stays valid for the RpcMetrics' lifetime.
  MethodMetrics* ForMethod(std::string_view service, std::string_view method);

  // Calls of every method started and not yet answered (health and reflection excepted).
  int64_t InflightCalls();

  // The gRPC port's connections (ConnectionListener): open now, and refused at the cap.
  prometheus::Gauge& connections_open() { return connections_open_; }
  prometheus::Counter& connections_refused() { return connections_refused_; }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& inflight_;
  prometheus::Gauge& connections_open_;
  prometheus::Counter& connections_refused_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<MethodMetrics>> methods_ ABSL_GUARDED_BY(mu_);
};

// "OK", "NOT_FOUND", ... (the canonical upper-case names).
std::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_RPC_METRICS_H_
