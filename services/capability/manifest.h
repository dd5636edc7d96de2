// The capability manifest (CapabilityService.GetCapabilities) of this server: what it supports,
// how mature and how durable each capability is, what holds and what is limited. It is built from
// the services actually registered: a capability is listed only when every service it needs is
// served, so the manifest cannot promise what the process does not run. Each entry's texts are
// the documented behaviour (docs/services.md), kept beside the entry.
//
// ValidateManifest enforces ../shared/UPSTREAM.md §2.9's rules (unique names; SUPPORTED never
// EPHEMERAL; at least one guarantee; PREVIEW or SUPPORTED at least one limit): a manifest that
// breaks them is a bug, and the server refuses to start with one (CapabilityService::Register).
#ifndef SOCHDB_SERVICES_CAPABILITY_MANIFEST_H_
#define SOCHDB_SERVICES_CAPABILITY_MANIFEST_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sochdb/v1/capability.pb.h"

namespace sochdb::services {

// The manifest for a server serving `served_services` (full names, "sochdb.v1.KvService").
v1::CapabilityManifest BuildManifest(const std::vector<std::string>& served_services);

// FAILED_PRECONDITION naming the capability and the rule it breaks.
absl::Status ValidateManifest(const v1::CapabilityManifest& manifest);

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CAPABILITY_MANIFEST_H_
