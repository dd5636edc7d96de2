// The pruned top-k (engine/text/bm25_search.h) against a brute-force BM25 computed from the
// stored postings: random corpora over a Zipf vocabulary (some terms in most documents), with
// duplicated documents for ties, every rare-term limit from "all common" to "all rare", varied k
// and filters that reject some, all or no candidates. Results must be identical (same documents,
// bit-identical scores, same order) and the filter must see exactly the calls the exhaustive
// ranking makes. Both the pruned answer and its fallback must occur.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/text/bm25_index.h"
#include "engine/text/bm25_search.h"
#include "tests/engine/text/bm25_test_util.h"

namespace sochdb::text {
namespace {

using testing::Bm25Fixture;
using Filter = std::function<bool(std::string_view)>;
using Postings = std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>>;

// The exhaustive ranking from the raw postings, summing each document's terms in sorted order
// with the documented expression; records the filter calls it makes.
std::vector<ScoredDoc> BruteForce(const Postings& postings, const Bm25Stats& stats,
                                  const std::set<std::string>& terms, size_t k,
                                  const Filter* filter,
                                  std::vector<std::string>* calls) {
  const double n = static_cast<double>(stats.document_count);
  const double avgdl = std::max(1.0, static_cast<double>(stats.total_tokens)) / n;
  std::map<std::string, double> scores;
  for (const std::string& term : terms) {
    double df = 0;
    for (const auto& [key, value] : postings) df += key.first == term;
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& [key, value] : postings) {
      if (key.first != term) continue;
      const double tf = static_cast<double>(value.first);
      const double dl = static_cast<double>(value.second);
      scores[key.second] += idf * (tf * (kBm25K1 + 1)) /
                            (tf + kBm25K1 * (1 - kBm25B + kBm25B * dl / avgdl));
    }
  }
  std::vector<ScoredDoc> ranked;
  for (const auto& [id, score] : scores) ranked.push_back({id, score});
  std::sort(ranked.begin(), ranked.end(), [](const ScoredDoc& a, const ScoredDoc& b) {
    return a.score != b.score ? a.score > b.score : a.doc_id < b.doc_id;
  });
  std::vector<ScoredDoc> results;
  for (const ScoredDoc& doc : ranked) {
    if (results.size() == k) break;
    if (filter != nullptr) {
      calls->push_back(doc.doc_id);
      if (!(*filter)(doc.doc_id)) continue;
    }
    results.push_back(doc);
  }
  return results;
}

class Corpus {
 public:
  explicit Corpus(uint32_t seed) : rng_(seed) {}
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  // Zipf-like over 60 words: "w0" is in most documents, the tail in a few.
  std::string Word() {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return "w" + std::to_string(static_cast<int>(60 * u * u * u));
  }
  std::string Text(int words) {
    std::string text;
    for (int i = 0; i < words; ++i) text += Word() + " ";
    return text;
  }

