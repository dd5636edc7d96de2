#include "server/metrics_exporter.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/config.h"

namespace sochdb::server {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {std::move(metric)}};
}

}  // namespace

EngineCollector::EngineCollector(const Engine* engine) : engine_(engine), started_(absl::Now()) {}

std::vector<prometheus::MetricFamily> EngineCollector::Collect() const {
  using prometheus::MetricType;
  const EngineStats stats = engine_->Stats();
  const storage::StoreStats& s = stats.store;
  return {
      Family("sochdb_build_info", "Build of the running server (value is always 1).",
             MetricType::Gauge, 1,
             {{"version", kVersion}, {"protocol", kProtocolVersion}}),
      Family("sochdb_uptime_seconds", "Seconds since the server started.", MetricType::Gauge,
             absl::ToDoubleSeconds(absl::Now() - started_)),
      Family("sochdb_storage_disk_bytes", "Bytes of the database files on disk.",
             MetricType::Gauge, static_cast<double>(s.disk_bytes)),
      Family("sochdb_storage_memtable_bytes", "Bytes held in LevelDB memtables.",
             MetricType::Gauge, static_cast<double>(s.memtable_bytes)),
      Family("sochdb_storage_batches_written_total", "Atomic write batches committed.",
             MetricType::Counter, static_cast<double>(s.batches_written)),
      Family("sochdb_storage_bytes_written_total", "Bytes of committed write batches.",
             MetricType::Counter, static_cast<double>(s.bytes_written)),
      Family("sochdb_storage_syncs_total", "fsyncs of the write-ahead log.", MetricType::Counter,
             static_cast<double>(s.syncs)),
      Family("sochdb_storage_write_errors_total", "Failed writes and syncs.", MetricType::Counter,
             static_cast<double>(s.write_errors)),
      Family("sochdb_storage_corruption_errors_total",
             "Reads answered DATA_LOSS: a block whose checksum failed or a missing store file.",
             MetricType::Counter, static_cast<double>(s.corruption_errors)),
      Family("sochdb_storage_faulted",
             "1 when a write error has put storage in the fault state (writes refused until "
             "restart).",
             MetricType::Gauge, s.faulted ? 1 : 0),
      Family("sochdb_kv_ttl_purged_total", "Expired KV records removed from disk.",
             MetricType::Counter, static_cast<double>(stats.ttl_purged)),
      Family("sochdb_kv_ttl_undecodable_total",
             "Undecodable KV expiry index entries found by the purger (logged and removed).",
             MetricType::Counter, static_cast<double>(stats.ttl_undecodable_index_entries)),
      Family("sochdb_vector_indexes", "Vector indexes (VectorIndexService), all tenants.",
             MetricType::Gauge, static_cast<double>(stats.vector_indexes)),
      Family("sochdb_vector_vectors", "Live vectors in all vector indexes.", MetricType::Gauge,
             static_cast<double>(stats.vectors)),
      Family("sochdb_vector_searches_total",
             "Queries that reached a vector index (one per Search, nq per SearchBatch).",
             MetricType::Counter, static_cast<double>(stats.vector_searches)),
      Family("sochdb_collections", "Collections (CollectionService), all namespaces.",
             MetricType::Gauge, static_cast<double>(stats.collections)),
      Family("sochdb_collection_documents", "Documents in all collections.", MetricType::Gauge,
             static_cast<double>(stats.documents)),
      Family("sochdb_vector_memory_bytes", "Memory of the in-memory vector indexes (measured).",
             MetricType::Gauge, static_cast<double>(stats.vector_memory_bytes)),
  };
}

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& host,
                                                                        int port) {
  const std::string address = JoinHostPort(host, port);
  try {
    return std::unique_ptr<MetricsExporter>(
        new MetricsExporter(std::make_unique<prometheus::Exposer>(address, 2)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
}

MetricsExporter::MetricsExporter(std::unique_ptr<prometheus::Exposer> exposer)
    : exposer_(std::move(exposer)) {}

void MetricsExporter::Register(const std::shared_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

void MetricsExporter::Unregister(const std::shared_ptr<prometheus::Collectable>& collectable) {
  exposer_->RemoveCollectable(collectable);
}

int MetricsExporter::port() const {
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace sochdb::server
