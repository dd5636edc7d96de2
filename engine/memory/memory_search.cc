// MemoryStore::Search: the BM25, trigram and vector lanes and their weighted RRF fusion
// (memory_store.h). Every lane filters by as_of itself, so filtered episodes take no slot.
#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/memory/memory_space.h"
#include "engine/memory/memory_store.h"
#include "engine/storage/keys.h"
#include "engine/text/tokenizer.h"
#include "engine/vector/ann_index.h"

namespace sochdb::memory {
namespace {

// One trigram's posting list as the leapfrog join walks it.
struct PostingCursor {
  std::string prefix;
  std::unique_ptr<storage::Iterator> it;
  bool started = false;  // positioned by a first seek
};

// Steps forward a cursor takes before it seeks instead: a seek repositions every level of the
// LSM tree, a step is the next key of a block already read.
constexpr int kStepsBeforeSeek = 8;

// Moves `cursor` to its first posting with inverted id >= `target`; false when none is left.
// `valid_from` gets the posting's t_valid_from.
absl::StatusOr<bool> SeekPosting(PostingCursor& cursor, uint64_t target, uint64_t* found,
                                 uint64_t* valid_from) {
  storage::Iterator& it = *cursor.it;
  const std::string& prefix = cursor.prefix;
  const auto in_list = [&] { return it.Valid() && it.key().substr(0, prefix.size()) == prefix; };
  uint64_t id = 0;
  bool seek = !cursor.started;
  for (int step = 0; !seek && in_list() &&
                     internal::ParseTrigramKeyId(it.key(), prefix.size(), &id) && ~id < target;
       ++step) {
    if (step == kStepsBeforeSeek) {
      seek = true;
    } else {
      it.Next();
    }
  }
  if (seek) {
    it.Seek(prefix + internal::IdBytes(target));
    cursor.started = true;
  }
  if (!in_list()) {
    SOCHDB_RETURN_IF_ERROR(it.status());
    return false;
  }
  if (!internal::ParseTrigramKeyId(it.key(), prefix.size(), &id) ||
      !internal::ParseIdBytes(it.value(), valid_from)) {
    return absl::DataLossError("an episode trigram posting is malformed");
  }
  *found = ~id;
  return true;
}

// The query's distinct terms, at most text::kMaxQueryTerms of them (Bm25Index refuses more).
std::string BoundedBm25Query(std::string_view query) {
  std::vector<std::string> terms;
  absl::flat_hash_set<std::string> seen;
  for (std::string& term : text::Tokenize(query)) {
    if (terms.size() == text::kMaxQueryTerms) break;
    if (seen.insert(term).second) terms.push_back(std::move(term));
  }
  return absl::StrJoin(terms, " ");
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> MemoryStore::Bm25Lane(const Space& space, std::string_view ns,
                                                            std::string_view query,
                                                            std::optional<uint64_t> as_of,
                                                            const storage::Snapshot* view) const {
  const std::string terms = BoundedBm25Query(query);
  absl::Status failed;
  const std::function<bool(std::string_view)> keep = [&](std::string_view doc_id) {
    uint64_t id = 0;
    if (!failed.ok() || !internal::ParseIdBytes(doc_id, &id)) return false;
    absl::StatusOr<std::optional<std::string>> bytes =
        store_->Get(internal::EpisodeKey(ns, id), view);
    if (!bytes.ok() || !bytes->has_value()) {
      failed.Update(bytes.status());
      return false;
    }
    absl::StatusOr<internal::EpisodeRecord> record = internal::DecodeEpisode(**bytes, id);
    if (!record.ok()) {
      failed.Update(record.status());
      return false;
    }
    return record->t_valid_from_ms <= *as_of;
  };
  SOCHDB_ASSIGN_OR_RETURN(
      std::vector<text::ScoredDoc> docs,
      space.bm25->Search(terms, kLaneHits, as_of.has_value() ? &keep : nullptr, view));
  SOCHDB_RETURN_IF_ERROR(failed);
  std::vector<uint64_t> ids;
  for (const text::ScoredDoc& doc : docs) {
    uint64_t id = 0;
    if (internal::ParseIdBytes(doc.doc_id, &id)) ids.push_back(id);
  }
  return ids;
}

// A leapfrog join of the query's trigram posting lists, each ordered newest id first: the first
// kLaneHits episodes found in every list. Cost: one seek per list per skip, never a full list.
absl::StatusOr<std::vector<uint64_t>> MemoryStore::TrigramLane(
    std::string_view ns, std::string_view query, std::optional<uint64_t> as_of,
    const storage::Snapshot* view) const {
  std::vector<uint64_t> ids;
  const std::vector<std::string> trigrams = internal::Trigrams(query);
  if (trigrams.empty()) return ids;
  std::vector<PostingCursor> cursors;
  for (const std::string& trigram : trigrams) {
    cursors.push_back({internal::TrigramPrefix(ns, trigram), store_->NewIterator(view)});
  }
  uint64_t target = 0;  // an inverted id: 0 is the newest possible episode
  size_t agreed = 0;
  for (size_t i = 0; ids.size() < kLaneHits; i = (i + 1) % cursors.size()) {
    uint64_t found = 0, valid_from = 0;
    SOCHDB_ASSIGN_OR_RETURN(const bool any, SeekPosting(cursors[i], target, &found, &valid_from));
    if (!any) break;
    if (found != target) {
      target = found;
      agreed = 1;
      continue;
    }
    if (++agreed < cursors.size()) continue;
    if (!as_of.has_value() || valid_from <= *as_of) ids.push_back(~target);
    if (target == UINT64_MAX) break;
    ++target;
    agreed = 0;
  }
  return ids;
}

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
    absl::ReaderMutexLock lock(&space.vectors_mu);
    auto it = space.valid_from.find(id);
    return it != space.valid_from.end() && it->second <= *as_of;
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
    SOCHDB_ASSIGN_OR_RETURN(auto ids, Bm25Lane(*space, ns, query, options.as_of_ms, view.get()));
    fuse(ids, kBm25Weight);
  }
  if (lanes == Lanes::kAll || lanes == Lanes::kTrigram) {
    SOCHDB_ASSIGN_OR_RETURN(auto ids, TrigramLane(ns, query, options.as_of_ms, view.get()));
    fuse(ids, kTrigramWeight);
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
