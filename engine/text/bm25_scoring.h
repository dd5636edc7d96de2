// The BM25 formula, shared by the posting index on the store (bm25_index.h, bm25_search.h) and
// agent memory's in-memory index (engine/memory/text_index.h), so both rank alike.
#ifndef SOCHDB_ENGINE_TEXT_BM25_SCORING_H_
#define SOCHDB_ENGINE_TEXT_BM25_SCORING_H_

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sochdb::text {

inline constexpr double kBm25K1 = 1.2;
inline constexpr double kBm25B = 0.75;

// ln(1 + (N - df + 0.5) / (df + 0.5)): positive for every df <= N.
inline double Bm25Idf(double n, uint64_t df) {
  const double d = static_cast<double>(df);
  return std::log(1.0 + (n - d + 0.5) / (d + 0.5));
}

// A term's contribution to a document of `length` tokens holding it `frequency` times. Every
// caller sums a document's contributions in term order, so equal inputs give equal scores.
inline double Bm25Contribution(double idf, uint64_t frequency, uint64_t length, double avgdl) {
  const double tf = static_cast<double>(frequency);
  const double dl = static_cast<double>(length);
  return idf * (tf * (kBm25K1 + 1)) / (tf + kBm25K1 * (1 - kBm25B + kBm25B * dl / avgdl));
}

// Term -> occurrences, in term order (so batches and sums come out in a deterministic order).
inline std::map<std::string, uint64_t> TermFrequencies(const std::vector<std::string>& tokens) {
  std::map<std::string, uint64_t> frequencies;
  for (const std::string& token : tokens) ++frequencies[token];
  return frequencies;
}

}  // namespace sochdb::text

#endif  // SOCHDB_ENGINE_TEXT_BM25_SCORING_H_
