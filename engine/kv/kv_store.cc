// KvStore's implementation: request validation, the value-record format, the TTL index and the
// purger, on top of storage::Store.
//
// A value record is one flags byte (bit 0: has expiry), then, when it has one, the expiry as a
// fixed64 little-endian count of Unix milliseconds, then the value bytes. Every record with an
// expiry has an index entry kKvExpiry/U64(expiry)/Name(ns)/Raw(key) written in the same batch.
// Put, BatchPut and Delete read the record they replace and delete its index entry in that same
// batch, so the index holds one entry per expiring key; the purger still drops any entry that no
// record matches (one left by an older build, or pointing at a damaged record). Writers of a key
// and the purger's read-check-delete of that key hold the key's stripe lock, which is what makes
// "a key rewritten during a purge is never deleted" and "the index entry removed is the one the
// replaced record named" true.
#include "engine/kv/kv_store.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "engine/common/answer_budget.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"

namespace sochdb::kv {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::KeyReader;

constexpr uint8_t kHasExpiryFlag = 0x01;
constexpr size_t kExpiryBytes = 8;
// Index entries examined (and deletions batched) per purge round; bounds both the WriteBatch
// and how long the purger holds stripe locks.
constexpr size_t kPurgeChunkEntries = 1000;
constexpr uint64_t kSecondsPerYear = 365ull * 24 * 60 * 60;

struct ValueRecord {
  bool has_expiry = false;
  uint64_t expiry_ms = 0;
  std::string_view value;
};

std::string DataKey(std::string_view ns, std::string_view key) {
  return KeyBuilder(KeyFamily::kKv).Name(ns).Raw(key).key();
}

std::string ExpiryKey(uint64_t expiry_ms, std::string_view ns, std::string_view key) {
  return KeyBuilder(KeyFamily::kKvExpiry).U64(expiry_ms).Name(ns).Raw(key).key();
}

std::string EncodeRecord(std::string_view value, std::optional<uint64_t> expiry_ms) {
  std::string record;
  record.reserve(1 + kExpiryBytes + value.size());
  record.push_back(static_cast<char>(expiry_ms.has_value() ? kHasExpiryFlag : 0));
  if (expiry_ms.has_value()) {
    for (size_t i = 0; i < kExpiryBytes; ++i) {
      record.push_back(static_cast<char>((*expiry_ms >> (8 * i)) & 0xff));
    }
  }
  record.append(value.data(), value.size());
  return record;
}

// The returned value views `bytes`.
absl::StatusOr<ValueRecord> DecodeRecord(std::string_view bytes) {
  if (bytes.empty()) return absl::DataLossError("kv value record is empty");
  const uint8_t flags = static_cast<uint8_t>(bytes[0]);
  if ((flags & ~kHasExpiryFlag) != 0) {
    return absl::DataLossError(absl::StrFormat("kv value record has unknown flags 0x%02x", flags));
  }
  bytes.remove_prefix(1);
  ValueRecord record;
  record.has_expiry = (flags & kHasExpiryFlag) != 0;
  if (record.has_expiry) {
    if (bytes.size() < kExpiryBytes) {
      return absl::DataLossError("kv value record is truncated inside its expiry");
    }
    for (size_t i = 0; i < kExpiryBytes; ++i) {
      record.expiry_ms |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
    }
    bytes.remove_prefix(kExpiryBytes);
  }
  record.value = bytes;
  return record;
}

bool IsLive(const ValueRecord& record, int64_t now_ms) {
  return !record.has_expiry || now_ms < 0 || record.expiry_ms > static_cast<uint64_t>(now_ms);
}

// The live value held in a stored record (nullopt when the record is absent or expired). The
// value is cut out of `stored` in place, so a large value is never held twice.
absl::StatusOr<std::optional<std::string>> LiveValue(std::optional<std::string> stored,
                                                     int64_t now_ms) {
  if (!stored.has_value()) return std::nullopt;
  SOCHDB_ASSIGN_OR_RETURN(const ValueRecord record, DecodeRecord(*stored));
  if (!IsLive(record, now_ms)) return std::nullopt;
  stored->erase(0, stored->size() - record.value.size());
  return stored;
}

uint64_t ExpiryMillis(int64_t now_ms, uint64_t ttl_seconds) {
  const uint64_t now = static_cast<uint64_t>(std::max<int64_t>(now_ms, 0));
  // Only a configured TTL limit far past the default's 100 years could get here; saturate.
  if (ttl_seconds > (std::numeric_limits<uint64_t>::max() - now) / 1000) {
    return std::numeric_limits<uint64_t>::max();
  }
  return now + ttl_seconds * 1000;
}

// The expiry a Put at `now_ms` gives its record; nullopt for ttl_seconds 0 (never expires).
std::optional<uint64_t> ExpiryFor(int64_t now_ms, uint64_t ttl_seconds) {
  if (ttl_seconds == 0) return std::nullopt;
  return ExpiryMillis(now_ms, ttl_seconds);
}

// Adds the record (and its index entry when it expires) for one Put to `batch`.
void AddPut(std::string_view ns, std::string_view key, std::string_view value,
            std::optional<uint64_t> expiry_ms, storage::WriteBatch* batch) {
  batch->Put(DataKey(ns, key), EncodeRecord(value, expiry_ms));
  if (expiry_ms.has_value()) batch->Put(ExpiryKey(*expiry_ms, ns, key), "");
}

// The expiry of the record now stored for `key`, i.e. the index entry that record owns; nullopt
// when there is no record, it never expires, or it cannot be decoded (a damaged record's entry,
// if any, is left for the purger). The caller holds the key's stripe.
absl::StatusOr<std::optional<uint64_t>> StoredExpiry(const storage::Store& store,
                                                     std::string_view ns, std::string_view key) {
  SOCHDB_ASSIGN_OR_RETURN(const std::optional<std::string> stored, store.Get(DataKey(ns, key)));
  if (!stored.has_value()) return std::nullopt;
  const absl::StatusOr<ValueRecord> record = DecodeRecord(*stored);
  if (!record.ok() || !record->has_expiry) return std::nullopt;
  return record->expiry_ms;
}

absl::Status TooLarge(std::string_view field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s is %d bytes; the limit is %d bytes", field, size, limit));
}

absl::Status TooManyItems(std::string_view field, size_t count, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s has %d items; the limit is %d", field, count, limit));
}

absl::Status ValidateValue(std::string_view value, std::string_view field, const KvLimits& limits) {
  if (value.size() > limits.max_value_bytes) {
    return TooLarge(field, value.size(), limits.max_value_bytes);
  }
  return absl::OkStatus();
}

absl::Status ValidateTtl(uint64_t ttl_seconds, std::string_view field, const KvLimits& limits) {
  if (ttl_seconds <= limits.max_ttl_seconds) return absl::OkStatus();
  std::string in_years;
  if (limits.max_ttl_seconds > 0 && limits.max_ttl_seconds % kSecondsPerYear == 0) {
    in_years = absl::StrFormat(" (%d years)", limits.max_ttl_seconds / kSecondsPerYear);
  }
  return absl::InvalidArgumentError(absl::StrFormat("%s is %d; the limit is %d%s", field,
                                                    ttl_seconds, limits.max_ttl_seconds, in_years));
}

// Locks a set of stripes, each once, in ascending address order: the stripes live in one array,
// so every multi-stripe locker agrees on the order and none can deadlock another.
class OrderedStripeLocks {
 public:
  explicit OrderedStripeLocks(std::vector<std::mutex*> stripes) : stripes_(std::move(stripes)) {
    std::sort(stripes_.begin(), stripes_.end(), std::less<std::mutex*>());
    stripes_.erase(std::unique(stripes_.begin(), stripes_.end()), stripes_.end());
    for (std::mutex* stripe : stripes_) stripe->lock();
  }
  ~OrderedStripeLocks() {
    for (auto it = stripes_.rbegin(); it != stripes_.rend(); ++it) (*it)->unlock();
  }
  OrderedStripeLocks(const OrderedStripeLocks&) = delete;
  OrderedStripeLocks& operator=(const OrderedStripeLocks&) = delete;

