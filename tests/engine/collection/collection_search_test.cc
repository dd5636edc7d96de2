// Tests for CollectionStore::Search on small collections (the index's exact phase): ordering and
// scores against brute force under each metric, exact-match and JSON filters, multi-vector
// documents under max / mean / first, min_score, query validation, and persistence: results
// identical after a reopen and after the snapshot file is corrupted (rebuilt from records).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/collection/collection_store.h"
#include "tests/engine/collection/collection_test_util.h"

namespace sochdb::collection {
namespace {

using namespace testing;  // NOLINT: this test's helpers
using absl::StatusCode;

// `n` documents of `dimension` with 1..max_embeddings vectors each, metadata "group" (i % 7),
// "n" (i) and "tag" (even/odd).
std::vector<Document> RandomDocuments(size_t n, uint32_t dimension, uint32_t max_embeddings,
                                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Document> docs;
  for (size_t i = 0; i < n; ++i) {
    const size_t count = 1 + rng() % max_embeddings;
    std::vector<std::vector<float>> embeddings;
    for (size_t j = 0; j < count; ++j) embeddings.push_back(RandomVector(rng, dimension));
    docs.push_back(MakeDocument("doc" + std::to_string(i), std::move(embeddings),
                                "content " + std::to_string(i),
                                {{"group", std::to_string(i % 7)},
                                 {"n", std::to_string(i)},
                                 {"tag", i % 2 == 0 ? "even" : "odd"}}));
  }
  return docs;
}

const char* ShortMetricName(vector::Metric m) {
  return m == vector::Metric::kCosine ? "cosine" : m == vector::Metric::kDot ? "dot" : "l2";
}

const char* AggregateName(Aggregate a) {
  return a == Aggregate::kMax ? "max" : a == Aggregate::kMean ? "mean" : "first";
}

TEST_CASE("vector search equals brute force under each metric", "[collection][search]") {
  for (vector::Metric metric :
       {vector::Metric::kCosine, vector::Metric::kDot, vector::Metric::kL2}) {
    SECTION(ShortMetricName(metric)) {
      Fixture f(std::string("metric_") + ShortMetricName(metric));
      f.Create("c", 8, metric);
      const std::vector<Document> docs = RandomDocuments(400, 8, 1, 7);
      f.Add("c", docs);
      std::mt19937_64 rng(99);
      for (int i = 0; i < 25; ++i) {
        SearchQuery q;
        q.vector = RandomVector(rng, 8);
        q.k = 10;
        RequireSameRanking(f.Search("c", q),
                           BruteTopK(docs, metric, Aggregate::kMax, q.vector, 10));
      }
      // k larger than the collection: everything, in order.
      SearchQuery all;
      all.vector = RandomVector(rng, 8);
      all.k = 1000;
      RequireSameRanking(f.Search("c", all),
                         BruteTopK(docs, metric, Aggregate::kMax, all.vector, 1000));
      // min_score drops the tail (the boundary is the 5th score).
      const std::vector<BruteHit> top = BruteTopK(docs, metric, Aggregate::kMax, all.vector, 10);
      all.min_score = static_cast<float>(top[4].score) - 1e-5f;
      all.k = 10;
      CHECK(f.Search("c", all).size() == 5);
    }
  }
}

TEST_CASE("filters are applied before ranking, as brute force over the matching documents",
          "[collection][search]") {
  Fixture f("filters");
  f.Create("c", 8, vector::Metric::kCosine);
  const std::vector<Document> docs = RandomDocuments(500, 8, 1, 11);
  f.Add("c", docs);
  std::mt19937_64 rng(5);
  struct Case {
    filter::MetadataFilter filter;
    std::function<bool(const Document&)> accept;
  };
  const std::vector<Case> cases = {
      {filter::MetadataFilter::ExactMatch({{"group", "3"}}),
       [](const Document& d) { return d.metadata.at("group") == "3"; }},
      {filter::MetadataFilter::ExactMatch({{"group", "3"}, {"tag", "odd"}}),
       [](const Document& d) {
         return d.metadata.at("group") == "3" && d.metadata.at("tag") == "odd";
       }},
      {ValueOrFail(filter::MetadataFilter::Parse(R"({"n": {"$lt": 40}})")),
       [](const Document& d) { return std::stoi(d.metadata.at("n")) < 40; }},
      {ValueOrFail(filter::MetadataFilter::Parse(
           R"({"$or": [{"group": {"$in": ["1", "2"]}}, {"n": {"$gte": 490}}]})")),
       [](const Document& d) {
         const std::string& g = d.metadata.at("group");
         return g == "1" || g == "2" || std::stoi(d.metadata.at("n")) >= 490;
       }},
      {ValueOrFail(filter::MetadataFilter::Parse(R"({"missing": "x"})")),
       [](const Document&) { return false; }},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    INFO("filter case " << c);
    for (int i = 0; i < 5; ++i) {
      SearchQuery q;
      q.vector = RandomVector(rng, 8);
      q.k = 10;
      q.filter = cases[c].filter;
      RequireSameRanking(f.Search("c", q), BruteTopK(docs, vector::Metric::kCosine,
                                                     Aggregate::kMax, q.vector, 10,
                                                     cases[c].accept));
    }
  }
}

TEST_CASE("multi-vector documents score by max, mean or first as brute force does",
          "[collection][search]") {
  for (vector::Metric metric : {vector::Metric::kCosine, vector::Metric::kL2}) {
    Fixture f(std::string("multi_") + ShortMetricName(metric));
    f.Create("c", 6, metric);
    const std::vector<Document> docs = RandomDocuments(300, 6, 4, 21);
    f.Add("c", docs);
    std::mt19937_64 rng(8);
    for (Aggregate aggregate : {Aggregate::kMax, Aggregate::kMean, Aggregate::kFirst}) {
      INFO(ShortMetricName(metric) << " " << AggregateName(aggregate));
      for (int i = 0; i < 15; ++i) {
        SearchQuery q;
        q.vector = RandomVector(rng, 6);
        q.k = 10;
        q.aggregate = aggregate;
        RequireSameRanking(f.Search("c", q),
                           BruteTopK(docs, metric, aggregate, q.vector, 10));
        // And through a filter.
        q.filter = filter::MetadataFilter::ExactMatch({{"tag", "odd"}});
        RequireSameRanking(
            f.Search("c", q),
            BruteTopK(docs, metric, aggregate, q.vector, 10,
                      [](const Document& d) { return d.metadata.at("tag") == "odd"; }));
      }
    }
    // Results carry every embedding of a document, in order.
    SearchQuery q;
    q.vector = docs[17].embeddings.back();
    q.k = 1;
    const std::vector<ScoredDocument> hits = f.Search("c", q);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].document.id == "doc17");
    CHECK(hits[0].document.embeddings == docs[17].embeddings);
    CHECK(hits[0].document.metadata == docs[17].metadata);
  }
}

