#include "server/server_main.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "engine/common/cpu.h"
#include "engine/common/status_macros.h"
#include "engine/common/version.h"
#include "engine/engine.h"
#include "server/huge_pages.h"
#include "server/logging.h"
#include "server/metrics_exporter.h"
#include "server/open_files.h"
#include "server/rpc/grpc_server.h"
#include "server/rpc/rpc_metrics.h"
#include "server/signing_key.h"
#include "server/tls_credentials.h"
#include "server/tokenizer_dir.h"
#include "services/collection/collection_service.h"
#include "services/cache/semantic_cache_extension_service.h"
#include "services/cache/semantic_cache_service.h"
#include "services/capability/capability_service.h"
#include "services/context/context_extension_service.h"
#include "services/context/context_service.h"
#include "services/graph/graph_extension_service.h"
#include "services/graph/graph_service.h"
#include "services/namespace/namespace_service.h"
#include "services/kv/convert.h"
#include "services/kv/kv_service.h"
#include "services/policy/policy_service.h"
#include "services/retrieval/retrieval_service.h"
#include "services/vector/vector_index_service.h"
#include "spdlog/spdlog.h"

namespace sochdb::server {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// Written to a temporary name and renamed, so a reader never sees a partial port number.
absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

GrpcServerOptions ServerOptions(const ServerConfig& c, const OpenFileLimit& files) {
  const int cores = UsableCores();
  GrpcServerOptions o;
  o.max_connections = c.max_connections > 0 ? static_cast<size_t>(c.max_connections)
                                            : DefaultMaxConnections(files.now);
  o.max_connection_idle = absl::Seconds(c.max_connection_idle_s);
  o.max_connection_age = absl::Seconds(c.max_connection_age_s);
  // Every call may run --max-call-s, so none is cut short by the age.
  o.max_connection_age_grace = absl::Seconds(c.max_call_s);
  // Each allowed connection its own share of watches (a client channel watches once per service
  // it health-checks), so the total can never lock a connection out.
  o.max_health_watches = o.max_connections * o.max_health_watches_per_connection;
  o.address = JoinHostPort(c.host, c.port);
  o.completion_queues = c.threads > 0 ? c.threads : cores;
  o.worker_threads = c.worker_threads > 0 ? c.worker_threads : std::max(16, 8 * cores);
  o.max_message_bytes = static_cast<size_t>(c.max_message_mb) << 20;
  o.memory_quota_bytes = std::max<size_t>(1u << 30, 4 * o.max_message_bytes);
  o.max_call_duration = absl::Seconds(c.max_call_s);
  o.max_response_bytes = ResponseBudgetBytes(c);
  return o;
}

// Waits for SIGTERM/SIGINT; SIGHUP reloads the key file in between.
void AwaitShutdown(const ServerConfig& config, auth::Authorizer& authorizer) {
  const sigset_t signals = ShutdownSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) {
      spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
    if (config.auth_keys.empty()) {
      spdlog::info("SIGHUP ignored: no --auth-keys file to reload");
      continue;
    }
    absl::StatusOr<std::shared_ptr<const auth::KeyRing>> keys =
        auth::KeyRing::LoadFile(config.auth_keys);
    absl::Status replaced = keys.ok() ? authorizer.ReplaceKeys(*keys) : keys.status();
    if (replaced.ok()) {
      spdlog::info("reloaded {} API keys from {}", (*keys)->size(), config.auth_keys);
    } else {
      spdlog::error("key reload failed, keeping the old keys: {}", replaced.ToString());
    }
  }
}

absl::StatusOr<std::shared_ptr<const auth::KeyRing>> LoadKeys(const ServerConfig& config) {
  if (config.auth_keys.empty()) return std::shared_ptr<const auth::KeyRing>();
  return auth::KeyRing::LoadFile(config.auth_keys);
}

