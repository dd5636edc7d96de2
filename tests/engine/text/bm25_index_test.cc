// Tests for Bm25Index: scores against BM25 computed by hand on a tiny corpus; ranking against a
// brute-force BM25 over a random corpus through adds, removes, updates and a reopen; postings and
// statistics kept exact (no posting left after every document is removed); the filter; snapshots;
// scope isolation and DropAll; Abort; limits and malformed records.
#include "engine/text/bm25_index.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/wait_until.h"
#include "tests/engine/text/bm25_test_util.h"

namespace sochdb::text {
namespace {

using namespace std::string_literals;
using testing::Bm25Fixture;

TEST_CASE("scores match BM25 computed by hand", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "The quick brown fox");          // 4 tokens
  f.Add("d2", "the lazy dog");                 // 3 tokens
  f.Add("d3", "Quick, quick! The dog runs.");  // 5 tokens
  f.Add("d4", "a b c");                        // 0 tokens: counts in N, not in the total
  CHECK(f.index->stats() == Bm25Stats{4, 12});

  // N = 4, avgdl = 12 / 4 = 3; "quick" is in d1 and d3, "dog" in d2 and d3.
  const double k1 = 1.2, b = 0.75, avgdl = 3.0;
  const double idf = std::log(1 + (4 - 2 + 0.5) / (2 + 0.5));
  auto term = [&](double tf, double dl) {
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
  };
  const double d1 = term(1, 4);
  const double d2 = term(1, 3);
  const double d3 = term(2, 5) + term(1, 5);
  const std::vector<ScoredDoc> results = f.Search("quick DOG", 10);
  REQUIRE(results.size() == 3);
  CHECK(results[0].doc_id == "d3");
  CHECK(results[0].score == Approx(d3).margin(1e-5));
  CHECK(results[1].doc_id == "d2");
  CHECK(results[1].score == Approx(d2).margin(1e-5));
  CHECK(results[2].doc_id == "d1");
  CHECK(results[2].score == Approx(d1).margin(1e-5));
  CHECK(d3 > d2);
  CHECK(d2 > d1);

  // A term repeated in the query counts once; order and case do not matter.
  const std::vector<ScoredDoc> repeated = f.Search("dog quick QUICK dog quick", 10);
  REQUIRE(repeated.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(repeated[i].doc_id == results[i].doc_id);
    CHECK(repeated[i].score == results[i].score);
  }
  // At most k.
  const std::vector<ScoredDoc> top1 = f.Search("quick dog", 1);
  REQUIRE(top1.size() == 1);
  CHECK(top1[0].doc_id == "d3");
  // A rare term outweighs a common one: "fox" (df 1) vs "the" (df 3).
  const std::vector<ScoredDoc> rare = f.Search("fox the", 10);
  REQUIRE(rare.size() == 3);
  CHECK(rare[0].doc_id == "d1");
}

TEST_CASE("equal scores are ordered by doc_id bytewise", "[bm25]") {
  Bm25Fixture f;
  f.Add("b", "same words here");
  f.Add("\xff", "same words here");
  f.Add("a", "same words here");
  f.Add("\x01"s, "same words here");
  f.Add("other", "different text");
  const std::vector<ScoredDoc> results = f.Search("words", 10);
  REQUIRE(results.size() == 4);
  CHECK(results[0].doc_id == "\x01"s);
  CHECK(results[1].doc_id == "a");
  CHECK(results[2].doc_id == "b");
  CHECK(results[3].doc_id == "\xff");
  CHECK(results[0].score == results[3].score);
}

TEST_CASE("empty queries and unknown terms give no results", "[bm25]") {
  Bm25Fixture f;
  CHECK(f.Search("anything", 10).empty());  // empty index
  f.Add("d1", "hello world");
  CHECK(f.Search("", 10).empty());
  CHECK(f.Search("  ,.!  a I", 10).empty());
  CHECK(f.Search("unknown terms", 10).empty());
  CHECK(f.Search("hell", 10).empty());  // no prefix matching
  CHECK(f.Search("HELLO", 10).size() == 1);
}

TEST_CASE("the filter chooses among candidates in rank order", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "apple apple apple");
  f.Add("d2", "apple apple banana");
  f.Add("d3", "apple banana cherry");
  f.Add("d4", "banana cherry date");
  int calls = 0;
  const std::function<bool(std::string_view)> skip_d1 = [&](std::string_view id) {
    ++calls;
    return id != "d1";
  };
  std::vector<ScoredDoc> results = f.Search("apple", 10, &skip_d1);
  REQUIRE(results.size() == 2);
  CHECK(results[0].doc_id == "d2");
  CHECK(results[1].doc_id == "d3");
  CHECK(calls == 3);
  // It stops once k candidates passed.
  calls = 0;
  results = f.Search("apple", 1, &skip_d1);
  REQUIRE(results.size() == 1);
  CHECK(results[0].doc_id == "d2");
  CHECK(calls == 2);
  const std::function<bool(std::string_view)> none = [](std::string_view) { return false; };
  CHECK(f.Search("apple banana", 10, &none).empty());
}

