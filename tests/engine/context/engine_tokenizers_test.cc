// Engine::tokenizers(): the tables of EngineOptions::tokenizer_dir, loaded by Open; without
// them the engine still opens (KV works) and the accessor answers FAILED_PRECONDITION naming
// the missing file and how to fetch it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "engine/engine.h"

namespace sochdb {
namespace {

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<Engine> OpenEngine(const std::string& name, const std::string& tokenizer_dir) {
  EngineOptions options;
  options.data_dir = FreshDir(name);
  options.store.sync_mode = storage::SyncMode::kOff;
  options.tokenizer_dir = tokenizer_dir;
  auto engine = Engine::Open(options);
  REQUIRE(engine.ok());
  return std::move(engine).value();
}

TEST_CASE("the engine loads the token tables at Open", "[engine][tokenizer]") {
  auto engine = OpenEngine("with", "tools/tokenizer/ranks");
  auto tokenizers = engine->tokenizers();
  REQUIRE(tokenizers.ok());
  CHECK((*tokenizers)->ForModel("gpt-4o").Count("hello world") == 2);
  CHECK((*tokenizers)->ForModel("gpt-4").Encode("hello world") ==
        std::vector<uint32_t>{15339, 1917});
}

TEST_CASE("without the tables the engine opens and tokenizers() says why",
          "[engine][tokenizer]") {
  auto engine = OpenEngine("without", "/nonexistent/tokenizers");
  auto tokenizers = engine->tokenizers();
  CHECK(absl::IsFailedPrecondition(tokenizers.status()));
  const std::string message(tokenizers.status().message());
  CHECK_THAT(message, Catch::Contains("/nonexistent/tokenizers/cl100k_base.tiktoken"));
  CHECK_THAT(message, Catch::Contains("fetch_ranks.sh"));
  // Everything else works.
  REQUIRE(engine->kv().Put("ns", "k", "v", 0).ok());
  auto value = engine->kv().Get("ns", "k");
  REQUIRE(value.ok());
  CHECK(*value == std::optional<std::string>("v"));

  auto unset = OpenEngine("unset", "");
  CHECK(absl::IsFailedPrecondition(unset->tokenizers().status()));
}

}  // namespace
}  // namespace sochdb