 private:
  std::vector<std::mutex*> stripes_;
};

class NamespaceScanCursor final : public KvScanCursor {
 public:
  NamespaceScanCursor(std::unique_ptr<storage::Snapshot> snapshot,
                      std::unique_ptr<storage::Iterator> iterator, std::string end, int64_t now_ms,
                      uint64_t limit)
      : snapshot_(std::move(snapshot)),
        iterator_(std::move(iterator)),
        end_(std::move(end)),
        now_ms_(now_ms),
        limit_(limit) {}

  absl::StatusOr<bool> Next(std::string* key, std::string* value) override {
    while (limit_ == 0 || returned_ < limit_) {
      if (!iterator_->Valid()) {
        SOCHDB_RETURN_IF_ERROR(iterator_->status());
        return false;
      }
      const std::string_view storage_key = iterator_->key();
      if (!end_.empty() && storage_key >= end_) return false;
      SOCHDB_ASSIGN_OR_RETURN(const ValueRecord record, DecodeRecord(iterator_->value()));
      if (IsLive(record, now_ms_)) {
        SOCHDB_ASSIGN_OR_RETURN(*key, UserKey(storage_key));
        value->assign(record.value.data(), record.value.size());
        ++returned_;
        iterator_->Next();
        return true;
      }
      iterator_->Next();
    }
    return false;
  }

