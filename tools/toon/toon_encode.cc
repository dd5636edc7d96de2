// toon_encode: EncodeToon (engine/context/toon.h) from the command line, for checking our TOON
// against other tools (tests/tools/toon: the reference decoder) and for measuring it
// (tools/toon/toon_tokens.py).
//
// Usage:
//   toon_encode [--delimiter comma|tab|pipe] [--indent N] [--fold-keys] [--flatten-depth N]
//     < value.json > value.toon       one JSON value in, its TOON text out (no newline added)
//   toon_encode --lines [options] < values.jsonl
//     one JSON value per input line; per line out {"toon": "<text>"} or {"error": "<why>"}
// JSON is read with its key order kept (nlohmann::ordered_json). Exit 2 on a usage error, an
// unreadable value or a refused one in single-value mode.
#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/context/toon.h"
#include "nlohmann/json.hpp"

namespace {

using sochdb::context::EncodeToon;
using sochdb::context::ToonDelimiter;
using sochdb::context::ToonOptions;

constexpr int kExitError = 2;

absl::StatusOr<std::string> EncodeText(const std::string& json, const ToonOptions& options) {
  const nlohmann::ordered_json value =
      nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError("input is not one JSON value");
  return EncodeToon(value, options);
}

int EncodeLines(const ToonOptions& options) {
  std::string line;
  while (std::getline(std::cin, line)) {
    const absl::StatusOr<std::string> toon = EncodeText(line, options);
    const nlohmann::ordered_json answer =
        toon.ok() ? nlohmann::ordered_json{{"toon", *toon}}
                  : nlohmann::ordered_json{{"error", std::string(toon.status().message())}};
    std::cout << answer.dump() << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Encodes JSON as TOON (spec v3.3) with sochdb's encoder"};
  ToonOptions options;
  bool lines = false;
  const std::map<std::string, ToonDelimiter> delimiters = {
      {"comma", ToonDelimiter::kComma}, {"tab", ToonDelimiter::kTab}, {"pipe", ToonDelimiter::kPipe}};
  app.add_option("--delimiter", options.delimiter, "comma (default), tab or pipe")
      ->transform(CLI::CheckedTransformer(delimiters));
  app.add_option("--indent", options.indent, "spaces per level (default 2)");
  app.add_flag("--fold-keys", options.fold_keys, "safe key folding (spec 13.4)");
  app.add_option("--flatten-depth", options.flatten_depth, "most segments per folded key");
  app.add_flag("--lines", lines, "one JSON value per line, one JSON answer per line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitError;
  }
  if (lines) return EncodeLines(options);
  const std::string json{std::istreambuf_iterator<char>(std::cin), {}};
  const absl::StatusOr<std::string> toon = EncodeText(json, options);
  if (!toon.ok()) {
    std::cerr << "toon_encode: " << toon.status().message() << '\n';
    return kExitError;
  }
  std::cout << *toon;
  return 0;
}
