// Tests for keyword and hybrid search: BM25-only results equal a reference Bm25Index built over
// the same texts in another store; hybrid results equal weighted Reciprocal Rank Fusion computed
// here from the separately obtained vector list and reference BM25 list (with and without a
// filter, several alphas and rrf_k values); min_score on fused scores.
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/collection/collection_store.h"
#include "engine/storage/keys.h"
#include "engine/text/bm25_index.h"
#include "tests/engine/collection/collection_test_util.h"

namespace sochdb::collection {
namespace {

using namespace testing;  // NOLINT: this test's helpers

constexpr uint32_t kDimension = 8;

struct HybridFixture {
  HybridFixture() : f("hybrid") {
    f.Create("h", kDimension, vector::Metric::kCosine, /*hybrid=*/true);
    std::mt19937_64 rng(17);
    std::vector<std::string> vocabulary;
    for (int i = 0; i < 40; ++i) vocabulary.push_back("word" + std::to_string(i));
    for (int i = 0; i < 400; ++i) {
      std::string content;
      const int length = 3 + static_cast<int>(rng() % 12);
      for (int w = 0; w < length; ++w) {
        // Skewed: low words are common, high ones rare.
        const size_t pick = static_cast<size_t>(rng() % 40) * (rng() % 40) / 40;
        content += vocabulary[pick] + " ";
      }
      docs.push_back(MakeDocument("d" + std::to_string(1000 + i), {RandomVector(rng, kDimension)},
                                  content, {{"parity", i % 2 == 0 ? "even" : "odd"}}));
    }
    f.Add("h", docs);
    // The reference: the same texts in a Bm25Index of its own.
    storage::StoreOptions options;
    options.sync_mode = storage::SyncMode::kOff;
    ref_store = ValueOrFail(storage::Store::Open(f.dir + "/reference", options));
    reference = ValueOrFail(text::Bm25Index::Open(
        ref_store.get(), storage::KeyBuilder(storage::KeyFamily::kPosting).Name("ref").key()));
    for (const Document& d : docs) {
      storage::WriteBatch batch;
      reference->AddDocument(&batch, d.id, d.content);
      REQUIRE_OK(ref_store->Write(&batch));
      reference->Commit();
      parity[d.id] = d.metadata.at("parity");
    }
  }

  std::vector<text::ScoredDoc> Reference(const std::string& query, size_t k, bool odd_only) {
    std::function<bool(std::string_view)> odd = [&](std::string_view id) {
      return parity.at(std::string(id)) == "odd";
    };
    return ValueOrFail(reference->Search(query, k, odd_only ? &odd : nullptr));
  }

  Fixture f;
  std::vector<Document> docs;
  std::map<std::string, std::string> parity;
  std::unique_ptr<storage::Store> ref_store;
  std::unique_ptr<text::Bm25Index> reference;
};

HybridFixture& Shared() {
  static HybridFixture* fixture = new HybridFixture();
  return *fixture;
}

const std::vector<std::string> kQueries = {"word0", "word3 word7", "word25 word1 word30",
                                           "word39", "word12 word12 word5", "nothing here"};

TEST_CASE("keyword-only search ranks as BM25 does", "[collection][hybrid]") {
  HybridFixture& h = Shared();
  for (bool odd_only : {false, true}) {
    for (const std::string& text : kQueries) {
      INFO(text << (odd_only ? " (odd only)" : ""));
      SearchQuery q;
      q.text_query = text;
      q.k = 12;
      if (odd_only) q.filter = filter::MetadataFilter::ExactMatch({{"parity", "odd"}});
      const std::vector<ScoredDocument> got = h.f.Search("h", q);
      const std::vector<text::ScoredDoc> want = h.Reference(text, 12, odd_only);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].document.id == want[i].doc_id);
        CHECK(got[i].score == Approx(want[i].score).epsilon(1e-6));
        if (odd_only) CHECK(got[i].document.metadata.at("parity") == "odd");
      }
    }
  }
}

TEST_CASE("hybrid search fuses the two lists by weighted RRF", "[collection][hybrid]") {
  HybridFixture& h = Shared();
  std::mt19937_64 rng(23);
  const uint32_t k = 10;
  const uint32_t candidates = 100;  // max(4k, 100)
  for (bool odd_only : {false, true}) {
    for (const std::string& text : kQueries) {
      for (auto [alpha, rrf_k] : std::vector<std::pair<std::optional<float>, uint32_t>>{
               {std::nullopt, 60}, {0.2f, 60}, {1.0f, 1}, {0.0f, 10}, {0.7f, 1}}) {
        INFO(text << " alpha " << alpha.value_or(-1) << " rrf_k " << rrf_k
                  << (odd_only ? " (odd only)" : ""));
        SearchQuery q;
        q.vector = RandomVector(rng, kDimension);
        q.k = candidates;
        if (odd_only) q.filter = filter::MetadataFilter::ExactMatch({{"parity", "odd"}});
        const std::vector<ScoredDocument> by_vector = h.f.Search("h", q);
        const std::vector<text::ScoredDoc> by_text = h.Reference(text, candidates, odd_only);

        const double a = alpha.value_or(0.5f);
        std::map<std::string, double> fused;
        for (size_t i = 0; i < by_vector.size(); ++i) {
          fused[by_vector[i].document.id] += a / (rrf_k + static_cast<double>(i + 1));
        }
        for (size_t i = 0; i < by_text.size(); ++i) {
          fused[by_text[i].doc_id] += (1 - a) / (rrf_k + static_cast<double>(i + 1));
        }
        std::vector<BruteHit> want;
        for (const auto& [id, score] : fused) want.push_back(BruteHit{id, score});
        std::sort(want.begin(), want.end(), [](const BruteHit& x, const BruteHit& y) {
          return x.score > y.score || (x.score == y.score && x.id < y.id);
        });
        if (want.size() > k) want.resize(k);

        q.k = k;
        q.text_query = text;
        q.alpha = alpha;
        q.rrf_k = rrf_k;
        const std::vector<ScoredDocument> got = h.f.Search("h", q);
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          CHECK(got[i].document.id == want[i].id);
          CHECK(got[i].score == Approx(want[i].score).epsilon(1e-6));
        }
        // min_score keeps exactly the results at or above it.
        if (want.size() >= 4) {
          q.min_score = static_cast<float>(want[3].score);
          const std::vector<ScoredDocument> cut = h.f.Search("h", q);
          size_t expected = 0;
          for (const BruteHit& w : want) expected += static_cast<float>(w.score) >= *q.min_score;
          CHECK(cut.size() == expected);
          CHECK(cut.size() >= 4);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sochdb::collection
