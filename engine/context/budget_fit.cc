#include "engine/context/budget_fit.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sochdb::context {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The first `bytes` bytes of `text`, shortened to end on a character boundary.
std::string Head(const std::string& text, size_t bytes) {
  bytes = std::min(bytes, text.size());
  while (bytes > 0 && bytes < text.size() && IsContinuationByte(text[bytes])) --bytes;
  return text.substr(0, bytes);
}

// The last `bytes` bytes of `text`, shortened to start on a character boundary.
std::string Tail(const std::string& text, size_t bytes) {
  bytes = std::min(bytes, text.size());
  size_t start = text.size() - bytes;
  while (start < text.size() && IsContinuationByte(text[start])) ++start;
  return text.substr(start);
}

// `section` with `count` whole items (its first, or its last with `keep_end`) and, when
// `text_bytes` > 0, that much of the next item's text (its beginning, or its end).
SectionData Trimmed(const SectionData& section, size_t count, bool keep_end, size_t text_bytes) {
  SectionData out;
  out.name = section.name;
  out.header = section.header;
  out.items_field = section.items_field;
  const size_t n = section.items.size();
  count = std::min(count, n);
  out.truncated = section.truncated || count < n;
  const size_t first = keep_end ? n - count : 0;
  out.items.assign(section.items.begin() + first, section.items.begin() + first + count);
  if (text_bytes > 0 && count < n) {
    const size_t partial = keep_end ? n - count - 1 : count;
    SectionItem item = section.items[partial];
    item.text = keep_end ? Tail(item.text, text_bytes) : Head(item.text, text_bytes);
    if (!item.text.empty()) {
      if (keep_end) {
        out.items.insert(out.items.begin(), std::move(item));
      } else {
        out.items.push_back(std::move(item));
      }
    }
  }
  return out;
}

SectionData Dropped(const SectionData& section) {
  SectionData out;
  out.name = section.name;
  out.dropped = true;
  out.truncated = true;
  return out;
}

}  // namespace

BudgetFit::BudgetFit(const ContextRenderer* renderer, const BpeTokenizer* tokenizer,
                     uint32_t limit)
    : renderer_(renderer), tokenizer_(tokenizer), limit_(limit) {
  empty_cost_ = Count(renderer_->Document({}));
}

size_t BudgetFit::Count(const std::string& text) const { return tokenizer_->Count(text, &memo_); }

size_t BudgetFit::Cost(const SectionData& section) const {
  const size_t alone = Count(renderer_->Document({&section}));
  return alone > empty_cost_ ? alone - empty_cost_ : 0;
}

std::string BudgetFit::Render(const std::vector<SectionData>& sections) const {
  std::vector<const SectionData*> kept;
  kept.reserve(sections.size());
  for (const SectionData& section : sections) kept.push_back(&section);
  return renderer_->Document(kept);
}

// The largest x in [0, high) for which fits(x) holds, given fits(0), fits(high) false, and
// fits true up to some point and false after it. Starts at `guess` (an estimate) and gallops
// away from it, doubling the step, then bisects: a good guess costs two probes (the guess
// and the one after it), where bisecting the whole range would cost log2(high).
size_t BudgetFit::LargestFitting(size_t high, size_t guess, absl::FunctionRef<bool(size_t)> fits) {
  if (high == 0) return 0;  // (callers pass >= 1: fits(0) and not fits(high))
  size_t low = 0;
  guess = std::min(guess, high - 1);
  if (guess > 0) (fits(guess) ? low : high) = guess;
  for (size_t step = 1; low + 1 < high; step *= 2) {
    if (low == guess) {  // upwards
      const size_t x = std::min(low + step, high - 1);
      if (fits(x)) {
        low = guess = x;
        continue;
      }
      high = x;
    } else {  // downwards from a guess that did not fit
      const size_t x = high > low + step ? high - step : low + 1;
      if (!fits(x)) {
        high = x;
        continue;
      }
      low = x;
    }
    break;  // the answer is bracketed
  }
  while (low + 1 < high) {  // low fits, high does not
    const size_t mid = low + (high - low) / 2;
    (fits(mid) ? low : high) = mid;
  }
  return low;
}

size_t BudgetFit::LongestTextThatFits(const SectionData& section, size_t count, size_t budget,
                                      bool keep_end, size_t base, size_t with_item) const {
  const size_t index = keep_end ? section.items.size() - count - 1 : count;
  const std::string& text = section.items[index].text;
  // Cuts at the text's token boundaries: the estimate is then a token count, and the cut
  // loses at most the part of one token (a partial token costs a token too).
  const std::vector<size_t> ends = tokenizer_->TokenEnds(text);
  const size_t tokens = ends.size();
  if (tokens == 0) return 0;
  const auto bytes_of = [&](size_t t) -> size_t {  // the bytes of the first (last) t tokens
    if (t == 0) return 0;
    if (!keep_end) return ends[t - 1];
    return t == tokens ? text.size() : text.size() - ends[tokens - t - 1];
  };
  // The item costs `with_item - base`: its text's tokens plus what its fields and syntax add.
  const auto overhead = static_cast<int64_t>(with_item - base) - static_cast<int64_t>(tokens);
  const int64_t guess = static_cast<int64_t>(budget - base) - std::max<int64_t>(overhead, 0);
  const size_t t = LargestFitting(tokens, static_cast<size_t>(std::max<int64_t>(guess, 0)),
                                  [&](size_t t) {
                                    return Cost(Trimmed(section, count, keep_end, bytes_of(t))) <=
                                           budget;
                                  });
  return bytes_of(t);
}

