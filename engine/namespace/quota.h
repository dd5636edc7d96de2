// Namespace quotas and the usage they are checked against. The shared vocabulary of the namespace
// registry (engine/namespace/namespace_registry.h: which namespaces exist, with which quota) and
// the usage ledger (usage_ledger.h: what each tracked namespace holds, kept exact by the stores
// that write its data). Only namespaces registered through the NamespaceService are tracked, as
// upstream: a namespace created lazily by its first write has no quota and no statistics.
#ifndef SOCHDB_ENGINE_NAMESPACE_QUOTA_H_
#define SOCHDB_ENGINE_NAMESPACE_QUOTA_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace sochdb::namespaces {

// Limits of one namespace; 0 = unlimited (upstream's rule).
struct Quota {
  uint64_t max_storage_bytes = 0;
  uint64_t max_vectors = 0;
  uint64_t max_collections = 0;

  friend bool operator==(const Quota& a, const Quota& b) {
    return a.max_storage_bytes == b.max_storage_bytes && a.max_vectors == b.max_vectors &&
           a.max_collections == b.max_collections;
  }
};

// What one namespace holds (NamespaceStats on the wire).
struct Usage {
  uint64_t storage_bytes = 0;
  uint64_t vectors = 0;
  uint64_t collections = 0;

  friend bool operator==(const Usage& a, const Usage& b) {
    return a.storage_bytes == b.storage_bytes && a.vectors == b.vectors &&
           a.collections == b.collections;
  }
};

// What the namespace registry needs of the ledger: which namespaces to count, under which quota,
// and what they hold now. Implemented by UsageLedger; thread-safe.
class UsageTracker {
 public:
  virtual ~UsageTracker() = default;
  // Starts tracking `ns` under `quota`, counting the data it already holds. Idempotent: a
  // tracked namespace only gets the new quota.
  virtual absl::Status Track(std::string_view ns, const Quota& quota) = 0;
  // Replaces a tracked namespace's quota (no effect when `ns` is not tracked).
  virtual void SetQuota(std::string_view ns, const Quota& quota) = 0;
  // Stops tracking `ns` (after its deletion): its data no longer counts anywhere.
  virtual void Untrack(std::string_view ns) = 0;
  // What a tracked namespace holds now; std::nullopt when it is not tracked.
  virtual std::optional<Usage> UsageOf(std::string_view ns) const = 0;
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_ENGINE_NAMESPACE_QUOTA_H_
