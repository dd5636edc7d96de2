// What the GraphStore tests share: a GraphStore on an in-memory Store (or on a disk the test
// brings, such as a SimulatedDisk) with a manual clock, reopened on demand; short ways to add
// and name edges; and a reader of the raw graph key families (engine/storage/keys.h: 0x30 nodes,
// 0x31 / 0x32 out and in entries, 0x33 / 0x34 temporal forward and reverse entries) that checks
// the storage invariants no read through GraphStore can see: every edge entry has its mirror, and
// no key of a deleted node is left.
#ifndef SOCHDB_TESTS_ENGINE_GRAPH_GRAPH_FIXTURE_H_
#define SOCHDB_TESTS_ENGINE_GRAPH_GRAPH_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "engine/common/clock.h"
#include "engine/graph/graph_store.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"

namespace sochdb::graph::testing {

// One graph key as stored, decoded. For the out family `first` is the edge's from and `second`
// its to; for the in families the other way round (the key is led by the node it is listed
// under). Node keys fill `first` only.
struct RawGraphKey {
  storage::KeyFamily family = storage::KeyFamily::kGraphNode;
  std::string ns;
  std::string first;
  std::string type;
  std::string second;
  uint64_t valid_from = 0;  // temporal families only

  // (ns, from, type, to, valid_from) whichever family it came from.
  std::tuple<std::string, std::string, std::string, std::string, uint64_t> Identity() const;
  std::string ToString() const;
};

// Every key of families 0x30..0x34, in store order; fails the test on a key that does not decode.
std::vector<RawGraphKey> ScanGraphKeys(const storage::Store& store);
// Descriptions of the edge entries (plain and temporal) whose mirror entry is missing; empty when
// every out entry has its in entry and vice versa.
std::vector<std::string> HalfEdges(const storage::Store& store);
// Descriptions of the keys of namespace `ns` that name `id` as node or as either endpoint.
std::vector<std::string> KeysMentioning(const storage::Store& store, std::string_view ns,
                                        std::string_view id);

// "from-type->to", and the same for a list: what assertions compare.
std::string Name(const Edge& edge);
std::vector<std::string> Names(const std::vector<Edge>& edges);
std::vector<std::string> Ids(const std::vector<Node>& nodes);

class GraphFixture {
 public:
  // On an in-memory disk of its own.
  explicit GraphFixture(GraphLimits limits = {});
  // At `path` with `options` (whose env, such as a SimulatedDisk's, must outlive the fixture).
  GraphFixture(std::string path, storage::StoreOptions options, GraphLimits limits = {});
  ~GraphFixture();

  // Closes the GraphStore and the Store and opens both again on the same disk.
  void Reopen();
  // Closes both (for a power cut's reboot); Reopen() opens them again.
  void Close();

  void AddNode(std::string_view ns, std::string id, std::string type = "thing",
               Properties properties = {});
  void AddEdge(std::string_view ns, std::string from, std::string type, std::string to,
               Properties properties = {});

  GraphStore& graph() { return *graph_; }
  storage::Store& store() { return *store_; }
  ManualClock& clock() { return clock_; }

 private:
  void Open();

  std::unique_ptr<leveldb::Env> own_env_;
  const std::string path_;
  storage::StoreOptions options_;
  const GraphLimits limits_;
  ManualClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<GraphStore> graph_;
};

}  // namespace sochdb::graph::testing

#endif  // SOCHDB_TESTS_ENGINE_GRAPH_GRAPH_FIXTURE_H_
