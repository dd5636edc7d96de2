// toon_encode: EncodeToon (engine/context/toon.h) from the command line, for checking our TOON
// against other tools (tests/tools/toon: the reference decoder) and for measuring it
// (tools/toon/toon_tokens.py).
//
// Usage:
//   toon_encode [--delimiter comma|tab|pipe] [--indent N] [--fold-keys] [--flatten-depth N]
//     < value.json > value.toon       one JSON value in, its TOON text out (no newline added)
//   toon_encode --lines [options] < values.jsonl
//     one JSON value per input line; per line out {"toon": "<text>"} or {"error": "<why>"}
//   toon_encode --repeat N [options] < value.json
//     encodes the value N times and prints the mean time per encoding on stderr (the JSON is
//     parsed once, outside the timing)
// JSON is read with its key order kept (nlohmann::ordered_json). Exit 2 on a usage error, an
// unreadable value or a refused one in single-value mode.
#include <CLI/CLI.hpp>
#include <chrono>
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

absl::StatusOr<nlohmann::ordered_json> ParseJson(const std::string& json) {
  nlohmann::ordered_json value =
      nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError("input is not one JSON value");
  return value;
}

absl::StatusOr<std::string> EncodeText(const std::string& json, const ToonOptions& options) {
  const absl::StatusOr<nlohmann::ordered_json> value = ParseJson(json);
  if (!value.ok()) return value.status();
  return EncodeToon(*value, options);
}

int TimeEncoding(const std::string& json, const ToonOptions& options, int repeat) {
  const absl::StatusOr<nlohmann::ordered_json> value = ParseJson(json);
  if (!value.ok()) {
    std::cerr << "toon_encode: " << value.status().message() << '\n';
    return kExitError;
  }
  size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i) {
    const absl::StatusOr<std::string> toon = EncodeToon(*value, options);
    if (!toon.ok()) {
      std::cerr << "toon_encode: " << toon.status().message() << '\n';
      return kExitError;
    }
    bytes = toon->size();
  }
  const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
  std::cerr << "encoded " << bytes << " bytes of TOON in " << spent.count() / repeat
            << " us (mean of " << repeat << ")\n";
  return 0;
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
  int repeat = 0;
  const std::map<std::string, ToonDelimiter> delimiters = {{"comma", ToonDelimiter::kComma},
                                                           {"tab", ToonDelimiter::kTab},
                                                           {"pipe", ToonDelimiter::kPipe}};
  app.add_option("--delimiter", options.delimiter, "comma (default), tab or pipe")
      ->transform(CLI::CheckedTransformer(delimiters));
  app.add_option("--indent", options.indent, "spaces per level (default 2)");
  app.add_flag("--fold-keys", options.fold_keys, "safe key folding (spec 13.4)");
  app.add_option("--flatten-depth", options.flatten_depth, "most segments per folded key");
  app.add_flag("--lines", lines, "one JSON value per line, one JSON answer per line");
  app.add_option("--repeat", repeat, "time N encodings of the value (mean on stderr)")
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitError;
  }
  if (lines) return EncodeLines(options);
  const std::string json{std::istreambuf_iterator<char>(std::cin), {}};
  if (repeat > 0) return TimeEncoding(json, options, repeat);
  const absl::StatusOr<std::string> toon = EncodeText(json, options);
  if (!toon.ok()) {
    std::cerr << "toon_encode: " << toon.status().message() << '\n';
    return kExitError;
  }
  std::cout << *toon;
  return 0;
}