 private:
  static absl::StatusOr<std::string> UserKey(std::string_view storage_key) {
    KeyReader reader(storage_key);
    KeyFamily family;
    std::string_view ns;
    if (!reader.Family(&family) || family != KeyFamily::kKv || !reader.Name(&ns)) {
      return absl::DataLossError("kv scan met a malformed storage key");
    }
    return std::string(reader.Rest());
  }

  // Declared before the iterator so that it is destroyed after it.
  std::unique_ptr<storage::Snapshot> snapshot_;
  std::unique_ptr<storage::Iterator> iterator_;
  const std::string end_;  // "" = to the end of the keyspace
  const int64_t now_ms_;   // expiry is judged at the scan's start
  const uint64_t limit_;   // 0 = no limit
  uint64_t returned_ = 0;
};

// One index entry due for a purge, copied out of the iterator.
struct DueEntry {
  std::string index_key;
  std::string ns;
  std::string key;
  uint64_t expiry_ms = 0;
};

// Appends to `due` up to `max_entries` index entries with expiry <= now_ms, advancing `iterator`
// past them. Index keys that do not parse are skipped: they are never matched to a record.
absl::Status CollectDueEntries(storage::Iterator& iterator, std::string_view index_end,
                               int64_t now_ms, size_t max_entries, std::vector<DueEntry>* due) {
  for (; iterator.Valid() && due->size() < max_entries; iterator.Next()) {
    const std::string_view index_key = iterator.key();
    if (index_key >= index_end) break;
    KeyReader reader(index_key);
    KeyFamily family;
    DueEntry entry;
    std::string_view ns;
    if (!reader.Family(&family) || !reader.U64(&entry.expiry_ms) || !reader.Name(&ns)) continue;
    if (now_ms < 0 || entry.expiry_ms > static_cast<uint64_t>(now_ms)) break;  // sorted by expiry
    entry.index_key = std::string(index_key);
    entry.ns = std::string(ns);
    entry.key = std::string(reader.Rest());
    due->push_back(std::move(entry));
  }
  return iterator.status();
}

// Adds the deletions for `due` to `batch`; the caller holds the stripes of all their keys.
// Returns the number of records deleted.
absl::StatusOr<size_t> AddPurgeDeletions(const storage::Store& store,
                                         const std::vector<DueEntry>& due,
                                         storage::WriteBatch* batch) {
  size_t records = 0;
  for (const DueEntry& entry : due) {
    const std::string data_key = DataKey(entry.ns, entry.key);
    SOCHDB_ASSIGN_OR_RETURN(const std::optional<std::string> stored, store.Get(data_key));
    if (stored.has_value()) {
      // A damaged record is left for an operator to see rather than silently purged; only its
      // index entry goes, so that it cannot stall every later purge.
      const absl::StatusOr<ValueRecord> record = DecodeRecord(*stored);
      if (record.ok() && record->has_expiry && record->expiry_ms == entry.expiry_ms) {
        batch->Delete(data_key);
        ++records;
      }
    }
    batch->Delete(entry.index_key);  // matched, or stale: no record carries this expiry
  }
  return records;
}

}  // namespace

KvStore::KvStore(storage::Store* store, const Clock* clock, KvLimits limits)
    : store_(store), clock_(clock), limits_(limits) {}

std::mutex& KvStore::StripeFor(std::string_view ns, std::string_view key) const {
  const size_t hash = absl::HashOf(absl::string_view(ns.data(), ns.size()),
                                   absl::string_view(key.data(), key.size()));
  return stripes_[hash % kLockStripes];
}

