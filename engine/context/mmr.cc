#include "engine/context/mmr.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace sochdb::context {
namespace {

// A text's distinct words (whitespace-separated, ASCII-lowercased) as sorted ids of a
// dictionary shared by the call's texts: Jaccard is then a merge of two short sorted arrays,
// not a hash lookup per word.
using WordSet = std::vector<uint32_t>;

WordSet Words(std::string_view text, absl::flat_hash_map<std::string, uint32_t>* dictionary) {
  WordSet words;
  for (absl::string_view word :
       absl::StrSplit(absl::string_view(text.data(), text.size()),
                      absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
    const auto [it, added] = dictionary->try_emplace(absl::AsciiStrToLower(word),
                                                     static_cast<uint32_t>(dictionary->size()));
    words.push_back(it->second);
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

double Jaccard(const WordSet& a, const WordSet& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t shared = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] == b[j]) {
      ++shared;
      ++i;
      ++j;
    } else {
      (a[i] < b[j] ? i : j)++;
    }
  }
  return static_cast<double>(shared) / static_cast<double>(a.size() + b.size() - shared);
}

}  // namespace

std::vector<size_t> MmrOrder(const std::vector<std::string_view>& texts,
                             const std::vector<double>& scores, size_t count, double lambda) {
  const size_t n = std::min(texts.size(), scores.size());
  count = std::min(count, n);
  std::vector<size_t> picked;
  if (count == 0) return picked;
  double best = 0;
  for (size_t i = 0; i < n; ++i) best = std::max(best, scores[i]);
  absl::flat_hash_map<std::string, uint32_t> dictionary;
  std::vector<WordSet> words;
  words.reserve(n);
  for (size_t i = 0; i < n; ++i) words.push_back(Words(texts[i], &dictionary));
  // max_similarity[i]: candidate i's highest similarity to anything picked so far.
  std::vector<double> max_similarity(n, 0.0);
  std::vector<bool> taken(n, false);
  picked.reserve(count);
  while (picked.size() < count) {
    size_t choice = n;
    double choice_value = 0;
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      const double relevance = best > 0 ? scores[i] / best : 0.0;
      const double value = lambda * relevance - (1 - lambda) * max_similarity[i];
      if (choice == n || value > choice_value) {
        choice = i;
        choice_value = value;
      }
    }
    taken[choice] = true;
    picked.push_back(choice);
    for (size_t i = 0; i < n; ++i) {
      if (!taken[i]) {
        max_similarity[i] = std::max(max_similarity[i], Jaccard(words[i], words[choice]));
      }
    }
  }
  return picked;
}

}  // namespace sochdb::context