 private:
  std::mt19937 rng_;
};

struct Counts {
  int pruned = 0;
  int fallback = 0;
  size_t compared = 0;
};

void CheckQuery(Bm25Fixture* f, const Postings& postings, const std::set<std::string>& terms,
                size_t k, uint64_t rare_limit, int filter_kind, Counts* counts) {
  const auto hash_reject = [](std::string_view id) {
    return std::hash<std::string_view>{}(id) % 3;
  };
  std::vector<std::string> want_calls, got_calls;
  const Filter want_filter = [&](std::string_view id) {
    return filter_kind == 1 ? hash_reject(id) != 0 : filter_kind == 3;
  };
  const Filter got_filter = [&](std::string_view id) {
    got_calls.emplace_back(id);
    return want_filter(id);
  };
  const bool filtered = filter_kind != 0;
  const Bm25Stats stats = f->StoredStats();
  const std::vector<ScoredDoc> want =
      BruteForce(postings, stats, terms, k, filtered ? &want_filter : nullptr, &want_calls);
  std::vector<std::string> prefixes;
  for (const std::string& term : terms) {
    prefixes.push_back(Bm25Index::TermPrefix(Bm25Fixture::Scope(), term));
  }
  const double n = static_cast<double>(stats.document_count);
  const double avgdl = std::max(1.0, static_cast<double>(stats.total_tokens)) / n;
  internal::SearchTrace trace;
  std::unique_ptr<storage::Iterator> it = f->store->NewIterator(nullptr);
  absl::StatusOr<std::vector<ScoredDoc>> got = internal::SearchPostings(
      it.get(), prefixes, n, avgdl, k, filtered ? &got_filter : nullptr, rare_limit, &trace);
  REQUIRE(got.ok());
  INFO("terms " << terms.size() << " k=" << k << " limit=" << rare_limit << " filter="
                << filter_kind << " pruned=" << trace.pruned);
  REQUIRE(got->size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("rank " << i);
    CHECK((*got)[i].doc_id == want[i].doc_id);
    CHECK((*got)[i].score == want[i].score);  // bit-identical, not approximately
  }
  CHECK(got_calls == want_calls);
  (trace.pruned ? counts->pruned : counts->fallback) += 1;
  counts->compared += want.size();
}

TEST_CASE("Pruned search equals the exhaustive ranking on random Zipf corpora", "[bm25]") {
  Counts counts;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    Bm25Fixture f;
    Corpus corpus(seed);
    std::vector<std::string> texts;
    for (int d = 0; d < 300; ++d) {
      // One in six documents repeats an earlier one, so scores tie and doc_id decides.
      texts.push_back(d > 0 && corpus.Pick(6) == 0 ? texts[corpus.Pick(d)]
                                                   : corpus.Text(3 + corpus.Pick(25)));
      f.Add("d" + std::to_string(1000 + d * 7 % 300), texts.back());
    }
    const Postings postings = f.Postings();
    static const uint64_t kLimits[] = {0, 1, 4, 16, 40, 120, 1000};
    static const size_t kKs[] = {1, 2, 5, 10, 40, 400};
    for (int q = 0; q < 120; ++q) {
      std::set<std::string> terms;
      for (int i = 0, n = 1 + corpus.Pick(4); i < n; ++i) {
        terms.insert(corpus.Pick(10) == 0 ? "zz" : corpus.Word());
      }
      CheckQuery(&f, postings, terms, kKs[corpus.Pick(6)], kLimits[corpus.Pick(7)],
                 corpus.Pick(4), &counts);
    }
  }
  std::printf("bm25 pruned: pruned=%d fallback=%d results_compared=%zu\n", counts.pruned,
              counts.fallback, counts.compared);
  CHECK(counts.pruned > 100);
  CHECK(counts.fallback > 50);
  CHECK(counts.compared > 2000);
}

TEST_CASE("Pruning answers from rare terms and falls back when a common-only document may win",
          "[bm25]") {
  Bm25Fixture f;
  // "common" in 20 documents; "rare" in one, alone with a single "common" among many fillers.
  for (int d = 0; d < 20; ++d) f.Add("c" + std::to_string(d + 10), "common common");
  f.Add("r1", "rare common fill fill fill fill fill fill fill fill fill fill fill fill");
  const Postings postings = f.Postings();
  Counts counts;
  // k = 1: r1 holds both terms and wins above the common term's bound: pruned.
  CheckQuery(&f, postings, {"common", "rare"}, 1, 4, 0, &counts);
  CHECK(counts.pruned == 1);
  // k = 2: the second place belongs to a document holding only "common": fallback.
  CheckQuery(&f, postings, {"common", "rare"}, 2, 4, 0, &counts);
  CHECK(counts.fallback == 1);
  // A filter rejecting r1 also forces the fallback, which must not ask about r1 again.
  CheckQuery(&f, postings, {"common", "rare"}, 1, 4, 2, &counts);
  CHECK(counts.fallback == 2);
  // With a limit above every df, all terms are rare and nothing falls back.
  CheckQuery(&f, postings, {"common", "rare"}, 5, 100, 1, &counts);
  CHECK(counts.pruned == 2);
}

}  // namespace
}  // namespace sochdb::text
