// CollectionStore::Search: the filter is evaluated once over the in-memory metadata; the vector
// ranking asks the VectorSpace for vector candidates among the accepted documents and folds them
// into per-document scores; the keyword ranking is BM25 over the accepted documents; hybrid
// fuses both by weighted Reciprocal Rank Fusion. The winners are read from one store snapshot.
//
// Multi-vector documents (the aggregate):
//   kFirst  only ordinal-0 vectors are searched: a document's score is its first vector's.
//   kMax    k * (most embeddings of any document) vector candidates: at least k documents, and
//           a document's best vector is ahead of its others, so its first hit is its score.
//   kMean   when the accepted documents hold few vectors (at most kExhaustiveVectors, or at most
//           vector::kMaxK while the index is below its exact threshold) every accepted vector is
//           fetched and the means are exact over all documents. Otherwise 2 * k * (most
//           embeddings) candidates pick the documents, whose means are then completed exactly
//           (missing vectors are read and scored): exact scores, approximate candidate set (a
//           document whose vectors are each only moderately close can be missed).
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/collection/collection_codec.h"
#include "engine/collection/collection_store.h"
#include "engine/common/answer_budget.h"
#include "engine/common/status_macros.h"

namespace sochdb::collection {
namespace {

constexpr uint64_t kExhaustiveVectors = 4096;

// A tag of up to 2 bytes and a length of up to 5, plus the message nesting around it.
constexpr size_t kFraming = 8;

// The bytes of one embedding of `dimension` floats in an answer (a packed vector).
size_t EmbeddingBytes(size_t dimension) { return 2 * kFraming + sizeof(float) * dimension; }

// An upper bound of the bytes `doc` adds to a search answer as one scored document: each
// string and packed vector with its tag and length, each metadata entry as a map entry of two
// strings, and the score.
size_t AnswerBytes(const Document& doc, bool with_embeddings) {
  size_t bytes = 3 * kFraming + 5;  // the scored document, its document, the score
  bytes += 2 * kFraming + doc.id.size() + doc.content.size();
  for (const auto& [key, value] : doc.metadata) bytes += 3 * kFraming + key.size() + value.size();
  if (with_embeddings) {
    for (const std::vector<float>& e : doc.embeddings) bytes += EmbeddingBytes(e.size());
  }
  return bytes;
}

// The fewest bytes a search's answer can take, known once the filter has run, or 0 when nothing
// is sure. A vector ranking (alone or fused) of single-vector documents without min_score finds
// min(k, accepted documents) (see VectorRanking); each takes at least the AnswerBytes of a
// one-byte id with no content or metadata, and its embedding when included. Multi-vector
// documents may rank fewer (their vectors crowd the k nearest), and text matches are unknown.
size_t AnswerFloor(const SearchQuery& q, uint64_t accepted_documents, uint32_t most_embeddings,
                   uint32_t dimension) {
  if (q.vector.empty() || q.min_score.has_value() || most_embeddings > 1) return 0;
  Document smallest;  // a one-byte id; its embedding is counted without building it
  smallest.id = "x";
  const size_t per_document =
      AnswerBytes(smallest, false) + (q.include_embeddings ? EmbeddingBytes(dimension) : 0);
  return std::min<uint64_t>(q.k, accepted_documents) * per_document;
}

// Candidates per list for hybrid fusion.
uint32_t FusionCandidates(uint32_t k) {
  return std::min<uint32_t>(std::max<uint32_t>(k * 4, 100), vector::kMaxK);
}

absl::Status ValidateQuery(const SearchQuery& q, const CollectionDefinition& d) {
  if (q.k > vector::kMaxK) {
    return absl::InvalidArgumentError(
        absl::StrFormat("k is %d; the limit is %d", q.k, vector::kMaxK));
  }
  if (q.vector.empty() && q.text_query.empty()) {
    return absl::InvalidArgumentError("the query needs a vector or a text_query");
  }
  if (!q.vector.empty()) {
    SOCHDB_RETURN_IF_ERROR(internal::ValidateEmbedding("query", q.vector, d.spec.dimension));
  }
  if (q.alpha.has_value() && !(*q.alpha >= 0.0f && *q.alpha <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrFormat("alpha is %g; the range is 0..1", *q.alpha));
  }
  if (q.rrf_k == 0) return absl::InvalidArgumentError("rrf_k is 0; it must be at least 1");
  if (q.ef_search > vector::kMaxEf) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ef_search is %d; the range is 0..%d", q.ef_search, vector::kMaxEf));
  }
  if (q.min_score.has_value() && std::isnan(*q.min_score)) {
    return absl::InvalidArgumentError("min_score is NaN");
  }
  if (!q.text_query.empty() && !d.hybrid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Collection '", d.name,
        "' does not have hybrid search enabled; text_query needs enable_hybrid_search"));
  }
  return absl::OkStatus();
}

}  // namespace

