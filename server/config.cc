#include "server/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/common/version.h"

namespace sochdb::server {
namespace {

std::string EnvName(const std::string& flag) {
  std::string name = "SOCHDB_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

bool FlagGiven(const std::vector<std::string>& args, const std::string& flag) {
  const std::string exact = "--" + flag;
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == exact || absl::StartsWith(a, exact + "=");
  });
}

// Where the server listens and how many threads serve it; where /metrics listens.
void DefineNetworkOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--host", c.host, "address to listen on")->capture_default_str();
  app.add_option("--port", c.port, "gRPC port (0 = any free port)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--port-file", c.port_file, "write the bound gRPC port to this file when ready");
  app.add_option("--threads", c.threads,
                 "completion-queue poller threads (0 = one per usable core: affinity mask and "
                 "cgroup CPU quota)")
      ->check(CLI::Range(0, 256))->capture_default_str();
  app.add_option("--worker-threads", c.worker_threads,
                 "threads for blocking work (0 = 8 per usable core, at least 16)")
      ->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_option("--metrics-port", c.metrics_port, "Prometheus /metrics port (0 = off)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--metrics-host", c.metrics_host,
                 "IPv4 address /metrics listens on (it has no authentication: loopback by "
                 "default)")
      ->capture_default_str();
}

