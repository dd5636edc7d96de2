// SearchPostings: the pruned top-k and its exhaustive fallback (see bm25_search.h).
#include "engine/text/bm25_search.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "engine/common/status_macros.h"
#include "engine/storage/varint.h"

namespace sochdb::text::internal {
namespace {

using Filter = std::function<bool(std::string_view)>;
// Filter answers already given, by doc_id, so the fallback never asks twice.
using Asked = absl::flat_hash_map<std::string, bool>;

bool DecodePosting(std::string_view in, uint64_t* frequency, uint64_t* length) {
  return storage::GetVarint64(&in, frequency) && storage::GetVarint64(&in, length) && in.empty() &&
         *frequency > 0 && *frequency <= *length;
}

absl::Status MalformedPosting() { return absl::DataLossError("bm25 posting record is malformed"); }

bool InPrefix(const storage::Iterator& it, const std::string& prefix) {
  return it.Valid() && it.key().substr(0, prefix.size()) == prefix;
}

bool RanksBefore(const ScoredDoc& a, const ScoredDoc& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.doc_id < b.doc_id;
}

// One term's postings in doc_id order, the doc_ids packed into one string so that reading a
// posting allocates nothing.
struct TermPostings {
  bool common = false;  // more than the rare limit
  std::string ids;
  std::vector<size_t> ends;  // ids[ends[i-1], ends[i]) is posting i's doc_id
  std::vector<uint64_t> frequencies;
  std::vector<uint64_t> lengths;

  size_t size() const { return ends.size(); }
  std::string_view id(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(ids).substr(begin, ends[i] - begin);
  }
  void Add(std::string_view doc_id, uint64_t frequency, uint64_t length) {
    ids.append(doc_id);
    ends.push_back(ids.size());
    frequencies.push_back(frequency);
    lengths.push_back(length);
  }
};

// Reads the postings of `prefix` into `*term`, at most `limit` of them: when there are more, the
// term is common and `*term` is left empty.
absl::Status ReadPostings(storage::Iterator* it, const std::string& prefix, uint64_t limit,
                          TermPostings* term) {
  for (it->Seek(prefix); InPrefix(*it, prefix); it->Next()) {
    if (term->size() == limit) {
      *term = TermPostings{};
      term->common = true;
      return absl::OkStatus();
    }
    uint64_t frequency = 0, length = 0;
    if (!DecodePosting(it->value(), &frequency, &length)) return MalformedPosting();
    term->Add(it->key().substr(prefix.size()), frequency, length);
  }
  return it->status();
}

// A candidate's postings, as (term index, frequency, length), summed in term order at the end.
struct Hit {
  size_t term;
  uint64_t frequency;
  uint64_t length;
};
// Keys point into the rare terms' TermPostings::ids, which no longer change.
using Candidates = absl::flat_hash_map<std::string_view, std::vector<Hit>>;

// Reads all of a common term's postings and adds the candidates' ones to their hits.
absl::Status ScanCommon(storage::Iterator* it, const std::string& prefix, size_t term_index,
                        TermPostings* term, Candidates* candidates) {
  for (it->Seek(prefix); InPrefix(*it, prefix); it->Next()) {
    uint64_t frequency = 0, length = 0;
    if (!DecodePosting(it->value(), &frequency, &length)) return MalformedPosting();
    const std::string_view doc_id = it->key().substr(prefix.size());
    term->Add(doc_id, frequency, length);
    const auto found = candidates->find(doc_id);
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
    for (const Hit& hit : hits) {
      score += Bm25Contribution(idfs[hit.term], hit.frequency, hit.length, avgdl);
    }
    ranked.push_back(ScoredDoc{std::string(doc_id), score});
  }
  std::sort(ranked.begin(), ranked.end(), RanksBefore);
  return ranked;
}

// Every document holding a term, with its score summed over the terms in order: a merge of the
// terms' postings (each in doc_id order), so no map is needed.
std::vector<std::pair<std::string_view, double>> ScoreAll(const std::vector<TermPostings>& terms,
                                                          const std::vector<double>& idfs,
                                                          double avgdl) {
  std::vector<size_t> next(terms.size(), 0);
  std::vector<std::pair<std::string_view, double>> scored;
  while (true) {
    std::optional<std::string_view> lowest;
    for (size_t t = 0; t < terms.size(); ++t) {
      if (next[t] < terms[t].size() && (!lowest || terms[t].id(next[t]) < *lowest)) {
        lowest = terms[t].id(next[t]);
      }
    }
    if (!lowest) return scored;
    double score = 0;
    for (size_t t = 0; t < terms.size(); ++t) {
      if (next[t] < terms[t].size() && terms[t].id(next[t]) == *lowest) {
        const size_t i = next[t]++;
        score += Bm25Contribution(idfs[t], terms[t].frequencies[i], terms[t].lengths[i], avgdl);
      }
    }
    scored.emplace_back(*lowest, score);
  }
}

// The fallback: every document ranked, offered to the filter until k passed (answers in `asked`
// reused, not asked again). Only as much of the ranking is sorted as the filter consumes.
std::vector<ScoredDoc> Exhaustive(const std::vector<TermPostings>& terms,
                                  const std::vector<double>& idfs, double avgdl, size_t k,
                                  const Filter* filter, const Asked& asked) {
  std::vector<std::pair<std::string_view, double>> ranked = ScoreAll(terms, idfs, avgdl);
  const auto before = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  std::vector<ScoredDoc> results;
  for (size_t done = 0, sorted = 0; results.size() < k && done < ranked.size(); ++done) {
    if (done == sorted) {  // sort the next stretch, growing geometrically
      sorted = std::min(ranked.size(), std::max(2 * sorted, sorted + k + 16));
      std::partial_sort(ranked.begin() + done, ranked.begin() + sorted, ranked.end(), before);
    }
    const auto& [doc_id, score] = ranked[done];
    if (filter != nullptr) {
      const auto known = asked.empty() ? asked.end() : asked.find(std::string(doc_id));
      if (!(known != asked.end() ? known->second : (*filter)(doc_id))) continue;
    }
    results.push_back(ScoredDoc{std::string(doc_id), score});
  }
  return results;
}

}  // namespace

absl::StatusOr<std::vector<ScoredDoc>> SearchPostings(
    storage::Iterator* it, const std::vector<std::string>& prefixes, double n, double avgdl,
    size_t k, const Filter* filter, uint64_t rare_limit, SearchTrace* trace) {
  std::vector<TermPostings> terms(prefixes.size());
  for (size_t t = 0; t < prefixes.size(); ++t) {
    SOCHDB_RETURN_IF_ERROR(ReadPostings(it, prefixes[t], rare_limit, &terms[t]));
  }
  Candidates candidates;
  for (size_t t = 0; t < terms.size(); ++t) {
    for (size_t i = 0; i < terms[t].size(); ++i) {
      candidates[terms[t].id(i)].push_back(Hit{t, terms[t].frequencies[i], terms[t].lengths[i]});
    }
  }
  std::vector<double> idfs(prefixes.size());
  // Non-candidates score below `bound`: the sum of the common terms' upper bounds.
  double bound = 0;
  bool any_common = false;
  for (size_t t = 0; t < prefixes.size(); ++t) {
    if (terms[t].common) {
      SOCHDB_RETURN_IF_ERROR(ScanCommon(it, prefixes[t], t, &terms[t], &candidates));
      any_common = true;
    }
    idfs[t] = Bm25Idf(n, terms[t].size());
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
  return Exhaustive(terms, idfs, avgdl, k, filter, asked);
}

}  // namespace sochdb::text::internal
