// Tests for MemoryStore's writes and reads: ids, defaults, validation and limits, delete (with
// every key it wrote gone and ids never reused), list paging, Latest and as_of, reopening, and
// concurrent writers in one namespace.
#include "engine/memory/memory_store.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "tests/engine/memory/memory_fixture.h"

namespace sochdb::memory {
namespace {

using sochdb::testing::RequireErrorContaining;
using storage::KeyFamily;
using testing::MemoryFixture;
using testing::RequireError;
using testing::ValueOrFail;

constexpr uint64_t kNowMs = 1'700'000'000'000;  // ManualClock's start

std::vector<uint64_t> Ids(const std::vector<Episode>& episodes) {
  std::vector<uint64_t> ids;
  for (const Episode& e : episodes) ids.push_back(e.id);
  return ids;
}

TEST_CASE("write and get: ids from 1 per namespace, defaults, fields round-trip", "[memory]") {
  MemoryFixture f("memory_write_get");
  EpisodeWrite write;
  write.text = "the user prefers dark mode";
  write.metadata_json = R"({"source":"chat","turn":3})";
  const WrittenEpisode first = ValueOrFail(f.memory().WriteEpisode("ns", write));
  CHECK(first.id == 1);
  CHECK(first.t_created_ms == kNowMs);
  CHECK(first.t_valid_from_ms == kNowMs);  // the real Unix ms (upstream's default overflows)
  f.clock().AdvanceMicros(5'000);
  CHECK(f.Write("ns", "second", uint64_t{42}) == 2);
  CHECK(f.Write("other", "a namespace of its own") == 1);

  const Episode one = ValueOrFail(f.memory().GetEpisode("ns", 1));
  CHECK(one.text == "the user prefers dark mode");
  CHECK(one.metadata_json == R"({"source":"chat","turn":3})");
  CHECK(one.t_valid_from_ms == kNowMs);
  CHECK(one.embedding.empty());
  const Episode two = ValueOrFail(f.memory().GetEpisode("ns", 2));
  CHECK(two.t_valid_from_ms == 42);
  CHECK(two.t_created_ms == kNowMs + 5);
  RequireError(f.memory().GetEpisode("ns", 3).status(), absl::StatusCode::kNotFound,
               "Episode 3 not found");
  RequireError(f.memory().GetEpisode("nowhere", 1).status(), absl::StatusCode::kNotFound,
               "Episode 1 not found");

  EpisodeWrite embedded;
  embedded.text = "with a vector";
  embedded.embedding = {0.5f, -1.0f, 2.0f};
  const uint64_t id = ValueOrFail(f.memory().WriteEpisode("ns", embedded)).id;
  CHECK(ValueOrFail(f.memory().GetEpisode("ns", id)).embedding == embedded.embedding);
}

TEST_CASE("write validation names the field and the limit, and writes nothing", "[memory]") {
  MemoryLimits limits;
  limits.max_text_bytes = 10;
  limits.max_metadata_bytes = 20;
  MemoryFixture f("memory_validation", limits);
  auto write = [&](std::string text, std::string metadata, std::vector<float> embedding = {}) {
    EpisodeWrite w;
    w.text = std::move(text);
    w.metadata_json = std::move(metadata);
    w.embedding = std::move(embedding);
    return f.memory().WriteEpisode("ns", std::move(w)).status();
  };
  RequireError(write("", ""), absl::StatusCode::kInvalidArgument, "text must not be empty");
  RequireError(write("eleven byte", ""), absl::StatusCode::kInvalidArgument,
               "text is 11 bytes; the limit is 10 bytes");
  RequireErrorContaining(write("ok", "{\"a\":"), absl::StatusCode::kInvalidArgument,
                         "invalid metadata_json: invalid JSON at byte");
  RequireErrorContaining(write("ok", "not json"), absl::StatusCode::kInvalidArgument,
                         "invalid metadata_json: ");
  RequireError(write("ok", std::string(21, ' ')), absl::StatusCode::kInvalidArgument,
               "metadata_json is 21 bytes; the limit is 20 bytes");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  RequireErrorContaining(write("ok", "", {1, nan}), absl::StatusCode::kInvalidArgument,
                         "embedding[1]");
  RequireErrorContaining(write("ok", "", {inf, 1}), absl::StatusCode::kInvalidArgument,
                         "embedding[0]");
  CHECK(ValueOrFail(f.memory().ListEpisodes("ns", 0, 10)).episodes.empty());

  REQUIRE_OK(write("ok", "[1, {\"b\": null}]", {1, 2, 3, 4}));  // fixes the dimension at 4
  RequireError(write("ok", "", {1, 2, 3}), absl::StatusCode::kInvalidArgument,
               "embedding has 3 floats; the namespace's dimension is 4");
  REQUIRE_OK(write("plain", ""));     // no embedding is always fine
  CHECK(f.Write("ns", "next") == 3);  // refused writes took no id
}

TEST_CASE("delete removes every key the episode wrote; ids are never reused", "[memory]") {
  MemoryFixture f("memory_delete");
  f.Write("ns", "Alpha beta gamma");
  f.Write("ns", "delta epsilon", {}, {1, 0});
  f.Write("ns", "zeta eta theta", {}, {0, 1});
  RequireError(f.memory().DeleteEpisode("ns", 9), absl::StatusCode::kNotFound,
               "Episode 9 not found");
  RequireError(f.memory().DeleteEpisode("nowhere", 1), absl::StatusCode::kNotFound,
               "Episode 1 not found");
  REQUIRE_OK(f.memory().DeleteEpisode("ns", 3));
  REQUIRE_OK(f.memory().DeleteEpisode("ns", 1));
  RequireError(f.memory().DeleteEpisode("ns", 1), absl::StatusCode::kNotFound,
               "Episode 1 not found");
  RequireError(f.memory().GetEpisode("ns", 3).status(), absl::StatusCode::kNotFound,
               "Episode 3 not found");
  CHECK(f.CountKeys(KeyFamily::kEpisode, "ns") == 1);
  CHECK(f.CountKeys(KeyFamily::kEpisodeTime, "ns") == 1);
  // The text lanes are in memory: no posting is ever written.
  CHECK(f.CountKeys(KeyFamily::kEpisodeTrigram, "ns") == 0);
  CHECK(f.CountKeys(KeyFamily::kEpisodePosting, "ns") == 0);
  CHECK(f.CountKeys(KeyFamily::kVector, "ns") == 1);
  // Episode 2 only: "delta epsilon", two tokens.
  const TextIndexStats stats = ValueOrFail(f.memory().IndexStats("ns"));
  CHECK(stats.episodes == 1);
  CHECK(stats.tokens == 2);
  CHECK(f.SearchIds("ns", "alpha").empty());
  CHECK(f.SearchIds("ns", "zeta").empty());
  CHECK(f.SearchIds("ns", "delta") == std::vector<uint64_t>{2});

  CHECK(f.Write("ns", "after") == 4);
  f.Reopen();
  CHECK(f.Write("ns", "after reopen") == 5);
}

TEST_CASE("ListEpisodes pages in id order", "[memory]") {
  MemoryFixture f("memory_list");
  for (int i = 0; i < 5; ++i) f.Write("ns", "episode " + std::to_string(i));
  REQUIRE_OK(f.memory().DeleteEpisode("ns", 3));
  EpisodePage page = ValueOrFail(f.memory().ListEpisodes("ns", 0, 2));
  CHECK(Ids(page.episodes) == std::vector<uint64_t>{1, 2});
  CHECK(page.next_after_id == 2);
  page = ValueOrFail(f.memory().ListEpisodes("ns", page.next_after_id, 2));
  CHECK(Ids(page.episodes) == std::vector<uint64_t>{4, 5});
  CHECK(page.next_after_id == 0);  // nothing after 5
  page = ValueOrFail(f.memory().ListEpisodes("ns", 5, 2));
  CHECK(page.episodes.empty());
  CHECK(page.next_after_id == 0);
  page = ValueOrFail(f.memory().ListEpisodes("ns", 0, 4));  // exactly the rest: no next page
  CHECK(Ids(page.episodes) == std::vector<uint64_t>{1, 2, 4, 5});
  CHECK(page.next_after_id == 0);
  CHECK(ValueOrFail(f.memory().ListEpisodes("ns", UINT64_MAX, 4)).episodes.empty());
  CHECK(ValueOrFail(f.memory().ListEpisodes("nowhere", 0, 4)).episodes.empty());
  RequireError(f.memory().ListEpisodes("ns", 0, 0).status(), absl::StatusCode::kInvalidArgument,
               "limit is 0; the range is 1..10000");
}

TEST_CASE("Latest: highest t_valid_from first, ties by id desc, as_of applied", "[memory]") {
  MemoryFixture f("memory_latest");
  f.Write("ns", "a", uint64_t{100});  // 1
  f.Write("ns", "b", uint64_t{300});  // 2
  f.Write("ns", "c", uint64_t{200});  // 3
  f.Write("ns", "d", uint64_t{300});  // 4
  f.Write("ns", "e", uint64_t{0});    // 5
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 10, std::nullopt))) ==
        std::vector<uint64_t>{4, 2, 3, 1, 5});
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 2, std::nullopt))) == std::vector<uint64_t>{4, 2});
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 10, uint64_t{299}))) ==
        std::vector<uint64_t>{3, 1, 5});
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 10, uint64_t{300}))) ==
        std::vector<uint64_t>{4, 2, 3, 1, 5});
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 10, uint64_t{0}))) == std::vector<uint64_t>{5});
  REQUIRE_OK(f.memory().DeleteEpisode("ns", 4));
  CHECK(Ids(ValueOrFail(f.memory().Latest("ns", 1, std::nullopt))) == std::vector<uint64_t>{2});
  CHECK(ValueOrFail(f.memory().Latest("nowhere", 3, std::nullopt)).empty());
  RequireError(f.memory().Latest("ns", 0, std::nullopt).status(),
               absl::StatusCode::kInvalidArgument, "count is 0; the range is 1..10000");
}

