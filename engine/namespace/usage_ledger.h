// UsageLedger: what each tracked namespace holds, kept exact by the stores that write its data,
// and the quota checks made against it. The namespace registry decides which namespaces are
// tracked (Track, through the UsageTracker interface, quota.h); KvStore and CollectionStore
// charge every write of a tracked namespace before it commits (UsageCharge) and give back what a
// committed delete, drop or purge removed. Nothing is persisted: Track counts what a namespace
// holds from the stores themselves, so after a restart (or kill -9) the count is what the store
// holds, whatever was in flight.
//
// What counts (NamespaceStats on the wire):
//   storage_bytes  key + value bytes of the namespace's KV records, plus, per collection
//                  document, id + content + metadata keys and values + 4 bytes per embedding
//                  float. A KV record counts until it is deleted or purged: an expired record
//                  still occupies the store until the TTL purger (every second, by default)
//                  removes it, and only then are its bytes given back. A record that cannot be
//                  decoded counts its key and its whole stored record.
//   vectors        the documents (every document has at least one embedding) in the namespace's
//                  collections; an upsert of an existing id adds none; DeleteDocument and
//                  DeleteCollection give them back.
//                  The graph's nodes, edges and temporal intervals count too: each one's key
//                  after the namespace plus its record, once per edge (engine/graph).
//   collections    the namespace's collections (out-of-service ones included: they can be
//                  deleted).
//                  Agent memory's episodes count too: each one's record (key after the
//                  namespace plus value) and 4 bytes per embedding float (engine/memory).
// Vector indexes (VectorIndexService) are tenant-scoped, belong to no namespace and are not
// counted (as upstream); neither is cache data.
//
// Quota checks (0 = unlimited), RESOURCE_EXHAUSTED with upstream's texts:
//   Namespace '<ns>' collection quota exceeded (<count>/<max>)        count + new > max
//   Namespace '<ns>' vector quota exceeded (<count> + <n> > <max>)    n = new document ids
//   Namespace '<ns>' storage quota exceeded (<used> + <n> > <max> bytes)
// where n is what the call adds net of what it replaces: an overwrite at the limit that adds
// nothing passes, one that shrinks a value passes and frees the difference once committed.
// Increases are reserved (checked and charged in one step under the namespace's lock) before
// the write, so two writers can never both pass a limit only one fits under; a write that fails
// returns its reservation. Decreases are applied once their write has committed. So usage read
// while writes are in flight may include their reservations: it never undercounts.
//
// Cost: a store with no ledger, or a ledger with nothing tracked, pays one atomic load per
// write; with namespaces tracked, a write of an untracked namespace pays one shared lock and one
// hash lookup (no allocation). Track reads each tracked namespace's data once (a prefix scan of
// its KV records; collections are counted from memory), which the registry does at start-up.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_NAMESPACE_USAGE_LEDGER_H_
#define SOCHDB_ENGINE_NAMESPACE_USAGE_LEDGER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/namespace/quota.h"

namespace sochdb::namespaces {

// A change of usage one write makes in one namespace (negative: given back).
struct UsageDelta {
  int64_t storage_bytes = 0;
  int64_t vectors = 0;
  int64_t collections = 0;
};

// The stores whose data a namespace's usage sums.
enum class UsageSource : uint8_t { kKv = 0, kCollections = 1, kGraph = 2, kMemory = 3 };
inline constexpr size_t kUsageSources = 4;

// What a store does for Track. Implemented by KvStore, CollectionStore, GraphStore and
// MemoryStore.
class UsageCounter {
 public:
  virtual ~UsageCounter() = default;
  // Calls `start` once, at a moment when none of the store's writes is between its charge
  // (UsageCharge::Add) and its commit, and returns what `ns` held at that moment. Writes that
  // charge after `start` are counted by their charges; those before it, by the count: none is
  // missed or counted twice.
  virtual absl::StatusOr<Usage> CountUsage(std::string_view ns,
                                           absl::FunctionRef<void()> start) = 0;
};

class UsageLedger final : public UsageTracker {
 public:
  UsageLedger() = default;
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // The store that holds `source`'s data; not owned; it calls Detach before it is destroyed.
  // Stores attach when they open, before any Track; a source with no store counts nothing.
  void Attach(UsageSource source, UsageCounter* counter);
  void Detach(UsageSource source);