absl::Status KvStore::ValidateNamespace(std::string_view ns) const {
  if (ns.size() > limits_.max_namespace_bytes) {
    return TooLarge("namespace", ns.size(), limits_.max_namespace_bytes);
  }
  if (ns.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("namespace must not contain NUL bytes");
  }
  return absl::OkStatus();
}

absl::Status KvStore::ValidateKey(std::string_view key, std::string_view field) const {
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s must not be empty", field));
  }
  if (key.size() > limits_.max_key_bytes) return TooLarge(field, key.size(), limits_.max_key_bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> KvStore::Get(std::string_view ns,
                                                        std::string_view key) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateKey(key));
  const int64_t now_ms = clock_->NowMillis();
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->Get(DataKey(ns, key)));
  return LiveValue(std::move(stored), now_ms);
}

absl::Status KvStore::Put(std::string_view ns, std::string_view key, std::string_view value,
                          uint64_t ttl_seconds) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateKey(key));
  SOCHDB_RETURN_IF_ERROR(ValidateValue(value, "value", limits_));
  SOCHDB_RETURN_IF_ERROR(ValidateTtl(ttl_seconds, "ttl_seconds", limits_));
  // The record is encoded before taking the stripe: only the read of the record being replaced
  // and the commit need it.
  const std::optional<uint64_t> expiry_ms = ExpiryFor(clock_->NowMillis(), ttl_seconds);
  storage::WriteBatch batch;
  AddPut(ns, key, value, expiry_ms, &batch);
  std::lock_guard<std::mutex> lock(StripeFor(ns, key));
  SOCHDB_ASSIGN_OR_RETURN(const std::optional<uint64_t> old_expiry_ms,
                          StoredExpiry(*store_, ns, key));
  // Distinct from the new entry, so deleting it after the batch's Put cannot undo that Put.
  if (old_expiry_ms.has_value() && old_expiry_ms != expiry_ms) {
    batch.Delete(ExpiryKey(*old_expiry_ms, ns, key));
  }
  return store_->Write(&batch);
}

absl::StatusOr<bool> KvStore::Delete(std::string_view ns, std::string_view key) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateKey(key));
  const std::string data_key = DataKey(ns, key);
  std::lock_guard<std::mutex> lock(StripeFor(ns, key));
  SOCHDB_ASSIGN_OR_RETURN(const std::optional<std::string> stored, store_->Get(data_key));
  if (!stored.has_value()) return false;
  SOCHDB_ASSIGN_OR_RETURN(const ValueRecord record, DecodeRecord(*stored));
  const bool was_live = IsLive(record, clock_->NowMillis());
  storage::WriteBatch batch;
  batch.Delete(data_key);
  // The record names its own index entry; dropping it now saves the purger a visit.
  if (record.has_expiry) batch.Delete(ExpiryKey(record.expiry_ms, ns, key));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  return was_live;
}

absl::StatusOr<std::vector<std::optional<std::string>>> KvStore::BatchGet(
    std::string_view ns, absl::Span<const std::string_view> keys) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  if (keys.size() > limits_.max_batch_entries) {
    return TooManyItems("keys", keys.size(), limits_.max_batch_entries);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    SOCHDB_RETURN_IF_ERROR(ValidateKey(keys[i], absl::StrFormat("keys[%d]", i)));
  }
  std::vector<std::optional<std::string>> values;
  if (keys.empty()) return values;
  values.reserve(keys.size());
  const int64_t now_ms = clock_->NowMillis();
  const std::unique_ptr<storage::Snapshot> snapshot = store_->GetSnapshot();
  // Checked as the answer grows, so that an over-limit request stops at the first value past
  // the limit instead of building the whole answer (10,000 keys of an 8 MiB value would be
  // 80 GiB).
  AnswerBudget budget(limits_.max_batch_get_bytes, "BatchGet result", "request fewer keys");
  for (std::string_view key : keys) {
    SOCHDB_RETURN_IF_ERROR(budget.Charge(key.size()));
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                            store_->Get(DataKey(ns, key), snapshot.get()));
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, LiveValue(std::move(stored), now_ms));
    if (value.has_value()) SOCHDB_RETURN_IF_ERROR(budget.Charge(value->size()));
    values.push_back(std::move(value));
  }
  return values;
}

