// KvStore's implementation: request validation, the value-record format, the TTL index and the
// purger, on top of storage::Store.
//
// A value record is one flags byte (bit 0: has expiry), then, when it has one, the expiry as a
// fixed64 little-endian count of Unix milliseconds, then the value bytes. Every record with an
// expiry has an index entry kKvExpiry/U64(expiry)/Name(ns)/Raw(key) written in the same batch.
// Put, BatchPut and Delete read the record they replace and delete its index entry in that same
// batch, so the index holds one entry per expiring key; the purger still drops any entry that no
// record matches (one left by an older build, or pointing at a damaged record). Every write of a
// key, and the purger's read-check-delete of it, is ordered by the key's lane (write_lanes.h):
// one group or claim at a time reads and replaces a lane's records. That is what makes "a key
// rewritten during a purge is never deleted" and "the index entry removed is the one the replaced
// record named" true; within a group, the record a write replaces is the one the write before it
// in the group left.
#include "engine/kv/kv_store.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/answer_budget.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/storage/varint.h"
#include "spdlog/spdlog.h"

namespace sochdb::kv {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::KeyReader;

constexpr uint8_t kHasExpiryFlag = 0x01;
constexpr size_t kExpiryBytes = 8;
// Index entries examined (and deletions batched) per purge round; bounds both the WriteBatch
// and how long the purger holds lanes.
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

// The Store names damage by storage key; a client knows its namespace and key.
absl::Status InUserTerms(absl::Status status, std::string_view ns, std::string_view key) {
  if (status.code() != absl::StatusCode::kDataLoss) return status;
  return absl::DataLossError(absl::StrCat("the stored record of key ", storage::QuotedKey(key),
                                          " in namespace ", storage::QuotedKey(ns),
                                          " is damaged and cannot be read; see the server log"));
}

// The record stored for (ns, key), read as Store::Get reads it (nullopt when absent).
absl::StatusOr<std::optional<std::string>> ReadRecord(const storage::Store& store,
                                                      std::string_view ns, std::string_view key,
                                                      const storage::Snapshot* snapshot = nullptr) {
  absl::StatusOr<std::optional<std::string>> stored = store.Get(DataKey(ns, key), snapshot);
  if (!stored.ok()) return InUserTerms(std::move(stored).status(), ns, key);
  return stored;
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

// The bytes a stored record counts for in its namespace's usage (usage_ledger.h): its key and
// its value; a record that cannot be decoded, its key and all of it. `record` is `stored`
// decoded.
int64_t CountedBytes(std::string_view key, std::string_view stored,
                     const absl::StatusOr<ValueRecord>& record) {
  return static_cast<int64_t>(key.size() + (record.ok() ? record->value.size() : stored.size()));
}

int64_t CountedBytes(std::string_view key, std::string_view stored) {
  return CountedBytes(key, stored, DecodeRecord(stored));
}

namespaces::UsageDelta StorageDelta(int64_t bytes) {
  namespaces::UsageDelta delta;
  delta.storage_bytes = bytes;
  return delta;
}

// What a key's stored record is at some point of a batch being built: first the store's, then
// what each change to the key before that point left. Its expiry names the index entry the
// record owns, which the next change of the key deletes.
struct KeyState {
  bool exists = false;
  absl::Status damage;                // a record that cannot be decoded (exists is true)
  std::optional<uint64_t> expiry_ms;  // the record's expiry; nullopt: never, or damaged
  int64_t bytes = 0;                  // CountedBytes of the record (0 when there is none)
};

// The state of the record stored for `key`. The caller holds the key's lane.
absl::StatusOr<KeyState> ReadKeyState(const storage::Store& store, std::string_view ns,
                                      std::string_view key) {
  SOCHDB_ASSIGN_OR_RETURN(const std::optional<std::string> stored, ReadRecord(store, ns, key));
  KeyState state;
  if (!stored.has_value()) return state;
  state.exists = true;
  const absl::StatusOr<ValueRecord> record = DecodeRecord(*stored);
  state.bytes = CountedBytes(key, *stored, record);
  if (!record.ok()) {
    state.damage = record.status();
  } else if (record->has_expiry) {
    state.expiry_ms = record->expiry_ms;
  }
  return state;
}

// Adds to `batch` a Put of `record` (encoded with `expiry_ms`) replacing the record `*state`
// describes, and advances `*state`. A damaged record's index entry, if any, is left for the
// purger.
void AddPutAt(std::string_view ns, std::string_view key, std::string_view record,
              std::optional<uint64_t> expiry_ms, KeyState* state, storage::WriteBatch* batch) {
  // Distinct from the new entry, so deleting it cannot undo the new entry's Put.
  if (state->expiry_ms.has_value() && state->expiry_ms != expiry_ms) {
    batch->Delete(ExpiryKey(*state->expiry_ms, ns, key));
  }
  batch->Put(DataKey(ns, key), record);
  if (expiry_ms.has_value()) batch->Put(ExpiryKey(*expiry_ms, ns, key), "");
  *state = KeyState{true, absl::OkStatus(), expiry_ms, CountedBytes(key, record)};
}

// Adds to `batch` the deletion of the record `*state` describes (nothing when there is none) and
// advances `*state`. Returns whether that record was live at `now_ms`; DATA_LOSS (and nothing
// added) for a damaged one.
absl::StatusOr<bool> AddDeleteAt(std::string_view ns, std::string_view key, int64_t now_ms,
                                 KeyState* state, storage::WriteBatch* batch) {
  if (!state->exists) return false;
  SOCHDB_RETURN_IF_ERROR(state->damage);
  batch->Delete(DataKey(ns, key));
  // The record names its own index entry; dropping it now saves the purger a visit.
  if (state->expiry_ms.has_value()) batch->Delete(ExpiryKey(*state->expiry_ms, ns, key));
  ValueRecord record;
  record.has_expiry = state->expiry_ms.has_value();
  record.expiry_ms = state->expiry_ms.value_or(0);
  *state = KeyState{};
  return IsLive(record, now_ms);
}

absl::Status TooLarge(std::string_view field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s is %d bytes; the limit is %d bytes", field, size, limit));
}

// What one BatchGet answer entry costs against the budget: the front end's measure when it
// gave one (KvLimits::batch_get_entry_bytes), else the key's and the value's bytes.
size_t EntryBytes(const KvLimits& limits, size_t key_bytes,
                  const std::optional<std::string>& value) {
  if (limits.batch_get_entry_bytes) return limits.batch_get_entry_bytes(key_bytes, value);
  return key_bytes + (value.has_value() ? value->size() : 0);
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

class NamespaceScanCursor final : public KvScanCursor {
 public:
  NamespaceScanCursor(std::string_view ns, std::string_view prefix,
                      std::unique_ptr<storage::Snapshot> snapshot,
                      std::unique_ptr<storage::Iterator> iterator, std::string end, int64_t now_ms,
                      uint64_t limit)
      : ns_(ns),
        prefix_(prefix),
        snapshot_(std::move(snapshot)),
        iterator_(std::move(iterator)),
        end_(std::move(end)),
        now_ms_(now_ms),
        limit_(limit) {}

  absl::StatusOr<bool> Next(std::string* key, std::string* value) override {
    while (limit_ == 0 || returned_ < limit_) {
      // The Store's iterator turns invalid at the first block it cannot read, so no key past a
      // damaged stretch is returned, and a valid key at or past the end proves the whole range
      // was read.
      if (!iterator_->Valid()) {
        SOCHDB_RETURN_IF_ERROR(InUserTerms(iterator_->status()));
        return false;
      }
      const std::string_view storage_key = iterator_->key();
      if (!end_.empty() && storage_key >= end_) return false;
      SOCHDB_ASSIGN_OR_RETURN(const ValueRecord record, DecodeRecord(iterator_->value()));
      if (IsLive(record, now_ms_)) {
        SOCHDB_ASSIGN_OR_RETURN(*key, UserKey(storage_key));
        value->assign(record.value.data(), record.value.size());
        last_key_ = *key;
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

  // Names the unreadable stretch by what the client knows: its namespace, its prefix and the
  // last key it was given.
  absl::Status InUserTerms(absl::Status status) const {
    if (status.code() != absl::StatusCode::kDataLoss) return status;
    return absl::DataLossError(
        absl::StrCat("the stored keys of namespace ", storage::QuotedKey(ns_),
                     returned_ == 0 ? std::string(" from the start of the scan")
                                    : absl::StrCat(" after key ", storage::QuotedKey(last_key_)),
                     prefix_.empty() ? std::string()
                                     : absl::StrCat(" (prefix ", storage::QuotedKey(prefix_), ")"),
                     " are damaged and cannot be read; the scan stops here; see the server log"));
  }

  const std::string ns_;
  const std::string prefix_;
  // Declared before the iterator so that it is destroyed after it.
  std::unique_ptr<storage::Snapshot> snapshot_;
  std::unique_ptr<storage::Iterator> iterator_;
  const std::string end_;  // "" = to the end of the keyspace
  const int64_t now_ms_;   // expiry is judged at the scan's start
  const uint64_t limit_;   // 0 = no limit
  uint64_t returned_ = 0;
  std::string last_key_;  // the last key returned, for an error's message
};

// One index entry due for a purge, copied out of the iterator.
struct DueEntry {
  std::string index_key;
  std::string ns;
  std::string key;
  uint64_t expiry_ms = 0;
};

// Index entries met by one purge round, copied out of the iterator.
struct PurgeChunk {
  std::vector<DueEntry> due;
  // Index keys that do not parse: no record can be matched to them (records are found by the
  // namespace and key in the index key), so they are removed, each logged, instead of being
  // stepped over again by every later round.
  std::vector<std::string> undecodable;

  size_t size() const { return due.size() + undecodable.size(); }
};

// Appends to `chunk` up to `max_entries` index entries with expiry <= now_ms, due or
// undecodable, advancing `iterator` past them.
absl::Status CollectDueEntries(storage::Iterator& iterator, std::string_view index_end,
                               int64_t now_ms, size_t max_entries, PurgeChunk* chunk) {
  for (; iterator.Valid() && chunk->size() < max_entries; iterator.Next()) {
    const std::string_view index_key = iterator.key();
    if (index_key >= index_end) break;
    KeyReader reader(index_key);
    KeyFamily family;
    DueEntry entry;
    std::string_view ns;
    if (!reader.Family(&family) || !reader.U64(&entry.expiry_ms)) {
      chunk->undecodable.emplace_back(index_key);
      continue;
    }
    if (now_ms < 0 || entry.expiry_ms > static_cast<uint64_t>(now_ms)) break;  // sorted by expiry
    if (!reader.Name(&ns)) {
      chunk->undecodable.emplace_back(index_key);
      continue;
    }
    entry.index_key = std::string(index_key);
    entry.ns = std::string(ns);
    entry.key = std::string(reader.Rest());
    chunk->due.push_back(std::move(entry));
  }
  return iterator.status();
}

// Adds the deletions for `chunk` to `batch`, and the bytes they give back to `charge`; the
// caller holds the lanes of all its due keys. Returns the number of records deleted.
absl::StatusOr<size_t> AddPurgeDeletions(const storage::Store& store, const PurgeChunk& chunk,
                                         storage::WriteBatch* batch,
                                         namespaces::UsageCharge* charge) {
  size_t records = 0;
  for (const DueEntry& entry : chunk.due) {
    absl::StatusOr<std::optional<std::string>> stored = ReadRecord(store, entry.ns, entry.key);
    if (!stored.ok() && stored.status().code() != absl::StatusCode::kDataLoss) {
      return stored.status();
    }
    // A damaged record (unreadable, or not a record) is left for an operator to see rather
    // than silently purged; only its index entry goes, so that it cannot stall every later
    // purge.
    if (stored.ok() && stored->has_value()) {
      const absl::StatusOr<ValueRecord> record = DecodeRecord(**stored);
      if (record.ok() && record->has_expiry && record->expiry_ms == entry.expiry_ms) {
        batch->Delete(DataKey(entry.ns, entry.key));
        charge->Release(entry.ns, StorageDelta(-CountedBytes(entry.key, **stored)));
        ++records;
      }
    }
    batch->Delete(entry.index_key);  // matched, stale (no record carries this expiry) or damaged
  }
  for (const std::string& index_key : chunk.undecodable) {
    spdlog::warn("TTL purge: removing the undecodable expiry index entry {}",
                 storage::QuotedKey(index_key));
    batch->Delete(index_key);
  }
  return records;
}

}  // namespace

struct KvStore::KeyWrite : LaneEntry {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  // The caller's; they outlive the write, which ends before the caller returns.
  std::string_view ns;
  std::string_view key;
  // kPut: the encoded record and its expiry.
  std::string record;
  std::optional<uint64_t> expiry_ms;
  // Results, filled by the group's leader.
  absl::Status status;
  bool was_live = false;  // kDelete: a live record was removed
};

KvStore::KvStore(storage::Store* store, const Clock* clock, KvLimits limits,
                 namespaces::UsageLedger* usage)
    : store_(store), clock_(clock), limits_(limits), usage_(usage) {
  if (usage_ != nullptr) usage_->Attach(namespaces::UsageSource::kKv, this);
}

KvStore::~KvStore() {
  if (usage_ != nullptr) usage_->Detach(namespaces::UsageSource::kKv);
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
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored, ReadRecord(*store_, ns, key));
  return LiveValue(std::move(stored), now_ms);
}

absl::Status KvStore::Put(std::string_view ns, std::string_view key, std::string_view value,
                          uint64_t ttl_seconds) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateKey(key));
  SOCHDB_RETURN_IF_ERROR(ValidateValue(value, "value", limits_));
  SOCHDB_RETURN_IF_ERROR(ValidateTtl(ttl_seconds, "ttl_seconds", limits_));
  // The record is encoded before queueing: the lane's leader only copies it into the batch.
  KeyWrite write;
  write.kind = KeyWrite::Kind::kPut;
  write.ns = ns;
  write.key = key;
  write.expiry_ms = ExpiryFor(clock_->NowMillis(), ttl_seconds);
  write.record = EncodeRecord(value, write.expiry_ms);
  SubmitKeyWrite(&write);
  return write.status;
}

absl::StatusOr<bool> KvStore::Delete(std::string_view ns, std::string_view key) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateKey(key));
  KeyWrite write;
  write.kind = KeyWrite::Kind::kDelete;
  write.ns = ns;
  write.key = key;
  SubmitKeyWrite(&write);
  SOCHDB_RETURN_IF_ERROR(write.status);
  return write.was_live;
}

