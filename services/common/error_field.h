// Upstream's second error channel: for its CRUD-style RPCs, "not found" and "already exists" are
// an `error` text in an OK response, everything else a status (../shared/UPSTREAM.md §0).
#ifndef SOCHDB_SERVICES_COMMON_ERROR_FIELD_H_
#define SOCHDB_SERVICES_COMMON_ERROR_FIELD_H_

#include <string>

#include "absl/status/status.h"

namespace sochdb::services {

// Puts a NOT_FOUND or ALREADY_EXISTS `status` in `resp`'s `error` field and returns true;
// returns false (and leaves `resp` alone) for any other status.
template <class Resp>
bool ReportInErrorField(const absl::Status& status, Resp* resp) {
  if (!absl::IsNotFound(status) && !absl::IsAlreadyExists(status)) return false;
  resp->set_error(std::string(status.message()));
  return true;
}

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_COMMON_ERROR_FIELD_H_
