// sochdb-filter-bench: MetadataFilter::Parse in process, so that the cost of reading a filter's
// JSON (the JSON library behind engine/filter) can be compared between builds. Each filter below
// is the shape a client sends: equality, ranges, nested $and/$or, $in lists of 100 strings and of
// 100 numbers, \u escapes, and a filter near the 16 KB limit. For each it prints ns per ReadJson
// (the JSON library and the tree it builds) and per MetadataFilter::Parse (that plus compiling).
//
//   sochdb-filter-bench --rounds 5 --min-ms 300
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "engine/filter/json_reader.h"
#include "engine/filter/metadata_filter.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string InStrings(int count) {
  std::string out = R"({"tag": {"$in": [)";
  for (int i = 0; i < count; ++i) absl::StrAppend(&out, i ? "," : "", "\"tag-", i * 7919, "\"");
  return out + "]}}";
}

std::string InNumbers(int count) {
  std::string out = R"({"price": {"$nin": [)";
  for (int i = 0; i < count; ++i) absl::StrAppend(&out, i ? "," : "", i * 13.25 - 400);
  return out + "]}}";
}

// {"$or": [{"$and": [...]}, ...]}: `clauses` conjunctions of a range, an $in and an equality.
std::string NestedOr(int clauses) {
  std::string out = R"({"$or": [)";
  for (int i = 0; i < clauses; ++i) {
    absl::StrAppend(&out, i ? "," : "", R"({"$and": [{"year": {"$gte": )", 1990 + i, R"(, "$lt": )",
                    2000 + i, R"(}}, {"genre": {"$in": ["scifi", "drama", "g)", i,
                    R"("]}}, {"$not": {"lang": "fr"}}, {"rating": {"$gt": 7.5}}]})");
  }
  return out + "]}";
}

std::vector<std::pair<std::string, std::string>> Filters() {
  return {
      {"equality", R"({"genre": "scifi"})"},
      {"ranges", R"({"year": {"$gte": 2000, "$lt": 2010}, "rating": {"$gt": 7.5, "$lte": 1e1}})"},
      {"nested 4 clauses", NestedOr(4)},
      {"$in 100 strings", InStrings(100)},
      {"$nin 100 numbers", InNumbers(100)},
      {"unicode escapes",
       R"({"title": {"$in": ["\u00e9t\u00e9", "\ud83d\ude00 smile", "na\u00efve \"caf\u00e9\"",)"
       R"( "\u4e2d\u6587", "tab\there", "slash \/ back \\"]}, "author": "Bront\u00eb"})"},
      {"near 16 KB (100 clauses)", NestedOr(100)},
  };
}

// Runs `parse(json)` repeatedly for at least `min_ms`; returns ns per call.
template <typename ParseFn>
double NsPerCall(ParseFn parse, const std::string& json, int min_ms) {
  long parses = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point until = start + std::chrono::milliseconds(min_ms);
  Clock::time_point now = start;
  while (now < until) {
    for (int i = 0; i < 64; ++i) {
      auto parsed = parse(json);
      if (!parsed.ok()) {
        std::fprintf(stderr, "parse failed: %s\n", parsed.status().ToString().c_str());
        std::exit(1);
      }
    }
    parses += 64;
    now = Clock::now();
  }
  return std::chrono::duration<double, std::nano>(now - start).count() / parses;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sochdb-filter-bench: MetadataFilter::Parse in process");
  int rounds = 5, min_ms = 300;
  app.add_option("--rounds", rounds, "rounds over all filters; each filter's best is reported")
      ->capture_default_str();
  app.add_option("--min-ms", min_ms, "time per filter per round")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto read = [](const std::string& json) {
    return sochdb::filter::ReadJson(json, sochdb::filter::kMaxFilterDepth);
  };
  auto parse = [](const std::string& json) { return sochdb::filter::MetadataFilter::Parse(json); };
  const auto filters = Filters();
  std::vector<double> best_read(filters.size(), 1e300), best_parse(filters.size(), 1e300);
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < filters.size(); ++i) {
      best_read[i] = std::min(best_read[i], NsPerCall(read, filters[i].second, min_ms));
      best_parse[i] = std::min(best_parse[i], NsPerCall(parse, filters[i].second, min_ms));
    }
  }
  std::printf("%-27s %8s %12s %12s\n", "filter", "bytes", "ns/ReadJson", "ns/Parse");
  for (size_t i = 0; i < filters.size(); ++i) {
    std::printf("%-27s %8zu %12.0f %12.0f\n", filters[i].first.c_str(), filters[i].second.size(),
                best_read[i], best_parse[i]);
  }
  return 0;
}
