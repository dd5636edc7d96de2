// SearchPostings: the pruned top-k and its exhaustive fallback (see bm25_search.h).
#include "engine/text/bm25_search.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "engine/common/status_macros.h"
#include "engine/storage/varint.h"

namespace sochdb::text::internal {
namespace {

using Filter = std::function<bool(std::string_view)>;
// Filter answers already given, by doc_id, so the fallback never asks twice.
using Asked = absl::flat_hash_map<std::string, bool>;

struct Posting {
  std::string doc_id;
  uint64_t frequency;
  uint64_t length;
};

bool DecodePosting(std::string_view in, uint64_t* frequency, uint64_t* length) {
  return storage::GetVarint64(&in, frequency) && storage::GetVarint64(&in, length) && in.empty() &&
         *frequency > 0 && *frequency <= *length;
}

absl::Status MalformedPosting() { return absl::DataLossError("bm25 posting record is malformed"); }

double Idf(double n, uint64_t df) {
  const double d = static_cast<double>(df);
  return std::log(1.0 + (n - d + 0.5) / (d + 0.5));
}

// The one expression both paths use, so their scores agree bit for bit.
double Contribution(double idf, uint64_t frequency, uint64_t length, double avgdl) {
  const double tf = static_cast<double>(frequency);
  const double dl = static_cast<double>(length);
  return idf * (tf * (kBm25K1 + 1)) / (tf + kBm25K1 * (1 - kBm25B + kBm25B * dl / avgdl));
}

bool InPrefix(const storage::Iterator& it, const std::string& prefix) {
  return it.Valid() && it.key().substr(0, prefix.size()) == prefix;
}

bool RanksBefore(const ScoredDoc& a, const ScoredDoc& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.doc_id < b.doc_id;
}

// Exhaustive: adds the contribution of the term whose postings start with `prefix` to `scores`.
absl::Status ScoreTerm(storage::Iterator* it, const std::string& prefix, double n, double avgdl,
                       absl::flat_hash_map<std::string, double>* scores) {
  std::vector<Posting> postings;
  for (it->Seek(prefix); InPrefix(*it, prefix); it->Next()) {
    Posting posting{std::string(it->key().substr(prefix.size())), 0, 0};
    if (!DecodePosting(it->value(), &posting.frequency, &posting.length)) {
      return MalformedPosting();
    }
    postings.push_back(std::move(posting));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  const double idf = Idf(n, postings.size());
  for (const Posting& posting : postings) {
    (*scores)[posting.doc_id] += Contribution(idf, posting.frequency, posting.length, avgdl);
  }
  return absl::OkStatus();
}

// The best k of `scores` that pass `filter`, in rank order. Sorting first lets the filter (which
// may read the store) run only until k candidates passed; answers in `asked` are reused.
std::vector<ScoredDoc> Rank(absl::flat_hash_map<std::string, double> scores, size_t k,
                            const Filter* filter, const Asked& asked) {
  std::vector<ScoredDoc> candidates;
  candidates.reserve(scores.size());
  for (auto& [doc_id, score] : scores) candidates.push_back(ScoredDoc{doc_id, score});
  std::sort(candidates.begin(), candidates.end(), RanksBefore);
  std::vector<ScoredDoc> results;
  for (ScoredDoc& candidate : candidates) {
    if (results.size() == k) break;
    if (filter != nullptr) {
      const auto known = asked.find(candidate.doc_id);
      if (!(known != asked.end() ? known->second : (*filter)(candidate.doc_id))) continue;
    }
    results.push_back(std::move(candidate));
  }
  return results;
}

absl::StatusOr<std::vector<ScoredDoc>> Exhaustive(storage::Iterator* it,
                                                  const std::vector<std::string>& prefixes,
                                                  double n, double avgdl, size_t k,
                                                  const Filter* filter, const Asked& asked) {
  absl::flat_hash_map<std::string, double> scores;
  for (const std::string& prefix : prefixes) {
    SOCHDB_RETURN_IF_ERROR(ScoreTerm(it, prefix, n, avgdl, &scores));
  }
  return Rank(std::move(scores), k, filter, asked);
}

// One term of the pruned search: its postings when rare (all of them), its exact df.
struct TermScan {
  uint64_t df = 0;
  bool common = false;
  std::vector<Posting> postings;
};

// Reads up to `limit` postings of `prefix`; one more makes the term common (postings dropped).
absl::Status Probe(storage::Iterator* it, const std::string& prefix, uint64_t limit,
                   TermScan* term) {
  for (it->Seek(prefix); InPrefix(*it, prefix); it->Next()) {
    if (term->postings.size() == limit) {
      term->common = true;
      term->postings = {};
      return absl::OkStatus();
    }
    Posting posting{std::string(it->key().substr(prefix.size())), 0, 0};
    if (!DecodePosting(it->value(), &posting.frequency, &posting.length)) {
      return MalformedPosting();
    }
    term->postings.push_back(std::move(posting));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  term->df = term->postings.size();
  return absl::OkStatus();
}

// A candidate's postings, as (term index, frequency, length), summed in term order at the end.
struct Hit {
  size_t term;
  uint64_t frequency;
  uint64_t length;
};
using Candidates = absl::flat_hash_map<std::string_view, std::vector<Hit>>;

// Counts a common term's postings (each decoded, as the exhaustive path would) and collects the
// candidates' ones: no allocation per posting.
absl::Status ScanCommon(storage::Iterator* it, const std::string& prefix, size_t term_index,
                        TermScan* term, Candidates* candidates) {
  for (it->Seek(prefix); InPrefix(*it, prefix); it->Next()) {
    uint64_t frequency = 0, length = 0;
    if (!DecodePosting(it->value(), &frequency, &length)) return MalformedPosting();
    ++term->df;
    const auto found = candidates->find(it->key().substr(prefix.size()));
    if (found != candidates->end()) found->second.push_back(Hit{term_index, frequency, length});
  }
  return it->status();
}

// The candidates' exact scores, ranked.
std::vector<ScoredDoc> ScoreCandidates(Candidates* candidates, const std::vector<double>& idfs,
                                       double avgdl) {
  std::vector<ScoredDoc> ranked;
  ranked.reserve(candidates->size());
  for (auto& [doc_id, hits] : *candidates) {
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.term < b.term; });
    double score = 0;
    for (const Hit& hit : hits) score += Contribution(idfs[hit.term], hit.frequency, hit.length, avgdl);
    ranked.push_back(ScoredDoc{std::string(doc_id), score});
  }
  std::sort(ranked.begin(), ranked.end(), RanksBefore);
  return ranked;
}

}  // namespace

absl::StatusOr<std::vector<ScoredDoc>> SearchPostings(
    storage::Iterator* it, const std::vector<std::string>& prefixes, double n, double avgdl,
    size_t k, const Filter* filter, uint64_t rare_limit, SearchTrace* trace) {
  std::vector<TermScan> terms(prefixes.size());
  Candidates candidates;
  for (size_t t = 0; t < prefixes.size(); ++t) {
    SOCHDB_RETURN_IF_ERROR(Probe(it, prefixes[t], rare_limit, &terms[t]));
    for (const Posting& p : terms[t].postings) {
      candidates[p.doc_id].push_back(Hit{t, p.frequency, p.length});
    }
  }
  // Without a candidate nothing can be proven (all terms common or unknown): skip the counting.
  if (candidates.empty()) return Exhaustive(it, prefixes, n, avgdl, k, filter, {});
  std::vector<double> idfs(prefixes.size());
  // Non-candidates score below `bound`: the sum of the common terms' upper bounds.
  double bound = 0;
  bool any_common = false;
  for (size_t t = 0; t < prefixes.size(); ++t) {
    if (terms[t].common) {
      SOCHDB_RETURN_IF_ERROR(ScanCommon(it, prefixes[t], t, &terms[t], &candidates));
      any_common = true;
    }
    idfs[t] = Idf(n, terms[t].df);
    if (terms[t].common) bound += std::max(0.0, idfs[t]) * (kBm25K1 + 1);
  }
  // Rounding in the sums is far below this margin; NaN compares false and falls back.
  const double safe_bound = bound * (1 + 1e-9) + 1e-12;
  Asked asked;
  std::vector<ScoredDoc> results;
  for (ScoredDoc& candidate : ScoreCandidates(&candidates, idfs, avgdl)) {
    if (results.size() == k) break;
    if (any_common && !(candidate.score > safe_bound)) break;
    if (filter != nullptr) {
      const bool passed = (*filter)(candidate.doc_id);
      asked.emplace(candidate.doc_id, passed);
      if (!passed) continue;
    }
    results.push_back(std::move(candidate));
  }
  if (results.size() == k || !any_common) {
    if (trace != nullptr) trace->pruned = true;
    return results;
  }
  return Exhaustive(it, prefixes, n, avgdl, k, filter, asked);
}

}  // namespace sochdb::text::internal
