// NamespaceGate: the operations in flight on each namespace, and which namespaces are closed to
// new ones, so that deleting a namespace can refuse new operations on it and wait for the running
// ones before it deletes their data (an operation that read the namespace as live and wrote after
// the delete passed its keys would leave data behind).
//
// Enter runs on every data call, so it is cheap: no lock, no allocation, two atomic increments
// on a cache line of its own shard, plus one set lookup under a mutex only while some namespace
// is closed. Counts are kept per shard (namespaces hash to 16 shards), not per namespace, so the
// gate never grows with the number of namespaces used. To keep a drain from waiting forever on
// the unrelated operations of a busy shard, each shard counts in two generations: Drain moves
// the shard to the next generation and waits only for the previous one's count to reach zero.
// An operation on the closed namespace that enters after Close is refused; one that entered
// before is in the generation Drain waits for (Enter re-reads the generation after counting
// itself, so no operation is counted in a generation that was already drained).
//
// Thread safety: all methods may be called concurrently. Guards may be released on any thread.
#ifndef SOCHDB_ENGINE_NAMESPACE_NAMESPACE_GATE_H_
#define SOCHDB_ENGINE_NAMESPACE_NAMESPACE_GATE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sochdb::namespaces {

class NamespaceGate {
 public:
  // One operation in flight; destroying it (or moving from it and destroying the target) ends
  // the operation. Movable, not copyable; must not outlive the gate.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : count_(other.count_) { other.count_ = nullptr; }
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { Release(); }

   private:
    friend class NamespaceGate;
    explicit Guard(std::atomic<int64_t>* count) : count_(count) {}
    void Release();

    std::atomic<int64_t>* count_;
  };

  NamespaceGate() = default;
  NamespaceGate(const NamespaceGate&) = delete;
  NamespaceGate& operator=(const NamespaceGate&) = delete;

  // Admits one operation on `ns`. FAILED_PRECONDITION "Namespace '<ns>' is being deleted" while
  // `ns` is closed.
  absl::StatusOr<Guard> Enter(std::string_view ns);

  // Closes `ns` to new operations (idempotent).
  void Close(std::string_view ns);
  // Admits operations on `ns` again (idempotent).
  void Reopen(std::string_view ns);
  bool IsClosed(std::string_view ns) const;

  // Waits until every operation admitted on `ns` before this call has ended, or `timeout` has
  // passed. Returns how many operations of `ns`'s shard were still in flight at the end (0 =
  // drained). Call after Close(ns), or new operations on `ns` may still be admitted.
  int64_t Drain(std::string_view ns, absl::Duration timeout);
  // How many drains the shard of `ns` has begun (tests wait on it).
  uint64_t drains_begun(std::string_view ns) { return ShardOf(ns).generation.load(); }

 private:
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    std::atomic<uint64_t> generation{0};
    std::array<std::atomic<int64_t>, 2> in_flight{};  // by generation & 1
    absl::Mutex drain_mu;  // one drain of the shard at a time
    // A drain gave up with operations left in its generation's count, which a later generation
    // now shares: the next drain waits for both counts.
    bool stragglers ABSL_GUARDED_BY(drain_mu) = false;
  };

  Shard& ShardOf(std::string_view ns);

  std::array<Shard, kShards> shards_;
  // closed_.size(), readable without the lock: Enter looks closed_ up only when it is not zero.
  std::atomic<size_t> closed_count_{0};
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> closed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_ENGINE_NAMESPACE_NAMESPACE_GATE_H_
