// sochdb-memory-bench: MemoryStore in process (the engine's ceiling for ContextService's SEARCH
// sections). Loads `--episodes` synthetic episodes into one namespace (20-40 words drawn from a
// Zipf-like vocabulary of 20,000 words, and optionally a random unit embedding of `--dimension`
// floats each), then times Search for `--queries` queries of 2-3 words per lane selection:
// bm25, trigram, all lanes without an embedding, vector only and all lanes with one. Prints
// load rate, ingestion lag and search latency percentiles (µs).
//
//   sochdb-memory-bench --dir /tmp/membench --episodes 100000 --dimension 384 --queries 500
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "engine/memory/memory_store.h"
#include "engine/storage/store.h"
#include "tools/bench/latency.h"

namespace {

using sochdb::memory::EpisodeWrite;
using sochdb::memory::Lanes;
using sochdb::memory::MemoryStore;
using sochdb::memory::SearchOptions;
using SteadyClock = std::chrono::steady_clock;

constexpr int kVocabulary = 20'000;

// Word i: a pronounceable, distinct token ("ka", "kabe", ...), 2-10 letters.
std::string Word(int i) {
  static const char* kSyllables[] = {"ka", "lo", "mi", "ru", "te", "sa", "no",  "vi", "be", "dor",
                                     "el", "fa", "gu", "hi", "jo", "ze", "qua", "xi", "po", "wy"};
  std::string word;
  for (int n = i + 1; n > 0; n /= 20) word += kSyllables[n % 20];
  return word;
}

class Corpus {
 public:
  explicit Corpus(uint32_t seed) : rng_(seed), zipf_(0.0, 1.0) {}
  // Rank drawn ~ 1/r: frequent words are very frequent, as in text.
  int Rank() { return static_cast<int>(std::pow(kVocabulary, zipf_(rng_))) - 1; }
  std::string Text(int words) {
    std::string text;
    for (int i = 0; i < words; ++i) absl::StrAppend(&text, i ? " " : "", Word(Rank()));
    return text;
  }
  std::vector<float> Unit(uint32_t dimension) {
    std::normal_distribution<float> normal;
    std::vector<float> v(dimension);
    double sum = 0;
    for (float& x : v) {
      x = normal(rng_);
      sum += x * x;
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(sum));
    return v;
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  std::uniform_real_distribution<double> zipf_;
};

void Report(const char* what, std::vector<uint32_t> us, double hits) {
  double sum = 0;
  for (uint32_t v : us) sum += v;
  std::printf("%-34s p50 %7.0f  p99 %7.0f  mean %7.0f us   %.1f hits/query\n", what,
              sochdb::bench::Percentile(us, 0.5), sochdb::bench::Percentile(us, 0.99),
              sum / static_cast<double>(us.size()), hits);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"MemoryStore Search in process"};
  std::string dir = "/tmp/sochdb-memory-bench";
  int episodes = 100'000, queries = 500;
  uint32_t dimension = 384;
  app.add_option("--dir", dir, "Scratch directory (emptied first)");
  app.add_option("--episodes", episodes, "Episodes to load");
  app.add_option("--dimension", dimension, "Embedding floats per episode (0: none)");
  app.add_option("--queries", queries, "Queries per lane selection");
  bool reuse = false;
  app.add_flag("--reuse", reuse, "Search what an earlier run loaded into --dir (no load)");
  CLI11_PARSE(app, argc, argv);

  if (!reuse) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/vectors");
  sochdb::storage::StoreOptions store_options;
  store_options.sync_mode = sochdb::storage::SyncMode::kOff;
  auto store = sochdb::storage::Store::Open(dir + "/store", store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  sochdb::memory::MemoryStoreOptions options;
  options.snapshot_dir = dir + "/vectors";
  MemoryStore memory(store->get(), options);

  Corpus corpus(42);
  std::uniform_int_distribution<int> length(20, 40);
  std::vector<uint32_t> lag;
  const auto load_start = SteadyClock::now();
  for (int i = 0; i < (reuse ? 0 : episodes); ++i) {
    EpisodeWrite write;
    write.text = corpus.Text(length(corpus.rng()));
    write.t_valid_from_ms = static_cast<uint64_t>(i);
    if (dimension > 0) write.embedding = corpus.Unit(dimension);
    auto written = memory.WriteEpisode("bench", std::move(write));
    if (!written.ok()) {
      std::fprintf(stderr, "write %d: %s\n", i, written.status().ToString().c_str());
      return 1;
    }
    lag.push_back(static_cast<uint32_t>(written->ingestion_lag_us));
  }
  const double load_s = std::chrono::duration<double>(SteadyClock::now() - load_start).count();
  if (reuse) {  // the corpus's generator moves on as the load moved it
    for (int i = 0; i < episodes; ++i) {
      corpus.Text(length(corpus.rng()));
      if (dimension > 0) corpus.Unit(dimension);
    }
  }
  if (!reuse)
    std::printf("loaded %d episodes (dimension %u) in %.1f s: %.0f episodes/s\n", episodes,
                dimension, load_s, episodes / load_s);
  if (!reuse) Report("ingestion lag", lag, 0);

  struct Mode {
    const char* name;
    Lanes lanes;
    bool embedding;
    bool as_of;
  };
  const Mode modes[] = {
      {"bm25", Lanes::kBm25, false, false},
      {"trigram", Lanes::kTrigram, false, false},
      {"all lanes, no embedding", Lanes::kAll, false, false},
      {"all lanes, no embedding, as_of", Lanes::kAll, false, true},
      {"vector only", Lanes::kVector, true, false},
      {"all lanes + embedding", Lanes::kAll, true, false},
      {"all lanes + embedding, as_of", Lanes::kAll, true, true},
  };
  for (const Mode& mode : modes) {
    if (mode.embedding && dimension == 0) continue;
    std::vector<uint32_t> us;
    double hits = 0;
    for (int q = 0; q < queries; ++q) {
      SearchOptions search;
      search.lanes = mode.lanes;
      if (mode.embedding) search.embedding = corpus.Unit(dimension);
      if (mode.as_of) search.as_of_ms = static_cast<uint64_t>(episodes / 2);
      const std::string query = corpus.Text(2 + q % 2);
      const auto start = SteadyClock::now();
      auto results = memory.Search("bench", query, search);
      us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start)
              .count()));
      if (!results.ok()) {
        std::fprintf(stderr, "search: %s\n", results.status().ToString().c_str());
        return 1;
      }
      hits += static_cast<double>(results->size());
    }
    Report(mode.name, us, hits / queries);
  }
  return 0;
}
