// NamespaceDataOwner: a subsystem that keeps part of a namespace's data where the registry's
// prefix delete of kNamespacePrefixedFamilies (engine/storage/keys.h) does not reach it, or
// caches it in memory (agent memory: its vector space and its indexes' statistics). The
// registry calls each owner while deleting a namespace, before the prefix delete, so an owner may
// still read its namespace-first records to find what else to delete.
#ifndef SOCHDB_ENGINE_NAMESPACE_NAMESPACE_DATA_OWNER_H_
#define SOCHDB_ENGINE_NAMESPACE_NAMESPACE_DATA_OWNER_H_

#include <string_view>

#include "absl/status/status.h"

namespace sochdb::namespaces {

class NamespaceDataOwner {
 public:
  virtual ~NamespaceDataOwner() = default;
  // Deletes what the owner keeps of `ns` outside the prefixed families and forgets what it
  // caches of it. Called with the namespace closed and drained; called again when a delete cut
  // short resumes, so it must finish a previous partial run. Errors stop the delete (it resumes).
  virtual absl::Status DeleteNamespaceData(std::string_view ns) = 0;
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_ENGINE_NAMESPACE_NAMESPACE_DATA_OWNER_H_
