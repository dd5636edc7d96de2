#include "engine/context/tokenizer/tokenizers.h"

#include <future>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace sochdb::context {
namespace {

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadOne(const std::string& dir,
                                                      Encoding encoding) {
  const std::string path = absl::StrCat(dir, "/", EncodingName(encoding), ".tiktoken");
  auto tokenizer = BpeTokenizer::Load(encoding, path);
  if (absl::IsNotFound(tokenizer.status())) {
    return absl::NotFoundError(absl::StrCat(
        "tokenizer rank file ", path, " does not exist; write the tables there with "
        "`tools/tokenizer/fetch_ranks.sh ", dir, "` (npm downloads them) or point "
        "--tokenizer-dir at a directory that has them"));
  }
  return tokenizer;
}

// Model-name prefixes, checked in order: the first that matches decides.
struct ModelPrefix {
  absl::string_view prefix;
  Encoding encoding;
};
constexpr ModelPrefix kModelPrefixes[] = {
    {"gpt-4o", Encoding::kO200kBase},    {"chatgpt-4o", Encoding::kO200kBase},
    {"gpt-4.1", Encoding::kO200kBase},   {"gpt-4.5", Encoding::kO200kBase},
    {"gpt-5", Encoding::kO200kBase},     {"o1", Encoding::kO200kBase},
    {"o3", Encoding::kO200kBase},        {"o4", Encoding::kO200kBase},
    {"gpt-4", Encoding::kCl100kBase},    {"gpt-3.5", Encoding::kCl100kBase},
    {"gpt-35", Encoding::kCl100kBase},   {"text-embedding-3", Encoding::kCl100kBase},
    {"text-embedding-ada-002", Encoding::kCl100kBase},
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizers>> Tokenizers::Load(const std::string& dir) {
  // The two tables load side by side: start-up waits for the larger one only.
  auto o200k_loading = std::async(std::launch::async, LoadOne, dir, Encoding::kO200kBase);
  auto cl100k_loaded = LoadOne(dir, Encoding::kCl100kBase);
  auto o200k_loaded = o200k_loading.get();
  SOCHDB_ASSIGN_OR_RETURN(auto cl100k, std::move(cl100k_loaded));
  SOCHDB_ASSIGN_OR_RETURN(auto o200k, std::move(o200k_loaded));
  return std::unique_ptr<Tokenizers>(new Tokenizers(std::move(cl100k), std::move(o200k)));
}

Encoding Tokenizers::EncodingForModel(absl::string_view model) {
  std::string name = absl::AsciiStrToLower(model);
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "openai/")) absl::ConsumePrefix(&rest, "azure/");
  for (const ModelPrefix& entry : kModelPrefixes) {
    if (absl::StartsWith(rest, entry.prefix)) return entry.encoding;
  }
  return kDefaultEncoding;
}

}  // namespace sochdb::context