// The data directory, its durability and its background work.
void DefineStorageOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--data-dir", c.data_dir, "directory of the database")->capture_default_str();
  app.add_option("--sync", c.sync, "durability: full (fsync per write), normal, off")
      ->check(CLI::IsMember({"full", "normal", "off"}))->capture_default_str();
  app.add_option("--sync-interval-ms", c.sync_interval_ms, "normal mode: longest unsynced time")
      ->check(CLI::Range(1, 60'000))->capture_default_str();
  app.add_flag("--accept-log-loss", c.accept_log_loss,
               "start even though the write-ahead log is damaged: drop what cannot be read (each "
               "dropped stretch is logged; a copy of the log is kept as <log>.damaged)");
  app.add_option("--ttl-purge-interval-ms", c.ttl_purge_interval_ms,
                 "how often expired keys are removed from disk")
      ->check(CLI::Range(10, 3'600'000))->capture_default_str();
  app.add_option("--audit-retention-days", c.audit_retention_days,
                 "days the records of LOG policies are kept")
      ->check(CLI::Range(1, 36'500))->capture_default_str();
  app.add_option("--audit-max-records", c.audit_max_records,
                 "records of LOG policies kept per tenant (the oldest go first)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}))->capture_default_str();
  app.add_option("--cache-ef-search", c.cache_ef_search,
                 "HNSW search breadth of a semantic cache lookup: its cost is nearly "
                 "proportional to it; smaller misses the nearest entry more often")
      ->check(CLI::Range(8, 4096))->capture_default_str();
  app.add_option("--tokenizer-dir", c.tokenizer_dir,
                 "directory of the BPE rank tables cl100k_base.tiktoken and o200k_base.tiktoken "
                 "(tools/tokenizer/fetch_ranks.sh DIR writes them); empty = <directory of the "
                 "executable>/tokenizers, then the Bazel runfiles, then "
                 "/usr/share/sochdb/tokenizers");
}

// What the log says and in which format.
void DefineLoggingOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", c.log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
}

// What one message, answer, call or connection may take.
void DefineLimitOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--max-message-mb", c.max_message_mb, "largest request or response, MiB")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--max-response-mb", c.max_response_mb,
                 "largest answer a call builds, MiB (0 = 3/4 of --max-message-mb); larger ones "
                 "are refused with RESOURCE_EXHAUSTED")
      ->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_option("--shutdown-grace-s", c.shutdown_grace_s,
                 "on SIGTERM, how long calls in flight may take to finish")
      ->check(CLI::Range(0, 3600))->capture_default_str();
  app.add_option("--max-call-s", c.max_call_s, "longest any call may run (server-side deadline)")
      ->check(CLI::Range(1, 86'400))->capture_default_str();
  app.add_option("--max-connections", c.max_connections,
                 "connections open at once on the gRPC port; more are closed at accept (0 = the "
                 "open-file limit minus a quarter, at least 1,088, kept for the database)")
      ->check(CLI::Range(0, 16'777'216))->capture_default_str();
  app.add_option("--max-connection-idle-s", c.max_connection_idle_s,
                 "close a connection that has had no call for this long (0 = never)")
      ->check(CLI::Range(0, 604'800))->capture_default_str();
  app.add_option("--max-connection-age-s", c.max_connection_age_s,
                 "send a connection GOAWAY after this long (+-10%), and close it --max-call-s "
                 "later whatever its calls are doing (0 = never)")
      ->check(CLI::Range(0, 604'800))->capture_default_str();
}

// API keys and TLS.
void DefineSecurityOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--auth-keys", c.auth_keys,
                 "API key file (sochdb-keytool); none = development mode")
      ->check(CLI::ExistingFile);
  app.add_flag("--allow-insecure-remote", c.allow_insecure_remote,
               "allow a non-loopback --host without --auth-keys");
  app.add_option("--tls-cert", c.tls_cert, "server certificate chain (PEM)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", c.tls_key, "server private key (PEM)")->check(CLI::ExistingFile);
  app.add_option("--tls-ca", c.tls_ca, "require client certificates signed by this CA (PEM)")
      ->check(CLI::ExistingFile);
  app.add_option("--retrieval-signing-key-file", c.retrieval_signing_key_file,
                 "key (at least 32 bytes) signing retrieval v2 capability tokens; none = a "
                 "random key per process")
      ->check(CLI::ExistingFile);
}

void DefineOptions(CLI::App& app, ServerConfig& c) {
  app.set_config("--config", "",
                 "TOML config file; keys are the flag names (see config/sochdb.toml)");
  // A misspelt key in the file must not be silently ignored.
  app.allow_config_extras(CLI::config_extras_mode::error);
  DefineNetworkOptions(app, c);
  DefineStorageOptions(app, c);
  DefineLoggingOptions(app, c);
  DefineLimitOptions(app, c);
  DefineSecurityOptions(app, c);
  // The environment layer is WithEnvironment's (through the injected lookup); CLI11's own
  // envname() would read the real environment behind its back, so the names only go in the help.
  for (CLI::Option* opt : app.get_options()) {
    const std::vector<std::string>& names = opt->get_lnames();
    if (names.empty() || names.front() == "help" || names.front() == "version") continue;
    opt->description(absl::StrCat(opt->get_description(), " [env ", EnvName(names.front()), "]"));
  }
}

// Environment values become flags unless the flag itself was given, so they beat the config
// file (which CLI11 applies only to options still unset) and lose to the command line.
std::vector<std::string> WithEnvironment(CLI::App& app, std::vector<std::string> args,
                                         const EnvLookup& env) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& flag = opt->get_lnames().front();
    if (flag == "help" || flag == "version" || FlagGiven(args, flag)) continue;
    std::optional<std::string> value = env(EnvName(flag));
    if (value.has_value() && !value->empty()) args.push_back(absl::StrCat("--", flag, "=", *value));
  }
  return args;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

ConfigResult ParseServerConfig(const std::vector<std::string>& args, const EnvLookup& env) {
  ConfigResult result;
  CLI::App app("sochdb-grpc: the SochDB gRPC database server (sochdb.v1 protocol)",
               "sochdb-grpc");
  app.set_version_flag("--version", absl::StrCat("sochdb-grpc ", kVersion, " (sochdb.v1 protocol ",
                                                 kProtocolVersion, ")"));
  DefineOptions(app, result.config);
  std::vector<std::string> full = WithEnvironment(app, args, env);
  // CLI11 parses a reversed vector (it pops from the back).
  std::reverse(full.begin(), full.end());
  try {
    app.parse(full);
    if (result.config.tls_cert.empty() != result.config.tls_key.empty()) {
      throw CLI::ValidationError("--tls-cert and --tls-key", "must be given together");
    }
    if (!result.config.tls_ca.empty() && result.config.tls_cert.empty()) {
      throw CLI::ValidationError("--tls-ca", "needs --tls-cert and --tls-key");
    }
    if (result.config.max_response_mb > result.config.max_message_mb) {
      throw CLI::ValidationError(
          "--max-response-mb",
          absl::StrCat(result.config.max_response_mb, " is more than --max-message-mb (",
                       result.config.max_message_mb, "): no answer could be sent"));
    }
  } catch (const CLI::ParseError& e) {
    result.exit_code = app.exit(e);
    if (*result.exit_code != 0) result.exit_code = 2;
  }
  return result;
}

size_t ResponseBudgetBytes(const ServerConfig& config) {
  if (config.max_response_mb > 0) return static_cast<size_t>(config.max_response_mb) << 20;
  return (static_cast<size_t>(config.max_message_mb) << 20) / 4 * 3;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  std::string literal = host;
  if (absl::StartsWith(literal, "[") && absl::EndsWith(literal, "]")) {
    literal = literal.substr(1, literal.size() - 2);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
  }
  return false;  // any other name may resolve anywhere
}

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace sochdb::server