TEST_CASE("a search whose smallest answer cannot fit is refused before it ranks",
          "[collection][search]") {
  Fixture f("answer_floor");
  int ranked = 0;  // searches that ranked and went on to read their winners
  f.before_search_reads = [&] { ++ranked; };
  f.Reopen();  // with the hook
  f.Create("c", 4, vector::Metric::kL2);
  std::vector<Document> docs;
  for (int i = 0; i < 10; ++i) {
    docs.push_back(MakeDocument("d" + std::to_string(i), {{1, 0, 0, static_cast<float>(i)}}, "",
                                {{"half", i < 5 ? "a" : "b"}}));
  }
  f.Add("c", docs);
  // With embeddings, any document of dimension 4 counts at least 78 bytes (a one-byte id,
  // framing, the vector): ten of them at least 780.
  SearchQuery q;
  q.vector = {1, 0, 0, 0};
  q.k = 10;
  q.max_answer_bytes = 700;
  RequireError(f.collections->Search("", "c", q).status(), StatusCode::kResourceExhausted,
               "SearchCollection answer exceeds 700 bytes; lower k, or leave "
               "embeddings out (include_embeddings=false)");
  CHECK(ranked == 0);  // before: 1 (it ranked and read 6 documents, then refused)
  // Five accepted documents may fit: ranked, read, and they do fit (5 x 108 bytes).
  q.filter = filter::MetadataFilter::ExactMatch({{"half", "a"}});
  CHECK(f.Search("c", q).size() == 5);
  CHECK(ranked == 1);
  // Without embeddings ten may fit (10 x 46 bytes): ranked, then refused as read (10 x 76),
  // with a hint that does not name embeddings.
  q.filter = filter::MetadataFilter();
  q.include_embeddings = false;
  RequireError(f.collections->Search("", "c", q).status(), StatusCode::kResourceExhausted,
               "SearchCollection answer exceeds 700 bytes; lower k");
  CHECK(ranked == 2);
}

