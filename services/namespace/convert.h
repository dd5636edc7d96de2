// NamespaceService messages <-> the namespace registry's types.
#ifndef SOCHDB_SERVICES_NAMESPACE_CONVERT_H_
#define SOCHDB_SERVICES_NAMESPACE_CONVERT_H_

#include <optional>

#include "engine/namespace/namespace_registry.h"
#include "sochdb/v1/namespace.pb.h"

namespace sochdb::services::namespace_convert {

namespaces::NamespaceDefinition ToDefinition(const v1::CreateNamespaceRequest& req);
// An unset quota is std::nullopt (no limits; none reported).
std::optional<namespaces::Quota> ToQuota(bool has_quota, const v1::NamespaceQuota& quota);
void FillNamespace(const namespaces::NamespaceInfo& info, v1::Namespace* out);

}  // namespace sochdb::services::namespace_convert

#endif  // SOCHDB_SERVICES_NAMESPACE_CONVERT_H_