void KvStore::SubmitKeyWrite(KeyWrite* write) {
  write->bytes = write->ns.size() + write->key.size() + write->record.size();
  lanes_.Submit(WriteLanes::LaneOf(write->ns, write->key), write,
                [this](absl::Span<LaneEntry* const> group) { CommitGroup(group); });
}

void KvStore::CommitGroup(absl::Span<LaneEntry* const> group) {
  // What each key's stored record is at this point of the group: first the store's, then what
  // each write before it in the group left.
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, KeyState> states;
  const int64_t now_ms = clock_->NowMillis();
  namespaces::UsageCharge charge(usage_, namespaces::UsageSource::kKv);
  storage::WriteBatch batch;
  for (LaneEntry* entry : group) {
    KeyWrite& write = *static_cast<KeyWrite*>(entry);
    const std::pair<absl::string_view, absl::string_view> name(
        absl::string_view(write.ns.data(), write.ns.size()),
        absl::string_view(write.key.data(), write.key.size()));
    auto it = states.find(name);
    if (it == states.end()) {
      absl::StatusOr<KeyState> stored = ReadKeyState(*store_, write.ns, write.key);
      if (!stored.ok()) {
        write.status = stored.status();  // nothing of it goes into the batch
        continue;
      }
      it = states.emplace(name, *stored).first;
    }
    const int64_t before = it->second.bytes;
    if (write.kind == KeyWrite::Kind::kPut) {
      // A Put refused by its namespace's quota leaves nothing in the batch, and the key's state
      // as it was for the writes after it.
      write.status = charge.Add(write.ns, StorageDelta(CountedBytes(write.key, write.record) -
                                                       before));
      if (!write.status.ok()) continue;
      AddPutAt(write.ns, write.key, write.record, write.expiry_ms, &it->second, &batch);
    } else {
      absl::StatusOr<bool> was_live = AddDeleteAt(write.ns, write.key, now_ms, &it->second, &batch);
      if (was_live.ok()) {
        write.was_live = *was_live;
        charge.Release(write.ns, StorageDelta(-before));
      } else {
        write.status = was_live.status();
      }
    }
  }
  // Even an empty batch goes to the store: in the fault state it is refused, so that a Delete of
  // an absent key is not answered OK either (a Put that failed before it may still reach the
  // disk, and be found after a restart).
  const absl::Status written = store_->Write(&batch);
  // One batch: every write of the group is committed, or none is. A write that changed nothing
  // (a Delete of an absent key) fails with it too: it read what the group's earlier writes left.
  if (written.ok()) {
    charge.Commit();
    return;
  }
  for (LaneEntry* entry : group) {
    KeyWrite& write = *static_cast<KeyWrite*>(entry);
    if (write.status.ok()) write.status = written;
  }
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
  // The keys alone (every entry echoes its key) are checked before any read. The rest is
  // checked as the answer grows, so that an over-limit request stops at the first value past
  // the limit instead of building the whole answer (10,000 keys of an 8 MiB value would be
  // 80 GiB).
  AnswerBudget budget(limits_.max_batch_get_bytes, limits_.max_batch_get_setting,
                      "BatchGet result", "request fewer keys");
  size_t keys_alone = 0;
  for (std::string_view key : keys) keys_alone += EntryBytes(limits_, key.size(), std::nullopt);
  SOCHDB_RETURN_IF_ERROR(budget.CheckRoomFor(keys_alone));
  for (std::string_view key : keys) {
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                            ReadRecord(*store_, ns, key, snapshot.get()));
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, LiveValue(std::move(stored), now_ms));
    SOCHDB_RETURN_IF_ERROR(budget.Charge(EntryBytes(limits_, key.size(), value)));
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
  std::vector<size_t> lanes;
  lanes.reserve(entries.size());
  for (const KvPutEntry& entry : entries) lanes.push_back(WriteLanes::LaneOf(ns, entry.key));
  WriteLanes::Claim claim(&lanes_, std::move(lanes));
  // Each key's record at this point of the batch: every change deletes the index entry of the
  // record it replaces, in batch order, so a key repeated in the batch ends with exactly its
  // last entry's index entry.
  absl::flat_hash_map<absl::string_view, KeyState> states;
  storage::WriteBatch batch;
  int64_t added_bytes = 0;  // net of the records replaced: what the storage quota is charged
  for (const KvPutEntry& entry : entries) {
    auto [it, first_time] =
        states.try_emplace(absl::string_view(entry.key.data(), entry.key.size()));
    if (first_time) {
      SOCHDB_ASSIGN_OR_RETURN(it->second, ReadKeyState(*store_, ns, entry.key));
    }
    const std::optional<uint64_t> expiry_ms = ExpiryFor(now_ms, entry.ttl_seconds);
    added_bytes -= it->second.bytes;
    AddPutAt(ns, entry.key, EncodeRecord(entry.value, expiry_ms), expiry_ms, &it->second, &batch);
    added_bytes += it->second.bytes;
  }
  namespaces::UsageCharge charge(usage_, namespaces::UsageSource::kKv);
  SOCHDB_RETURN_IF_ERROR(charge.Add(ns, StorageDelta(added_bytes)));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  charge.Commit();
  return absl::OkStatus();
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
  return std::unique_ptr<KvScanCursor>(new NamespaceScanCursor(ns, prefix, std::move(snapshot),
                                                               std::move(iterator), std::move(end),
                                                               clock_->NowMillis(), limit));
}

