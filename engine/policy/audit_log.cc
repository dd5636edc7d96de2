#include "engine/policy/audit_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/storage/field_record.h"
#include "engine/storage/keys.h"

namespace sochdb::policy {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::KeyReader;

constexpr char kRecordName[] = "audit record";
constexpr int kTrimBatchKeys = 1000;

std::string TenantPrefix(std::string_view tenant) {
  return KeyBuilder(KeyFamily::kAuditLog).Name(tenant).key();
}

std::string RecordKey(std::string_view tenant, int64_t time_ms, uint64_t sequence) {
  return KeyBuilder(KeyFamily::kAuditLog)
      .Name(tenant)
      .U64(static_cast<uint64_t>(std::max<int64_t>(time_ms, 0)))
      .U64(sequence)
      .key();
}

// The tenant, time and sequence of an audit key; false when it is not one.
bool ParseKey(std::string_view key, std::string_view* tenant, uint64_t* time_ms,
              uint64_t* sequence) {
  KeyReader reader(key);
  KeyFamily family;
  return reader.Family(&family) && family == KeyFamily::kAuditLog && reader.Name(tenant) &&
         reader.U64(time_ms) && reader.U64(sequence) && reader.Rest().empty();
}

std::string Encode(const AuditRecord& r) {
  storage::FieldRecordWriter w;
  w.Bytes("principal", r.principal_id)
      .Bytes("role", r.principal_role)
      .Bytes("service", r.service)
      .Bytes("method", r.method)
      .Bytes("operation", r.operation)
      .Bytes("namespace", r.ns)
      .Bytes("key", r.key)
      .Number("keys", r.key_count)
      .Bytes("policy", r.policy_id)
      .Bytes("policy_name", r.policy_name);
  return std::move(w).Build();
}

absl::StatusOr<AuditRecord> Decode(std::string_view tenant, uint64_t time_ms, uint64_t sequence,
                                   std::string_view text) {
  SOCHDB_ASSIGN_OR_RETURN(storage::FieldRecord f, storage::FieldRecord::Parse(text, kRecordName));
  AuditRecord r;
  r.tenant = std::string(tenant);
  r.time_ms = static_cast<int64_t>(time_ms);
  r.sequence = sequence;
  SOCHDB_RETURN_IF_ERROR(f.Bytes("principal", &r.principal_id));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("role", &r.principal_role));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("service", &r.service));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("method", &r.method));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("operation", &r.operation));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("namespace", &r.ns));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("key", &r.key));
  SOCHDB_RETURN_IF_ERROR(f.Number("keys", &r.key_count));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("policy", &r.policy_id));
  SOCHDB_RETURN_IF_ERROR(f.Bytes("policy_name", &r.policy_name));
  return r;
}

std::string PageToken(const AuditRecord& r) { return absl::StrCat(r.time_ms, ".", r.sequence); }

absl::Status BadToken() {
  return absl::InvalidArgumentError(
      "page_token is not a token this server gave (pass the next_page_token of the previous "
      "page, or empty for the newest records)");
}

}  // namespace

AuditLog::AuditLog(storage::Store* store, const Clock* clock, AuditRetention retention)
    : store_(store),
      clock_(clock),
      retention_(retention),
      // Seeded from the clock so that records of one millisecond before and after a restart
      // cannot share a key.
      next_sequence_(static_cast<uint64_t>(Clock::Real()->NowMicros()) << 10) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::Store* store,
                                                         const Clock* clock,
                                                         AuditRetention retention) {
  std::unique_ptr<AuditLog> log(new AuditLog(store, clock, retention));
  SOCHDB_RETURN_IF_ERROR(log->CountStored());
  return log;
}

absl::Status AuditLog::CountStored() {
  const std::string family = KeyBuilder(KeyFamily::kAuditLog).key();
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  absl::MutexLock lock(&mu_);
  for (it->Seek(family); it->Valid() && absl::StartsWith(AbslView(it->key()), family);
       it->Next()) {
    std::string_view tenant;
    uint64_t time_ms, sequence;
    if (!ParseKey(it->key(), &tenant, &time_ms, &sequence)) continue;  // Trim ignores it too
    ++counts_[AbslView(tenant)];
  }
  return it->status();
}

absl::Status AuditLog::Append(AuditRecord record) {
  record.time_ms = clock_->NowMillis();
  record.sequence = next_sequence_.fetch_add(1, std::memory_order_relaxed);
  if (record.key.size() > kMaxAuditKeyBytes) record.key.resize(kMaxAuditKeyBytes);
  storage::WriteBatch batch;
  batch.Put(RecordKey(record.tenant, record.time_ms, record.sequence), Encode(record));
  SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
  absl::MutexLock lock(&mu_);
  ++counts_[record.tenant];
  return absl::OkStatus();
}

