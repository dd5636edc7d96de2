// AuditLog: the record of operations that LOG policies let through — who, what, when and which
// policy — per tenant, persistent, readable newest first in pages, and kept within a retention
// of age and count.
//
// Records: KeyFamily::kAuditLog, key Name(tenant) U64(unix ms) U64(sequence), value a
// FieldRecord. A record is written (durable per --sync) before the operation it describes is
// allowed to run: an operation whose record cannot be written fails with the store's error, so
// a LOG policy never lets an unrecorded operation through.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_POLICY_AUDIT_LOG_H_
#define SOCHDB_ENGINE_POLICY_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/common/clock.h"
#include "engine/storage/store.h"

namespace sochdb::policy {

struct AuditRecord {
  int64_t time_ms = 0;    // set by Append: when the operation was admitted (Unix ms)
  uint64_t sequence = 0;  // set by Append: orders records of the same millisecond
  std::string tenant;     // whose log it is in: the caller's
  std::string principal_id;
  std::string principal_role;
  std::string service;    // "kv", "collection", ...
  std::string method;     // "Get", "AddDocuments", ...
  std::string operation;  // "read" | "write" | "delete"
  std::string ns;
  std::string key;        // the first key the operation touches (at most kMaxAuditKeyBytes)
  uint64_t key_count = 0;  // how many keys it touches
  std::string policy_id;  // the LOG rule that asked for the record
  std::string policy_name;
};

inline constexpr size_t kMaxAuditKeyBytes = 1024;  // longer keys are cut (key_count says more)
inline constexpr size_t kMaxAuditPage = 1000;
inline constexpr size_t kDefaultAuditPage = 100;

struct AuditRetention {
  absl::Duration max_age = absl::Hours(24 * 30);  // records older are removed
  uint64_t max_records_per_tenant = 1'000'000;    // the oldest past this are removed
};

class AuditLog {
 public:
  // Counts the stored records of every tenant (one pass over the family). `store` and `clock`
  // are not owned and must outlive the log.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(storage::Store* store, const Clock* clock,
                                                       AuditRetention retention);

  // Stamps `record` with the time and a sequence and writes it.
  absl::Status Append(AuditRecord record);

  struct Page {
    std::vector<AuditRecord> records;  // newest first
    std::string next_page_token;       // empty: no older records
  };
  // Up to `limit` records of `tenant` (0 = kDefaultAuditPage; at most kMaxAuditPage), newest
  // first, starting after `page_token` (empty = the newest). INVALID_ARGUMENT naming the field
  // for a token this log did not give or a limit past the maximum.
  absl::StatusOr<Page> Read(std::string_view tenant, std::string_view page_token,
                            size_t limit) const;

  // Removes records past the retention; returns how many.
  absl::StatusOr<uint64_t> Trim();

  uint64_t records() const;  // stored now, every tenant

 private:
  AuditLog(storage::Store* store, const Clock* clock, AuditRetention retention);
  absl::Status CountStored();
  // Removes `tenant`'s records older than `cutoff_ms` and the oldest beyond the count limit.
  absl::StatusOr<uint64_t> TrimTenant(const std::string& tenant, int64_t cutoff_ms);

  storage::Store* const store_;
  const Clock* const clock_;
  const AuditRetention retention_;
  std::atomic<uint64_t> next_sequence_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  absl::Mutex trim_mu_;  // one Trim at a time
};

}  // namespace sochdb::policy

#endif  // SOCHDB_ENGINE_POLICY_AUDIT_LOG_H_
