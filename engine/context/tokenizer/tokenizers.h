// The tokenizers the server counts with: cl100k_base and o200k_base, loaded once at start-up
// from a directory of tiktoken rank files, and the choice of one by model name.
#ifndef SOCHDB_ENGINE_CONTEXT_TOKENIZER_TOKENIZERS_H_
#define SOCHDB_ENGINE_CONTEXT_TOKENIZER_TOKENIZERS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/context/tokenizer/bpe_tokenizer.h"

namespace sochdb::context {

// The encoding of an empty or unknown model name: cl100k_base. Unknown names are mostly older
// or third-party OpenAI-compatible models, and on nearly all text cl100k_base needs as many
// tokens as o200k_base or more (o200k_base's larger vocabulary packs code and non-English text
// tighter), so a budget counted in cl100k_base is the one that still holds under the other.
inline constexpr Encoding kDefaultEncoding = Encoding::kCl100kBase;

// Immutable after Load; thread-safe.
class Tokenizers {
 public:
  // Loads <dir>/cl100k_base.tiktoken and <dir>/o200k_base.tiktoken. NOT_FOUND naming the
  // missing path and how to get the files (tools/tokenizer/fetch_ranks.sh DIR);
  // INVALID_ARGUMENT / DATA_LOSS naming the file when one is malformed (BpeTokenizer::Load).
  static absl::StatusOr<std::unique_ptr<Tokenizers>> Load(const std::string& dir);

  // By prefix, ASCII case-insensitively: gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*,
  // o1*, o3*, o4* -> o200k_base; gpt-4*, gpt-3.5*, gpt-35*, text-embedding-3*,
  // text-embedding-ada-002 -> cl100k_base; anything else (and "") -> kDefaultEncoding.
  // An optional "openai/" or "azure/" provider prefix is ignored.
  static Encoding EncodingForModel(absl::string_view model);

  const BpeTokenizer& ForModel(absl::string_view model) const {
    return Get(EncodingForModel(model));
  }
  const BpeTokenizer& Get(Encoding encoding) const {
    return encoding == Encoding::kO200kBase ? *o200k_ : *cl100k_;
  }

 private:
  Tokenizers(std::unique_ptr<BpeTokenizer> cl100k, std::unique_ptr<BpeTokenizer> o200k)
      : cl100k_(std::move(cl100k)), o200k_(std::move(o200k)) {}

  const std::unique_ptr<BpeTokenizer> cl100k_;
  const std::unique_ptr<BpeTokenizer> o200k_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_TOKENIZER_TOKENIZERS_H_