absl::StatusOr<size_t> KvStore::PurgeExpired(size_t max_keys) {
  const int64_t now_ms = clock_->NowMillis();
  const std::string index_start = KeyBuilder(KeyFamily::kKvExpiry).key();
  const std::string index_end = storage::PrefixSuccessor(index_start);
  std::unique_ptr<storage::Iterator> iterator = store_->NewIterator();
  iterator->Seek(index_start);
  size_t examined = 0;
  size_t records_deleted = 0;
  while (examined < max_keys) {
    PurgeChunk chunk;
    SOCHDB_RETURN_IF_ERROR(CollectDueEntries(
        *iterator, index_end, now_ms, std::min(kPurgeChunkEntries, max_keys - examined), &chunk));
    if (chunk.size() == 0) break;
    examined += chunk.size();
    std::vector<size_t> lanes;
    lanes.reserve(chunk.due.size());
    for (const DueEntry& entry : chunk.due) lanes.push_back(WriteLanes::LaneOf(entry.ns, entry.key));
    // The lanes are held from the re-read to the commit, so no writer can slip a new value in
    // between the check and the delete.
    WriteLanes::Claim claim(&lanes_, std::move(lanes));
    storage::WriteBatch batch;
    namespaces::UsageCharge charge(usage_, namespaces::UsageSource::kKv);
    SOCHDB_ASSIGN_OR_RETURN(const size_t records,
                            AddPurgeDeletions(*store_, chunk, &batch, &charge));
    SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
    charge.Commit();
    records_deleted += records;
    undecodable_index_entries_.fetch_add(chunk.undecodable.size(), std::memory_order_relaxed);
  }
  return records_deleted;
}

