// UsageLedger's accounts, the quota checks and how Track counts a namespace with writers running.
#include "engine/namespace/usage_ledger.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_format.h"
#include "engine/common/absl_view.h"
#include "spdlog/spdlog.h"

namespace sochdb::namespaces {
namespace {

uint64_t Increase(int64_t delta) { return delta > 0 ? static_cast<uint64_t>(delta) : 0; }
uint64_t Decrease(int64_t delta) { return delta < 0 ? static_cast<uint64_t>(-delta) : 0; }

// Counters only fall by what a committed write removed, which was counted, but not always in
// that order: while Track counts, a write may give back what the count adds only later. So the
// arithmetic is modular (a counter may pass below zero meanwhile), never floored: a floor would
// lose that give-back for good.
void Subtract(uint64_t* counter, uint64_t amount) { *counter -= amount; }

bool Exceeds(uint64_t used, uint64_t adding, uint64_t max) {
  return max > 0 && adding > 0 && adding > max - std::min(used, max);
}

size_t SourceIndex(UsageSource source) { return static_cast<size_t>(source); }

// RESOURCE_EXHAUSTED, with upstream's text, when adding `added` to `usage` passes `quota`.
absl::Status CheckQuota(std::string_view ns, const Quota& quota, const Usage& usage,
                        const Usage& added) {
  if (Exceeds(usage.collections, added.collections, quota.max_collections)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "Namespace '%s' collection quota exceeded (%d/%d)", ns, usage.collections,
        quota.max_collections));
  }
  if (Exceeds(usage.vectors, added.vectors, quota.max_vectors)) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("Namespace '%s' vector quota exceeded (%d + %d > %d)", ns, usage.vectors,
                        added.vectors, quota.max_vectors));
  }
  if (Exceeds(usage.storage_bytes, added.storage_bytes, quota.max_storage_bytes)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "Namespace '%s' storage quota exceeded (%d + %d > %d bytes)", ns, usage.storage_bytes,
        added.storage_bytes, quota.max_storage_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

void UsageLedger::Attach(UsageSource source, UsageCounter* counter) {
  absl::MutexLock lock(&track_mu_);
  counters_[SourceIndex(source)] = counter;
}

void UsageLedger::Detach(UsageSource source) {
  absl::MutexLock lock(&track_mu_);
  counters_[SourceIndex(source)] = nullptr;
}

// Why the count is exact: the account is published before any store is asked, so every write
// that looks `ns` up from then on finds it; it charges the account only once its store's
// source is counting. Each store flips that flag (start) at a moment when none of its writes
// is between its charge and its commit, and counts what the namespace held at that moment. A
// write whose charge came before the flip committed before it too: it is in the count and
// charged nothing. A write whose charge came after it commits after the count's moment: it is
// charged and not in the count. Until every store is counted, the usage is partial (and may be
// below zero: a write may give back what the count adds later), so no quota is checked yet.
absl::Status UsageLedger::Track(std::string_view ns, const Quota& quota) {
  absl::MutexLock track_lock(&track_mu_);
  std::shared_ptr<Account> account;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = accounts_.try_emplace(AbslView(ns));
    if (!inserted) {
      absl::MutexLock account_lock(&it->second->mu);
      it->second->quota = quota;
      return absl::OkStatus();
    }
    it->second = std::make_shared<Account>(std::string(ns));
    account = it->second;
    absl::MutexLock account_lock(&account->mu);
    account->quota = quota;
    tracked_.store(accounts_.size(), std::memory_order_release);
  }
  for (size_t source = 0; source < kUsageSources; ++source) {
    const auto start = [&account, source] {
      absl::MutexLock account_lock(&account->mu);
      account->counting[source] = true;
    };
    UsageCounter* counter = counters_[source];
    if (counter == nullptr) {
      start();
      continue;
    }
    absl::StatusOr<Usage> counted = counter->CountUsage(ns, start);
    if (!counted.ok()) {
      absl::MutexLock lock(&mu_);
      accounts_.erase(account->ns);
      tracked_.store(accounts_.size(), std::memory_order_release);
      return counted.status();
    }
    absl::MutexLock account_lock(&account->mu);
    account->usage.storage_bytes += counted->storage_bytes;
    account->usage.vectors += counted->vectors;
    account->usage.collections += counted->collections;
  }
  absl::MutexLock account_lock(&account->mu);
  account->counted = true;
  return absl::OkStatus();
}