CollectionStore::Accepted CollectionStore::Accept(const Collection& c,
                                                  const filter::MetadataFilter& filter) const {
  Accepted a;
  absl::ReaderMutexLock docs_lock(&c.docs_mu);
  a.total_vectors = c.total_vectors;
  a.max_embeddings = c.embedding_histogram.empty() ? 0 : c.embedding_histogram.rbegin()->first;
  if (filter.MatchesEverything()) {
    a.documents = c.docs.size();
    a.vectors = c.total_vectors;
    return a;
  }
  a.everything = false;
  for (const auto& [id, info] : c.docs) {
    if (!filter.Matches(info.metadata)) continue;
    a.ids.emplace(id, info.embeddings);
    a.vectors += info.embeddings;
  }
  a.documents = a.ids.size();
  return a;
}

absl::StatusOr<std::vector<CollectionStore::Ranked>> CollectionStore::VectorRanking(
    const Collection& c, const SearchQuery& query, const Accepted& accepted,
    uint32_t documents) const {
  std::vector<Ranked> ranked;
  if (accepted.vectors == 0 || documents == 0) return ranked;
  const vector::IndexSpec& spec = c.definition.spec;
  const uint64_t most = std::max<uint32_t>(1, accepted.max_embeddings);
  const bool first_only = query.aggregate == Aggregate::kFirst && most > 1;
  const bool mean = query.aggregate == Aggregate::kMean && most > 1;

  uint64_t want = documents;
  if (mean) {
    const bool exhaustive =
        accepted.vectors <= vector::kMaxK &&
        (accepted.vectors <= kExhaustiveVectors || accepted.total_vectors < spec.exact_threshold);
    want = exhaustive ? accepted.vectors : 2 * most * documents;
  } else if (!first_only) {
    want = most * documents;
  }
  want = std::clamp<uint64_t>(want, 1, vector::kMaxK);

  std::function<bool(std::string_view)> accept;
  double hint = -1;
  if (!accepted.everything || first_only) {
    accept = [&accepted, first_only](std::string_view vector_id) {
      std::string_view doc_id;
      uint32_t ordinal = 0;
      if (!internal::SplitVectorId(vector_id, &doc_id, &ordinal)) return false;
      if (first_only && ordinal != 0) return false;
      return accepted.everything || accepted.ids.contains(doc_id);
    };
    const uint64_t eligible = first_only ? accepted.documents : accepted.vectors;
    hint = accepted.total_vectors == 0
               ? 1.0
               : static_cast<double>(eligible) / static_cast<double>(accepted.total_vectors);
  }
  SOCHDB_ASSIGN_OR_RETURN(
      std::vector<vector::VectorHit> hits,
      c.space->Search(query.vector, static_cast<uint32_t>(want), query.ef_search,
                      accept ? &accept : nullptr, hint));

  if (!mean) {
    // Hits come best first, so a document's first hit is its best (or its only eligible) vector.
    absl::flat_hash_map<std::string_view, bool, vector::IdHash, vector::IdEq> seen;
    for (const vector::VectorHit& hit : hits) {
      std::string_view doc_id;
      uint32_t ordinal = 0;
      if (!internal::SplitVectorId(hit.id, &doc_id, &ordinal)) continue;
      if (!seen.try_emplace(doc_id, true).second) continue;
      ranked.push_back(Ranked{std::string(doc_id), internal::ScoreOfDistance(spec.metric,
                                                                             hit.distance)});
    }
  } else {
    SOCHDB_ASSIGN_OR_RETURN(ranked, MeanScores(c, query.vector, hits));
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  if (ranked.size() > documents) ranked.resize(documents);
  return ranked;
}

absl::StatusOr<std::vector<CollectionStore::Ranked>> CollectionStore::MeanScores(
    const Collection& c, absl::Span<const float> query,
    const std::vector<vector::VectorHit>& hits) const {
  const vector::Metric metric = c.definition.spec.metric;
  struct Partial {
    double sum = 0;
    std::vector<bool> scored;  // by ordinal
  };
  absl::flat_hash_map<std::string, Partial, vector::IdHash, vector::IdEq> partial;
  {
    absl::ReaderMutexLock docs_lock(&c.docs_mu);
    for (const vector::VectorHit& hit : hits) {
      std::string_view doc_id;
      uint32_t ordinal = 0;
      if (!internal::SplitVectorId(hit.id, &doc_id, &ordinal)) continue;
      auto info = c.docs.find(doc_id);
      if (info == c.docs.end() || ordinal >= info->second.embeddings) continue;
      Partial& p = partial[doc_id];
      if (p.scored.empty()) p.scored.resize(info->second.embeddings, false);
      if (p.scored[ordinal]) continue;
      p.scored[ordinal] = true;
      p.sum += internal::ScoreOfDistance(metric, hit.distance);
    }
  }
  std::vector<Ranked> ranked;
  ranked.reserve(partial.size());
  for (auto& [doc_id, p] : partial) {
    for (uint32_t ordinal = 0; ordinal < p.scored.size(); ++ordinal) {
      if (p.scored[ordinal]) continue;
      SOCHDB_ASSIGN_OR_RETURN(std::optional<vector::StoredVector> stored,
                              c.space->Get(internal::VectorId(doc_id, ordinal)));
      if (stored.has_value()) p.sum += internal::ExactScore(metric, query, stored->vector);
    }
    ranked.push_back(
        Ranked{doc_id, static_cast<float>(p.sum / static_cast<double>(p.scored.size()))});
  }
  return ranked;
}

absl::StatusOr<std::vector<CollectionStore::Ranked>> CollectionStore::TextRanking(
    const Collection& c, const SearchQuery& query, const Accepted& accepted,
    uint32_t documents) const {
  std::vector<Ranked> ranked;
  if (documents == 0 || accepted.documents == 0) return ranked;
  std::function<bool(std::string_view)> accept = [&accepted](std::string_view doc_id) {
    return accepted.ids.contains(doc_id);
  };
  const size_t k = std::min<size_t>(documents, text::kMaxSearchResults);
  SOCHDB_ASSIGN_OR_RETURN(
      std::vector<text::ScoredDoc> hits,
      c.bm25->Search(query.text_query, k, accepted.everything ? nullptr : &accept));
  ranked.reserve(hits.size());
  // Bm25Index's order (score, then id) is kept as it is: it was decided on the double scores.
  for (text::ScoredDoc& hit : hits) {
    ranked.push_back(Ranked{std::move(hit.doc_id), static_cast<float>(hit.score)});
  }
  return ranked;
}

absl::StatusOr<std::vector<ScoredDocument>> CollectionStore::Search(
    const std::string& ns, const std::string& name, const SearchQuery& query) const {
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Find(ns, name));
  SOCHDB_RETURN_IF_ERROR(ValidateQuery(query, c->definition));
  std::vector<ScoredDocument> out;
  if (query.k == 0) return out;
  const Accepted accepted = Accept(*c, query.filter);
  // Embeddings are most of an answer, so the hint names them only when they were asked for.
  AnswerBudget budget(query.max_answer_bytes, query.max_answer_setting, "SearchCollection answer",
                      query.include_embeddings
                          ? "lower k, or leave embeddings out (include_embeddings=false)"
                          : "lower k");
  // Refused before ranking when even the smallest answer the search can have cannot fit.
  SOCHDB_RETURN_IF_ERROR(budget.CheckRoomFor(AnswerFloor(
      query, accepted.documents, accepted.max_embeddings, c->definition.spec.dimension)));

  std::vector<Ranked> ranked;
  if (query.text_query.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(ranked, VectorRanking(*c, query, accepted, query.k));
  } else if (query.vector.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(ranked, TextRanking(*c, query, accepted, query.k));
  } else {
    const uint32_t candidates = FusionCandidates(query.k);
    SOCHDB_ASSIGN_OR_RETURN(std::vector<Ranked> by_vector,
                            VectorRanking(*c, query, accepted, candidates));
    SOCHDB_ASSIGN_OR_RETURN(std::vector<Ranked> by_text,
                            TextRanking(*c, query, accepted, candidates));
    const double alpha = query.alpha.value_or(0.5f);
    const double rrf_k = query.rrf_k;
    absl::flat_hash_map<std::string, double, vector::IdHash, vector::IdEq> fused;
    for (size_t i = 0; i < by_vector.size(); ++i) {
      fused[by_vector[i].id] += alpha / (rrf_k + static_cast<double>(i + 1));
    }
    for (size_t i = 0; i < by_text.size(); ++i) {
      fused[by_text[i].id] += (1 - alpha) / (rrf_k + static_cast<double>(i + 1));
    }
    std::vector<std::pair<std::string, double>> order(fused.begin(), fused.end());
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    ranked.reserve(order.size());
    for (auto& [id, score] : order) ranked.push_back(Ranked{id, static_cast<float>(score)});
  }

  observer_->BeforeSearchReads();
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  for (Ranked& r : ranked) {
    if (out.size() >= query.k) break;
    if (query.min_score.has_value() && r.score < *query.min_score) break;  // ranked best first
    SOCHDB_ASSIGN_OR_RETURN(std::optional<Document> doc,
                            ReadDocument(*c, r.id, query.include_embeddings, view.get()));
    if (!doc.has_value()) continue;  // deleted since it was ranked
    SOCHDB_RETURN_IF_ERROR(budget.Charge(AnswerBytes(*doc, query.include_embeddings)));
    out.push_back(ScoredDocument{*std::move(doc), r.score});
  }
  // Deleted while this search ran: what it read may be part of what the Delete removed.
  if (c->space->retired()) {
    return internal::CollectionNotFound(name);
  }
  return out;
}

}  // namespace sochdb::collection
