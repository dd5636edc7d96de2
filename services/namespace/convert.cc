#include "services/namespace/convert.h"

namespace sochdb::services::namespace_convert {

namespaces::NamespaceDefinition ToDefinition(const v1::CreateNamespaceRequest& req) {
  namespaces::NamespaceDefinition d;
  d.name = req.name();
  d.description = req.description();
  d.quota = ToQuota(req.has_quota(), req.quota());
  d.metadata.insert(req.metadata().begin(), req.metadata().end());
  return d;
}

std::optional<namespaces::Quota> ToQuota(bool has_quota, const v1::NamespaceQuota& quota) {
  if (!has_quota) return std::nullopt;
  return namespaces::Quota{quota.max_storage_bytes(), quota.max_vectors(),
                           quota.max_collections()};
}

void FillNamespace(const namespaces::NamespaceInfo& info, v1::Namespace* out) {
  const namespaces::NamespaceDefinition& d = info.definition;
  out->set_name(d.name);
  out->set_description(d.description);
  out->set_created_at(d.created_at);
  if (d.quota.has_value()) {
    v1::NamespaceQuota* quota = out->mutable_quota();
    quota->set_max_storage_bytes(d.quota->max_storage_bytes);
    quota->set_max_vectors(d.quota->max_vectors);
    quota->set_max_collections(d.quota->max_collections);
  }
  v1::NamespaceStats* stats = out->mutable_stats();
  stats->set_storage_bytes(info.usage.storage_bytes);
  stats->set_vector_count(info.usage.vectors);
  stats->set_collection_count(info.usage.collections);
  out->mutable_metadata()->insert(d.metadata.begin(), d.metadata.end());
}

}  // namespace sochdb::services::namespace_convert
