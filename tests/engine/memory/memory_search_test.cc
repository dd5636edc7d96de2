// Tests for MemoryStore::Search: each lane on a crafted corpus, the weighted RRF fusion (order
// and exact scores), as_of filtering inside each lane (filtered episodes take no slot), and the
// vector lane after a reopen, from its snapshot and rebuilt from the records.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/memory/memory_store.h"
#include "tests/engine/memory/memory_fixture.h"

namespace sochdb::memory {
namespace {

using testing::MemoryFixture;
using testing::RequireError;
using testing::ValueOrFail;

SearchOptions Only(Lanes lanes, std::vector<float> embedding = {}) {
  SearchOptions options;
  options.lanes = lanes;
  options.embedding = std::move(embedding);
  return options;
}

double Rrf(double weight, size_t rank) { return weight / (kRrfK + static_cast<double>(rank) + 1); }

TEST_CASE("BM25 lane ranks by BM25", "[memory][search]") {
  MemoryFixture f("memory_bm25");
  f.Write("ns", "coffee coffee coffee beans");  // 1
  f.Write("ns", "tea and more tea");            // 2
  f.Write("ns", "coffee with milk");            // 3
  CHECK(f.SearchIds("ns", "Coffee", Only(Lanes::kBm25)) == std::vector<uint64_t>{1, 3});
  CHECK(f.SearchIds("ns", "tea", Only(Lanes::kBm25)) == std::vector<uint64_t>{2});
  CHECK(f.SearchIds("ns", "", Only(Lanes::kBm25)).empty());
  CHECK(f.SearchIds("nowhere", "tea").empty());
}

TEST_CASE("trigram lane: case-folded, every trigram of the whole query, newest first",
          "[memory][search]") {
  MemoryFixture f("memory_trigram");
  f.Write("ns", "the QUICK BROWN fox");  // 1
  f.Write("ns", "quick fox, brown");     // 2: every word, not the phrase
  f.Write("ns", "a quick brownie");      // 3
  f.Write("ns", "ÜNÏCODE quick brown");  // 4
  CHECK(f.SearchIds("ns", "Quick Brown", Only(Lanes::kTrigram)) == std::vector<uint64_t>{4, 3, 1});
  CHECK(f.SearchIds("ns", "ünïc", Only(Lanes::kTrigram)) == std::vector<uint64_t>{4});
  f.Write("ns", "ΑΘΗΝΑ и МОСКВА, Łódź");  // 5: Greek, Cyrillic, Latin Extended-A
  CHECK(f.SearchIds("ns", "αθήνα", Only(Lanes::kTrigram)).empty());  // ή is not Η
  CHECK(f.SearchIds("ns", "αθηνα", Only(Lanes::kTrigram)) == std::vector<uint64_t>{5});
  CHECK(f.SearchIds("ns", "москва", Only(Lanes::kTrigram)) == std::vector<uint64_t>{5});
  CHECK(f.SearchIds("ns", "łÓDŹ", Only(Lanes::kTrigram)) == std::vector<uint64_t>{5});
  CHECK(f.SearchIds("ns", "k b", Only(Lanes::kTrigram)) == std::vector<uint64_t>{4, 3, 1});
  // Fewer than 3 characters: no trigram, no match (the BM25 lane still answers "fox").
  CHECK(f.SearchIds("ns", "qu", Only(Lanes::kTrigram)).empty());
  CHECK(f.SearchIds("ns", "ox", Only(Lanes::kTrigram)).empty());
  CHECK(f.SearchIds("ns", "zzz", Only(Lanes::kTrigram)).empty());
  // A substring BM25 cannot see.
  CHECK(f.SearchIds("ns", "rowni", Only(Lanes::kTrigram)) == std::vector<uint64_t>{3});
  CHECK(f.SearchIds("ns", "rowni", Only(Lanes::kBm25)).empty());
}

TEST_CASE("trigram lane returns at most 64, newest first, and as_of takes no slot",
          "[memory][search]") {
  MemoryFixture f("memory_trigram_many");
  f.Write("ns", "an old note about zebras", uint64_t{10});  // 1
  for (int i = 0; i < 100; ++i) f.Write("ns", "zebras again " + std::to_string(i), uint64_t{1000});
  SearchOptions options = Only(Lanes::kTrigram);
  options.limit = 1000;
  const std::vector<uint64_t> ids = f.SearchIds("ns", "zebra", options);
  REQUIRE(ids.size() == kLaneHits);
  CHECK(ids.front() == 101);
  CHECK(ids.back() == 101 - kLaneHits + 1);
  options.as_of_ms = 500;
  CHECK(f.SearchIds("ns", "zebra", options) == std::vector<uint64_t>{1});
  options.lanes = Lanes::kBm25;
  CHECK(f.SearchIds("ns", "zebras", options) == std::vector<uint64_t>{1});
}

TEST_CASE("fusion: weighted RRF over the lanes, exact scores, best first", "[memory][search]") {
  MemoryFixture f("memory_fusion");
  f.Write("ns", "deploy the service to production");  // 1: BM25 and trigram
  f.Write("ns", "deploy deploy deploy");              // 2: BM25 best, no trigram of the phrase
  f.Write("ns", "redeploying",                        // 3: trigram "deploy" only, vector best
          {}, {1, 0});
  f.Write("ns", "unrelated words", {}, {0.9f, 0.1f});  // 4: vector only
  SearchOptions options;
  options.embedding = {1, 0};
  const auto hits = ValueOrFail(f.memory().Search("ns", "deploy", options));
  // BM25: 2, 1. Trigram ("deploy" in 1, 2 and 3, newest first): 3, 2, 1. Vector: 3, 4.
  const double s1 = Rrf(kBm25Weight, 1) + Rrf(kTrigramWeight, 2);
  const double s2 = Rrf(kBm25Weight, 0) + Rrf(kTrigramWeight, 1);
  const double s3 = Rrf(kTrigramWeight, 0) + Rrf(kVectorWeight, 0);
  const double s4 = Rrf(kVectorWeight, 1);
  REQUIRE(hits.size() == 4);
  CHECK(hits[0].episode.id == 3);
  CHECK(hits[0].score == Approx(s3));
  CHECK(hits[1].episode.id == 2);
  CHECK(hits[1].score == Approx(s2));
  CHECK(hits[2].episode.id == 1);
  CHECK(hits[2].score == Approx(s1));
  CHECK(hits[3].episode.id == 4);
  CHECK(hits[3].score == Approx(s4));
  CHECK(hits[0].episode.text == "redeploying");

  options.limit = 2;
  CHECK(ValueOrFail(f.memory().Search("ns", "deploy", options)).size() == 2);
  // Without an embedding the vector lane is skipped.
  CHECK(f.SearchIds("ns", "deploy") == std::vector<uint64_t>{2, 1, 3});
  CHECK(f.SearchIds("ns", "deploy", Only(Lanes::kVector, {0, 1})) == std::vector<uint64_t>{4, 3});
  RequireError(f.memory().Search("ns", "deploy", Only(Lanes::kAll, {1, 0, 0})).status(),
               absl::StatusCode::kInvalidArgument,
               "embedding has 3 floats; the namespace's dimension is 2");
  options.limit = 0;
  RequireError(f.memory().Search("ns", "x", options).status(), absl::StatusCode::kInvalidArgument,
               "limit is 0; the range is 1..1000");
}

TEST_CASE("vector lane: as_of inside the lane; recovery after reopen", "[memory][search]") {
  MemoryFixture f("memory_vector");
  f.Write("ns", "old", uint64_t{5}, {0, 1});  // 1: the farthest
  for (int i = 0; i < 80; ++i) {
    f.Write("ns", "new " + std::to_string(i), uint64_t{100}, {1, 0.001f * static_cast<float>(i)});
  }
  SearchOptions options = Only(Lanes::kVector, {1, 0});
  options.limit = 1000;
  CHECK(f.SearchIds("ns", "", options).size() == kLaneHits);
  options.as_of_ms = 50;
  CHECK(f.SearchIds("ns", "", options) == std::vector<uint64_t>{1});
  options.as_of_ms.reset();
  const std::vector<uint64_t> before = f.SearchIds("ns", "", options);

  f.Reopen();  // from the snapshot the close wrote
  CHECK(f.SnapshotFiles() == 1);
  // Strays: a space no namespace names, and a snapshot cut short. The next open sweeps both.
  for (const char* stray : {"/mem-0123456789abcdef.snap", "/mem-0123456789abcdef.snap.tmp"}) {
    std::ofstream(f.snapshot_dir() + stray) << "stray";
  }
  CHECK(f.SnapshotFiles() == 3);
  f.Reopen();
  CHECK(f.SnapshotFiles() == 1);
  CHECK(f.SearchIds("ns", "", options) == before);
  options.as_of_ms = 50;
  CHECK(f.SearchIds("ns", "", options) == std::vector<uint64_t>{1});

  f.Close();
  for (const auto& entry : std::filesystem::directory_iterator(f.snapshot_dir())) {
    std::filesystem::remove(entry.path());
  }
  f.Open();  // rebuilt from the records
  options.as_of_ms.reset();
  CHECK(f.SearchIds("ns", "", options) == before);
  REQUIRE_OK(f.memory().DeleteEpisode("ns", before.front()));
  CHECK(f.SearchIds("ns", "", options).front() == before[1]);
}

}  // namespace
}  // namespace sochdb::memory
