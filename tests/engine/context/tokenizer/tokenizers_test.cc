// Tokenizers: both tables loaded from one directory, the errors naming the missing path and
// the script that fetches it, and the encoding chosen by model name.
#include "engine/context/tokenizer/tokenizers.h"

#include <catch2/catch.hpp>
#include <string>

namespace sochdb::context {
namespace {

TEST_CASE("Load reads both tables from the directory", "[tokenizers]") {
  auto tokenizers = Tokenizers::Load("tools/tokenizer/ranks");
  REQUIRE(tokenizers.ok());
  CHECK((*tokenizers)->Get(Encoding::kCl100kBase).encoding() == Encoding::kCl100kBase);
  CHECK((*tokenizers)->Get(Encoding::kO200kBase).encoding() == Encoding::kO200kBase);
  CHECK((*tokenizers)->ForModel("gpt-4o-mini").encoding() == Encoding::kO200kBase);
  CHECK((*tokenizers)->ForModel("gpt-4").Count("hello world") == 2);
  CHECK((*tokenizers)->ForModel("").encoding() == kDefaultEncoding);
}

TEST_CASE("Load without the tables: NOT_FOUND naming the path and the fetch script",
          "[tokenizers]") {
  auto missing = Tokenizers::Load("/nonexistent/tokenizers");
  CHECK(absl::IsNotFound(missing.status()));
  const std::string message(missing.status().message());
  CHECK_THAT(message, Catch::Contains("/nonexistent/tokenizers/cl100k_base.tiktoken"));
  CHECK_THAT(message, Catch::Contains("tools/tokenizer/fetch_ranks.sh /nonexistent/tokenizers"));
  CHECK_THAT(message, Catch::Contains("--tokenizer-dir"));
}

TEST_CASE("EncodingForModel", "[tokenizers]") {
  const auto o200k = Encoding::kO200kBase;
  const auto cl100k = Encoding::kCl100kBase;
  for (const char* model : {"gpt-4o", "gpt-4o-mini-2024-07-18", "GPT-4o", "chatgpt-4o-latest",
                            "gpt-4.1", "gpt-4.1-nano", "gpt-4.5-preview", "gpt-5", "gpt-5-mini",
                            "o1", "o1-mini", "o3", "o3-mini", "o4-mini", "openai/gpt-4o"}) {
    INFO(model);
    CHECK(Tokenizers::EncodingForModel(model) == o200k);
  }
  for (const char* model : {"gpt-4", "gpt-4-turbo", "gpt-4-32k-0613", "gpt-3.5-turbo",
                            "gpt-35-turbo", "text-embedding-3-small", "text-embedding-ada-002",
                            "azure/gpt-4"}) {
    INFO(model);
    CHECK(Tokenizers::EncodingForModel(model) == cl100k);
  }
  for (const char* model : {"", "llama-3-70b", "claude-3", "davinci", "o", "gpt"}) {
    INFO(model);
    CHECK(Tokenizers::EncodingForModel(model) == kDefaultEncoding);
  }
  CHECK(kDefaultEncoding == cl100k);
}

}  // namespace
}  // namespace sochdb::context
