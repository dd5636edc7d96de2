// The ranking half of Bm25Index::Search, apart so tests can drive it with a small rare-term
// limit (a few hundred documents then exercise both the pruned answer and its fallback).
//
// Exact top-k pruning (MaxScore, Turtle & Flood 1995). A term's BM25 contribution is
// idf * tf*(k1+1) / (tf + k1*(1-b+b*dl/avgdl)) < max(idf, 0) * (k1+1) =: UB(term). Each term's
// postings are first read up to `rare_limit`: a term with no more is "rare" and kept whole; the
// others are "common". Every document holding a rare term is a candidate. One pass over each
// common term's postings counts its exact df (so its idf is exact), picks up the postings of
// candidates (a hash lookup per posting) and keeps all of them packed (no allocation per posting)
// for the fallback. A document holding only common terms
// scores below B = sum of the common terms' UBs. Candidates are ranked (score desc, doc_id asc)
// and offered to the filter in that order while their score exceeds B (with a relative margin for
// rounding): each such candidate outranks every non-candidate, so this prefix of the candidates'
// ranking is the prefix of the full ranking, and the filter sees the same calls in the same
// order. When k passed within it, the answer is exact. Otherwise every document is scored from
// the postings in memory (the fallback: no second read) and the filter's answers for the prefix
// already asked are reused, so the filter is still called at most once per document, in rank
// order.
//
// Scores are summed per document over the terms in the given (sorted) order with the same
// expression in both paths, so pruned and exhaustive answers carry bit-identical scores.
#ifndef SOCHDB_ENGINE_TEXT_BM25_SEARCH_H_
#define SOCHDB_ENGINE_TEXT_BM25_SEARCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/storage/store.h"
#include "engine/text/bm25_index.h"

namespace sochdb::text::internal {

// Postings a term may have and still count as rare (its documents become candidates).
inline constexpr uint64_t kRareTermPostings = 4096;

struct SearchTrace {
  bool pruned = false;  // answered without the exhaustive fallback
};

// The best k documents for the terms whose posting prefixes are `prefixes` (distinct terms, in
// sorted term order), with N = `n` and average document length `avgdl`, read through `it` (one
// snapshot). Same contract as Bm25Index::Search for order, scores and `filter`. DATA_LOSS for a
// malformed posting; the iterator's errors.
absl::StatusOr<std::vector<ScoredDoc>> SearchPostings(
    storage::Iterator* it, const std::vector<std::string>& prefixes, double n, double avgdl,
    size_t k, const std::function<bool(std::string_view)>* filter,
    uint64_t rare_limit = kRareTermPostings, SearchTrace* trace = nullptr);

}  // namespace sochdb::text::internal

#endif  // SOCHDB_ENGINE_TEXT_BM25_SEARCH_H_
