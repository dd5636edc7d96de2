// MemoryStore::Search: the vector lane and the weighted RRF fusion of the lanes (memory_store.h;
// the BM25 and trigram lanes are the namespace's text index, text_index.h). Every lane filters
// by as_of itself, so filtered episodes take no slot.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/memory/memory_space.h"
#include "engine/memory/memory_store.h"
#include "engine/vector/ann_index.h"

namespace sochdb::memory {

absl::StatusOr<std::vector<uint64_t>> MemoryStore::VectorLane(const Space& space,
                                                              const std::vector<float>& embedding,
                                                              std::optional<uint64_t> as_of) const {
  std::vector<uint64_t> ids;
  std::shared_ptr<vector::VectorSpace> vectors = space.Vectors();
  if (vectors == nullptr) return ids;  // no embedded episode yet
  SOCHDB_RETURN_IF_ERROR(CheckDimension(vectors->spec().dimension, embedding.size(), "embedding"));
  const std::function<bool(std::string_view)> keep = [&](std::string_view id_bytes) {
    uint64_t id = 0;
    if (!internal::ParseIdBytes(id_bytes, &id)) return false;
    const std::optional<uint64_t> valid_from = space.text.ValidFrom(id);
    return valid_from.has_value() && *valid_from <= *as_of;
  };
  const uint32_t ef = std::max<uint32_t>(options_.hnsw_ef_search, kLaneHits);
  SOCHDB_ASSIGN_OR_RETURN(
      std::vector<vector::VectorHit> hits,
      vectors->Search(embedding, kLaneHits, ef, as_of.has_value() ? &keep : nullptr));
  for (const vector::VectorHit& hit : hits) {
    uint64_t id = 0;
    if (internal::ParseIdBytes(hit.id, &id)) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::vector<ScoredEpisode>> MemoryStore::Search(absl::string_view ns_view,
                                                               absl::string_view query_view,
                                                               const SearchOptions& options) const {
  const std::string_view ns(ns_view.data(), ns_view.size());
  const std::string_view query(query_view.data(), query_view.size());
  const MemoryLimits& limits = options_.limits;
  if (query.size() > limits.max_query_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query is ", query.size(), " bytes; the limit is ", limits.max_query_bytes, " bytes"));
  }
  if (options.limit < 1 || options.limit > limits.max_search_limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit is ", options.limit, "; the range is 1..", limits.max_search_limit));
  }
  if (!options.embedding.empty()) {
    SOCHDB_RETURN_IF_ERROR(
        vector::ValidateVector(options.embedding, options.embedding.size(), "embedding"));
  }
  std::vector<ScoredEpisode> results;
  SOCHDB_ASSIGN_OR_RETURN(std::shared_ptr<Space> space, GetSpace(ns, /*create=*/false));
  if (space == nullptr) return results;  // no episode was ever written here
  std::unique_ptr<storage::Snapshot> view = store_->GetSnapshot();
  const Lanes lanes = options.lanes;
  // id -> fused score; rank r in a lane adds weight / (60 + r + 1).
  absl::flat_hash_map<uint64_t, double> fused;
  const auto fuse = [&](const std::vector<uint64_t>& ids, double weight) {
    for (size_t rank = 0; rank < ids.size(); ++rank) {
      fused[ids[rank]] += weight / (kRrfK + static_cast<double>(rank) + 1);
    }
  };
  if (lanes == Lanes::kAll || lanes == Lanes::kBm25) {
    fuse(space->text.Bm25(query, kLaneHits, options.as_of_ms), kBm25Weight);
  }
  if (lanes == Lanes::kAll || lanes == Lanes::kTrigram) {
    fuse(space->text.Trigram(query, kLaneHits, options.as_of_ms), kTrigramWeight);
  }
  if ((lanes == Lanes::kAll || lanes == Lanes::kVector) && !options.embedding.empty()) {
    SOCHDB_ASSIGN_OR_RETURN(auto ids, VectorLane(*space, options.embedding, options.as_of_ms));
    fuse(ids, kVectorWeight);
  }
  std::vector<std::pair<uint64_t, double>> ranked(fused.begin(), fused.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first > b.first);
  });
  std::optional<internal::Meta> meta;  // read once, by the first embedded episode
  for (const auto& [id, score] : ranked) {
    if (results.size() == options.limit) break;
    absl::StatusOr<Episode> episode = ReadEpisode(ns, id, view.get(), &meta);
    // The vector lane answers from the live index, which may hold an episode written or
    // deleted after the snapshot: only what the snapshot holds is returned.
    if (absl::IsNotFound(episode.status())) continue;
    if (!episode.ok()) return episode.status();
    results.push_back(ScoredEpisode{*std::move(episode), score});
  }
  return results;
}

}  // namespace sochdb::memory
