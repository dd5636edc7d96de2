// Bm25Index against a brute-force BM25 over a random corpus of ~500 documents: after bulk adds,
// after removes, updates and multi-document batches, and after a reopen, ~50 random queries must
// give the same top-k in the same order (ties by doc_id) with the same scores, with and without a
// filter; and the stored postings and statistics must equal the model's exactly. The model keeps
// each document as the token list it was generated from, so it also cross-checks the tokenizer.
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
#include "tests/engine/text/bm25_test_util.h"

namespace sochdb::text {
namespace {

using testing::Bm25Fixture;
using Filter = std::function<bool(std::string_view)>;

// The corpus as the test generated it: doc_id -> lowercase tokens.
class Model {
 public:
  std::map<std::string, std::vector<std::string>> docs;

  std::vector<ScoredDoc> Search(const std::vector<std::string>& query, size_t k,
                                const Filter* filter) const {
    std::set<std::string> terms(query.begin(), query.end());  // sorted, once each
    std::map<std::string, double> scores;
    uint64_t total = 0;
    for (const auto& [id, tokens] : docs) total += tokens.size();
    const double n = static_cast<double>(docs.size());
    const double avgdl = static_cast<double>(total) / n;
    for (const std::string& term : terms) {
      std::map<std::string, double> frequencies;
      for (const auto& [id, tokens] : docs) {
        const auto tf = std::count(tokens.begin(), tokens.end(), term);
        if (tf > 0) frequencies[id] = static_cast<double>(tf);
      }
      const double df = static_cast<double>(frequencies.size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const auto& [id, tf] : frequencies) {
        const double dl = static_cast<double>(docs.at(id).size());
        scores[id] += idf * (tf * (1.2 + 1)) / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl));
      }
    }
    std::vector<ScoredDoc> ranked;
    for (const auto& [id, score] : scores) {
      if (filter == nullptr || (*filter)(id)) ranked.push_back({id, score});
    }
    std::sort(ranked.begin(), ranked.end(), [](const ScoredDoc& a, const ScoredDoc& b) {
      return a.score != b.score ? a.score > b.score : a.doc_id < b.doc_id;
    });
    if (ranked.size() > k) ranked.resize(k);
    return ranked;
  }

  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> Postings() const {
    std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> postings;
    for (const auto& [id, tokens] : docs) {
      for (const std::string& token : tokens) {
        auto& entry = postings[{token, id}];
        entry.first += 1;
        entry.second = tokens.size();
      }
    }
    return postings;
  }

  Bm25Stats Stats() const {
    Bm25Stats stats{docs.size(), 0};
    for (const auto& [id, tokens] : docs) stats.total_tokens += tokens.size();
    return stats;
  }
};

class CorpusGenerator {
 public:
  explicit CorpusGenerator(uint32_t seed) : rng_(seed) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // A Zipf-like word: low indexes are common, so scores tie and df varies widely.
  std::string Word() {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return "w" + std::to_string(static_cast<int>(80 * u * u));
  }

  std::vector<std::string> Tokens() {
    std::vector<std::string> tokens;
    for (int i = 0, n = Pick(31); i < n; ++i) tokens.push_back(Word());
    return tokens;
  }

  // The tokens as text: random separators (some with one-letter words, which are dropped) and
  // random upper case.
  std::string Render(const std::vector<std::string>& tokens) {
    static const char* kSeparators[] = {" ", ", ", ". ", "\n", " - ", " a ", "!? ", "\t(", ") "};
    std::string text = Pick(2) ? "" : "I ";
    for (const std::string& token : tokens) {
      std::string word = token;
      if (Pick(5) == 0) std::transform(word.begin(), word.end(), word.begin(), ::toupper);
      text += word + kSeparators[Pick(9)];
    }
    return text;
  }

  std::string Query() {
    std::string query;
    for (int i = 0, n = 1 + Pick(5); i < n; ++i) query += (Pick(8) == 0 ? "zzz" : Word()) + " ";
    if (Pick(4) == 0) query += query;  // repeated terms count once
    return query;
  }

 private:
  std::mt19937 rng_;
};

