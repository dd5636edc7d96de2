// Tests for EpisodeTextIndex: its BM25 ranking equals the store's Bm25Index (same scores, same
// ties) and its trigram lane equals a brute-force match, on a seeded random corpus through adds,
// removes and the compactions removes trigger; as_of; ids that do not grow; stats.
#include "engine/memory/text_index.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/memory/memory_records.h"
#include "tests/common/status_testing.h"
#include "tests/engine/text/bm25_test_util.h"

namespace sochdb::memory::internal {
namespace {

using ::sochdb::testing::RequireError;

// 8 big-endian bytes: Bm25Index orders ties by doc_id, which is then id order, as the index's.
std::string DocId(uint64_t id) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i, id >>= 8) bytes[i] = static_cast<char>(id & 0xff);
  return bytes;
}

// Words drawn with a skew, so some are in most episodes and some in few.
class Corpus {
 public:
  explicit Corpus(uint32_t seed) : rng_(seed) {}
  std::string Word() {
    const int n = static_cast<int>(std::exp(std::uniform_real_distribution<>(0, 4)(rng_)));
    // Some words with 2-byte (packed trigram keys) and 3-byte characters (keyed by bytes).
    const char* tail = n % 7 == 0 ? "語話" : n % 5 == 0 ? "Éé" : "";
    return absl::StrCat(std::string(1, static_cast<char>('a' + n % 26)), "w", n, tail);
  }
  std::string Text() {
    std::string text;
    const int words = std::uniform_int_distribution<>(0, 12)(rng_);
    for (int i = 0; i < words; ++i) absl::StrAppend(&text, i > 0 ? " " : "", Word());
    return text;
  }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

struct Reference {
  text::testing::Bm25Fixture bm25;
  std::map<uint64_t, std::pair<std::string, uint64_t>> episodes;  // id -> (text, valid_from)