TEST_CASE("add, remove and update keep postings and statistics exact", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "red green blue");
  f.Add("d2", "green green yellow");
  CHECK(f.index->stats() == Bm25Stats{2, 6});
  CHECK(f.PostingCount() == 5);  // d1: red green blue; d2: green yellow
  CHECK(f.Posting("green", "d2") == std::make_pair(uint64_t{2}, uint64_t{3}));

  f.Update("d1", "red green blue", "purple green");
  CHECK(f.index->stats() == Bm25Stats{2, 5});
  CHECK(f.PostingCount() == 4);
  CHECK_FALSE(f.Posting("red", "d1").has_value());
  CHECK(f.Posting("green", "d1") == std::make_pair(uint64_t{1}, uint64_t{2}));
  CHECK(f.Search("red", 10).empty());
  CHECK(f.Search("purple", 10).size() == 1);

  f.Remove("d2", "green green yellow");
  CHECK(f.index->stats() == Bm25Stats{1, 2});
  f.Remove("d1", "purple green");
  CHECK(f.index->stats() == Bm25Stats{0, 0});
  CHECK(f.PostingCount() == 0);
  CHECK(f.StoredStats() == Bm25Stats{0, 0});
  CHECK(f.Search("green", 10).empty());
}

TEST_CASE("several documents in one batch; Abort forgets a dropped batch", "[bm25]") {
  Bm25Fixture f;
  storage::WriteBatch batch;
  f.index->AddDocument(&batch, "d1", "one two");
  f.index->AddDocument(&batch, "d2", "two three four");
  CHECK(f.index->stats() == Bm25Stats{0, 0});  // not committed yet
  REQUIRE(f.store->Write(&batch).ok());
  f.index->Commit();
  CHECK(f.index->stats() == Bm25Stats{2, 5});
  CHECK(f.StoredStats() == Bm25Stats{2, 5});

  storage::WriteBatch dropped;
  f.index->AddDocument(&dropped, "d3", "five six seven");
  f.index->Abort();  // never written
  CHECK(f.index->stats() == Bm25Stats{2, 5});
  f.Add("d4", "eight nine");
  CHECK(f.index->stats() == Bm25Stats{3, 7});
  CHECK(f.StoredStats() == Bm25Stats{3, 7});
  f.index->Commit();  // a Commit with nothing pending changes nothing
  CHECK(f.index->stats() == Bm25Stats{3, 7});
}

TEST_CASE("statistics and results survive a reopen", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "alpha beta gamma");
  f.Add("d2", "beta gamma delta epsilon");
  const std::vector<ScoredDoc> before = f.Search("beta delta", 10);
  f.Reopen();
  CHECK(f.index->stats() == Bm25Stats{2, 7});
  const std::vector<ScoredDoc> after = f.Search("beta delta", 10);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].doc_id == before[i].doc_id);
    CHECK(after[i].score == before[i].score);
  }
  f.Add("d3", "zeta");
  CHECK(f.index->stats() == Bm25Stats{3, 8});
}

TEST_CASE("a search reads one snapshot", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "shared words");
  const std::unique_ptr<storage::Snapshot> snapshot = f.store->GetSnapshot();
  const std::vector<ScoredDoc> then = f.Search("shared", 10);
  f.Add("d2", "shared shared");
  f.Remove("d1", "shared words");
  absl::StatusOr<std::vector<ScoredDoc>> old =
      f.index->Search("shared", 10, nullptr, snapshot.get());
  REQUIRE(old.ok());
  REQUIRE(old->size() == 1);
  CHECK((*old)[0].doc_id == "d1");
  CHECK((*old)[0].score == then[0].score);
  const std::vector<ScoredDoc> now = f.Search("shared", 10);
  REQUIRE(now.size() == 1);
  CHECK(now[0].doc_id == "d2");
}

TEST_CASE("scopes are isolated; DropAll deletes one scope", "[bm25]") {
  Bm25Fixture f;
  std::unique_ptr<Bm25Index> other = f.OpenIndex(Bm25Fixture::Scope("ns", "docs2"));
  std::unique_ptr<Bm25Index> prefix = f.OpenIndex(Bm25Fixture::Scope("ns", "doc"));
  f.Add("d1", "common term");
  storage::WriteBatch batch;
  other->AddDocument(&batch, "x1", "common thing");
  prefix->AddDocument(&batch, "y1", "common stuff");
  REQUIRE(f.store->Write(&batch).ok());
  other->Commit();
  prefix->Commit();
  const std::vector<ScoredDoc> mine = f.Search("common", 10);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].doc_id == "d1");
  CHECK(f.index->stats() == Bm25Stats{1, 2});

  f.index.reset();
  REQUIRE(Bm25Index::DropAll(f.store.get(), Bm25Fixture::Scope()).ok());
  CHECK(f.KeysUnder(Bm25Fixture::Scope()) == 0);
  CHECK(f.KeysUnder(Bm25Fixture::Scope("ns", "docs2")) == 3);  // 2 postings + statistics
  CHECK(f.KeysUnder(Bm25Fixture::Scope("ns", "doc")) == 3);
  absl::StatusOr<std::vector<ScoredDoc>> theirs = other->Search("common", 10);
  REQUIRE(theirs.ok());
  REQUIRE(theirs->size() == 1);
  CHECK((*theirs)[0].doc_id == "x1");
  f.index = f.OpenIndex(Bm25Fixture::Scope());
  CHECK(f.index->stats() == Bm25Stats{0, 0});
}