std::vector<std::string> QueryTerms(const std::string& query) {
  std::vector<std::string> terms;
  std::string current;
  for (char c : query + " ") {
    if (c == ' ') {
      if (!current.empty()) terms.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return terms;
}

// Runs ~50 queries against the index and the model; returns the number of results compared.
size_t CheckSearches(Bm25Fixture* f, const Model& model, CorpusGenerator* gen) {
  static const size_t kKs[] = {1, 3, 10, 50, 1000};
  const Filter even = [](std::string_view id) { return id.size() % 2 == 0; };
  size_t compared = 0;
  for (int q = 0; q < 50; ++q) {
    const std::string query = gen->Query();
    const size_t k = kKs[gen->Pick(5)];
    const Filter* filter = q % 3 == 0 ? &even : nullptr;
    const std::vector<ScoredDoc> got = f->Search(query, k, filter);
    const std::vector<ScoredDoc> want = model.Search(QueryTerms(query), k, filter);
    INFO("query '" << query << "' k=" << k << " filter=" << (filter != nullptr));
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("rank " << i);
      CHECK(got[i].doc_id == want[i].doc_id);
      CHECK(std::abs(got[i].score - want[i].score) <= 1e-9 * std::max(1.0, want[i].score));
    }
    compared += got.size();
  }
  CHECK(f->Postings() == model.Postings());
  CHECK(f->index->stats() == model.Stats());
  CHECK(f->StoredStats() == model.Stats());
  return compared;
}

std::string RandomId(CorpusGenerator* gen, int serial) {
  std::string id = "doc" + std::to_string(serial);
  if (gen->Pick(10) == 0) id += std::string("\0\xff", 2);  // binary ids work too
  return id;
}

TEST_CASE("Search matches a brute-force BM25 through adds, removes, updates and a reopen",
          "[bm25]") {
  Bm25Fixture f;
  Model model;
  CorpusGenerator gen(424242);
  std::vector<std::string> texts;  // by serial, for removal
  std::map<std::string, std::string> text_of;
  int serial = 0;
  // 500 documents, some alone and some in batches of up to 8.
  while (serial < 500) {
    storage::WriteBatch batch;
    for (int i = 0, n = 1 + gen.Pick(8); i < n && serial < 500; ++i, ++serial) {
      const std::string id = RandomId(&gen, serial);
      const std::vector<std::string> tokens = gen.Tokens();
      text_of[id] = gen.Render(tokens);
      model.docs[id] = tokens;
      f.index->AddDocument(&batch, id, text_of[id]);
    }
    REQUIRE(f.store->Write(&batch).ok());
    f.index->Commit();
  }
  size_t compared = CheckSearches(&f, model, &gen);

  // Remove 100, update 100 (remove + add in one batch), add 50.
  for (int i = 0; i < 200; ++i) {
    auto it = model.docs.begin();
    std::advance(it, gen.Pick(static_cast<int>(model.docs.size())));
    const std::string id = it->first;
    if (i < 100) {
      f.Remove(id, text_of[id]);
      model.docs.erase(id);
      text_of.erase(id);
    } else {
      const std::vector<std::string> tokens = gen.Tokens();
      const std::string text = gen.Render(tokens);
      f.Update(id, text_of[id], text);
      model.docs[id] = tokens;
      text_of[id] = text;
    }
  }
  for (int i = 0; i < 50; ++i, ++serial) {
    const std::string id = RandomId(&gen, serial);
    const std::vector<std::string> tokens = gen.Tokens();
    text_of[id] = gen.Render(tokens);
    model.docs[id] = tokens;
    f.Add(id, text_of[id]);
  }
  compared += CheckSearches(&f, model, &gen);

  f.Reopen();
  compared += CheckSearches(&f, model, &gen);

  // Removing every document leaves no posting and N = 0.
  for (const auto& [id, text] : text_of) f.Remove(id, text);
  CHECK(f.PostingCount() == 0);
  CHECK(f.index->stats() == Bm25Stats{0, 0});
  CHECK(f.StoredStats() == Bm25Stats{0, 0});
  CHECK(f.KeysUnder(Bm25Fixture::Scope()) == 1);  // the statistics record only
  CHECK(f.Search("w0 w1 w2", 10).empty());
  std::printf("bm25 brute-force: docs=%d queries=150 results_compared=%zu\n", serial, compared);
  CHECK(compared > 1000);
}

}  // namespace
}  // namespace sochdb::text
