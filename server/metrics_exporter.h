// The Prometheus endpoint (GET /metrics on --metrics-port) and the engine's gauges. RPC metrics
// are recorded by the call layer into the shared registry; engine figures (storage size, fault
// state, TTL purges, ...) are read from the engine at scrape time by EngineCollector, so every
// value is current and nothing polls in the background.
//
// The HTTP server is prometheus-cpp's Exposer, i.e. civetweb. Debian's civetweb 1.15 is built
// without IPv6 (mg_check_feature(8) is 0): it cannot listen on an IPv6 address at all, bracketed
// or not, so CheckMetricsHost refuses one at start-up with that reason instead of civetweb's
// "null context" failure. Each connection holds one of a fixed set of worker threads until its
// request has been read, so the request timeout and the thread count bound how long idle or
// slow clients can hold a scrape back (see kMetricsThreads in the .cc).
#ifndef SOCHDB_SERVER_METRICS_EXPORTER_H_
#define SOCHDB_SERVER_METRICS_EXPORTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace sochdb::server {

class EngineCollector final : public prometheus::Collectable {
 public:
  // `engine` is not owned and must outlive every scrape (unregister before destroying it).
  explicit EngineCollector(const Engine* engine);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Engine* const engine_;
  const absl::Time started_;
};

// INVALID_ARGUMENT, naming --metrics-host, when `host` is an IPv6 address and the HTTP server
// has no IPv6 support; OK otherwise (whether the address can be bound is Start's to find out).
absl::Status CheckMetricsHost(const std::string& host);

class MetricsExporter {
 public:
  // Serves /metrics on host:port. UNAVAILABLE when the port cannot be bound, saying why (in use
  // by another process, not an address of this machine, ...) and naming the flag to change.
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(const std::string& host, int port);

  void Register(const std::shared_ptr<prometheus::Collectable>& collectable);
  void Unregister(const std::shared_ptr<prometheus::Collectable>& collectable);
  // The bound port.
  int port() const;

 private:
  explicit MetricsExporter(std::unique_ptr<prometheus::Exposer> exposer);
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_METRICS_EXPORTER_H_
