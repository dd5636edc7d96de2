// WriteLanes: the order in which KvStore's writes of one key reach the store, without a lock held
// across the store's (possibly fsynced) write. Keys hash to one of kLanes lanes. Writers of a lane
// queue up in arrival order; the writer at the front leads: it takes the queued single-key writes
// behind it (a group), commits them as ONE store write, and hands the lane to the next in line.
// So the writes of a hot key share one fsync instead of queueing for one each (with the lock held
// across the write, 128 writers of one key got 4.5K puts/s under --sync full against 14K for
// spread keys), and a later write of a key still never lands before an earlier one: within a group
// they are applied in arrival order, and a lane commits one group at a time.
//
// Writes that span several lanes (BatchPut, the TTL purger) take their lanes whole with a Claim,
// in ascending lane order (so two claims cannot deadlock; a leader holds one lane and waits for
// none), after the writes queued before them.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_KV_WRITE_LANES_H_
#define SOCHDB_ENGINE_KV_WRITE_LANES_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <deque>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace sochdb::kv {

// A write waiting in a lane. Callers derive their request type from it; the commit function
// receives the group's entries and casts them back.
struct LaneEntry {
  // Bytes this write adds to its group's batch; a group stops growing at kMaxGroupBytes.
  size_t bytes = 0;
  // Set (under the lane's lock) once a leader has committed it; the leader fills the derived
  // type's result before that.
  bool done = false;
  // A Claim's place in the queue: never part of a group.
  bool claim = false;
};

class WriteLanes {
 public:
  static constexpr size_t kLanes = 256;
  // A group takes queued writes until their bytes pass this (but always at least one): the size
  // LevelDB's own group commit stops at.
  static constexpr size_t kMaxGroupBytes = size_t{1} << 20;

  WriteLanes() = default;
  WriteLanes(const WriteLanes&) = delete;
  WriteLanes& operator=(const WriteLanes&) = delete;

  static size_t LaneOf(std::string_view ns, std::string_view key);

  // Queues `entry` in `lane` and returns once it is committed: by another writer's group, or by
  // this thread leading a group that starts with it, calling `commit` with the group (in queue
  // order) while no lock is held. `commit` must fill every entry's result; it runs with the lane
  // reserved, so no other write of the lane reaches the store meanwhile.
  void Submit(size_t lane, LaneEntry* entry,
              absl::FunctionRef<void(absl::Span<LaneEntry* const> group)> commit);

  // Reserves `lanes` (any order, repeats allowed) for a write that spans them: waits for the
  // writes queued in each before it, then holds each until destroyed. Writers of those lanes
  // queue behind it meanwhile.
  class Claim {
   public:
    Claim(WriteLanes* lanes, std::vector<size_t> lane_numbers);
    ~Claim();
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;

   private:
    WriteLanes* const lanes_;
    std::vector<size_t> held_;  // ascending, unique
  };

  // Writes and claims waiting behind a leader or a claim, over all lanes. Tests use it to know
  // that writers have queued (order of events, not time).
  size_t waiting() const { return waiting_.load(std::memory_order_acquire); }

 private:
  struct Lane {
    absl::Mutex mu;
    // A group is being committed, or a claim holds the lane.
    bool busy ABSL_GUARDED_BY(mu) = false;
    std::deque<LaneEntry*> queue ABSL_GUARDED_BY(mu);
  };

  // Queues `entry` and waits until it is done (a group committed it) or it is at the front of an
  // idle lane; then the caller owns the lane (busy) with `entry` still queued.
  void Enqueue(Lane& lane, LaneEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lane.mu);

  std::array<Lane, kLanes> lanes_;
  std::atomic<size_t> waiting_{0};
};

}  // namespace sochdb::kv

#endif  // SOCHDB_ENGINE_KV_WRITE_LANES_H_
