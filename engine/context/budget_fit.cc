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

size_t BudgetFit::Count(const std::string& text) const { return tokenizer_->Count(text); }

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

size_t BudgetFit::LongestTextThatFits(const SectionData& section, size_t count, size_t budget,
                                      bool keep_end) const {
  const size_t index = keep_end ? section.items.size() - count - 1 : count;
  const size_t size = section.items[index].text.size();
  const auto fits = [&](size_t bytes) {
    return Cost(Trimmed(section, count, keep_end, bytes)) <= budget;
  };
  // Grow a bound first: the answer is usually a small part of a long text, and every probe
  // renders and counts the section.
  size_t low = 0;  // fits (an empty cut adds nothing)
  size_t high = std::min<size_t>(size, 256);
  while (high < size && fits(high)) {
    low = high;
    high = std::min(size, high * 2);
  }
  if (high == size && fits(size)) return size;
  while (low + 1 < high) {  // low fits, high does not
    const size_t mid = low + (high - low) / 2;
    (fits(mid) ? low : high) = mid;
  }
  return low;
}

SectionData BudgetFit::CutTo(const SectionData& section, size_t budget, bool keep_end) const {
  if (Cost(Trimmed(section, 0, keep_end, 0)) > budget) return Dropped(section);
  size_t low = 0, high = section.items.size();  // the most whole items that fit: in [low, high]
  while (low < high) {
    const size_t mid = low + (high - low + 1) / 2;
    if (Cost(Trimmed(section, mid, keep_end, 0)) <= budget) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  if (low == section.items.size()) return section;
  const size_t bytes = LongestTextThatFits(section, low, budget, keep_end);
  SectionData cut = Trimmed(section, low, keep_end, bytes);
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
    section = CutTo(section, remaining, keep_end);
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
    if (costs[i] > share) (*sections)[i] = CutTo((*sections)[i], share, /*keep_end=*/false);
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
    SectionData cut = cost > over ? CutTo(*last, cost - over, keep_end) : Dropped(*last);
    if (!cut.dropped && Cost(cut) >= cost) cut = Dropped(*last);
    *last = std::move(cut);
  }
}

}  // namespace sochdb::context
