// Maximal marginal relevance: re-orders retrieved episodes so that a context does not spend its
// budget on near-duplicates (upstream's compiler does the same, with lambda 0.7).
#ifndef SOCHDB_ENGINE_CONTEXT_MMR_H_
#define SOCHDB_ENGINE_CONTEXT_MMR_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace sochdb::context {

inline constexpr double kMmrLambda = 0.7;

// Greedy MMR over `texts` ranked best first with `scores` (same length): picks up to `count`,
// each time the one maximising lambda * relevance - (1 - lambda) * (its highest similarity to
// those picked), where relevance is the score divided by the best score and similarity the
// Jaccard index of the two texts' sets of lower-cased whitespace-separated words. Ties keep the
// better-ranked. Returns indexes into `texts`, in pick order. O(count x n) similarity look-ups.
std::vector<size_t> MmrOrder(const std::vector<std::string_view>& texts,
                             const std::vector<double>& scores, size_t count,
                             double lambda = kMmrLambda);

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_MMR_H_
