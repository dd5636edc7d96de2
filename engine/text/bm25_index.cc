// Bm25Index: posting and statistics records (see bm25_index.h for the layout), the write-side
// bookkeeping of pending statistics; scoring and ranking live in bm25_search.cc.
#include "engine/text/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/storage/varint.h"
#include "engine/text/bm25_search.h"
#include "engine/text/tokenizer.h"

namespace sochdb::text {
namespace {

using storage::GetVarint64;
using storage::PutVarint64;

constexpr char kStatsFormat = 0x01;

std::string EncodeStats(const Bm25Stats& stats) {
  std::string out(1, kStatsFormat);
  PutVarint64(stats.document_count, &out);
  PutVarint64(stats.total_tokens, &out);
  return out;
}

absl::StatusOr<Bm25Stats> DecodeStats(std::string_view in) {
  Bm25Stats stats;
  if (in.empty() || in[0] != kStatsFormat) {
    return absl::DataLossError("bm25 statistics record has an unknown format");
  }
  in.remove_prefix(1);
  if (!GetVarint64(&in, &stats.document_count) || !GetVarint64(&in, &stats.total_tokens) ||
      !in.empty()) {
    return absl::DataLossError("bm25 statistics record is malformed");
  }
  return stats;
}

std::string EncodePosting(uint64_t frequency, uint64_t length) {
  std::string out;
  PutVarint64(frequency, &out);
  PutVarint64(length, &out);
  return out;
}

absl::Status CheckScope(std::string_view scope) {
  const auto family = static_cast<uint8_t>(scope.empty() ? 0 : scope[0]);
  if (scope.size() < 2 || (family != static_cast<uint8_t>(storage::KeyFamily::kPosting) &&
                           family != static_cast<uint8_t>(storage::KeyFamily::kEpisodePosting))) {
    return absl::InvalidArgumentError(
        "bm25 scope must start with a posting family byte and name something after it");
  }
  return absl::OkStatus();
}

absl::StatusOr<Bm25Stats> ReadStats(const storage::Store& store, const std::string& key,
                                    const storage::Snapshot* snapshot) {
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, store.Get(key, snapshot));
  if (!record.has_value()) return Bm25Stats{};
  return DecodeStats(*record);
}

}  // namespace

std::string Bm25Index::StatsKey(std::string_view scope) {
  return std::move(storage::KeyBuilder::After(scope).Name("")).Build();
}

std::string Bm25Index::TermPrefix(std::string_view scope, std::string_view term) {
  return std::move(storage::KeyBuilder::After(scope).Name(term)).Build();
}

std::string Bm25Index::PostingKey(std::string_view scope, std::string_view term,
                                  std::string_view doc_id) {
  return std::move(storage::KeyBuilder::After(scope).Name(term).Raw(doc_id)).Build();
}

Bm25Index::Bm25Index(storage::Store* store, std::string scope, Bm25Stats stats)
    : store_(store), scope_(std::move(scope)), stats_key_(StatsKey(scope_)), committed_(stats) {}

absl::StatusOr<std::unique_ptr<Bm25Index>> Bm25Index::Open(storage::Store* store,
                                                           std::string scope) {
  SOCHDB_RETURN_IF_ERROR(CheckScope(scope));
  SOCHDB_ASSIGN_OR_RETURN(Bm25Stats stats, ReadStats(*store, StatsKey(scope), nullptr));
  return std::unique_ptr<Bm25Index>(new Bm25Index(store, std::move(scope), stats));
}

void Bm25Index::AddDocument(storage::WriteBatch* batch, std::string_view doc_id,
                            std::string_view content) {
  const std::vector<std::string> tokens = Tokenize(content);
  for (const auto& [term, frequency] : TermFrequencies(tokens)) {
    batch->Put(PostingKey(scope_, term, doc_id), EncodePosting(frequency, tokens.size()));
  }
  StageStats(batch, /*add=*/true, tokens.size());
}

void Bm25Index::RemoveDocument(storage::WriteBatch* batch, std::string_view doc_id,
                               std::string_view old_content) {
  const std::vector<std::string> tokens = Tokenize(old_content);
  for (const auto& entry : TermFrequencies(tokens)) {
    batch->Delete(PostingKey(scope_, entry.first, doc_id));
  }
  StageStats(batch, /*add=*/false, tokens.size());
}

void Bm25Index::StageStats(storage::WriteBatch* batch, bool add, uint64_t length) {
  absl::MutexLock lock(&mu_);
  if (!pending_.has_value()) pending_ = committed_;
  Bm25Stats& stats = *pending_;
  if (add) {
    stats.document_count += 1;
    stats.total_tokens += length;
  } else {
    // Clamped: a caller that broke the precondition must not wrap the counts to 2^64.
    stats.document_count -= std::min<uint64_t>(stats.document_count, 1);
    stats.total_tokens -= std::min(stats.total_tokens, length);
  }
  batch->Put(stats_key_, EncodeStats(stats));
}

void Bm25Index::Commit() {
  absl::MutexLock lock(&mu_);
  if (pending_.has_value()) committed_ = *pending_;
  pending_.reset();
}

void Bm25Index::Abort() {
  absl::MutexLock lock(&mu_);
  pending_.reset();
}

Bm25Stats Bm25Index::stats() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

absl::StatusOr<std::vector<ScoredDoc>> Bm25Index::Search(
    std::string_view query, size_t k, const std::function<bool(std::string_view)>* filter,
    const storage::Snapshot* snapshot) const {
  if (k == 0 || k > kMaxSearchResults) {
    return absl::InvalidArgumentError(
        absl::StrCat("k is ", k, "; it must be between 1 and ", kMaxSearchResults));
  }
  std::vector<std::string> terms = Tokenize(query);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  if (terms.size() > kMaxQueryTerms) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", terms.size(), " distinct terms; the limit is ", kMaxQueryTerms));
  }
  if (terms.empty()) return std::vector<ScoredDoc>();

  std::unique_ptr<storage::Snapshot> own_snapshot;
  if (snapshot == nullptr) {
    own_snapshot = store_->GetSnapshot();
    snapshot = own_snapshot.get();
  }
  SOCHDB_ASSIGN_OR_RETURN(Bm25Stats stats, ReadStats(*store_, stats_key_, snapshot));
  if (stats.document_count == 0) return std::vector<ScoredDoc>();
  const double n = static_cast<double>(stats.document_count);
  const double avgdl = std::max(1.0, static_cast<double>(stats.total_tokens)) / n;

  // Terms in sorted order, so every document's score is summed in one deterministic order.
  std::vector<std::string> prefixes;
  prefixes.reserve(terms.size());
  for (const std::string& term : terms) prefixes.push_back(TermPrefix(scope_, term));
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(snapshot);
  return internal::SearchPostings(it.get(), prefixes, n, avgdl, k, filter);
}

absl::Status Bm25Index::DropAll(storage::Store* store, std::string_view scope) {
  SOCHDB_RETURN_IF_ERROR(CheckScope(scope));
  return store->DeletePrefix(scope);
}

}  // namespace sochdb::text
