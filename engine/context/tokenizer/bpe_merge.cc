#include "engine/context/tokenizer/bpe_merge.h"

#include <functional>
#include <queue>
#include <utility>

namespace sochdb::context {

void MergeByScan(const RankTable& ranks, absl::string_view piece, std::vector<uint32_t>* bounds) {
  // parts[i] = (start of part i, rank of part i joined with part i+1), then (size, kNoRank).
  std::vector<std::pair<uint32_t, uint32_t>> parts;
  parts.reserve(piece.size() + 1);
  for (size_t i = 0; i + 1 < piece.size(); ++i) {
    parts.emplace_back(i, ranks.Find(piece.substr(i, 2)));
  }
  parts.emplace_back(piece.size() - 1, kNoRank);
  parts.emplace_back(piece.size(), kNoRank);
  // The rank of parts[i] joined with parts[i+1], before parts[i+1] is removed (hence i + 3).
  const auto joined_rank = [&](size_t i) {
    if (i + 3 >= parts.size()) return kNoRank;
    return ranks.Find(piece.substr(parts[i].first, parts[i + 3].first - parts[i].first));
  };
  while (true) {
    size_t best = 0;
    uint32_t best_rank = kNoRank;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].second < best_rank) {
        best_rank = parts[i].second;
        best = i;
      }
    }
    if (best_rank == kNoRank) break;
    if (best > 0) parts[best - 1].second = joined_rank(best - 1);
    parts[best].second = joined_rank(best);
    parts.erase(parts.begin() + best + 1);
  }
  bounds->clear();
  for (const auto& part : parts) bounds->push_back(part.first);
}

void MergeByHeap(const RankTable& ranks, absl::string_view piece, std::vector<uint32_t>* bounds) {
  const uint32_t n = static_cast<uint32_t>(piece.size());
  // Parts form a linked list by start offset: part s spans [s, next[s]); next[s] == n ends it.
  std::vector<uint32_t> next(n), prev(n);
  // rank[s] = the rank of part s joined with its successor (kNoRank: none, or s was joined away).
  std::vector<uint32_t> rank(n, kNoRank);
  for (uint32_t s = 0; s < n; ++s) {
    next[s] = s + 1;
    prev[s] = s == 0 ? 0 : s - 1;
  }
  const auto pair_rank = [&](uint32_t s) {
    if (next[s] >= n) return kNoRank;
    return ranks.Find(piece.substr(s, next[next[s]] - s));
  };
  using Entry = std::pair<uint32_t, uint32_t>;  // (rank, start): smallest rank, then leftmost
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (uint32_t s = 0; s + 1 < n; ++s) {
    rank[s] = pair_rank(s);
    if (rank[s] != kNoRank) heap.emplace(rank[s], s);
  }
  while (!heap.empty()) {
    const auto [r, s] = heap.top();
    heap.pop();
    // A stale entry: s was joined away, or its pair changed. A pair's bytes only grow, so a
    // live pair never returns to an old rank.
    if (rank[s] != r) continue;
    const uint32_t gone = next[s];
    next[s] = next[gone];
    if (next[s] < n) prev[next[s]] = s;
    rank[gone] = kNoRank;
    rank[s] = pair_rank(s);
    if (rank[s] != kNoRank) heap.emplace(rank[s], s);
    if (s > 0) {
      const uint32_t before = prev[s];
      rank[before] = pair_rank(before);
      if (rank[before] != kNoRank) heap.emplace(rank[before], before);
    }
  }
  bounds->clear();
  for (uint32_t s = 0; s < n; s = next[s]) bounds->push_back(s);
  bounds->push_back(n);
}

}  // namespace sochdb::context
