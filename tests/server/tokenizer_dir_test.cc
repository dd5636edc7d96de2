// Where the server finds the token tables: --tokenizer-dir from a flag, the environment or the
// config file; without it the documented search order (server/tokenizer_dir.h), the first
// directory holding both files winning, and the first candidate named when none does.
#include "server/tokenizer_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sochdb::server {
namespace {

using Dirs = std::vector<std::string>;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

TEST_CASE("--tokenizer-dir comes from a flag, SOCHDB_TOKENIZER_DIR or the config file",
          "[tokenizer_dir]") {
  CHECK(ParseServerConfig({"--tokenizer-dir", "/a"}, Env({})).config.tokenizer_dir == "/a");
  CHECK(ParseServerConfig({}, Env({{"SOCHDB_TOKENIZER_DIR", "/b"}})).config.tokenizer_dir ==
        "/b");
  const std::string file = TempDir("config") + "/sochdb.toml";
  std::ofstream(file) << "tokenizer-dir = \"/c\"\n";
  CHECK(ParseServerConfig({"--config", file}, Env({})).config.tokenizer_dir == "/c");
  CHECK(ParseServerConfig({}, Env({})).config.tokenizer_dir.empty());
}

TEST_CASE("a --tokenizer-dir given is the only candidate", "[tokenizer_dir]") {
  ServerConfig config;
  config.tokenizer_dir = "/given";
  CHECK(TokenizerDirCandidates(config, Env({{"RUNFILES_DIR", "/r"}}), "/opt/bin/sochdb-grpc") ==
        Dirs{"/given"});
}

TEST_CASE("without it: executable dir, runfiles, then the system directory",
          "[tokenizer_dir]") {
  const ServerConfig config;
  CHECK(TokenizerDirCandidates(config, Env({{"RUNFILES_DIR", "/r"}, {"TEST_SRCDIR", "/t"}}),
                               "/opt/bin/sochdb-grpc") ==
        Dirs{"/opt/bin/tokenizers", "/r/sochdb_grpc/tools/tokenizer/ranks",
             "/t/sochdb_grpc/tools/tokenizer/ranks",
             "/opt/bin/sochdb-grpc.runfiles/sochdb_grpc/tools/tokenizer/ranks",
             "/usr/share/sochdb/tokenizers"});
  CHECK(TokenizerDirCandidates(config, Env({}), "") == Dirs{"/usr/share/sochdb/tokenizers"});
}

TEST_CASE("the first candidate holding both tables wins", "[tokenizer_dir]") {
  const std::string half = TempDir("half");
  std::ofstream(half + "/cl100k_base.tiktoken") << "x";
  const std::string both = TempDir("both");
  std::ofstream(both + "/cl100k_base.tiktoken") << "x";
  std::ofstream(both + "/o200k_base.tiktoken") << "x";
  CHECK(ResolveTokenizerDir({"/nonexistent", half, both, "/usr"}) == both);
  CHECK(ResolveTokenizerDir({"/nonexistent", half}) == "/nonexistent");
  CHECK(ResolveTokenizerDir({}).empty());
  CHECK(!ExecutablePath().empty());
}

}  // namespace
}  // namespace sochdb::server
