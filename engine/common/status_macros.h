// Early-return helpers for absl::Status / absl::StatusOr. Debian's Abseil (20220623) ships
// neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN, so the project defines its own, once, here.
#ifndef SOCHDB_ENGINE_COMMON_STATUS_MACROS_H_
#define SOCHDB_ENGINE_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if it is not OK.
#define SOCHDB_RETURN_IF_ERROR(expr)                       \
  do {                                                     \
    ::absl::Status sochdb_status_ = (expr);                \
    if (!sochdb_status_.ok()) return sochdb_status_;       \
  } while (false)

#define SOCHDB_STATUS_CONCAT_INNER_(a, b) a##b
#define SOCHDB_STATUS_CONCAT_(a, b) SOCHDB_STATUS_CONCAT_INNER_(a, b)

// `lhs` = the value of `rexpr` (an absl::StatusOr<T>), or returns its status if not OK.
// `lhs` may be a declaration: SOCHDB_ASSIGN_OR_RETURN(auto v, Compute());
#define SOCHDB_ASSIGN_OR_RETURN(lhs, rexpr) \
  SOCHDB_ASSIGN_OR_RETURN_IMPL_(SOCHDB_STATUS_CONCAT_(sochdb_statusor_, __LINE__), lhs, rexpr)

#define SOCHDB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // SOCHDB_ENGINE_COMMON_STATUS_MACROS_H_
