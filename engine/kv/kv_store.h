// KvStore: namespaced key-value data with TTL, on the shared Store. It validates every request
// (so any front end gets the same limits and messages), encodes records, keeps the expiry index
// in the same batch as the value, and purges expired keys in the background via PurgeExpired.
//
// Visibility: a key whose TTL has passed is invisible at once (Get/Scan/BatchGet/Delete treat it
// as absent) even before the purger removes it.
//
// Errors: INVALID_ARGUMENT names the field and the limit ("key is 20000 bytes; the limit is
// 16384 bytes"); RESOURCE_EXHAUSTED when a BatchGet answer would pass max_batch_get_bytes;
// DATA_LOSS for stored data that cannot be read, named in the caller's terms ("the stored record
// of key \"k\" in namespace \"ns\" is damaged ...", for a scan "the stored keys of namespace
// \"ns\" after key \"k\" ... are damaged ...": a scan stops there, it never skips past); other
// storage failures pass through from Store (UNAVAILABLE in the fault state).
//
// Order: writes of one key take effect in the order they arrive, and none holds a lock while the
// store writes (fsyncs): concurrent writes of a key are committed together, in that order, as one
// store write (write_lanes.h), so a hot key gets group commit as spread keys do.
//
// Usage (engine/namespace/usage_ledger.h): with a ledger, every write of a tracked namespace is
// charged the key + value bytes it adds net of the record it replaces (Put and BatchPut are
// refused with RESOURCE_EXHAUSTED, writing nothing, when that passes the namespace's storage
// quota), and Delete and PurgeExpired give back the bytes of the records they remove.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_KV_KV_STORE_H_
#define SOCHDB_ENGINE_KV_KV_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/common/clock.h"
#include "engine/kv/write_lanes.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"

namespace sochdb::kv {

// Documented request limits (docs/services.md "Limits"). Defaults are the server's. The namespace's
// (0..256 bytes, no NUL) is every service's: kMaxNamespaceBytes, engine/common/names.h.
struct KvLimits {
  size_t max_key_bytes = 16 * 1024;    // key: 1..16 KiB
  size_t max_value_bytes = 8u << 20;   // value: 0..8 MiB
  size_t max_batch_entries = 10'000;   // BatchPut entries / BatchGet keys
  size_t max_batch_bytes = 48u << 20;  // BatchPut: sum of key + value bytes
  // BatchGet: the answer's size, each requested key's entry (duplicates counted each time) as
  // batch_get_entry_bytes sizes it. Keeps the answer under the server's message limit, and a
  // request of many copies of one large key from using unbounded memory. The server sets it to
  // its answer budget, and max_batch_get_setting to the flag that sets that budget, which the
  // error names (empty: no setting is named).
  size_t max_batch_get_bytes = 48u << 20;
  std::string_view max_batch_get_setting;  // must outlive the store (a string literal)
  // The bytes one entry of a BatchGet answer takes: a key of `key_bytes` and, when found, its
  // value. The front end knows its encoding: the server passes the gRPC service's, framing
  // included (services/kv/convert.h). Unset: the key's and the value's bytes.
  std::function<size_t(size_t key_bytes, const std::optional<std::string>& value)>
      batch_get_entry_bytes;
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

class KvStore final : public namespaces::UsageCounter {
 public:
  // `store`, `clock` and `usage` are not owned and must outlive the KvStore. `usage` nullptr:
  // no accounting; otherwise the store attaches to it as its KV source until destroyed.
  KvStore(storage::Store* store, const Clock* clock, KvLimits limits = {},
          namespaces::UsageLedger* usage = nullptr);
  ~KvStore() override;
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

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
  // exceeds 50331648 bytes (<max_batch_get_setting>); request fewer keys") when the answer would
  // pass limits().max_batch_get_bytes; reading stops at the key that passes it.
  absl::StatusOr<std::vector<std::optional<std::string>>> BatchGet(
      std::string_view ns, absl::Span<const std::string_view> keys) const;

  // Stores every entry in one atomic batch: all or nothing. Validation failures name the entry
  // ("entries[3].key must not be empty"). A key repeated in the batch ends with its last value.
  absl::Status BatchPut(std::string_view ns, absl::Span<const KvPutEntry> entries);

  // Keys of `ns` that start with `prefix` (empty = all), ascending, at most `limit` of them
  // (0 = no limit): the first `limit` in order.
  absl::StatusOr<std::unique_ptr<KvScanCursor>> Scan(std::string_view ns, std::string_view prefix,
                                                     uint64_t limit) const;

  // Deletes up to `max_keys` records whose expiry has passed, with their index entries, and drops
  // due index entries that no record matches (writers remove the entry of a record they replace,
  // so these come only from older builds or damaged records). A due entry whose record is
  // damaged (unreadable or malformed) loses its entry; the record stays. Index entries that do
  // not decode are removed and logged once each (counted in undecodable_index_entries()), so no
  // later round steps over them again; they count against `max_keys`. Returns the number of
  // records deleted. Safe to run concurrently with writers: a key rewritten meanwhile is never
  // deleted.
  absl::StatusOr<size_t> PurgeExpired(size_t max_keys);

  // Undecodable TTL index entries PurgeExpired has removed since construction.
  uint64_t undecodable_index_entries() const {
    return undecodable_index_entries_.load(std::memory_order_relaxed);
  }

  const KvLimits& limits() const { return limits_; }

  // Writes waiting behind another write of their lane (a key hashing to the same lane): what
  // tests watch to know writers have queued, and how much writes of hot keys are grouped.
  size_t queued_writes() const { return lanes_.waiting(); }

  // Validation shared by every entry point; exposed so services can check before doing work.
  absl::Status ValidateKey(std::string_view key, std::string_view field = "key") const;

  // UsageCounter: the key + value bytes of every record of `ns`, expired or not, read from a
  // snapshot taken with every lane claimed (no write is between its charge and its commit
  // then); `start` runs in that moment. Cost: one scan of the namespace's records, with KV
  // writes held only while the snapshot is taken.
  absl::StatusOr<namespaces::Usage> CountUsage(std::string_view ns,
                                               absl::FunctionRef<void()> start) override;

 private:
  struct KeyWrite;  // a Put or Delete waiting in its lane (kv_store.cc)

  // Queues `write` in its key's lane and returns once a group holding it is committed.
  void SubmitKeyWrite(KeyWrite* write);
  // A lane leader's work: reads the records the group replaces, builds ONE batch applying the
  // group's writes in order, writes it, and fills every member's result.
  void CommitGroup(absl::Span<LaneEntry* const> group);

  storage::Store* const store_;
  const Clock* const clock_;
  const KvLimits limits_;
  namespaces::UsageLedger* const usage_;  // nullptr: no accounting
  // The lane of (ns, key) orders every write of its stored record and TTL index entry; the data
  // lives in the Store, so this cannot be an ABSL_GUARDED_BY annotation. Put and Delete go
  // through their lane (grouped with the lane's other single-key writes, see write_lanes.h), so
  // the record a write replaces, whose index entry it deletes, is the one the write before it
  // left. BatchPut holds the lanes of its keys (a Claim) from reading the records it replaces to
  // its commit; PurgeExpired holds them from its re-read to its commit. Get, BatchGet and Scan
  // take no lane: they read a snapshot.
  mutable WriteLanes lanes_;
  std::atomic<uint64_t> undecodable_index_entries_{0};
};

}  // namespace sochdb::kv

#endif  // SOCHDB_ENGINE_KV_KV_STORE_H_
