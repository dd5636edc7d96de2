// sochdb-bm25-bench: Bm25Index::Search in process. Loads `--docs` documents of 20-60 words drawn
// from a Zipf vocabulary of `--vocabulary` words into one scope of a Store in `--dir`, then times
// `--queries` queries of 3 Zipf words (so most hold common terms) and, separately, 3 rare words.
// Prints load time and search latency percentiles (µs) per query kind.
//
//   sochdb-bm25-bench --dir /tmp/bm25bench --docs 100000 --queries 300
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "engine/text/bm25_index.h"
#include "tools/bench/latency.h"

namespace {

using sochdb::text::Bm25Index;
using SteadyClock = std::chrono::steady_clock;

// Zipf(s = 1) over `words` ranks by inverse CDF on precomputed cumulative weights.
class Zipf {
 public:
  Zipf(int words, uint32_t seed) : rng_(seed) {
    double sum = 0;
    for (int i = 1; i <= words; ++i) cumulative_.push_back(sum += 1.0 / i);
  }
  std::string Word() {
    const double u = std::uniform_real_distribution<double>(0, cumulative_.back())(rng_);
    const auto rank = std::lower_bound(cumulative_.begin(), cumulative_.end(), u);
    return absl::StrCat("w", rank - cumulative_.begin());
  }
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  std::vector<double> cumulative_;
  std::mt19937 rng_;
};

void Load(sochdb::storage::Store* store, Bm25Index* index, int docs, Zipf* zipf) {
  const auto start = SteadyClock::now();
  for (int i = 0; i < docs;) {
    sochdb::storage::WriteBatch batch;
    for (int j = 0; j < 1000 && i < docs; ++j, ++i) {
      std::string text;
      for (int w = 0, n = zipf->Pick(20, 60); w < n; ++w) absl::StrAppend(&text, zipf->Word(), " ");
      index->AddDocument(&batch, absl::StrCat("ep", 1000000 + i), text);
    }
    if (!store->Write(&batch).ok()) std::abort();
    index->Commit();
  }
  const double s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf("loaded %d docs in %.1f s\n", docs, s);
}

void Time(const char* label, Bm25Index* index, const std::vector<std::string>& queries, int k) {
  std::vector<uint32_t> micros;
  size_t results = 0;
  for (const std::string& query : queries) {
    const auto start = SteadyClock::now();
    auto found = index->Search(query, k);
    micros.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               SteadyClock::now() - start)
                                               .count()));
    if (!found.ok()) std::abort();
    results += found->size();
  }
  std::printf("%-8s queries=%zu k=%d results=%zu p50=%.0fus p99=%.0fus max=%.0fus\n", label,
              queries.size(), k, results, sochdb::bench::Percentile(micros, 0.5),
              sochdb::bench::Percentile(micros, 0.99), sochdb::bench::Percentile(micros, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Bm25Index::Search latency in process");
  std::string dir = "/tmp/sochdb-bm25-bench";
  int docs = 100000, vocabulary = 5000, queries = 300, k = 10;
  app.add_option("--dir", dir, "Store directory (emptied first)");
  app.add_option("--docs", docs, "documents to load");
  app.add_option("--vocabulary", vocabulary, "Zipf vocabulary size");
  app.add_option("--queries", queries, "queries per kind");
  app.add_option("--k", k, "results per query");
  bool reuse = false;
  app.add_flag("--reuse", reuse, "search the documents an earlier run left in --dir");
  CLI11_PARSE(app, argc, argv);

  if (!reuse) std::filesystem::remove_all(dir);
  auto store = sochdb::storage::Store::Open(dir, {});
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  const std::string scope =
      sochdb::storage::KeyBuilder(sochdb::storage::KeyFamily::kPosting).Name("ns").Name("c").key();
  auto index = Bm25Index::Open(store->get(), scope);
  if (!index.ok()) return 1;
  Zipf zipf(vocabulary, 7);
  if (!reuse) Load(store->get(), index->get(), docs, &zipf);

  std::vector<std::string> zipf_queries, rare_queries;
  for (int q = 0; q < queries; ++q) {
    zipf_queries.push_back(absl::StrCat(zipf.Word(), " ", zipf.Word(), " ", zipf.Word()));
    rare_queries.push_back(absl::StrCat("w", zipf.Pick(vocabulary / 2, vocabulary - 1), " w",
                                        zipf.Pick(vocabulary / 2, vocabulary - 1), " w",
                                        zipf.Pick(vocabulary / 2, vocabulary - 1)));
  }
  Time("zipf", index->get(), zipf_queries, k);
  Time("rare", index->get(), rare_queries, k);
  return 0;
}
