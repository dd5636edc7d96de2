// EpisodeTextIndex (text_index.h).
#include "engine/memory/text_index.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/memory/memory_records.h"
#include "engine/text/bm25_index.h"
#include "engine/text/bm25_scoring.h"
#include "engine/text/tokenizer.h"

namespace sochdb::memory::internal {
namespace {

// Dead slots are renumbered away once they outnumber the live ones (and are this many).
constexpr size_t kCompactAfterDead = 1024;

// The query's distinct terms in term order, at most text::kMaxQueryTerms (its first ones).
std::vector<std::string> QueryTerms(std::string_view query) {
  std::vector<std::string> terms;
  absl::flat_hash_set<std::string> seen;
  for (std::string& term : text::Tokenize(query)) {
    if (terms.size() == text::kMaxQueryTerms) break;
    if (seen.insert(term).second) terms.push_back(std::move(term));
  }
  std::sort(terms.begin(), terms.end());
  return terms;
}

// Removes `slot` from the ascending `slots` (and the same position of `parallel`, if given).
void EraseSlot(std::vector<uint32_t>& slots, uint32_t slot,
               std::vector<uint32_t>* parallel = nullptr) {
  const auto it = std::lower_bound(slots.begin(), slots.end(), slot);
  if (it == slots.end() || *it != slot) return;
  if (parallel != nullptr) parallel->erase(parallel->begin() + (it - slots.begin()));
  slots.erase(it);
}

// Rewrites the ascending `slots` through `renumbered` (kNoSlot: dropped); the order holds
// because renumbering keeps it. Keeps `parallel` (if given) aligned.
constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();
void Renumber(const std::vector<uint32_t>& renumbered, std::vector<uint32_t>& slots,
              std::vector<uint32_t>* parallel = nullptr) {
  size_t kept = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const uint32_t slot = renumbered[slots[i]];
    if (slot == kNoSlot) continue;
    if (parallel != nullptr) (*parallel)[kept] = (*parallel)[i];
    slots[kept++] = slot;
  }
  slots.resize(kept);
  slots.shrink_to_fit();
  if (parallel != nullptr) {
    parallel->resize(kept);
    parallel->shrink_to_fit();
  }
}

template <typename Map>
void RenumberLists(const std::vector<uint32_t>& renumbered, Map& map) {
  for (auto it = map.begin(); it != map.end();) {
    Renumber(renumbered, it->second);
    if (it->second.empty()) {
      map.erase(it++);
    } else {
      ++it;
    }
  }
}

template <typename Map>
uint64_t MapBytes(const Map& map) {
  return map.capacity() * (sizeof(typename Map::value_type) + 1);  // + absl's control byte
}

uint64_t KeyHeapBytes(const std::string& key) {
  return key.capacity() > std::string().capacity() ? key.capacity() + 1 : 0;
}

}  // namespace

EpisodeTextIndex::Grams EpisodeTextIndex::GramsOf(std::string_view text) {
  Grams grams;
  ForEachTrigram(text, [&](std::string_view gram) {
    if (gram.size() > 7) {
      grams.long_ones.emplace_back(gram);
      return;
    }
    uint64_t key = gram.size();  // the low byte: the length, so "ab" and "ab\0" differ
    for (size_t i = 0; i < gram.size(); ++i) {
      key |= uint64_t{static_cast<unsigned char>(gram[i])} << (8 * (i + 1));
    }
    grams.packed.push_back(key);
  });
  std::sort(grams.packed.begin(), grams.packed.end());
  grams.packed.erase(std::unique(grams.packed.begin(), grams.packed.end()), grams.packed.end());
  std::sort(grams.long_ones.begin(), grams.long_ones.end());
  grams.long_ones.erase(std::unique(grams.long_ones.begin(), grams.long_ones.end()),
                        grams.long_ones.end());
  return grams;
}

bool EpisodeTextIndex::ListsOf(const Grams& grams,
                               std::vector<const std::vector<uint32_t>*>* lists) const {
  for (const uint64_t key : grams.packed) {
    const auto it = packed_trigrams_.find(key);
    if (it == packed_trigrams_.end()) return false;
    lists->push_back(&it->second);
  }
  for (const std::string& key : grams.long_ones) {
    const auto it = long_trigrams_.find(key);
    if (it == long_trigrams_.end()) return false;
    lists->push_back(&it->second);
  }
  return true;
}