void UsageLedger::SetQuota(std::string_view ns, const Quota& quota) {
  const std::shared_ptr<Account> account = Find(ns);
  if (account == nullptr) return;
  absl::MutexLock account_lock(&account->mu);
  account->quota = quota;
}

void UsageLedger::Untrack(std::string_view ns) {
  absl::MutexLock track_lock(&track_mu_);
  absl::MutexLock lock(&mu_);
  auto it = accounts_.find(AbslView(ns));
  if (it == accounts_.end()) return;
  accounts_.erase(it);
  tracked_.store(accounts_.size(), std::memory_order_release);
}

std::optional<Usage> UsageLedger::UsageOf(std::string_view ns) const {
  const std::shared_ptr<Account> account = Find(ns);
  if (account == nullptr) return std::nullopt;
  absl::MutexLock account_lock(&account->mu);
  return account->usage;
}

std::shared_ptr<UsageLedger::Account> UsageLedger::Find(std::string_view ns) const {
  if (tracked_.load(std::memory_order_acquire) == 0) return nullptr;
  absl::ReaderMutexLock lock(&mu_);
  auto it = accounts_.find(AbslView(ns));
  return it == accounts_.end() ? nullptr : it->second;
}

absl::Status UsageLedger::Reserve(Account& account, UsageSource source, const UsageDelta& delta,
                                  bool* charged) {
  absl::MutexLock account_lock(&account.mu);
  *charged = account.counting[SourceIndex(source)];
  if (!*charged) return absl::OkStatus();
  Usage added;
  added.collections = Increase(delta.collections);
  added.vectors = Increase(delta.vectors);
  added.storage_bytes = Increase(delta.storage_bytes);
  Usage& usage = account.usage;
  // While Track is still counting, the usage is partial: it is charged but not checked.
  if (account.counted) {
    absl::Status fits = CheckQuota(account.ns, account.quota, usage, added);
    if (!fits.ok()) return fits;
  }
  usage.collections += added.collections;
  usage.vectors += added.vectors;
  usage.storage_bytes += added.storage_bytes;
  return absl::OkStatus();
}

void UsageLedger::Settle(Account& account, const UsageDelta& delta, bool committed) {
  absl::MutexLock account_lock(&account.mu);
  Usage& usage = account.usage;
  const auto taken_back = committed ? Decrease : Increase;
  Subtract(&usage.collections, taken_back(delta.collections));
  Subtract(&usage.vectors, taken_back(delta.vectors));
  Subtract(&usage.storage_bytes, taken_back(delta.storage_bytes));
}

UsageCharge::~UsageCharge() {
  for (auto& [account, delta] : charged_) UsageLedger::Settle(*account, delta, false);
}

absl::Status UsageCharge::Add(std::string_view ns, const UsageDelta& delta) {
  if (ledger_ == nullptr) return absl::OkStatus();
  if (delta.storage_bytes == 0 && delta.vectors == 0 && delta.collections == 0) {
    return absl::OkStatus();
  }
  std::shared_ptr<UsageLedger::Account> account = ledger_->Find(ns);
  if (account == nullptr) return absl::OkStatus();
  bool charged = false;
  absl::Status reserved = UsageLedger::Reserve(*account, source_, delta, &charged);
  if (!reserved.ok()) return reserved;
  if (charged) charged_.emplace_back(std::move(account), delta);
  return absl::OkStatus();
}

void UsageCharge::Release(std::string_view ns, const UsageDelta& delta) {
  const absl::Status added = Add(ns, delta);
  if (!added.ok()) {  // only increases are checked: a caller passed one
    spdlog::critical("a usage release was refused: {}", added.ToString());
    std::abort();
  }
}

void UsageCharge::Commit() {
  for (auto& [account, delta] : charged_) UsageLedger::Settle(*account, delta, true);
  charged_.clear();
  committed_ = true;
}

}  // namespace sochdb::namespaces
