// GraphStore's part in namespace usage (engine/namespace/usage_ledger.h): the charge of each
// write of a tracked namespace, and the count Track asks for.
#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/graph/graph_records.h"
#include "engine/graph/graph_store.h"
#include "engine/storage/keys.h"

namespace sochdb::graph {

namespace {

size_t StripeIndex(std::string_view key, size_t stripes) {
  return absl::HashOf(AbslView(key)) % stripes;
}

// The families whose records count (an edge's in entry and a temporal interval's reverse entry
// mirror a counted record).
constexpr storage::KeyFamily kCountedFamilies[] = {
    storage::KeyFamily::kGraphNode,
    storage::KeyFamily::kGraphOutEdge,
    storage::KeyFamily::kGraphTemporalEdge,
};

}  // namespace

uint64_t ItemBytes(std::string_view ns, std::string_view key, std::string_view record) {
  // The family byte and Name(ns) are the same for every item of the namespace.
  const size_t namespace_part = storage::NamespacePrefix(storage::KeyFamily::kGraphNode, ns).size();
  return key.size() - std::min(key.size(), namespace_part) + record.size();
}

GraphStore::HeldStripes::HeldStripes(Stripes& stripes, std::vector<size_t> indexes)
    : stripes_(stripes), held_(std::move(indexes)) {
  std::sort(held_.begin(), held_.end());
  held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
  for (size_t i : held_) stripes_[i].Lock();
}

GraphStore::HeldStripes::HeldStripes(Stripes& stripes)
    : HeldStripes(stripes, [] {
        std::vector<size_t> every(kStripes);
        std::iota(every.begin(), every.end(), size_t{0});
        return every;
      }()) {}

GraphStore::HeldStripes::~HeldStripes() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) stripes_[*it].Unlock();
}

absl::Mutex& GraphStore::Stripe(std::string_view key) const {
  return stripes_[StripeIndex(key, kStripes)];
}

bool GraphStore::Tracked(std::string_view ns) const {
  return usage_ != nullptr && usage_->Tracks(ns);
}

absl::Status GraphStore::Commit(std::string_view ns, std::vector<ItemWrite> items,
                                storage::WriteBatch* batch, bool stripes_held) {
  if (!Tracked(ns)) return store_->Write(batch);
  std::optional<HeldStripes> locks;
  if (!stripes_held) {
    std::vector<size_t> indexes;
    indexes.reserve(items.size());
    for (const ItemWrite& item : items) indexes.push_back(StripeIndex(item.key, kStripes));
    locks.emplace(stripes_, std::move(indexes));
  }
  // An item written twice in one batch ends as its last copy: count that one, once.
  absl::flat_hash_map<std::string, size_t> last;
  for (size_t i = 0; i < items.size(); ++i) last[items[i].key] = i;
  int64_t delta = 0;
  for (const auto& [key, index] : last) {
    const ItemWrite& item = items[index];
    uint64_t old_bytes = 0;
    if (item.old_bytes.has_value()) {
      old_bytes = *item.old_bytes;
    } else {
      SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, store_->Get(item.key));
      if (record.has_value()) old_bytes = ItemBytes(ns, item.key, *record);
    }
    delta += static_cast<int64_t>(item.new_bytes) - static_cast<int64_t>(old_bytes);
  }
  namespaces::UsageCharge charge(usage_, namespaces::UsageSource::kGraph);
  SOCHDB_RETURN_IF_ERROR(charge.Add(ns, namespaces::UsageDelta{delta, 0, 0}));
  SOCHDB_RETURN_IF_ERROR(store_->Write(batch));
  charge.Commit();
  return absl::OkStatus();
}

absl::StatusOr<namespaces::Usage> GraphStore::CountUsage(std::string_view ns,
                                                         absl::FunctionRef<void()> start) {
  std::unique_ptr<storage::Snapshot> snapshot;
  {
    absl::MutexLock barrier(&count_barrier_);
    start();
    snapshot = store_->GetSnapshot();
  }
  std::unique_ptr<storage::Iterator> it = store_->NewIterator(snapshot.get());
  namespaces::Usage usage;
  for (storage::KeyFamily family : kCountedFamilies) {
    const std::string prefix = storage::NamespacePrefix(family, ns);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (it->key().substr(0, prefix.size()) != prefix) break;
      usage.storage_bytes += ItemBytes(ns, it->key(), it->value());
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
  }
  return usage;
}

}  // namespace sochdb::graph
