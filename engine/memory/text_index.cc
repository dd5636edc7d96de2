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
uint64_t MapBytes(const Map& map) {
  return map.capacity() * (sizeof(typename Map::value_type) + 1);  // + absl's control byte
}

uint64_t KeyHeapBytes(const std::string& key) {
  return key.capacity() > std::string().capacity() ? key.capacity() + 1 : 0;
}

}  // namespace

absl::Status EpisodeTextIndex::Add(uint64_t id, std::string_view text, uint64_t t_valid_from_ms) {
  const std::vector<std::string> tokens = text::Tokenize(text);
  const std::vector<std::string> grams = Trigrams(text);
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
  for (const std::string& gram : grams) trigrams_[gram].push_back(slot);
  return absl::OkStatus();
}

absl::Status EpisodeTextIndex::Remove(uint64_t id, std::string_view text) {
  const std::vector<std::string> tokens = text::Tokenize(text);
  const std::vector<std::string> grams = Trigrams(text);
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
  for (const std::string& gram : grams) {
    auto it = trigrams_.find(gram);
    if (it == trigrams_.end()) continue;
    EraseSlot(it->second, *slot);
    if (it->second.empty()) trigrams_.erase(it);
  }
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
  for (auto it = trigrams_.begin(); it != trigrams_.end();) {
    Renumber(renumbered, it->second);
    if (it->second.empty()) {
      trigrams_.erase(it++);
    } else {
      ++it;
    }
  }
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
  const double avgdl = static_cast<double>(total_tokens_) / n;
  // Dense accumulators: a query of common words touches most slots. Every contribution is
  // positive (idf > 0, tf >= 1), so a zero score means "not touched yet".
  std::vector<double> scores(ids_.size(), 0.0);
  std::vector<uint32_t> touched;
  for (const std::string& term : terms) {  // in term order: sums as Bm25Index's
    const auto it = terms_.find(term);
    if (it == terms_.end()) continue;
    const TermPostings& postings = it->second;
    const double idf = text::Bm25Idf(n, postings.slots.size());
    for (size_t i = 0; i < postings.slots.size(); ++i) {
      const uint32_t slot = postings.slots[i];
      if (scores[slot] == 0.0) touched.push_back(slot);
      scores[slot] +=
          text::Bm25Contribution(idf, postings.frequencies[i], lengths_[slot], avgdl);
    }
  }
  std::vector<std::pair<double, uint32_t>> ranked;
  ranked.reserve(touched.size());
  for (const uint32_t slot : touched) {
    if (Matches(slot, as_of)) ranked.emplace_back(scores[slot], slot);
  }
  // Score descending, then slot (so id) ascending.
  const auto before = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const size_t count = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + count, ranked.end(), before);
  for (size_t i = 0; i < count; ++i) best.push_back(ids_[ranked[i].second]);
  return best;
}

std::vector<uint64_t> EpisodeTextIndex::Trigram(std::string_view query, size_t k,
                                                std::optional<uint64_t> as_of) const {
  const std::vector<std::string> grams = Trigrams(query);
  std::vector<uint64_t> newest;
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const std::vector<uint32_t>*> lists;
  for (const std::string& gram : grams) {
    const auto it = trigrams_.find(gram);
    if (it == trigrams_.end()) return newest;  // no episode holds this one
    lists.push_back(&it->second);
  }
  if (lists.empty() || k == 0) return newest;
  // Walk the shortest list from its newest slot; each other list is searched below the point
  // the previous slot reached (the slots only go down), so a list is crossed at most once.
  std::sort(lists.begin(), lists.end(), [](const auto* a, const auto* b) {
    return a->size() < b->size();
  });
  std::vector<size_t> ends;
  for (const auto* list : lists) ends.push_back(list->size());
  const std::vector<uint32_t>& lead = *lists[0];
  for (size_t i = lead.size(); i-- > 0 && newest.size() < k;) {
    const uint32_t slot = lead[i];
    bool in_all = true;
    for (size_t j = 1; j < lists.size() && in_all; ++j) {
      const std::vector<uint32_t>& list = *lists[j];
      ends[j] = std::upper_bound(list.begin(), list.begin() + ends[j], slot) - list.begin();
      if (ends[j] == 0) return newest;  // nothing below: no older match either
      in_all = list[ends[j] - 1] == slot;
    }
    if (in_all && Matches(slot, as_of)) newest.push_back(ids_[slot]);
  }
  return newest;
}

EpisodeTextIndex::Stats EpisodeTextIndex::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  Stats stats;
  stats.episodes = live_count_;
  stats.tokens = total_tokens_;
  uint64_t bytes = ids_.capacity() * 8 + lengths_.capacity() * 4 + valid_from_.capacity() * 8 +
                   live_.capacity() / 8 + MapBytes(terms_) + MapBytes(trigrams_);
  for (const auto& [term, postings] : terms_) {
    bytes += KeyHeapBytes(term) + postings.slots.capacity() * 4 +
             postings.frequencies.capacity() * 4;
  }
  for (const auto& [gram, slots] : trigrams_) bytes += KeyHeapBytes(gram) + slots.capacity() * 4;
  stats.memory_bytes = bytes;
  return stats;
}

}  // namespace sochdb::memory::internal