TEST_CASE("search arguments are checked", "[collection][search]") {
  Fixture f("search_errors");
  f.Create("c", 3);
  f.Create("h", 3, vector::Metric::kCosine, /*hybrid=*/true);
  auto search = [&](const std::string& name, SearchQuery q) {
    return f.collections->Search("", name, q).status();
  };
  SearchQuery q;
  RequireError(search("c", q), StatusCode::kInvalidArgument,
               "the query needs a vector or a text_query");
  q.vector = {1, 2};
  RequireError(search("c", q), StatusCode::kInvalidArgument,
               "query has 2 floats; the collection dimension is 3");
  q.vector = {1, std::nanf(""), 0};
  RequireError(search("c", q), StatusCode::kInvalidArgument, "query[1] is NaN");
  q.vector = {1, 0, 0};
  q.k = 10'001;
  RequireError(search("c", q), StatusCode::kInvalidArgument, "k is 10001; the limit is 10000");
  q.k = 10;
  q.ef_search = 70'000;
  RequireError(search("c", q), StatusCode::kInvalidArgument,
               "ef_search is 70000; the range is 0..65536");
  q.ef_search = 0;
  q.min_score = std::nanf("");
  RequireError(search("c", q), StatusCode::kInvalidArgument, "min_score is NaN");
  q.min_score.reset();
  q.text_query = "words";
  RequireError(search("c", q), StatusCode::kFailedPrecondition,
               "Collection 'c' does not have hybrid search enabled; text_query needs "
               "enable_hybrid_search");
  q.alpha = 1.5f;
  RequireError(search("h", q), StatusCode::kInvalidArgument, "alpha is 1.5; the range is 0..1");
  q.alpha = -0.1f;
  RequireError(search("h", q), StatusCode::kInvalidArgument, "alpha is -0.1; the range is 0..1");
  q.alpha = 0.3f;
  q.rrf_k = 0;
  RequireError(search("h", q), StatusCode::kInvalidArgument, "rrf_k is 0; it must be at least 1");
  q.rrf_k = 60;
  REQUIRE_OK(search("h", q));
  RequireError(search("missing", q), StatusCode::kNotFound, "Collection 'missing' not found");
  // An empty collection answers nothing, not an error.
  CHECK(f.Search("h", q).empty());
}

TEST_CASE("search results survive a reopen and a corrupted snapshot", "[collection][search]") {
  Fixture f("persistence");
  f.Create("c", 8, vector::Metric::kCosine, /*hybrid=*/true);
  std::vector<Document> docs = RandomDocuments(600, 8, 3, 31);
  const std::vector<std::string> words = {"red", "green", "blue", "apple", "pear", "plum"};
  for (size_t i = 0; i < docs.size(); ++i) {
    docs[i].content = words[i % 6] + " " + words[(i * 7) % 6] + " " + words[(i / 6) % 6];
  }
  f.Add("c", docs);
  // Some churn, so the log and tombstones matter.
  for (size_t i = 0; i < 50; ++i) {
    REQUIRE_OK(f.collections->DeleteDocument("", "c", "doc" + std::to_string(i * 3)));
  }
  f.Add("c", {MakeDocument("doc1", {{1, 2, 3, 4, 5, 6, 7, 8}}, "replaced plum plum")});

  std::vector<SearchQuery> queries;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10; ++i) {
    SearchQuery q;
    q.vector = RandomVector(rng, 8);
    q.k = 15;
    q.aggregate = i % 3 == 0 ? Aggregate::kMean : Aggregate::kMax;
    if (i % 2 == 1) q.text_query = words[i % 6] + " plum";
    if (i == 5) q.vector.clear();  // keyword only
    if (i == 4 || i == 7) q.filter = filter::MetadataFilter::ExactMatch({{"group", "2"}});
    queries.push_back(q);
  }
  auto run_all = [&] {
    std::vector<std::vector<std::pair<std::string, float>>> out;
    for (const SearchQuery& q : queries) {
      std::vector<std::pair<std::string, float>> results;
      for (const ScoredDocument& r : f.Search("c", q)) results.emplace_back(r.document.id, r.score);
      out.push_back(std::move(results));
    }
    return out;
  };
  const auto before = run_all();
  const uint64_t count = f.Count("c");
  CHECK(count == 550);
  const Document doc1 = ValueOrFail(f.collections->GetDocument("", "c", "doc1"));

  f.Reopen();  // the close wrote a snapshot; the open loads it
  CHECK(f.Count("c") == count);
  CHECK(run_all() == before);
  const Document reread = ValueOrFail(f.collections->GetDocument("", "c", "doc1"));
  CHECK(reread.embeddings == doc1.embeddings);
  CHECK(reread.content == doc1.content);

  // Damage the snapshot: the open rebuilds from the records, with the same answers.
  f.Close();
  size_t corrupted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(f.snapshot_dir())) {
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    const auto size = std::filesystem::file_size(entry.path());
    REQUIRE(size > 100);
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.write("\xde\xad\xbe\xef", 4);
    ++corrupted;
  }
  REQUIRE(corrupted == 1);
  f.Open();
  CHECK(f.Count("c") == count);
  CHECK(run_all() == before);
}

}  // namespace
}  // namespace sochdb::collection
