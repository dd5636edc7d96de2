// KvStore: namespaced key-value data with TTL, on the shared Store. It validates every request
// (so any front end gets the same limits and messages), encodes records, keeps the expiry index
// in the same batch as the value, and purges expired keys in the background via PurgeExpired.
//
// Visibility: a key whose TTL has passed is invisible at once (Get/Scan/BatchGet/Delete treat it
// as absent) even before the purger removes it.
//
// Errors: INVALID_ARGUMENT names the field and the limit ("key is 20000 bytes; the limit is
// 16384 bytes"); RESOURCE_EXHAUSTED when a BatchGet answer would pass max_batch_get_bytes;
// storage failures pass through from Store (UNAVAILABLE in the fault state).
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_KV_KV_STORE_H_
#define SOCHDB_ENGINE_KV_KV_STORE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/common/clock.h"
#include "engine/storage/store.h"

namespace sochdb::kv {

// Documented request limits (README "Limits"). Defaults are the server's.
struct KvLimits {
  size_t max_namespace_bytes = 256;    // namespace: may be empty; no NUL bytes
  size_t max_key_bytes = 16 * 1024;    // key: 1..16 KiB
  size_t max_value_bytes = 8u << 20;   // value: 0..8 MiB
  size_t max_batch_entries = 10'000;   // BatchPut entries / BatchGet keys
  size_t max_batch_bytes = 48u << 20;  // BatchPut: sum of key + value bytes
  // BatchGet: the answer's size, the sum of every requested key's bytes and every found value's
  // bytes (duplicates counted each time). Keeps the answer under the server's message limit,
  // and a request of many copies of one large key from using unbounded memory. The server sets
  // it to its answer budget (--max-response-mb).
  size_t max_batch_get_bytes = 48u << 20;
  uint64_t max_ttl_seconds = 3'153'600'000;  // 100 years; 0 = no expiry
};

struct KvPutEntry {
  std::string_view key;
  std::string_view value;
  uint64_t ttl_seconds = 0;  // 0 = never expires
};

// A forward cursor over one namespace, in ascending bytewise key order, reading one snapshot
// taken when the scan started. Expired keys are skipped. Not thread-safe; must not outlive the
// KvStore.
//
// Cost: one Next() steps over every expired record between two live ones, so a range full of
// expired but not yet purged records makes one call slow. It always ends: the snapshot holds a
// finite number of records in the scanned range and each is visited at most once per scan, so
// the work of a whole scan is bounded by the range's record count, live or not. PurgeExpired
// keeps that backlog small.
class KvScanCursor {
 public:
  virtual ~KvScanCursor() = default;
  // Fills the next entry and returns true, or returns false at the end (or once `limit` entries
  // were returned). Errors are storage errors (the scan cannot continue).
  virtual absl::StatusOr<bool> Next(std::string* key, std::string* value) = 0;
};

class KvStore {
 public:
  // `store` and `clock` are not owned and must outlive the KvStore.
  KvStore(storage::Store* store, const Clock* clock, KvLimits limits = {});

  // The live value of `key`, or std::nullopt when absent or expired.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view ns, std::string_view key) const;

  // Stores `value` under `key`, replacing any previous value and TTL (and the replaced record's
  // TTL index entry). ttl_seconds 0 = forever.
  absl::Status Put(std::string_view ns, std::string_view key, std::string_view value,
                   uint64_t ttl_seconds);

  // Removes `key`. Returns true when a live (unexpired) value was removed.
  absl::StatusOr<bool> Delete(std::string_view ns, std::string_view key);

  // The live values of `keys`, in request order (nullopt = absent or expired), all read from one
  // snapshot. Duplicated keys are answered each time. RESOURCE_EXHAUSTED ("BatchGet result
  // exceeds 50331648 bytes; request fewer keys") when the answer would pass
  // limits().max_batch_get_bytes; reading stops at the key that passes it.
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      std::string_view ns, absl::Span<const std::string_view> keys) const;

  // Stores every entry in one atomic batch: all or nothing. Validation failures name the entry
  // ("entries[3].key is empty"). A key repeated in the batch ends with its last value.
  absl::Status BatchPut(std::string_view ns, absl::Span<const KvPutEntry> entries);

  // Keys of `ns` that start with `prefix` (empty = all), ascending, at most `limit` of them
  // (0 = no limit): the first `limit` in order.
  absl::StatusOr<std::unique_ptr<KvScanCursor>> Scan(std::string_view ns, std::string_view prefix,
                                                     uint64_t limit) const;

  // Deletes up to `max_keys` records whose expiry has passed, with their index entries, and drops
  // due index entries that no record matches (writers remove the entry of a record they replace,
  // so these come only from older builds or damaged records). Returns the number of records
  // deleted. Safe to run concurrently with writers: a key rewritten meanwhile is never deleted.
  absl::StatusOr<size_t> PurgeExpired(size_t max_keys);

  const KvLimits& limits() const { return limits_; }

  // Validation shared by every entry point; exposed so services can check before doing work.
  absl::Status ValidateNamespace(std::string_view ns) const;
  absl::Status ValidateKey(std::string_view key, std::string_view field = "key") const;

 private:
  static constexpr size_t kLockStripes = 256;
  std::mutex& StripeFor(std::string_view ns, std::string_view key) const;

  storage::Store* const store_;
  const Clock* const clock_;
  const KvLimits limits_;
  // Stripe StripeFor(ns, key) guards the stored record of (ns, key) and its TTL index entry; the
  // data itself lives in the Store, so this cannot be an ABSL_GUARDED_BY annotation. Put,
  // BatchPut and Delete hold it from reading the record they replace (to find its index entry)
  // to the commit; PurgeExpired holds it from its re-read to its commit. Get, BatchGet and Scan
  // take no stripe: they read a snapshot. Several stripes are always taken in address order
  // (OrderedStripeLocks), never one while holding another out of that order.
  mutable std::array<std::mutex, kLockStripes> stripes_;
};

}  // namespace sochdb::kv

#endif  // SOCHDB_ENGINE_KV_KV_STORE_H_