TEST_CASE("everything survives a reopen", "[memory]") {
  MemoryFixture f("memory_reopen");
  f.Write("ns", "remember the milk", uint64_t{7});
  f.Write("ns", "remember the eggs", {}, {1, 0, 0});
  f.Reopen();
  const Episode one = ValueOrFail(f.memory().GetEpisode("ns", 1));
  CHECK(one.text == "remember the milk");
  CHECK(one.t_valid_from_ms == 7);
  CHECK(ValueOrFail(f.memory().GetEpisode("ns", 2)).embedding == std::vector<float>{1, 0, 0});
  CHECK(f.SearchIds("ns", "milk") == std::vector<uint64_t>{1});
  EpisodeWrite bad;
  bad.text = "x";
  bad.embedding = {1, 2};
  RequireError(f.memory().WriteEpisode("ns", bad).status(), absl::StatusCode::kInvalidArgument,
               "embedding has 2 floats; the namespace's dimension is 3");
}

TEST_CASE("concurrent writers in one namespace: unique ids, exact statistics", "[memory]") {
  MemoryFixture f("memory_concurrent");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::vector<uint64_t>> ids(kThreads);
  std::vector<absl::Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EpisodeWrite w;
        w.text = "alpha beta gamma";  // 3 tokens
        if (i % 2 == 0) w.embedding = {static_cast<float>(t + 1), static_cast<float>(i + 1)};
        absl::StatusOr<WrittenEpisode> written = f.memory().WriteEpisode("ns", std::move(w));
        if (!written.ok()) {
          errors[t] = written.status();
          return;
        }
        ids[t].push_back(written->id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    REQUIRE_OK(errors[t]);
    all.insert(ids[t].begin(), ids[t].end());
  }
  CHECK(all.size() == kThreads * kPerThread);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == kThreads * kPerThread);
  const TextIndexStats live = ValueOrFail(f.memory().IndexStats("ns"));
  CHECK(live.episodes == kThreads * kPerThread);
  CHECK(live.tokens == 3 * kThreads * kPerThread);
  f.Reopen();  // rebuilt from the records: the same figures
  const TextIndexStats rebuilt = ValueOrFail(f.memory().IndexStats("ns"));
  CHECK(rebuilt.episodes == kThreads * kPerThread);
  CHECK(rebuilt.tokens == 3 * kThreads * kPerThread);
  CHECK(f.CountKeys(KeyFamily::kVector, "ns") == kThreads * kPerThread / 2);
  CHECK(f.Write("ns", "next") == kThreads * kPerThread + 1);
}

