// The Prometheus endpoint (GET /metrics on --metrics-port) and the engine's gauges. RPC metrics
// are recorded by the call layer into the shared registry; engine figures (storage size, fault
// state, TTL purges, ...) are read from the engine at scrape time by EngineCollector, so every
// value is current and nothing polls in the background.
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

class MetricsExporter {
 public:
  // Serves /metrics on host:port. UNAVAILABLE when the port cannot be bound.
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
