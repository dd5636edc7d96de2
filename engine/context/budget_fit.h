// BudgetFit: cuts context sections until the rendered document's exact token count is within
// the limit, the way the query's truncation strategy says (context_query.h, "Budget").
//
// Costs are counted, not estimated: a section's cost is the token count it adds to the
// document (the count of a document holding it alone, less the empty document's), and after the
// cuts the whole document is counted again and, while it still exceeds the limit (BPE tokens
// may merge or split differently where sections meet), the lowest-priority section kept is cut
// further. So the limit holds exactly, whatever the format.
#ifndef SOCHDB_ENGINE_CONTEXT_BUDGET_FIT_H_
#define SOCHDB_ENGINE_CONTEXT_BUDGET_FIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "engine/context/context_query.h"
#include "engine/context/context_render.h"
#include "engine/context/section_data.h"
#include "engine/context/tokenizer/bpe_tokenizer.h"

namespace sochdb::context {

// A fitted document and its token count (counted once, by Fit).
struct FittedDocument {
  std::string text;
  size_t tokens = 0;
};

// One per query: it remembers the lines it counted (not thread-safe).
class BudgetFit {
 public:
  // Not owned; must outlive the BudgetFit.
  BudgetFit(const ContextRenderer* renderer, const BpeTokenizer* tokenizer, uint32_t limit);

  // Cuts `sections` (in priority order) so that Document() of them fits the limit, marking
  // what it cuts `truncated` and what it leaves out entirely `dropped`. OUT_OF_RANGE, changing
  // nothing, for kStrict when the whole document does not fit. Returns the document.
  absl::StatusOr<FittedDocument> Fit(Truncation truncation,
                                     std::vector<SectionData>* sections) const;

  size_t Count(const std::string& text) const;

 private:
  // The tokens `section` adds to the document.
  size_t Cost(const SectionData& section) const;
  // `section` (which costs `cost`) cut to at most `budget` tokens: as many whole items as fit,
  // kept from its start (or its end with `keep_end`), then as much of the next item's text as
  // fits, cut at one of its token boundaries. Dropped when not even its header fits.
  SectionData CutTo(const SectionData& section, size_t cost, size_t budget, bool keep_end) const;
  // The largest cut of the text of the item after the `count` whole ones kept (bytes from its
  // start, or its end), at a token boundary, with which the section costs at most `budget`.
  // `base`: the cost with the `count` items; `with_item`: with that item whole (> budget).
  size_t LongestTextThatFits(const SectionData& section, size_t count, size_t budget,
                             bool keep_end, size_t base, size_t with_item) const;
  static size_t LargestFitting(size_t high, size_t guess, absl::FunctionRef<bool(size_t)> fits);
  void FitInOrder(bool keep_end, std::vector<SectionData>* sections) const;
  void FitProportionally(std::vector<SectionData>* sections) const;
  std::string Render(const std::vector<SectionData>& sections) const;

  const ContextRenderer* const renderer_;
  const BpeTokenizer* const tokenizer_;
  const uint32_t limit_;
  size_t empty_cost_ = 0;  // the empty document's tokens
  // The probes render documents that differ in a few lines: each line is merged once.
  mutable CountMemo memo_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_BUDGET_FIT_H_
