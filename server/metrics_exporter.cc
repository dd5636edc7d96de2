#include "server/metrics_exporter.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <utility>

#include "CivetServer.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "civetweb.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "server/config.h"

namespace sochdb::server {
namespace {

// Worker threads of the HTTP server; each serves one connection at a time, from its accept
// until its answer is sent. prometheus-cpp's default of 2 let two clients that connect and send
// nothing hold every scrape back for civetweb's request timeout (30 s; 8 such clients: 2 min).
constexpr int kMetricsThreads = 16;
// How long a connection may take to send its request, and each write of the answer. A scraper
// sends its request at once; only clients that send nothing (or trickle) reach this.
constexpr char kRequestTimeoutMs[] = "5000";
constexpr unsigned kCivetIpv6Feature = 8;  // mg_check_feature: built with USE_IPV6

// civetweb's start-up errors: it tells them only to the log callback (CivetServer's exception
// says "null context ... Possible problem binding to port" whatever went wrong). mg_start runs
// on the thread that constructs the Exposer, so a thread_local reaches the Start that asked.
thread_local std::string* start_error = nullptr;

int CaptureStartError(const mg_connection* /*conn*/, const char* message) {
  if (start_error == nullptr) return 0;              // not starting: civetweb's own handling (none)
  if (start_error->empty()) *start_error = message;  // the first line is the cause
  return 1;
}

class StartErrorCapture {
 public:
  StartErrorCapture() { start_error = &text_; }
  ~StartErrorCapture() { start_error = nullptr; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string WithoutBrackets(const std::string& host) {
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// Binds host:port the way civetweb does (SO_REUSEADDR) and closes it again: the errno of the
// first address that fails, or 0 when all bind now. Only to explain a failed start.
int BindErrno(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(WithoutBrackets(host).c_str(), std::to_string(port).c_str(), &hints, &found) !=
      0) {
    return EADDRNOTAVAIL;
  }
  int error = 0;
  for (const addrinfo* a = found; a != nullptr && error == 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = errno;
      break;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) error = errno;
    close(fd);
  }
  freeaddrinfo(found);
  return error;
}

// Why civetweb could not listen on host:port, in words an operator can act on.
std::string BindFailure(const std::string& host, int port, const std::string& civetweb_error) {
  switch (BindErrno(host, port)) {
    case EADDRINUSE:
      return absl::StrCat("address in use: another process listens on port ", port,
                          " (--metrics-port ", port,
                          "); stop it, give another port, or --metrics-port 0 to serve no "
                          "metrics");
    case EADDRNOTAVAIL:
      return absl::StrCat("--metrics-host ", host, " is not an address of this machine");
    case EACCES:
      return absl::StrCat("port ", port, " needs privileges (--metrics-port): use one above 1023");
    default:
      return civetweb_error;
  }
}

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
      Family("sochdb_memory_episodes_indexed",
             "Agent memory episodes in the text indexes of the namespaces loaded since start.",
             MetricType::Gauge, static_cast<double>(stats.memory.episodes)),
      Family("sochdb_memory_text_index_bytes",
             "Memory of agent memory's in-memory text indexes (BM25 and trigram postings).",
             MetricType::Gauge, static_cast<double>(stats.memory.memory_bytes)),
      Family("sochdb_semantic_caches", "Semantic caches (SemanticCacheService), all tenants.",
             MetricType::Gauge, static_cast<double>(stats.caches.caches)),
      Family("sochdb_semantic_cache_entries", "Live (unexpired) entries in all semantic caches.",
             MetricType::Gauge, static_cast<double>(stats.caches.entries)),
      Family("sochdb_semantic_cache_hits_total", "Semantic cache Gets that hit, since start.",
             MetricType::Counter, static_cast<double>(stats.caches.hits)),
      Family("sochdb_semantic_cache_misses_total",
             "Semantic cache Gets that missed, since start (a Get of a cache that does not "
             "exist included).",
             MetricType::Counter, static_cast<double>(stats.caches.misses)),
  };
}

absl::Status CheckMetricsHost(const std::string& host) {
  in6_addr v6{};
  if (inet_pton(AF_INET6, WithoutBrackets(host).c_str(), &v6) != 1) return absl::OkStatus();
  if (mg_check_feature(kCivetIpv6Feature) != 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics-host ", host,
      " is an IPv6 address, and the metrics HTTP server (civetweb as Debian builds it) cannot "
      "listen on IPv6: give an IPv4 address (127.0.0.1, the default, or 0.0.0.0 for every "
      "interface), or --metrics-port 0 to serve no metrics"));
}

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& host,
                                                                        int port) {
  SOCHDB_RETURN_IF_ERROR(CheckMetricsHost(host));
  const std::string address = JoinHostPort(host, port);
  const std::vector<std::string> options = {
      "listening_ports", address, "num_threads", std::to_string(kMetricsThreads),
      "request_timeout_ms", kRequestTimeoutMs,
      // A kept-alive connection holds its worker thread between scrapes; a scraper that
      // connects again every 15 s or so loses nothing.
      "enable_keep_alive", "no"};
  CivetCallbacks callbacks;
  callbacks.log_message = CaptureStartError;
  StartErrorCapture capture;
  try {
    return std::unique_ptr<MetricsExporter>(
        new MetricsExporter(std::make_unique<prometheus::Exposer>(options, &callbacks)));
  } catch (const std::exception& e) {
    const std::string cause = capture.text().empty() ? e.what() : capture.text();
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", BindFailure(host, port, cause)));
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
