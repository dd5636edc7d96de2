// ServerConfig: every setting of the sochdb-grpc process, and how it is read. Precedence, highest
// first: command-line flags, SOCHDB_* environment variables (SOCHDB_ + the flag name upper-cased
// with '-' -> '_', e.g. --data-dir <- SOCHDB_DATA_DIR), the TOML file named by --config (keys are
// the flag names, e.g. `data-dir = "/var/lib/sochdb"`), then the defaults below.
// config/sochdb.toml documents every key.
#ifndef SOCHDB_SERVER_CONFIG_H_
#define SOCHDB_SERVER_CONFIG_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sochdb::server {

struct ServerConfig {
  std::string config_file;             // --config
  std::string host = "127.0.0.1";      // --host
  int port = 50051;                    // --port (0 = any free port; see port_file)
  std::string port_file;               // --port-file: write the bound port here once serving
  std::string data_dir = "./data";     // --data-dir
  int threads = 0;                     // --threads: completion queues (0 = one per core)
  int worker_threads = 0;              // --worker-threads: blocking work (0 = 8 per core, >= 16)
  int metrics_port = 9090;             // --metrics-port (0 = off)
  std::string metrics_host = "127.0.0.1";  // --metrics-host: /metrics is unauthenticated
  std::string sync = "full";           // --sync full|normal|off
  int sync_interval_ms = 100;          // --sync-interval-ms (normal mode)
  bool accept_log_loss = false;        // --accept-log-loss: start over a damaged log, dropping it
  std::string log_level = "info";      // --log-level trace|debug|info|warn|error|critical|off
  std::string log_format = "text";     // --log-format text|json
  int max_message_mb = 64;             // --max-message-mb
  // --max-response-mb: the largest answer a call builds (0 = 3/4 of max_message_mb); at most
  // max_message_mb. See ResponseBudgetBytes.
  int max_response_mb = 0;
  std::string auth_keys;               // --auth-keys FILE (empty = development mode)
  bool allow_insecure_remote = false;  // --allow-insecure-remote
  std::string tls_cert;                // --tls-cert (PEM)
  std::string tls_key;                 // --tls-key (PEM)
  std::string tls_ca;                  // --tls-ca: require client certificates signed by it
  // --retrieval-signing-key-file: the key (>= 32 bytes, one trailing newline ignored) that signs
  // retrieval v2 capability tokens; empty = a random key per process (tokens die at restart).
  std::string retrieval_signing_key_file;
  int shutdown_grace_s = 10;           // --shutdown-grace-s
  int max_call_s = 300;                // --max-call-s: server-side maximum deadline
  int max_connections = 0;             // --max-connections (0 = from the open-file limit)
  int max_connection_idle_s = 60;      // --max-connection-idle-s (0 = never close)
  int max_connection_age_s = 300;      // --max-connection-age-s (0 = never), then --max-call-s
  int ttl_purge_interval_ms = 1000;    // --ttl-purge-interval-ms
  int audit_retention_days = 30;       // --audit-retention-days: policy audit records kept
  int64_t audit_max_records = 1'000'000;  // --audit-max-records: per tenant
  int cache_ef_search = 96;  // --cache-ef-search: a semantic cache Get's HNSW search breadth
  // --tokenizer-dir: the BPE rank tables (cl100k_base.tiktoken, o200k_base.tiktoken); empty =
  // search the places server/tokenizer_dir.h lists.
  std::string tokenizer_dir;
};

// Looks an environment variable up; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnvironment();

// Either a configuration to run with, or an exit code: --help and --version print and exit 0;
// a bad flag, environment value or config file prints the problem to stderr and exits 2.
struct ConfigResult {
  ServerConfig config;
  std::optional<int> exit_code;
};

// `args` excludes the program name.
ConfigResult ParseServerConfig(const std::vector<std::string>& args, const EnvLookup& env);

// The answer budget in bytes: --max-response-mb, or 3/4 of --max-message-mb when it is 0 (the
// rest leaves room for the framing a budget does not count, e.g. BatchGet's per-entry fields).
size_t ResponseBudgetBytes(const ServerConfig& config);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

// "host:port", with IPv6 literals bracketed.
std::string JoinHostPort(const std::string& host, int port);

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_CONFIG_H_