absl::Status KvStore::BatchPut(std::string_view ns, absl::Span<const KvPutEntry> entries) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  if (entries.size() > limits_.max_batch_entries) {
    return TooManyItems("entries", entries.size(), limits_.max_batch_entries);
  }
  size_t total_bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const KvPutEntry& entry = entries[i];
    SOCHDB_RETURN_IF_ERROR(ValidateKey(entry.key, absl::StrFormat("entries[%d].key", i)));
    SOCHDB_RETURN_IF_ERROR(
        ValidateValue(entry.value, absl::StrFormat("entries[%d].value", i), limits_));
    SOCHDB_RETURN_IF_ERROR(
        ValidateTtl(entry.ttl_seconds, absl::StrFormat("entries[%d].ttl_seconds", i), limits_));
    total_bytes += entry.key.size() + entry.value.size();
  }
  if (total_bytes > limits_.max_batch_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "entries total %d bytes; the limit is %d bytes", total_bytes, limits_.max_batch_bytes));
  }
  if (entries.empty()) return absl::OkStatus();
  const int64_t now_ms = clock_->NowMillis();
  std::vector<std::mutex*> stripes;
  stripes.reserve(entries.size());
  for (const KvPutEntry& entry : entries) stripes.push_back(&StripeFor(ns, entry.key));
  OrderedStripeLocks locks(std::move(stripes));
  // The expiry each key's index entry has at this point of the batch: first the stored
  // record's, then each entry's in turn. Every change deletes the entry it replaces, in batch
  // order, so a key repeated in the batch ends with exactly its last entry's index entry.
  absl::flat_hash_map<absl::string_view, std::optional<uint64_t>> indexed_expiry;
  storage::WriteBatch batch;
  for (const KvPutEntry& entry : entries) {
    auto [it, first_time] =
        indexed_expiry.try_emplace(absl::string_view(entry.key.data(), entry.key.size()));
    if (first_time) {
      SOCHDB_ASSIGN_OR_RETURN(it->second, StoredExpiry(*store_, ns, entry.key));
    }
    const std::optional<uint64_t> expiry_ms = ExpiryFor(now_ms, entry.ttl_seconds);
    if (it->second.has_value() && it->second != expiry_ms) {
      batch.Delete(ExpiryKey(*it->second, ns, entry.key));
    }
    AddPut(ns, entry.key, entry.value, expiry_ms, &batch);
    it->second = expiry_ms;
  }
  return store_->Write(&batch);
}

absl::StatusOr<std::unique_ptr<KvScanCursor>> KvStore::Scan(std::string_view ns,
                                                            std::string_view prefix,
                                                            uint64_t limit) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  if (prefix.size() > limits_.max_key_bytes) {
    return TooLarge("prefix", prefix.size(), limits_.max_key_bytes);
  }
  const std::string start = DataKey(ns, prefix);
  std::string end = storage::PrefixSuccessor(start);
  std::unique_ptr<storage::Snapshot> snapshot = store_->GetSnapshot();
  std::unique_ptr<storage::Iterator> iterator = store_->NewIterator(snapshot.get());
  iterator->Seek(start);
  return std::unique_ptr<KvScanCursor>(new NamespaceScanCursor(
      std::move(snapshot), std::move(iterator), std::move(end), clock_->NowMillis(), limit));
}

absl::StatusOr<size_t> KvStore::PurgeExpired(size_t max_keys) {
  const int64_t now_ms = clock_->NowMillis();
  const std::string index_start = KeyBuilder(KeyFamily::kKvExpiry).key();
  const std::string index_end = storage::PrefixSuccessor(index_start);
  std::unique_ptr<storage::Iterator> iterator = store_->NewIterator();
  iterator->Seek(index_start);
  size_t examined = 0;
  size_t records_deleted = 0;
  std::vector<DueEntry> due;
  while (examined < max_keys) {
    due.clear();
    SOCHDB_RETURN_IF_ERROR(CollectDueEntries(
        *iterator, index_end, now_ms, std::min(kPurgeChunkEntries, max_keys - examined), &due));
    if (due.empty()) break;
    examined += due.size();
    std::vector<std::mutex*> stripes;
    stripes.reserve(due.size());
    for (const DueEntry& entry : due) stripes.push_back(&StripeFor(entry.ns, entry.key));
    // The stripes are held from the re-read to the commit, so no writer can slip a new value
    // in between the check and the delete.
    OrderedStripeLocks locks(std::move(stripes));
    storage::WriteBatch batch;
    SOCHDB_ASSIGN_OR_RETURN(const size_t records, AddPurgeDeletions(*store_, due, &batch));
    SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
    records_deleted += records;
  }
  return records_deleted;
}

}  // namespace sochdb::kv
