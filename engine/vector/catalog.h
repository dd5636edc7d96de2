// Catalog: the named objects of one store (VectorIndexStore's indexes, CollectionStore's
// collections) and the create/drop lifecycle they share. Creating or dropping a name writes its
// definition record with a synced write; the catalog lets that write happen with no lock held,
// so lookups of every other name (every search and insert) never wait for an fsync:
//
//   create:  Reserve -> write the definition -> Publish (or Abandon when the write failed)
//   drop:    BeginDrop -> delete the definition -> FinishDrop -> retire and delete the data
//
// Between the steps the name is in transition: lookups do not see it (a name being created
// does not exist yet, one being dropped no longer does), and a second Reserve or BeginDrop of
// the same name waits until the transition ends, so two definition writes of one name never
// cross (a create's Put landing before a drop's Delete of the previous incarnation, say).
// What a dropped object's holders do afterwards is the object's business: its VectorSpace
// refuses writes and snapshots once retired (VectorSpace::Retire).
//
// Values are shared pointers (or other cheap copies): Find and Live hand out copies, so a caller
// keeps using an object that is dropped meanwhile. Thread-safe; every method takes the
// catalog's mutex only briefly (Reserve and BeginDrop may wait on it for a transition).
#ifndef SOCHDB_ENGINE_VECTOR_CATALOG_H_
#define SOCHDB_ENGINE_VECTOR_CATALOG_H_

#include <cstddef>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sochdb::vector {

template <class Key, class Value>
class Catalog {
 public:
  enum class Reservation { kReserved, kExists };

  // Waits for a transition of `key` to end. kExists when `key` is live (nothing changes);
  // otherwise `key` is reserved for the caller, who must end it with Publish or Abandon.
  Reservation Reserve(const Key& key) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    AwaitSettled(key);
    if (entries_.count(key) > 0) return Reservation::kExists;
    entries_.emplace(key, Entry{Value(), Phase::kCreating});
    return Reservation::kReserved;
  }
  // Ends a reservation: `key` is live with `value`.
  void Publish(const Key& key, Value value) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    entries_[key] = Entry{std::move(value), Phase::kLive};
  }
  // Ends a reservation with nothing created.
  void Abandon(const Key& key) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    entries_.erase(key);
  }

  // Waits for a transition of `key` to end. nullopt when `key` is not live; otherwise hides it
  // (lookups no longer find it) and returns its value. The caller must call FinishDrop.
  std::optional<Value> BeginDrop(const Key& key) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    AwaitSettled(key);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    it->second.phase = Phase::kDropping;
    return it->second.value;
  }
  // Ends a drop: `key` is gone (`dropped`), or live again (its definition could not be deleted).
  void FinishDrop(const Key& key, bool dropped) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (dropped) {
      entries_.erase(it);
    } else {
      it->second.phase = Phase::kLive;
    }
  }

  // The value of `key` when it is live.
  std::optional<Value> Find(const Key& key) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.phase != Phase::kLive) return std::nullopt;
    return it->second.value;
  }
  // Every live (key, value), in key order.
  std::vector<std::pair<Key, Value>> Live() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<Key, Value>> out;
    for (const auto& [key, entry] : entries_) {
      if (entry.phase == Phase::kLive) out.emplace_back(key, entry.value);
    }
    return out;
  }
  size_t LiveCount() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const auto& [key, entry] : entries_) n += entry.phase == Phase::kLive ? 1 : 0;
    return n;
  }

 private:
  enum class Phase { kCreating, kLive, kDropping };
  struct Entry {
    Value value;
    Phase phase = Phase::kLive;
  };

  void AwaitSettled(const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto settled = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = entries_.find(key);
      return it == entries_.end() || it->second.phase == Phase::kLive;
    };
    mu_.Await(absl::Condition(&settled));
  }

  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_CATALOG_H_