SectionData BudgetFit::CutTo(const SectionData& section, size_t cost, size_t budget,
                             bool keep_end) const {
  const size_t n = section.items.size();
  const size_t header = Cost(Trimmed(section, 0, keep_end, 0));
  if (header > budget) return Dropped(section);
  if (cost <= budget || n == 0) return section;  // (no items: the header is all of it)
  // Guess the whole items that fit by sharing the items' cost in proportion to their bytes,
  // then probe (costs remembered: the text's cut needs two of them).
  std::vector<size_t> weights;
  size_t total_weight = 0;
  for (size_t i = 0; i < n; ++i) {
    const SectionItem& item = section.items[keep_end ? n - 1 - i : i];
    weights.push_back(item.text.size() + item.heading.size() + 16);
    total_weight += weights.back();
  }
  size_t guess = 0;
  for (long double spent = header; guess < n; ++guess) {
    spent += static_cast<long double>(cost - header) * weights[guess] / total_weight;
    if (spent > budget) break;
  }
  std::vector<size_t> costs(n + 1, SIZE_MAX);
  costs[0] = header;
  costs[n] = cost;
  const auto cost_of = [&](size_t count) {
    if (costs[count] == SIZE_MAX) costs[count] = Cost(Trimmed(section, count, keep_end, 0));
    return costs[count];
  };
  const size_t whole = LargestFitting(n, guess, [&](size_t c) { return cost_of(c) <= budget; });
  const size_t bytes =
      LongestTextThatFits(section, whole, budget, keep_end, cost_of(whole), cost_of(whole + 1));
  SectionData cut = Trimmed(section, whole, keep_end, bytes);
  cut.truncated = true;
  return cut;
}

void BudgetFit::FitInOrder(bool keep_end, std::vector<SectionData>* sections) const {
  size_t remaining = limit_ > empty_cost_ ? limit_ - empty_cost_ : 0;
  for (SectionData& section : *sections) {
    if (section.dropped) continue;
    const size_t cost = Cost(section);
    if (cost <= remaining) {
      remaining -= cost;
      continue;
    }
    section = CutTo(section, cost, remaining, keep_end);
    if (!section.dropped) remaining -= std::min(remaining, Cost(section));
  }
}

void BudgetFit::FitProportionally(std::vector<SectionData>* sections) const {
  const size_t available = limit_ > empty_cost_ ? limit_ - empty_cost_ : 0;
  std::vector<size_t> costs;
  size_t total = 0;
  for (const SectionData& section : *sections) {
    costs.push_back(section.dropped ? 0 : Cost(section));
    total += costs.back();
  }
  if (total <= available) return;
  for (size_t i = 0; i < sections->size(); ++i) {
    // Each section keeps the same share of its cost: available / total.
    const size_t share = static_cast<size_t>(static_cast<long double>(costs[i]) * available /
                                             static_cast<long double>(total));
    if (costs[i] > share) {
      (*sections)[i] = CutTo((*sections)[i], costs[i], share, /*keep_end=*/false);
    }
  }
}

absl::StatusOr<FittedDocument> BudgetFit::Fit(Truncation truncation,
                                              std::vector<SectionData>* sections) const {
  const bool keep_end = truncation == Truncation::kHeadDrop;
  if (truncation == Truncation::kStrict) {
    std::string document = Render(*sections);
    const size_t needed = Count(document);
    if (needed > limit_) {
      return absl::OutOfRangeError(absl::StrCat(
          "the context needs ", needed, " tokens; token_limit is ", limit_,
          " and truncation STRICT cuts nothing (raise token_limit or choose another strategy)"));
    }
    return FittedDocument{std::move(document), needed};
  }
  if (truncation == Truncation::kProportional) {
    FitProportionally(sections);
  } else {
    FitInOrder(keep_end, sections);
  }
  // Counted again as a whole: where sections meet, BPE tokens may fall differently than in
  // each section's own count. Each round cuts the lowest-priority section kept.
  while (true) {
    std::string document = Render(*sections);
    const size_t total = Count(document);
    if (total <= limit_) return FittedDocument{std::move(document), total};
    auto last = std::find_if(sections->rbegin(), sections->rend(),
                             [](const SectionData& s) { return !s.dropped; });
    if (last == sections->rend()) return FittedDocument{};  // not even the empty document fits
    const size_t over = total - limit_;
    const size_t cost = Cost(*last);
    SectionData cut = cost > over ? CutTo(*last, cost, cost - over, keep_end) : Dropped(*last);
    if (!cut.dropped && Cost(cut) >= cost) cut = Dropped(*last);
    *last = std::move(cut);
  }
}

}  // namespace sochdb::context
