// The admission counts behind namespace_gate.h. Every atomic here is sequentially consistent on
// purpose: Enter (count itself, then read the generation and the closed set) and Drain / Close
// (change the generation or the set, then read the counts) rely on each seeing the other's write
// in one of the two orders, which weaker orderings do not promise.
#include "engine/namespace/namespace_gate.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"

namespace sochdb::namespaces {

NamespaceGate::Guard& NamespaceGate::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    count_ = other.count_;
    other.count_ = nullptr;
  }
  return *this;
}

void NamespaceGate::Guard::Release() {
  if (count_ != nullptr) count_->fetch_sub(1);
  count_ = nullptr;
}

NamespaceGate::Shard& NamespaceGate::ShardOf(std::string_view ns) {
  return shards_[absl::Hash<absl::string_view>()(AbslView(ns)) % kShards];
}

absl::StatusOr<NamespaceGate::Guard> NamespaceGate::Enter(std::string_view ns) {
  Shard& shard = ShardOf(ns);
  std::atomic<int64_t>* count = nullptr;
  for (;;) {
    const uint64_t generation = shard.generation.load();
    count = &shard.in_flight[generation & 1];
    count->fetch_add(1);
    // Counted in a generation a drain may already have passed: count again in the current one.
    if (shard.generation.load() == generation) break;
    count->fetch_sub(1);
  }
  Guard guard(count);
  if (closed_count_.load() != 0 && IsClosed(ns)) {
    return absl::FailedPreconditionError(
        absl::StrCat("Namespace '", AbslView(ns), "' is being deleted"));
  }
  return guard;
}

void NamespaceGate::Close(std::string_view ns) {
  absl::MutexLock lock(&mu_);
  closed_.emplace(AbslView(ns));
  closed_count_.store(closed_.size());
}

void NamespaceGate::Reopen(std::string_view ns) {
  absl::MutexLock lock(&mu_);
  closed_.erase(AbslView(ns));
  closed_count_.store(closed_.size());
}

bool NamespaceGate::IsClosed(std::string_view ns) const {
  absl::MutexLock lock(&mu_);
  return closed_.contains(AbslView(ns));
}

int64_t NamespaceGate::Drain(std::string_view ns, absl::Duration timeout) {
  Shard& shard = ShardOf(ns);
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&shard.drain_mu);
  const uint64_t previous = shard.generation.fetch_add(1);
  const bool both = shard.stragglers;
  const auto remaining = [&] {
    int64_t n = shard.in_flight[previous & 1].load();
    if (both) n += shard.in_flight[(previous + 1) & 1].load();
    return n;
  };
  // Deletes are rare and operations short: polling costs less than a wake-up on every release.
  int64_t left = remaining();
  while (left > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
    left = remaining();
  }
  shard.stragglers = left > 0;
  return left;
}

}  // namespace sochdb::namespaces