absl::Status EpisodeTextIndex::Add(uint64_t id, std::string_view text, uint64_t t_valid_from_ms) {
  const std::vector<std::string> tokens = text::Tokenize(text);
  const Grams grams = GramsOf(text);
  absl::MutexLock lock(&mu_);
  if (!ids_.empty() && id <= ids_.back()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "episode ", id, " reached the text index after episode ", ids_.back(), ": ids must grow"));
  }
  if (ids_.size() - live_count_ > 0 && ids_.size() >= kNoSlot) Compact();
  if (ids_.size() >= kNoSlot) {
    return absl::ResourceExhaustedError("the namespace's text index holds 2^32-1 episodes");
  }
  const uint32_t slot = static_cast<uint32_t>(ids_.size());
  ids_.push_back(id);
  lengths_.push_back(static_cast<uint32_t>(tokens.size()));  // <= text::kMaxTokensPerText
  valid_from_.push_back(t_valid_from_ms);
  live_.push_back(true);
  ++live_count_;
  total_tokens_ += tokens.size();
  for (const auto& [term, frequency] : text::TermFrequencies(tokens)) {
    TermPostings& postings = terms_[term];
    postings.slots.push_back(slot);
    postings.frequencies.push_back(static_cast<uint32_t>(frequency));
  }
  for (const uint64_t key : grams.packed) packed_trigrams_[key].push_back(slot);
  for (const std::string& key : grams.long_ones) long_trigrams_[key].push_back(slot);
  return absl::OkStatus();
}

absl::Status EpisodeTextIndex::Remove(uint64_t id, std::string_view text) {
  const std::vector<std::string> tokens = text::Tokenize(text);
  absl::MutexLock lock(&mu_);
  const std::optional<uint32_t> slot = SlotOf(id);
  if (!slot.has_value()) {
    return absl::NotFoundError(absl::StrCat("episode ", id, " is not in the text index"));
  }
  for (const auto& entry : text::TermFrequencies(tokens)) {
    auto it = terms_.find(entry.first);
    if (it == terms_.end()) continue;
    EraseSlot(it->second.slots, *slot, &it->second.frequencies);
    if (it->second.slots.empty()) terms_.erase(it);
  }
  // Trigram postings stay until the next renumbering (Matches skips a dead slot): erasing
  // from every common trigram's list would shift most of each list under the write lock.
  live_[*slot] = false;
  --live_count_;
  total_tokens_ -= std::min<uint64_t>(total_tokens_, lengths_[*slot]);
  const size_t dead = ids_.size() - live_count_;
  if (dead >= kCompactAfterDead && dead > live_count_) Compact();
  return absl::OkStatus();
}

std::optional<uint32_t> EpisodeTextIndex::SlotOf(uint64_t id) const {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return std::nullopt;
  const auto slot = static_cast<uint32_t>(it - ids_.begin());
  if (!live_[slot]) return std::nullopt;
  return slot;
}

// A dead slot can still sit in a posting list when Remove was given another text than Add's
// (a record changed under it): searches skip it, and Compact drops it.
bool EpisodeTextIndex::Matches(uint32_t slot, std::optional<uint64_t> as_of) const {
  return live_[slot] && (!as_of.has_value() || valid_from_[slot] <= *as_of);
}

void EpisodeTextIndex::Compact() {
  std::vector<uint32_t> renumbered(ids_.size(), kNoSlot);
  uint32_t next = 0;
  for (size_t slot = 0; slot < ids_.size(); ++slot) {
    if (!live_[slot]) continue;
    renumbered[slot] = next;
    ids_[next] = ids_[slot];
    lengths_[next] = lengths_[slot];
    valid_from_[next] = valid_from_[slot];
    ++next;
  }
  ids_.resize(next);
  lengths_.resize(next);
  valid_from_.resize(next);
  live_.assign(next, true);
  for (auto it = terms_.begin(); it != terms_.end();) {
    Renumber(renumbered, it->second.slots, &it->second.frequencies);
    if (it->second.slots.empty()) {
      terms_.erase(it++);
    } else {
      ++it;
    }
  }
  RenumberLists(renumbered, packed_trigrams_);
  RenumberLists(renumbered, long_trigrams_);
}

std::optional<uint64_t> EpisodeTextIndex::ValidFrom(uint64_t id) const {
  absl::ReaderMutexLock lock(&mu_);
  const std::optional<uint32_t> slot = SlotOf(id);
  if (!slot.has_value()) return std::nullopt;
  return valid_from_[*slot];
}

