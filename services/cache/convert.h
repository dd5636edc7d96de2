// Proto <-> engine conversions for SemanticCacheService and SemanticCacheExtensionService, kept
// apart so each handler reads in a few lines, and what policies see of each call.
#ifndef SOCHDB_SERVICES_CACHE_CONVERT_H_
#define SOCHDB_SERVICES_CACHE_CONVERT_H_

#include "engine/cache/semantic_cache_store.h"
#include "engine/governance/governance.h"
#include "sochdb/v1/semantic_cache.pb.h"
#include "sochdb/v1/semantic_cache_extension.pb.h"

namespace sochdb::services::cache_convert {

// Views into `req`: valid while it lives.
cache::CacheLookup ToLookup(const v1::SemanticCacheGetRequest& req);
cache::CacheEntry ToEntry(const v1::SemanticCachePutRequest& req);

void FillHit(cache::CacheHit hit, v1::SemanticCacheGetResponse* out);
void FillStats(const cache::CacheStats& stats, v1::SemanticCacheStatsResponse* out);
void FillInfo(const cache::CacheStats& stats, v1::SemanticCacheInfo* out);

// What policies see of a call (governance::KeyList), in the caller's tenant: an entry is its key.
// A call that may reach any entry of a cache (Get's vector search, Invalidate, ClearCache,
// ConfigureCache's eviction) or reads a whole cache's figures (GetStats, ListCaches) presents
// the prefix "" (every key).
template <class Req>
void EveryEntrySubject(const Req& req, governance::KeyList* keys) {
  keys->AddPrefix("");
}

}  // namespace sochdb::services::cache_convert

#endif  // SOCHDB_SERVICES_CACHE_CONVERT_H_