TEST_CASE("DropAll works in several batches", "[bm25]") {
  Bm25Fixture f;
  for (int i = 0; i < 300; ++i) {
    f.Add("doc" + std::to_string(i), "one two three four five six seven eight nine ten");
  }
  CHECK(f.KeysUnder(Bm25Fixture::Scope()) == 3001);
  f.index.reset();
  REQUIRE(Bm25Index::DropAll(f.store.get(), Bm25Fixture::Scope()).ok());
  CHECK(f.KeysUnder(Bm25Fixture::Scope()) == 0);
}

TEST_CASE("bad arguments are INVALID_ARGUMENT", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "hello world");
  absl::StatusOr<std::vector<ScoredDoc>> result = f.index->Search("hello", 0);
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(result.status().message() == "k is 0; it must be between 1 and 10000");
  result = f.index->Search("hello", kMaxSearchResults + 1);
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.index->Search("hello", kMaxSearchResults).ok());
  std::string many;
  for (int i = 0; i < 300; ++i) many += "t" + std::to_string(i) + " hello ";
  result = f.index->Search(many, 10);
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(result.status().message() == "query has 301 distinct terms; the limit is 256");

  for (const std::string& scope : {""s, "\x24"s, "\x10\x02ns"s, "\x74"s}) {
    CHECK(Bm25Index::Open(f.store.get(), scope).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(Bm25Index::DropAll(f.store.get(), scope).code() == absl::StatusCode::kInvalidArgument);
  }
  // Agent memory's own posting family (kEpisodePosting) is a posting family too.
  CHECK(Bm25Index::Open(f.store.get(), "\x74\x02ns"s).ok());
}

TEST_CASE("malformed records are DATA_LOSS", "[bm25]") {
  Bm25Fixture f;
  f.Add("d1", "hello world");
  storage::WriteBatch batch;
  batch.Put(Bm25Index::PostingKey(Bm25Fixture::Scope(), "hello", "d1"), "\xff");
  REQUIRE(f.store->Write(&batch).ok());
  CHECK(f.index->Search("hello", 10).status().code() == absl::StatusCode::kDataLoss);
  CHECK(f.index->Search("world", 10).ok());

  batch.Clear();
  batch.Put(Bm25Index::StatsKey(Bm25Fixture::Scope()), "\x02garbage");
  REQUIRE(f.store->Write(&batch).ok());
  CHECK(f.index->Search("world", 10).status().code() == absl::StatusCode::kDataLoss);
  CHECK(Bm25Index::Open(f.store.get(), Bm25Fixture::Scope()).status().code() ==
        absl::StatusCode::kDataLoss);
}

TEST_CASE("searches run concurrently with a writer", "[bm25]") {
  Bm25Fixture f;
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        absl::StatusOr<std::vector<ScoredDoc>> results = f.index->Search("alpha beta", 5);
        // Every document holds both terms once in 3 tokens: all scores are equal, so the
        // results are the first ids in order, whatever the number of documents.
        if (!results.ok() || results->size() > 5) ++failures;
        for (size_t i = 1; results.ok() && i < results->size(); ++i) {
          if ((*results)[i].score != (*results)[0].score) ++failures;
          if ((*results)[i - 1].doc_id >= (*results)[i].doc_id) ++failures;
        }
        ++searches;
      }
    });
  }
  // The writes start once the readers are searching, so they overlap (on a loaded machine the
  // 300 adds could otherwise finish before a reader is first scheduled).
  REQUIRE(::sochdb::testing::WaitUntil([&] { return searches.load() > 0; }));
  for (int i = 0; i < 300; ++i) f.Add("doc" + std::to_string(1000 + i), "alpha beta gamma");
  done = true;
  for (std::thread& reader : readers) reader.join();
  CHECK(failures.load() == 0);
  CHECK(searches.load() > 0);
  CHECK(f.index->stats() == Bm25Stats{300, 900});
}

TEST_CASE("the key layout is the documented one", "[bm25]") {
  const std::string scope = Bm25Fixture::Scope();
  CHECK(Bm25Index::StatsKey(scope) == scope + "\x00"s);
  CHECK(Bm25Index::TermPrefix(scope, "hello") == scope + "\x05hello");
  CHECK(Bm25Index::PostingKey(scope, "hello", "d\x00"s) == scope + "\x05hellod\x00"s);
  CHECK(scope == storage::KeyBuilder(storage::KeyFamily::kPosting).Name("ns").Name("docs").key());
}

}  // namespace
}  // namespace sochdb::text