std::vector<uint64_t> EpisodeTextIndex::Bm25(std::string_view query, size_t k,
                                             std::optional<uint64_t> as_of) const {
  const std::vector<std::string> terms = QueryTerms(query);
  std::vector<uint64_t> best;
  absl::ReaderMutexLock lock(&mu_);
  if (live_count_ == 0 || k == 0) return best;
  const double n = static_cast<double>(live_count_);
  const double avgdl = std::max(1.0, static_cast<double>(total_tokens_)) / n;  // as Bm25Index
  // Dense accumulators, kept per thread (a query of common words touches most slots: a fresh
  // array per query costs its page faults). Every contribution is positive (idf > 0, tf >= 1),
  // so a zero score means "not touched yet"; the touched entries are zeroed again below.
  thread_local std::vector<double> scores;
  thread_local std::vector<uint32_t> touched;
  if (scores.size() < ids_.size()) scores.resize(ids_.size(), 0.0);
  if (scores.size() > 2 * ids_.size() + (1u << 16)) {  // a far larger namespace was searched
    scores.assign(ids_.size(), 0.0);                    // (all zero: nothing to keep)
    scores.shrink_to_fit();
    touched.shrink_to_fit();
  }
  touched.clear();
  for (const std::string& term : terms) {  // in term order: sums as Bm25Index's
    const auto it = terms_.find(term);
    if (it == terms_.end()) continue;
    const TermPostings& postings = it->second;
    // A dead slot left in a list (Remove given another text than Add's) must not push df
    // past N: idf stays positive, so every contribution is, and 0.0 still means untouched.
    const double idf = text::Bm25Idf(n, std::min<uint64_t>(postings.slots.size(), live_count_));
    for (size_t i = 0; i < postings.slots.size(); ++i) {
      const uint32_t slot = postings.slots[i];
      if (scores[slot] == 0.0) touched.push_back(slot);
      scores[slot] +=
          text::Bm25Contribution(idf, postings.frequencies[i], lengths_[slot], avgdl);
    }
  }
  // The best k in a heap whose top is the worst kept: score descending, then slot (so id)
  // ascending ranks first.
  const auto before = [](const std::pair<double, uint32_t>& a,
                         const std::pair<double, uint32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::vector<std::pair<double, uint32_t>> heap;
  heap.reserve(std::min(k, touched.size()) + 1);
  for (const uint32_t slot : touched) {
    const std::pair<double, uint32_t> entry(scores[slot], slot);
    scores[slot] = 0.0;
    if (heap.size() == k && !before(entry, heap.front())) continue;
    if (!Matches(slot, as_of)) continue;
    heap.push_back(entry);
    std::push_heap(heap.begin(), heap.end(), before);
    if (heap.size() > k) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.pop_back();
    }
  }
  std::sort_heap(heap.begin(), heap.end(), before);
  for (const auto& [score, slot] : heap) best.push_back(ids_[slot]);
  return best;
}

// In the ascending `list`, below position `end`: the number of elements <= `target`, i.e. the
// position after the last of them. Gallops down from `end`, so a cursor that moves a short way
// costs a few steps, not a search of the whole list.
size_t EpisodeTextIndex::GallopDown(const std::vector<uint32_t>& list, size_t end,
                                    uint32_t target) {
  if (end == 0 || list[end - 1] <= target) return end;
  size_t high = end - 1;  // list[high] > target
  size_t step = 1;
  while (step <= high && list[high - step] > target) {
    high -= step;
    step *= 2;
  }
  const size_t low = step <= high ? high - step : 0;  // list[low] <= target, unless low is 0
  return std::upper_bound(list.begin() + low, list.begin() + high, target) - list.begin();
}

std::vector<uint64_t> EpisodeTextIndex::Trigram(std::string_view query, size_t k,
                                                std::optional<uint64_t> as_of) const {
  const Grams grams = GramsOf(query);
  std::vector<uint64_t> newest;
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const std::vector<uint32_t>*> lists;
  if (!ListsOf(grams, &lists)) return newest;  // no episode holds one of them
  if (lists.empty() || k == 0) return newest;
  // A leapfrog join from the newest slot down: `target` is the highest slot every list may
  // still share; each list's cursor gallops down to its last slot <= target, and a list that
  // has none equal to it lowers the target to the one it has. Shortest list first: it lowers
  // the target most.
  std::sort(lists.begin(), lists.end(), [](const auto* a, const auto* b) {
    return a->size() < b->size();
  });
  std::vector<size_t> ends;
  for (const auto* list : lists) ends.push_back(list->size());
  uint32_t target = lists[0]->back();
  size_t agreed = 0;
  for (size_t j = 0; newest.size() < k; j = (j + 1) % lists.size()) {
    const std::vector<uint32_t>& list = *lists[j];
    ends[j] = GallopDown(list, ends[j], target);
    if (ends[j] == 0) break;  // this list holds nothing at or below the target
    const uint32_t slot = list[ends[j] - 1];
    if (slot != target) {
      target = slot;
      agreed = 1;
      continue;
    }
    if (++agreed < lists.size()) continue;
    if (Matches(target, as_of)) newest.push_back(ids_[target]);
    if (target == 0) break;
    --target;
    agreed = 0;
  }
  return newest;
}

EpisodeTextIndex::Stats EpisodeTextIndex::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  Stats stats;
  stats.episodes = live_count_;
  stats.tokens = total_tokens_;
  uint64_t bytes = ids_.capacity() * 8 + lengths_.capacity() * 4 + valid_from_.capacity() * 8 +
                   live_.capacity() / 8 + MapBytes(terms_) + MapBytes(packed_trigrams_) +
                   MapBytes(long_trigrams_);
  for (const auto& [term, postings] : terms_) {
    bytes += KeyHeapBytes(term) + postings.slots.capacity() * 4 +
             postings.frequencies.capacity() * 4;
  }
  for (const auto& entry : packed_trigrams_) bytes += entry.second.capacity() * 4;
  for (const auto& [gram, slots] : long_trigrams_) {
    bytes += KeyHeapBytes(gram) + slots.capacity() * 4;
  }
  stats.memory_bytes = bytes;
  return stats;
}

}  // namespace sochdb::memory::internal
