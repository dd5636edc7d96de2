// Implementation of write_lanes.h: queueing, leadership and claims.
#include "engine/kv/write_lanes.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace sochdb::kv {

size_t WriteLanes::LaneOf(std::string_view ns, std::string_view key) {
  const size_t hash = absl::HashOf(absl::string_view(ns.data(), ns.size()),
                                   absl::string_view(key.data(), key.size()));
  return hash % kLanes;
}

void WriteLanes::Enqueue(Lane& lane, LaneEntry* entry) {
  lane.queue.push_back(entry);
  const auto ready = [&lane, entry]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lane.mu) {
    return entry->done || (!lane.busy && lane.queue.front() == entry);
  };
  if (!ready()) {
    waiting_.fetch_add(1, std::memory_order_acq_rel);
    lane.mu.Await(absl::Condition(&ready));
    waiting_.fetch_sub(1, std::memory_order_acq_rel);
  }
  if (!entry->done) lane.busy = true;
}

void WriteLanes::Submit(size_t lane_number, LaneEntry* entry,
                        absl::FunctionRef<void(absl::Span<LaneEntry* const> group)> commit) {
  Lane& lane = lanes_[lane_number];
  absl::InlinedVector<LaneEntry*, 4> group;
  {
    absl::MutexLock lock(&lane.mu);
    Enqueue(lane, entry);
    if (entry->done) return;  // a leader committed it
    // This thread leads: `entry` is at the front. The writes behind it join it up to the first
    // claim (which must see them committed first) or the size cap.
    size_t bytes = 0;
    while (!lane.queue.empty()) {
      LaneEntry* next = lane.queue.front();
      if (next->claim || (!group.empty() && bytes + next->bytes > kMaxGroupBytes)) break;
      bytes += next->bytes;
      group.push_back(next);
      lane.queue.pop_front();
    }
  }
  commit(absl::MakeConstSpan(group));
  absl::MutexLock lock(&lane.mu);
  // The followers return (and their entries go) as soon as the lock is let go: nothing of the
  // group is touched after this loop.
  for (LaneEntry* member : group) member->done = true;
  lane.busy = false;
}

WriteLanes::Claim::Claim(WriteLanes* lanes, std::vector<size_t> lane_numbers)
    : lanes_(lanes), held_(std::move(lane_numbers)) {
  std::sort(held_.begin(), held_.end());
  held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
  for (size_t number : held_) {
    Lane& lane = lanes_->lanes_[number];
    LaneEntry place;
    place.claim = true;
    absl::MutexLock lock(&lane.mu);
    lanes_->Enqueue(lane, &place);
    lane.queue.pop_front();  // `place`; the lane stays busy until the claim ends
  }
}

WriteLanes::Claim::~Claim() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    Lane& lane = lanes_->lanes_[*it];
    absl::MutexLock lock(&lane.mu);
    lane.busy = false;
  }
}

}  // namespace sochdb::kv
