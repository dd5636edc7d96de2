// Tests of ServerConfig parsing: defaults, each source, their precedence (flags > SOCHDB_*
// environment > TOML file > defaults), and refusals of bad values.
#include <stdlib.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "server/config.h"

namespace sochdb::server {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string WriteConfig(const std::string& body) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/sochdb-test.toml";
  std::ofstream(path) << body;
  return path;
}

TEST_CASE("defaults match the documented values") {
  const ConfigResult r = ParseServerConfig({}, Env({}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(r.config.host == "127.0.0.1");
  CHECK(r.config.port == 50051);
  CHECK(r.config.data_dir == "./data");
  CHECK(r.config.metrics_port == 9090);
  CHECK(r.config.sync == "full");
  CHECK(r.config.log_format == "text");
  CHECK(r.config.max_message_mb == 64);
  CHECK(r.config.max_response_mb == 0);
  CHECK(ResponseBudgetBytes(r.config) == 48u << 20);  // 3/4 of the message limit
  CHECK(r.config.auth_keys.empty());
  CHECK(!r.config.allow_insecure_remote);
  CHECK(!r.config.accept_log_loss);
  CHECK(r.config.audit_retention_days == 30);
  CHECK(r.config.audit_max_records == 1'000'000);
  CHECK(r.config.cache_ef_search == 96);
  CHECK(ParseServerConfig({"--cache-ef-search", "64"}, Env({})).config.cache_ef_search == 64);
}

TEST_CASE("flags beat the environment, which beats the config file") {
  const std::string file = WriteConfig(
      "port = 6000\n"
      "data-dir = \"/from/file\"\n"
      "sync = \"off\"\n"
      "log-format = \"json\"\n");
  const ConfigResult r = ParseServerConfig(
      {"--config", file, "--port", "7000"},
      Env({{"SOCHDB_PORT", "8000"}, {"SOCHDB_DATA_DIR", "/from/env"}, {"SOCHDB_SYNC", "normal"}}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(r.config.port == 7000);               // flag
  CHECK(r.config.data_dir == "/from/env");    // environment over file
  CHECK(r.config.sync == "normal");           // environment over file
  CHECK(r.config.log_format == "json");       // file over default
  CHECK(r.config.metrics_port == 9090);       // default
}

TEST_CASE("the config file can come from SOCHDB_CONFIG and flags take --name=value") {
  const std::string file = WriteConfig("threads = 3\nallow-insecure-remote = true\n");
  const ConfigResult r =
      ParseServerConfig({"--metrics-port=0"}, Env({{"SOCHDB_CONFIG", file}}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(r.config.threads == 3);
  CHECK(r.config.allow_insecure_remote);
  CHECK(r.config.metrics_port == 0);
}

TEST_CASE("only the injected environment is read, and never for --help or --version") {
  setenv("SOCHDB_PORT", "9", 1);  // the real environment must not leak into the parse
  const ConfigResult r = ParseServerConfig({}, Env({{"SOCHDB_VERSION", "1"}, {"SOCHDB_HELP", "x"}}));
  unsetenv("SOCHDB_PORT");
  REQUIRE(!r.exit_code.has_value());
  CHECK(r.config.port == 50051);
}

TEST_CASE("the answer budget follows --max-message-mb unless --max-response-mb is given") {
  ConfigResult r = ParseServerConfig({"--max-message-mb", "16"}, Env({}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(ResponseBudgetBytes(r.config) == 12u << 20);
  r = ParseServerConfig({"--max-message-mb", "16", "--max-response-mb", "16"}, Env({}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(ResponseBudgetBytes(r.config) == 16u << 20);
  r = ParseServerConfig({}, Env({{"SOCHDB_MAX_RESPONSE_MB", "8"}}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(ResponseBudgetBytes(r.config) == 8u << 20);
}

TEST_CASE("boolean flags read from the environment") {
  const ConfigResult r = ParseServerConfig({}, Env({{"SOCHDB_ALLOW_INSECURE_REMOTE", "true"}}));
  REQUIRE(!r.exit_code.has_value());
  CHECK(r.config.allow_insecure_remote);
  CHECK(ParseServerConfig({}, Env({{"SOCHDB_ACCEPT_LOG_LOSS", "true"}})).config.accept_log_loss);
  CHECK(ParseServerConfig({"--accept-log-loss"}, Env({})).config.accept_log_loss);
}

TEST_CASE("bad values are refused with exit code 2") {
  const std::vector<std::vector<std::string>> bad = {
      {"--port", "70000"},
      {"--sync", "sometimes"},
      {"--log-format", "xml"},
      {"--max-message-mb", "0"},
      {"--max-response-mb", "65"},  // more than --max-message-mb (64): could never be sent
      {"--max-response-mb", "-1"},
      {"--cache-ef-search", "4"},  // below any useful k
      {"--no-such-flag"},
      {"--auth-keys", "/does/not/exist"},
      {"--tls-cert", "/etc/hostname"},  // without --tls-key
      {"--config", "/does/not/exist.toml"},
  };
  for (const auto& args : bad) {
    INFO(args.front());
    const ConfigResult r = ParseServerConfig(args, Env({}));
    REQUIRE(r.exit_code.has_value());
    CHECK(*r.exit_code == 2);
  }
  const ConfigResult env_bad = ParseServerConfig({}, Env({{"SOCHDB_PORT", "many"}}));
  REQUIRE(env_bad.exit_code.has_value());
  CHECK(*env_bad.exit_code == 2);
  const ConfigResult unknown_key = ParseServerConfig({"--config", WriteConfig("colour = 1\n")}, Env({}));
  REQUIRE(unknown_key.exit_code.has_value());
  CHECK(*unknown_key.exit_code == 2);
}

// config/sochdb.toml is the documentation of every key: it must parse, and the values it shows
// must be the real defaults.
TEST_CASE("the shipped config/sochdb.toml parses and states the defaults") {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  REQUIRE(srcdir != nullptr);
  const std::string path = std::string(srcdir) + "/sochdb_grpc/config/sochdb.toml";
  const ConfigResult shipped = ParseServerConfig({"--config", path}, Env({}));
  REQUIRE(!shipped.exit_code.has_value());
  const ServerConfig defaults;
  const ServerConfig& c = shipped.config;
  CHECK(c.host == defaults.host);
  CHECK(c.port == defaults.port);
  CHECK(c.port_file == defaults.port_file);
  CHECK(c.data_dir == defaults.data_dir);
  CHECK(c.threads == defaults.threads);
  CHECK(c.worker_threads == defaults.worker_threads);
  CHECK(c.metrics_port == defaults.metrics_port);
  CHECK(c.metrics_host == defaults.metrics_host);
  CHECK(c.sync == defaults.sync);
  CHECK(c.sync_interval_ms == defaults.sync_interval_ms);
  CHECK(c.log_level == defaults.log_level);
  CHECK(c.log_format == defaults.log_format);
  CHECK(c.max_message_mb == defaults.max_message_mb);
  CHECK(c.max_response_mb == defaults.max_response_mb);
  CHECK(c.auth_keys == defaults.auth_keys);
  CHECK(c.allow_insecure_remote == defaults.allow_insecure_remote);
  CHECK(c.accept_log_loss == defaults.accept_log_loss);
  CHECK(c.shutdown_grace_s == defaults.shutdown_grace_s);
  CHECK(c.max_call_s == defaults.max_call_s);
  CHECK(c.max_connections == defaults.max_connections);
  CHECK(c.max_connection_idle_s == defaults.max_connection_idle_s);
  CHECK(c.max_connection_age_s == defaults.max_connection_age_s);
  CHECK(c.ttl_purge_interval_ms == defaults.ttl_purge_interval_ms);
  CHECK(c.tokenizer_dir == defaults.tokenizer_dir);
  CHECK(c.cache_ef_search == defaults.cache_ef_search);
}

TEST_CASE("--help and --version exit 0") {
  CHECK(ParseServerConfig({"--help"}, Env({})).exit_code == 0);
  CHECK(ParseServerConfig({"--version"}, Env({})).exit_code == 0);
}

TEST_CASE("loopback detection and host:port joining") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.1.2.3"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(!IsLoopbackHost("0.0.0.0"));
  CHECK(!IsLoopbackHost("10.0.0.1"));
  CHECK(!IsLoopbackHost("::"));
  CHECK(!IsLoopbackHost("127example.com"));
  CHECK(!IsLoopbackHost("127.evil.example"));
  CHECK(IsLoopbackHost("[::1]"));
  CHECK(JoinHostPort("127.0.0.1", 5) == "127.0.0.1:5");
  CHECK(JoinHostPort("::1", 5) == "[::1]:5");
}

}  // namespace
}  // namespace sochdb::server