TEST_CASE("searches, reads and deletes run beside writers", "[memory]") {
  MemoryFixture f("memory_readers");
  f.Write("ns", "seed walrus", uint64_t{1}, {1, 1});
  std::atomic<bool> stop{false};
  std::vector<absl::Status> errors(4);
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // writer
    for (int i = 0; i < 150 && errors[0].ok(); ++i) {
      EpisodeWrite w;
      w.text = "walrus number " + std::to_string(i);
      w.t_valid_from_ms = static_cast<uint64_t>(i);
      w.embedding = {1, static_cast<float>(i)};
      errors[0] = f.memory().WriteEpisode("ns", std::move(w)).status();
    }
    stop = true;
  });
  threads.emplace_back([&] {  // deleter of even ids
    for (uint64_t id = 2; !stop && errors[1].ok(); id += 2) {
      absl::Status s = f.memory().DeleteEpisode("ns", id);
      if (absl::IsNotFound(s))
        id -= 2;  // not written yet: try again
      else
        errors[1] = s;
    }
  });
  for (int t = 2; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SearchOptions options;
      options.embedding = {1, 0.5f};
      options.as_of_ms = 75;
      while (!stop && errors[t].ok()) {
        errors[t] = f.memory().Search("ns", "walrus number", options).status();
        if (errors[t].ok()) errors[t] = f.memory().Latest("ns", 5, std::nullopt).status();
        if (errors[t].ok()) errors[t] = f.memory().ListEpisodes("ns", 0, 50).status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : errors) REQUIRE_OK(s);
  for (const ScoredEpisode& hit : ValueOrFail(
           f.memory().Search("ns", "walrus", SearchOptions{Lanes::kAll, uint64_t{75}, {1, 0}}))) {
    CHECK(hit.episode.t_valid_from_ms <= 75);
  }
}

TEST_CASE("ParseLanes: upstream's names, and ours", "[memory]") {
  for (const char* all : {"", "all", "hybrid", "three_lane", "lexical"}) {
    CHECK(ValueOrFail(ParseLanes(all)) == Lanes::kAll);
  }
  CHECK(ValueOrFail(ParseLanes("bm25")) == Lanes::kBm25);
  CHECK(ValueOrFail(ParseLanes("trigram")) == Lanes::kTrigram);
  CHECK(ValueOrFail(ParseLanes("vector")) == Lanes::kVector);
  RequireError(ParseLanes("BM25").status(), absl::StatusCode::kInvalidArgument,
               "lanes 'BM25' is not one of all, hybrid, three_lane, lexical, bm25, trigram, "
               "vector");
}

}  // namespace
}  // namespace sochdb::memory