EngineOptions MakeEngineOptions(const ServerConfig& config, storage::SyncMode sync) {
  EngineOptions options;
  options.data_dir = config.data_dir;
  options.store.sync_mode = sync;
  options.store.sync_interval = absl::Milliseconds(config.sync_interval_ms);
  options.store.accept_log_loss = config.accept_log_loss;
  options.ttl_purge_interval = absl::Milliseconds(config.ttl_purge_interval_ms);
  options.audit_retention.max_age = absl::Hours(24 * config.audit_retention_days);
  options.audit_retention.max_records_per_tenant =
      static_cast<uint64_t>(config.audit_max_records);
  options.cache_ef_search = static_cast<uint32_t>(config.cache_ef_search);
  options.kv_limits.max_batch_get_bytes = ResponseBudgetBytes(config);
  options.kv_limits.max_batch_get_setting = kResponseBudgetSetting;
  options.kv_limits.batch_get_entry_bytes = services::kv_convert::BatchGetEntryBytes;
  return options;
}

// KV, vector and graph users need no token tables: the server starts without them, and the
// context calls answer with the reason.
void WarnIfNoTokenizers(const Engine& engine, const std::vector<std::string>& searched) {
  const absl::Status tokens = engine.tokenizers().status();
  if (tokens.ok()) return;
  spdlog::warn("{} (searched {}; set --tokenizer-dir or SOCHDB_TOKENIZER_DIR)",
               std::string(tokens.message()),
               absl::StrJoin(searched, ", "));
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

namespace {

// Refuses configurations that would expose data, and warns about risky ones. Returns the exit
// code to stop with, or nullopt to go on.
std::optional<int> CheckExposure(const ServerConfig& config) {
  if (config.auth_keys.empty() && !IsLoopbackHost(config.host) && !config.allow_insecure_remote) {
    spdlog::critical(
        "refusing to listen on {} without --auth-keys: anyone who can reach it could read and "
        "write every namespace. Give --auth-keys FILE, or --allow-insecure-remote to accept that.",
        config.host);
    return 2;
  }
  if (config.tls_cert.empty() && !IsLoopbackHost(config.host)) {
    spdlog::warn("serving plaintext on a non-loopback address: API keys cross the network in the "
                 "clear; give --tls-cert/--tls-key or terminate TLS in front of the server");
  }
  return std::nullopt;
}

// The metrics endpoint with the RPC registry and the engine's gauges; nullptr when disabled.
absl::StatusOr<std::unique_ptr<MetricsExporter>> StartMetrics(
    const ServerConfig& config, const std::shared_ptr<prometheus::Registry>& registry,
    const std::shared_ptr<EngineCollector>& engine_metrics) {
  if (config.metrics_port == 0) return std::unique_ptr<MetricsExporter>();
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<MetricsExporter> exporter,
                          MetricsExporter::Start(config.metrics_host, config.metrics_port));
  exporter->Register(registry);
  exporter->Register(engine_metrics);
  spdlog::info("metrics on http://{}/metrics", JoinHostPort(config.metrics_host, exporter->port()));
  return exporter;
}

void LogConnectionLimits(const ServerConfig& config, const OpenFileLimit& files,
                         const GrpcServerOptions& options) {
  const std::string raised =
      files.now > files.before ? absl::StrCat(" (raised from ", files.before, ")") : "";
  const std::string idle = config.max_connection_idle_s > 0
                               ? absl::FormatDuration(options.max_connection_idle)
                               : std::string("never");
  if (!files.known) {
    spdlog::warn("cannot read the open-file limit (getrlimit failed); assuming {}", files.now);
  }
  const std::string age =
      config.max_connection_age_s > 0
          ? absl::StrCat(absl::FormatDuration(options.max_connection_age), " (+",
                         absl::FormatDuration(options.max_connection_age_grace), " for its calls)")
          : std::string("never");
  spdlog::info(
      "open-file limit {}{}; at most {} connections, closed after {} without a call and at the "
      "latest after {}",
      files.now, raised, options.max_connections, idle, age);
  if (files.now < options.max_connections + ReservedDescriptors(files.now)) {
    spdlog::warn(
        "--max-connections {} leaves fewer than {} of the {} file descriptors for the database: "
        "a flood of connections could make its writes fail",
        options.max_connections, ReservedDescriptors(files.now), files.now);
  }
}

// Retrieval v2 (RetrievalService and its MintToken extension) over the engine's vector indexes.
void RegisterRetrieval(GrpcServer& server, Engine& engine, retrieval::TokenSigner signer,
                       std::vector<std::shared_ptr<void>>* keep_alive) {
  auto store = std::make_shared<retrieval::RetrievalStore>(&engine.store(),
                                                           &engine.vector_indexes(),
                                                           std::move(signer));
  keep_alive->push_back(store);
  auto retrieval = std::make_shared<services::RetrievalService>(store.get());
  retrieval->Register(server);
  keep_alive->push_back(retrieval);
  auto extensions = std::make_shared<services::RetrievalExtensionService>(
      &store->signer(), &engine.vector_indexes());
  extensions->Register(server);
  keep_alive->push_back(extensions);
}

// Registers every live service (the README's service table lists the same ones).
void RegisterServices(GrpcServer& server, Engine& engine, retrieval::TokenSigner signer,
                      std::vector<std::shared_ptr<void>>* keep_alive) {
  auto kv = std::make_shared<services::KvService>(&engine.kv());
  kv->Register(server);
  keep_alive->push_back(kv);
  auto collections = std::make_shared<services::CollectionService>(&engine.collections());
  collections->Register(server);
  keep_alive->push_back(collections);
  auto vectors = std::make_shared<services::VectorIndexService>(&engine.vector_indexes());
  vectors->Register(server);
  keep_alive->push_back(vectors);
  auto graph = std::make_shared<services::GraphService>(&engine.graph());
  graph->Register(server);
  keep_alive->push_back(graph);
  auto graph_extensions = std::make_shared<services::GraphExtensionService>(&engine.graph());
  graph_extensions->Register(server);
  keep_alive->push_back(graph_extensions);
  auto caches = std::make_shared<services::SemanticCacheService>(&engine.cache());
  caches->Register(server);
  keep_alive->push_back(caches);
  auto cache_extensions =
      std::make_shared<services::SemanticCacheExtensionService>(&engine.cache());
  cache_extensions->Register(server);
  keep_alive->push_back(cache_extensions);
  auto policies = std::make_shared<services::PolicyService>(
      &engine.policies(), &engine.audit_log(), &engine.governance());
  policies->Register(server);
  keep_alive->push_back(policies);
  auto namespaces = std::make_shared<services::NamespaceService>(&engine.namespaces());
  namespaces->Register(server);
  keep_alive->push_back(namespaces);
  auto context = std::make_shared<services::ContextService>(&engine.memory(), &engine.kv(),
                                                             engine.tokenizers());
  context->Register(server);
  keep_alive->push_back(context);
  auto context_extensions = std::make_shared<services::ContextExtensionService>(&engine.memory());
  context_extensions->Register(server);
  keep_alive->push_back(context_extensions);
  RegisterRetrieval(server, engine, std::move(signer), keep_alive);
  // Last: its manifest lists what the services registered above offer.
  auto capabilities = std::make_shared<services::CapabilityService>();
  capabilities->Register(server);
  keep_alive->push_back(capabilities);
}

// Runs the gRPC server until SIGTERM/SIGINT, then shuts it down gracefully.
int Serve(const ServerConfig& config, GrpcServer& server, auth::Authorizer& authorizer,
          const GrpcServerOptions& options) {
  if (absl::Status s = server.Start(); !s.ok()) {
    spdlog::critical("{}", s.ToString());
    return 1;
  }
  if (!config.port_file.empty()) {
    if (absl::Status s = WritePortFile(config.port_file, server.port()); !s.ok()) {
      spdlog::critical("{}", s.ToString());
      server.Shutdown(absl::ZeroDuration());
      return 1;
    }
  }
  spdlog::info(
      "sochdb-grpc {} serving {} sochdb.v1 services on {} ({}, cores usable: {}, {} queues, {} "
      "workers, huge-page malloc {})",
      kVersion, server.service_names().size(), JoinHostPort(config.host, server.port()),
      config.tls_cert.empty() ? "plaintext" : "TLS", UsableCores(), options.completion_queues,
      options.worker_threads, HugePageMallocEnabled(std::getenv("GLIBC_TUNABLES")) ? "on" : "off");
  AwaitShutdown(config, authorizer);
  server.Shutdown(absl::Seconds(config.shutdown_grace_s));
  spdlog::info("gRPC server stopped; closing the database");
  return 0;
}

}  // namespace