absl::StatusOr<AuditLog::Page> AuditLog::Read(std::string_view tenant,
                                              std::string_view page_token, size_t limit) const {
  if (limit > kMaxAuditPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit is ", limit, "; the maximum is ", kMaxAuditPage));
  }
  if (limit == 0) limit = kDefaultAuditPage;
  const std::string prefix = TenantPrefix(tenant);
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  if (page_token.empty()) {
    const std::string end = storage::PrefixSuccessor(prefix);
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->Seek(end);
      it->Valid() ? it->Prev() : it->SeekToLast();
    }
  } else {
    std::vector<absl::string_view> parts = absl::StrSplit(AbslView(page_token), '.');
    uint64_t time_ms, sequence;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &time_ms) ||
        !absl::SimpleAtoi(parts[1], &sequence)) {
      return BadToken();
    }
    it->Seek(RecordKey(tenant, static_cast<int64_t>(time_ms), sequence));
    it->Valid() ? it->Prev() : it->SeekToLast();
  }
  Page page;
  for (; it->Valid() && absl::StartsWith(AbslView(it->key()), prefix); it->Prev()) {
    std::string_view owner;
    uint64_t time_ms, sequence;
    if (!ParseKey(it->key(), &owner, &time_ms, &sequence)) continue;
    if (page.records.size() == limit) {
      page.next_page_token = PageToken(page.records.back());
      break;
    }
    SOCHDB_ASSIGN_OR_RETURN(AuditRecord record, Decode(owner, time_ms, sequence, it->value()));
    page.records.push_back(std::move(record));
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  return page;
}

absl::StatusOr<uint64_t> AuditLog::Trim() {
  absl::MutexLock trim(&trim_mu_);
  std::vector<std::string> tenants;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [tenant, count] : counts_) tenants.push_back(tenant);
  }
  const int64_t cutoff_ms = clock_->NowMillis() - absl::ToInt64Milliseconds(retention_.max_age);
  uint64_t removed = 0;
  for (const std::string& tenant : tenants) {
    SOCHDB_ASSIGN_OR_RETURN(uint64_t n, TrimTenant(tenant, cutoff_ms));
    removed += n;
  }
  return removed;
}

absl::StatusOr<uint64_t> AuditLog::TrimTenant(const std::string& tenant, int64_t cutoff_ms) {
  uint64_t excess = 0;
  {
    absl::MutexLock lock(&mu_);
    const uint64_t count = counts_[tenant];
    excess = count > retention_.max_records_per_tenant
                 ? count - retention_.max_records_per_tenant
                 : 0;
  }
  const std::string prefix = TenantPrefix(tenant);
  std::unique_ptr<storage::Iterator> it = store_->NewIterator();
  storage::WriteBatch batch;
  uint64_t removed = 0;
  const auto flush = [&]() -> absl::Status {
    const uint64_t n = static_cast<uint64_t>(batch.Count());
    if (n == 0) return absl::OkStatus();
    SOCHDB_RETURN_IF_ERROR(store_->Write(&batch));
    batch.Clear();
    removed += n;
    absl::MutexLock lock(&mu_);
    counts_[tenant] -= std::min(counts_[tenant], n);
    return absl::OkStatus();
  };
  for (it->Seek(prefix); it->Valid() && absl::StartsWith(AbslView(it->key()), prefix);
       it->Next()) {
    std::string_view owner;
    uint64_t time_ms, sequence;
    const bool parsed = ParseKey(it->key(), &owner, &time_ms, &sequence);
    const bool expired = parsed && static_cast<int64_t>(time_ms) < cutoff_ms;
    if (!expired && excess == 0) break;  // oldest first: nothing later is due
    batch.Delete(it->key());
    if (excess > 0) --excess;
    if (batch.Count() >= kTrimBatchKeys) SOCHDB_RETURN_IF_ERROR(flush());
  }
  SOCHDB_RETURN_IF_ERROR(it->status());
  SOCHDB_RETURN_IF_ERROR(flush());
  absl::MutexLock lock(&mu_);
  if (counts_[tenant] == 0) counts_.erase(tenant);
  return removed;
}

uint64_t AuditLog::records() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [tenant, count] : counts_) total += count;
  return total;
}

}  // namespace sochdb::policy
