// The exact-match test: our BPE against the reference tokenizer, the npm package `tiktoken`
// (OpenAI's own Rust tokenizer compiled to WebAssembly, pinned below), run by node on the same
// texts: the corpus files, whitespace runs and seeded random strings. Every text must give the
// same token ids in both encodings (so the same count). The package is installed into the
// test's temporary directory (from npm's cache, which the setup filled); without node or npm
// the test is skipped with a printed reason.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/context/tokenizer/bpe_tokenizer.h"
#include "nlohmann/json.hpp"
#include "tests/engine/context/tokenizer/corpus_texts.h"

namespace sochdb::context {
namespace {

constexpr const char* kReferencePackage = "tiktoken@1.0.22";
constexpr const char* kDir = "tests/engine/context/tokenizer";

bool HaveCommand(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::vector<std::string> AllTexts() {
  std::vector<std::string> texts = testing::CorpusFileTexts(std::string(kDir) + "/corpus");
  REQUIRE(texts.size() >= 5);
  for (auto& t : testing::WhitespaceTexts()) texts.push_back(std::move(t));
  for (auto& t : testing::RandomTexts(/*seed=*/20261207, /*count=*/3000)) {
    texts.push_back(std::move(t));
  }
  return texts;
}

// Runs the reference on `texts`: {"cl100k_base": [[ids]...], "o200k_base": [...]}.
nlohmann::json RunReference(const std::vector<std::string>& texts) {
  const std::string dir = TempDir() + "/reference";
  // From npm's cache when it can: tools/dev.sh setup has put the same package there
  // (fetch_ranks.sh), so the test needs the network only when run without the setup.
  const std::string install = "npm install --silent --no-audit --no-fund --no-save "
                              "--prefer-offline --prefix '" + dir + "' " + kReferencePackage +
                              " >&2";
  INFO(install);
  REQUIRE(std::system(install.c_str()) == 0);
  const std::string input = dir + "/texts.json";
  const std::string output = dir + "/tokens.json";
  std::ofstream(input, std::ios::binary) << nlohmann::json(texts).dump();
  const std::string run = "node " + std::string(kDir) + "/reference_tokenize.js '" + dir +
                          "/node_modules' '" + input + "' '" + output + "'";
  INFO(run);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(std::system(run.c_str()) == 0);
  std::printf("reference: %.1f s\n", std::chrono::duration<double>(
                                          std::chrono::steady_clock::now() - start).count());
  std::ifstream in(output, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return nlohmann::json::parse(contents.str());
}

std::string Escaped(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', /*ensure_ascii=*/true).substr(0, 300);
}

void Compare(Encoding encoding, const std::vector<std::string>& texts,
             const nlohmann::json& reference) {
  const std::string name(EncodingName(encoding));
  auto tokenizer = BpeTokenizer::Load(encoding, "tools/tokenizer/ranks/" + name + ".tiktoken");
  REQUIRE(tokenizer.ok());
  const auto& expected_all = reference.at(name);
  REQUIRE(expected_all.size() == texts.size());
  size_t tokens = 0, bytes = 0, mismatches = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto expected = expected_all[i].get<std::vector<uint32_t>>();
    const std::vector<uint32_t> ours = (*tokenizer)->Encode(texts[i]);
    tokens += expected.size();
    bytes += texts[i].size();
    if (ours != expected || (*tokenizer)->Count(texts[i]) != expected.size()) {
      if (++mismatches <= 10) {
        UNSCOPED_INFO(name << " text " << i << " " << Escaped(texts[i]) << ": ours "
                           << nlohmann::json(ours).dump() << " reference "
                           << nlohmann::json(expected).dump());
      }
    }
  }
  std::printf("%s: %zu texts, %zu bytes, %zu tokens compared with %s, %zu mismatches (%.1f s)\n",
              name.c_str(), texts.size(), bytes, tokens, kReferencePackage, mismatches,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  CHECK(mismatches == 0);
}

TEST_CASE("token ids equal the reference tokenizer's on the corpus, in both encodings",
          "[tokenizer][reference]") {
  if (!HaveCommand("node") || !HaveCommand("npm")) {
    WARN("skipped: node and npm are needed to run the reference tokenizer");
    std::printf("SKIPPED: node or npm not found, no reference to compare with\n");
    return;
  }
  const std::vector<std::string> texts = AllTexts();
  const nlohmann::json reference = RunReference(texts);
  Compare(Encoding::kCl100kBase, texts, reference);
  Compare(Encoding::kO200kBase, texts, reference);
}

}  // namespace
}  // namespace sochdb::context