  std::vector<uint64_t> Bm25(std::string_view query, size_t k) {
    std::vector<uint64_t> ids;
    for (const text::ScoredDoc& doc : bm25.Search(query, k)) {
      uint64_t id = 0;
      for (char c : doc.doc_id) id = (id << 8) | static_cast<unsigned char>(c);
      ids.push_back(id);
    }
    return ids;
  }
  std::vector<uint64_t> Trigram(std::string_view query, size_t k, std::optional<uint64_t> as_of) {
    std::vector<uint64_t> ids;
    const std::vector<std::string> wanted = Trigrams(query);
    if (wanted.empty()) return ids;
    for (auto it = episodes.rbegin(); it != episodes.rend() && ids.size() < k; ++it) {
      const std::vector<std::string> held = Trigrams(it->second.first);
      if (std::includes(held.begin(), held.end(), wanted.begin(), wanted.end()) &&
          (!as_of.has_value() || it->second.second <= *as_of)) {
        ids.push_back(it->first);
      }
    }
    return ids;
  }
};

void Compare(EpisodeTextIndex& index, Reference& reference, Corpus& corpus) {
  for (int q = 0; q < 60; ++q) {
    const std::string query = absl::StrCat(corpus.Word(), " ", corpus.Word(), " ", corpus.Word());
    INFO("bm25 query: " << query);
    CHECK(index.Bm25(query, 20, std::nullopt) == reference.Bm25(query, 20));
  }
  for (int q = 0; q < 60 && !reference.episodes.empty(); ++q) {
    // A piece of a stored text (so matches exist), or two words (mostly none).
    auto it = reference.episodes.begin();
    std::advance(it, corpus.rng()() % reference.episodes.size());
    const std::string& text = it->second.first;
    const size_t start = text.empty() ? 0 : corpus.rng()() % text.size();
    // (A cut inside a character leaves a byte of its own: a trigram no episode holds.)
    const std::string query =
        q % 2 == 0 ? text.substr(start, 7) : absl::StrCat(corpus.Word(), " ", corpus.Word());
    const std::optional<uint64_t> as_of =
        q % 3 == 0 ? std::optional<uint64_t>(corpus.rng()() % 1000) : std::nullopt;
    INFO("trigram query: '" << query << "'");
    CHECK(index.Trigram(query, 8, as_of) == reference.Trigram(query, 8, as_of));
  }
}

TEST_CASE("text index ranks as Bm25Index and matches trigrams as brute force", "[memory]") {
  Corpus corpus(20261208);
  EpisodeTextIndex index;
  Reference reference;
  uint64_t next_id = 1;
  const auto add = [&](int count) {
    for (int i = 0; i < count; ++i) {
      const uint64_t id = next_id++;
      const std::string text = corpus.Text();
      const uint64_t valid_from = corpus.rng()() % 1000;
      REQUIRE_OK(index.Add(id, text, valid_from));
      reference.bm25.Add(DocId(id), text);
      reference.episodes[id] = {text, valid_from};
    }
  };
  const auto remove_share = [&](int percent) {
    for (auto it = reference.episodes.begin(); it != reference.episodes.end();) {
      if (static_cast<int>(corpus.rng()() % 100) >= percent) {
        ++it;
        continue;
      }
      REQUIRE_OK(index.Remove(it->first, it->second.first));
      reference.bm25.Remove(DocId(it->first), it->second.first);
      it = reference.episodes.erase(it);
    }
  };
  add(1500);
  Compare(index, reference, corpus);
  const uint64_t full_bytes = index.stats().memory_bytes;
  remove_share(30);  // below half: no compaction
  add(200);
  Compare(index, reference, corpus);
  remove_share(80);  // dead slots outnumber live ones, and are over 1024: renumbered
  Compare(index, reference, corpus);
  CHECK(index.stats().memory_bytes < full_bytes / 2);
  add(300);  // new slots after the renumbering
  Compare(index, reference, corpus);

  const EpisodeTextIndex::Stats stats = index.stats();
  CHECK(stats.episodes == reference.episodes.size());
  CHECK(stats.episodes == reference.bm25.index->stats().document_count);
  CHECK(stats.tokens == reference.bm25.index->stats().total_tokens);
}

TEST_CASE("text index: as_of in the BM25 lane, ids that must grow, unknown removes", "[memory]") {
  EpisodeTextIndex index;
  REQUIRE_OK(index.Add(5, "alpha beta", 100));
  REQUIRE_OK(index.Add(7, "alpha alpha", 300));
  REQUIRE_OK(index.Add(9, "gamma", 200));
  CHECK(index.Bm25("alpha", 10, std::nullopt) == std::vector<uint64_t>{7, 5});
  CHECK(index.Bm25("alpha", 10, 299) == std::vector<uint64_t>{5});
  CHECK(index.Bm25("alpha", 1, 99).empty());
  CHECK(index.Trigram("alp", 10, std::nullopt) == std::vector<uint64_t>{7, 5});
  CHECK(index.Trigram("al", 10, std::nullopt).empty());  // no trigram: no match
  CHECK(index.ValidFrom(9) == std::optional<uint64_t>(200));
  CHECK(index.ValidFrom(6) == std::nullopt);

  RequireError(index.Add(7, "again", 1), absl::StatusCode::kFailedPrecondition,
               "episode 7 reached the text index after episode 9: ids must grow");
  RequireError(index.Remove(6, "x"), absl::StatusCode::kNotFound,
               "episode 6 is not in the text index");
  REQUIRE_OK(index.Remove(7, "alpha alpha"));
  RequireError(index.Remove(7, "alpha alpha"), absl::StatusCode::kNotFound,
               "episode 7 is not in the text index");
  CHECK(index.Bm25("alpha", 10, std::nullopt) == std::vector<uint64_t>{5});
  CHECK(index.ValidFrom(7) == std::nullopt);
  // A remove given another text than the add's leaves postings of a dead slot: never returned.
  REQUIRE_OK(index.Remove(5, "beta"));
  CHECK(index.Bm25("alpha", 10, std::nullopt).empty());
  CHECK(index.Trigram("alpha", 10, std::nullopt).empty());
  CHECK(index.stats().episodes == 1);
}

}  // namespace
}  // namespace sochdb::memory::internal
