// The real binary and its token tables: found without a flag (the runfiles, as `bazel run` and
// `bazel test` lay them out) and loaded at start-up, the time logged; a --tokenizer-dir without
// the tables, or with a damaged one, still serves KV and logs a warning naming the file and the
// flag (the context calls then fail with that reason).
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "grpcpp/client_context.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

ServerProcessOptions WithTokenizerDir(const std::string& dir) {
  ServerProcessOptions options;
  options.args = {"--tokenizer-dir", dir};
  return options;
}

void CheckKvWorks(const ServerProcess& server) {
  auto kv = sochdb::v1::KvService::NewStub(server.Channel());
  grpc::ClientContext put_context;
  sochdb::v1::KvPutRequest put;
  put.set_namespace_("default");
  put.set_key("k");
  put.set_value("v");
  sochdb::v1::KvPutResponse put_response;
  CHECK(kv->Put(&put_context, put, &put_response).ok());
}

TEST_CASE("the server finds the token tables without a flag and logs the load time",
          "[tokenizer]") {
  ServerProcess server(ServerProcessOptions{});
  StartOrFail(server);
  const std::string log = server.log();
  INFO(log);
  std::smatch match;
  REQUIRE(std::regex_search(
      log, match, std::regex("token tables cl100k_base and o200k_base loaded from (.*) in "
                             "([0-9]+) ms")));
  std::printf("token tables loaded at start-up in %s ms\n", match[2].str().c_str());
  CHECK(log.find("token counting is unavailable") == std::string::npos);
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("without the tables the server serves and warns, naming the file and the flag",
          "[tokenizer]") {
  const std::string missing = NewTempDir("no-tables");
  ServerProcess server(WithTokenizerDir(missing));
  StartOrFail(server);
  CheckKvWorks(server);
  const std::string log = server.log();
  INFO(log);
  CHECK(log.find("token counting is unavailable") != std::string::npos);
  CHECK(log.find(missing + "/cl100k_base.tiktoken does not exist") != std::string::npos);
  CHECK(log.find("--tokenizer-dir") != std::string::npos);
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("a damaged table is refused (DATA_LOSS), and the server still serves", "[tokenizer]") {
  const std::string dir = NewTempDir("damaged-tables");
  for (const char* name : {"cl100k_base.tiktoken", "o200k_base.tiktoken"}) {
    std::filesystem::copy_file(std::string("tools/tokenizer/ranks/") + name, dir + "/" + name);
  }
  {
    // The rank of one token changed (two lines' ranks swapped): still well-formed.
    std::ifstream in(dir + "/o200k_base.tiktoken");
    std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t first = table.find(" 1000\n");
    const size_t second = table.find(" 1001\n");
    REQUIRE(first != std::string::npos);
    REQUIRE(second != std::string::npos);
    table.replace(second, 6, " 1000\n");
    table.replace(first, 6, " 1001\n");
    std::ofstream(dir + "/o200k_base.tiktoken", std::ios::trunc) << table;
  }
  ServerProcess server(WithTokenizerDir(dir));
  StartOrFail(server);
  CheckKvWorks(server);
  const std::string log = server.log();
  INFO(log);
  CHECK(log.find("o200k_base.tiktoken is not the published o200k_base table") !=
        std::string::npos);
  CHECK(server.Stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace sochdb::testing
