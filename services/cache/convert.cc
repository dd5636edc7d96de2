#include "services/cache/convert.h"

#include <utility>

namespace sochdb::services::cache_convert {

cache::CacheLookup ToLookup(const v1::SemanticCacheGetRequest& req) {
  return cache::CacheLookup{req.query(),
                            absl::Span<const float>(req.query_embedding().data(),
                                                    req.query_embedding().size()),
                            req.similarity_threshold()};
}

cache::CacheEntry ToEntry(const v1::SemanticCachePutRequest& req) {
  return cache::CacheEntry{
      req.key(), req.value(),
      absl::Span<const float>(req.key_embedding().data(), req.key_embedding().size()),
      req.ttl_seconds()};
}

void FillHit(cache::CacheHit hit, v1::SemanticCacheGetResponse* out) {
  if (!hit.hit) return;  // a miss answers empty fields, as upstream
  out->set_hit(true);
  out->set_cached_value(std::move(hit.value));
  out->set_similarity_score(hit.similarity);
  out->set_matched_key(std::move(hit.key));
}

void FillStats(const cache::CacheStats& stats, v1::SemanticCacheStatsResponse* out) {
  out->set_hits(stats.hits);
  out->set_misses(stats.misses);
  out->set_entry_count(stats.entry_count);
  out->set_hit_rate(stats.hit_rate());
  out->set_size_bytes(stats.size_bytes);
}

void FillInfo(const cache::CacheStats& stats, v1::SemanticCacheInfo* out) {
  out->set_cache_name(stats.name);
  out->set_hits(stats.hits);
  out->set_misses(stats.misses);
  out->set_entry_count(stats.entry_count);
  out->set_hit_rate(stats.hit_rate());
  out->set_size_bytes(stats.size_bytes);
  out->set_dimension(stats.dimension);
  out->set_max_entries(stats.max_entries);
}

}  // namespace sochdb::services::cache_convert