absl::StatusOr<namespaces::Usage> KvStore::CountUsage(std::string_view ns,
                                                      absl::FunctionRef<void()> start) {
  std::unique_ptr<storage::Snapshot> snapshot;
  {
    // Every write charges inside its lane (a group's leader, a BatchPut's or the purger's
    // claim) and commits before leaving it: with all lanes held, none is half-way.
    std::vector<size_t> every_lane(WriteLanes::kLanes);
    std::iota(every_lane.begin(), every_lane.end(), size_t{0});
    WriteLanes::Claim claim(&lanes_, std::move(every_lane));
    start();
    snapshot = store_->GetSnapshot();
  }
  const std::string prefix = DataKey(ns, "");
  const std::string end = storage::PrefixSuccessor(prefix);
  std::unique_ptr<storage::Iterator> iterator = store_->NewIterator(snapshot.get());
  namespaces::Usage usage;
  for (iterator->Seek(prefix); iterator->Valid(); iterator->Next()) {
    const std::string_view storage_key = iterator->key();
    if (!end.empty() && storage_key >= end) break;
    usage.storage_bytes += static_cast<uint64_t>(
        CountedBytes(storage_key.substr(prefix.size()), iterator->value()));
  }
  SOCHDB_RETURN_IF_ERROR(iterator->status());
  return usage;
}

}  // namespace sochdb::kv