int RunServer(const ServerConfig& config) {
  if (absl::Status s = SetupLogging(config.log_level, config.log_format); !s.ok()) {
    std::fprintf(stderr, "sochdb-grpc: %s\n", s.ToString().c_str());
    return 2;
  }
  if (std::optional<int> refused = CheckExposure(config)) return *refused;
  // Before the store opens: LevelDB sizes its own budget of open files from the limit.
  const OpenFileLimit files = RaiseOpenFileLimit();
  absl::StatusOr<std::shared_ptr<const auth::KeyRing>> keys = LoadKeys(config);
  absl::StatusOr<storage::SyncMode> sync = storage::ParseSyncMode(config.sync);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      LoadServerCredentials(config);
  absl::StatusOr<retrieval::TokenSigner> signer =
      LoadRetrievalSigner(config.retrieval_signing_key_file);
  // Before the database opens, like every other bad setting (Start would refuse it later).
  const absl::Status metrics_host =
      config.metrics_port == 0 ? absl::OkStatus() : CheckMetricsHost(config.metrics_host);
  for (const absl::Status& s :
       {keys.status(), sync.status(), credentials.status(), signer.status(), metrics_host}) {
    if (!s.ok()) {
      spdlog::critical("{}", s.ToString());
      return 2;
    }
  }
  auth::Authorizer authorizer(*keys);
  if (authorizer.development_mode()) {
    spdlog::warn("development mode: no --auth-keys, every caller may use every namespace");
  } else {
    spdlog::info("authentication on: {} API keys from {}", (*keys)->size(), config.auth_keys);
  }

  const std::vector<std::string> tokenizer_dirs =
      TokenizerDirCandidates(config, ProcessEnvironment(), ExecutablePath());
  EngineOptions engine_options = MakeEngineOptions(config, *sync);
  engine_options.tokenizer_dir = ResolveTokenizerDir(tokenizer_dirs);
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(engine_options);
  if (!engine.ok()) {
    spdlog::critical("cannot open the database in {}: {}", config.data_dir,
                     engine.status().ToString());
    return 1;
  }
  spdlog::info("database open in {} (sync={})", config.data_dir, config.sync);
  WarnIfNoTokenizers(**engine, tokenizer_dirs);

  auto registry = std::make_shared<prometheus::Registry>();
  auto engine_metrics = std::make_shared<EngineCollector>(engine->get());
  absl::StatusOr<std::unique_ptr<MetricsExporter>> exporter =
      StartMetrics(config, registry, engine_metrics);
  if (!exporter.ok()) {
    spdlog::critical("{}", exporter.status().ToString());
    return 1;
  }

  int code = 0;
  {
    RpcMetrics rpc_metrics(*registry);
    GrpcServerOptions options = ServerOptions(config, files);
    LogConnectionLimits(config, files, options);
    options.credentials = *credentials;
    GrpcServer server(options, &authorizer, &rpc_metrics, &(*engine)->governance());
    std::vector<std::shared_ptr<void>> services;
    RegisterServices(server, **engine, *std::move(signer), &services);
    code = Serve(config, server, authorizer, options);
  }
  if (*exporter != nullptr) (*exporter)->Unregister(engine_metrics);
  engine->reset();
  if (code == 0) spdlog::info("shutdown complete");
  spdlog::shutdown();
  return code;
}

}  // namespace sochdb::server