  // UsageTracker. Track registers `ns` and then asks each store to count it (see UsageCounter):
  // the count is exact with writers running. Writes made while it counts are charged but not
  // checked (the usage is partial then): quotas hold from Track's return. Tracks are
  // serialised. On a count's failure (a storage error) `ns` is left untracked and the error
  // returned.
  absl::Status Track(std::string_view ns, const Quota& quota) override;
  void SetQuota(std::string_view ns, const Quota& quota) override;
  void Untrack(std::string_view ns) override;
  std::optional<Usage> UsageOf(std::string_view ns) const override;
  // Whether `ns` is tracked: UsageOf(ns).has_value(), without copying the usage (one atomic load
  // when nothing is tracked).
  bool Tracks(std::string_view ns) const { return Find(ns) != nullptr; }

 private:
  friend class UsageCharge;

  // One tracked namespace. Shared with the charges in flight, so an Untrack never frees what a
  // writer is settling.
  struct Account {
    explicit Account(std::string ns_name) : ns(std::move(ns_name)) {}
    const std::string ns;
    mutable absl::Mutex mu;
    Quota quota ABSL_GUARDED_BY(mu);
    Usage usage ABSL_GUARDED_BY(mu);
    // Whether each source charges this account yet: set by Track at the source's start.
    std::array<bool, kUsageSources> counting ABSL_GUARDED_BY(mu) = {};
    // Every source is counted: the usage is whole, and quotas are checked.
    bool counted ABSL_GUARDED_BY(mu) = false;
  };

  // The account of `ns` when it is tracked; nullptr (without taking a lock when nothing is
  // tracked) otherwise.
  std::shared_ptr<Account> Find(std::string_view ns) const;
  // Checks `delta`'s increases against the account's quota and charges them; decreases are
  // left for Settle. RESOURCE_EXHAUSTED (nothing charged) when one does not fit.
  static absl::Status Reserve(Account& account, UsageSource source, const UsageDelta& delta,
                              bool* charged);
  // Applies what Reserve left: after a commit the decreases, after a failure minus the
  // increases.
  static void Settle(Account& account, const UsageDelta& delta, bool committed);

  // Serialises Track, Untrack and Detach, so a count never runs against a detached store.
  absl::Mutex track_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::array<UsageCounter*, kUsageSources> counters_ ABSL_GUARDED_BY(track_mu_) = {};

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Account>> accounts_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> tracked_{0};  // accounts_.size(), readable without mu_
};

// The usage changes of one store write: checked and reserved before the write (Add), settled
// after it (Commit, or destruction without a commit: the write failed or was never made).
// A store builds one on its stack per write (per group commit for KV). Not thread-safe.
class UsageCharge {
 public:
  // `ledger` nullptr: charges nothing, refuses nothing.
  UsageCharge(UsageLedger* ledger, UsageSource source) : ledger_(ledger), source_(source) {}
  ~UsageCharge();
  UsageCharge(const UsageCharge&) = delete;
  UsageCharge& operator=(const UsageCharge&) = delete;

  // Adds one change of `ns` to this write. For a tracked namespace, its increases are checked
  // against the quota and reserved at once: RESOURCE_EXHAUSTED (with upstream's text, nothing
  // reserved) when one does not fit. Decreases never fail and wait for Commit. For an
  // untracked namespace, nothing happens.
  absl::Status Add(std::string_view ns, const UsageDelta& delta);
  // Adds a change that only gives back (no field above 0): never refused.
  void Release(std::string_view ns, const UsageDelta& delta);
  // The write committed: its decreases take effect, its reservations stay.
  void Commit();

 private:
  UsageLedger* const ledger_;
  const UsageSource source_;
  bool committed_ = false;
  std::vector<std::pair<std::shared_ptr<UsageLedger::Account>, UsageDelta>> charged_;
};

}  // namespace sochdb::namespaces

#endif  // SOCHDB_ENGINE_NAMESPACE_USAGE_LEDGER_H_
