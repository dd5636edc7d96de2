// GraphStore: the property graph behind GraphService, one graph per namespace, entirely in the
// shared Store (nothing is kept in memory, so nothing is rebuilt at start-up).
//
// Model. A node is (id, node_type, properties). An edge is (from, type, to, properties) and is
// identified by (from, type, to): adding it again replaces its properties (upstream appends
// duplicates; the SDK's get_edge assumes one). Endpoints need not exist as nodes (as upstream):
// reads return the nodes that do. A temporal edge adds a validity interval [valid_from,
// valid_until) in Unix ms (valid_until 0 = open) and is identified by (from, type, to,
// valid_from), so one relation can hold many intervals; temporal edges are a separate set, never
// seen by Traverse, GetEdges or paths (as upstream).
//
// Storage (engine/storage/keys.h): every edge is two entries, out (from, type, to) and in (to,
// type, from), each holding the properties, written in ONE batch with whatever else the call
// changes: no half-edge is ever visible, after any crash. A node with its edges (DeleteNode) and
// a bulk load are one batch too. Temporal edges are kept the same way (forward and reverse).
//
// Reads run on one snapshot per call, so a traversal never sees a write half-way.
//
// Usage (engine/namespace/usage_ledger.h): with a ledger, every write of a tracked namespace is
// charged the bytes it adds net of what it replaces, and refused with RESOURCE_EXHAUSTED,
// writing nothing, when that passes the namespace's storage quota. What a graph item counts:
// its key after the namespace plus its record, once per node, edge and temporal interval (an
// edge's second, reverse entry is not counted). Writes of one item are ordered by a lock stripe
// while the namespace is tracked; untracked namespaces pay one shared lock per write.
//
// Errors: INVALID_ARGUMENT names the field and the limit ("edges[3].from_id is 2000 bytes; the
// limit is 1024 bytes"); NOT_FOUND with upstream's texts ("Node 'x' not found", "Edge not
// found", "No path found from 'a' to 'b'"), which GraphService turns into its `error` fields;
// RESOURCE_EXHAUSTED names the cap a query reached and the request field that asks for less;
// DEADLINE_EXCEEDED (the query's StopCheck) when a query runs out of time; DATA_LOSS for a
// stored record that cannot be read; UNAVAILABLE from a store in its fault state.
//
// Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_GRAPH_GRAPH_STORE_H_
#define SOCHDB_ENGINE_GRAPH_GRAPH_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/common/answer_budget.h"
#include "engine/common/clock.h"
#include "engine/filter/metadata_filter.h"
#include "engine/namespace/usage_ledger.h"
#include "engine/storage/store.h"

namespace sochdb::graph {

// Documented limits (docs/services.md "Limits"); defaults are the server's.
struct GraphLimits {
  size_t max_id_bytes = 1024;                // node ids, from / to: 1..1 KiB, no NUL
  size_t max_type_bytes = 256;               // node_type 0.., edge_type 1..256 bytes, no NUL
  size_t max_properties = 256;               // entries per node or edge
  size_t max_property_key_bytes = 256;       // 1..256 bytes, no NUL
  size_t max_properties_bytes = 64 * 1024;   // keys + values of one node or edge
  size_t max_batch_items = 10'000;           // AddNodes / AddEdges items per call
  size_t max_batch_bytes = 32u << 20;        // ids, types and properties of one bulk call
  uint32_t max_depth = 1'000;                // Traverse / ShortestPath max_depth
  size_t max_traversal_nodes = 100'000;      // nodes one traversal or path search may visit
  size_t max_traversal_edges = 100'000;      // edges one traversal may return
  size_t max_edges_examined = 5'000'000;     // edges one query may read
  size_t max_page_edges = 100'000;           // edges of one GetEdges / GetNeighbors answer
  size_t max_temporal_edges = 100'000;       // edges of one QueryTemporalGraph answer
  size_t max_node_delete_edges = 1'000'000;  // edges (both sets) one DeleteNode removes
};

using Properties = std::map<std::string, std::string>;

struct Node {
  std::string id;
  std::string type;
  Properties properties;
};

struct Edge {
  std::string from;
  std::string type;
  std::string to;
  Properties properties;
};

struct TemporalEdge {
  Edge edge;
  uint64_t valid_from = 0;   // Unix ms
  uint64_t valid_until = 0;  // Unix ms; 0 = open
};

// Which edges of a node count, relative to it.
enum class Direction { kOut, kIn, kBoth };
enum class Order { kBreadthFirst, kDepthFirst };

// Called every few hundred edges a query reads: a non-OK status stops the query with that
// status (the server passes the call's deadline check). Null: never stops.
using StopCheck = std::function<absl::Status()>;

struct TraverseQuery {
  std::string start;
  Order order = Order::kBreadthFirst;
  uint32_t max_depth = 0;  // hops from the start; <= limits.max_depth
  Direction direction = Direction::kOut;
  std::vector<std::string> edge_types;  // any of; empty = every type
  std::vector<std::string> node_types;  // any of; empty = every type (not the start node)
  // Nodes past the start must match (not the start node); unset = every node.
  std::optional<filter::MetadataFilter> node_filter;
  // Stop after this many nodes, truncated = true. 0: limits.max_traversal_nodes, which fails the
  // query (RESOURCE_EXHAUSTED) when reached. Must be <= limits.max_traversal_nodes.
  uint32_t max_nodes = 0;
  // Stop after returning this many edges, truncated = true. 0: limits.max_traversal_edges, which
  // fails the query (RESOURCE_EXHAUSTED) when reached. Must be <= limits.max_traversal_edges.
  uint32_t max_edges = 0;
  // False: the edges leaving nodes at max_depth are not returned, and those nodes' edges are not
  // read (upstream returns them: true).
  bool frontier_edges = true;
  StopCheck stop;
  AnswerBudget* budget = nullptr;  // charged per node and edge returned; null = none
};

// Upstream's semantics: nodes are visited up to max_depth hops (the start at depth 0) and
// returned in visiting order, those that exist as nodes; an edge is returned when it leads from
// a visited node to a node not visited yet (queued is not visited: a diamond's two edges into
// its far corner are both returned), including from nodes at max_depth (so edges may lead past
// the returned nodes; frontier_edges false leaves those out). Depth-first visits the node most
// recently reached first, as upstream's stack does. Cycles and self-loops are fine: each node
// is visited once. With node_types or node_filter, nodes that fail them are neither visited nor
// the target of a returned edge. max_nodes counts visited nodes, max_edges returned edges:
// truncated is set when one more was in reach.
struct TraverseResult {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  bool truncated = false;  // stopped at max_nodes or max_edges with more in reach
};

struct PathQuery {
  std::string from;
  std::string to;
  uint32_t max_depth = 0;  // most edges on the path; 0: only from == to
  Direction direction = Direction::kOut;
  std::vector<std::string> edge_types;
  // Non-empty: least total weight (Dijkstra) over this numeric edge property among paths of at
  // most max_depth edges; edges lacking it (or holding a value that is not a finite number
  // >= 0) are not used.
  std::string weight_property;
  StopCheck stop;
};

struct PathResult {
  std::vector<std::string> path;  // from .. to inclusive
  std::vector<Edge> edges;        // along the path; an incoming edge keeps its stored direction
  double total_weight = 0;        // sum of weights, or the number of edges
};

struct EdgeQuery {
  std::string node;
  Direction direction = Direction::kOut;
  std::vector<std::string> edge_types;  // any of; empty = every type
  // Edges per page; 0 = all (an answer over limits.max_page_edges is RESOURCE_EXHAUSTED).
  uint32_t limit = 0;
  std::string page_token;  // a previous page's next_page_token; empty = first page
  AnswerBudget* budget = nullptr;
};

// Edges come in storage order: OUT before IN, grouped by type (types ordered by length, then
// bytes: their length-prefixed key component), then by the far node's id, bytewise. A
// self-loop is listed once (with OUT) under kBoth.
struct EdgePage {
  std::vector<Edge> edges;
  std::string next_page_token;  // empty: no more
};

struct NeighborPage {
  std::vector<Node> nodes;  // neighbours that exist as nodes, first-reached order
  std::vector<Edge> edges;  // one per neighbour (the first reached), de-duplicated per page
  std::string next_page_token;
};

enum class TemporalMode { kPointInTime, kRange, kCurrent };

struct TemporalQuery {
  std::string node;
  TemporalMode mode = TemporalMode::kPointInTime;
  uint64_t timestamp = 0;   // kPointInTime
  uint64_t start_time = 0;  // kRange: [start_time, end_time)
  uint64_t end_time = 0;
  std::vector<std::string> edge_types;
  Direction direction = Direction::kOut;
  // Every interval of the node is read, whatever the time asked (limits.max_edges_examined at
  // most), with the stop check every few hundred.
  StopCheck stop;
  AnswerBudget* budget = nullptr;
};

class GraphStore final : public namespaces::UsageCounter {
 public:
  // `store`, `clock` and `usage` are not owned and must outlive the GraphStore. `usage` nullptr:
  // no accounting; otherwise the store attaches to it as its graph source until destroyed.
  GraphStore(storage::Store* store, const Clock* clock, GraphLimits limits = {},
             namespaces::UsageLedger* usage = nullptr);
  ~GraphStore() override;
  GraphStore(const GraphStore&) = delete;
  GraphStore& operator=(const GraphStore&) = delete;

  // Upserts `node` (its type and properties replace the stored ones).
  absl::Status AddNode(std::string_view ns, const Node& node);
  // All or nothing; validation names the item ("nodes[3].id must not be empty"). A node given
  // twice ends as its last copy.
  absl::Status AddNodes(std::string_view ns, absl::Span<const Node> nodes);
  // NOT_FOUND "Node '<id>' not found".
  absl::StatusOr<Node> GetNode(std::string_view ns, std::string_view id) const;
  // Removes the node and every edge and temporal edge touching it, in both directions, in one
  // batch. NOT_FOUND "Node '<id>' not found" when there was neither node nor edge to remove.
  // FAILED_PRECONDITION when it has more than limits.max_node_delete_edges edges.
  absl::Status DeleteNode(std::string_view ns, std::string_view id);

  // Upserts `edge` (its properties replace the stored ones).
  absl::Status AddEdge(std::string_view ns, const Edge& edge);
  absl::Status AddEdges(std::string_view ns, absl::Span<const Edge> edges);
  // NOT_FOUND "Edge not found".
  absl::StatusOr<Edge> GetEdge(std::string_view ns, std::string_view from, std::string_view type,
                               std::string_view to) const;
  // NOT_FOUND "Edge not found".
  absl::Status DeleteEdge(std::string_view ns, std::string_view from, std::string_view type,
                          std::string_view to);
  absl::StatusOr<EdgePage> GetEdges(std::string_view ns, const EdgeQuery& query) const;
  absl::StatusOr<NeighborPage> GetNeighbors(std::string_view ns, const EdgeQuery& query) const;

  absl::StatusOr<TraverseResult> Traverse(std::string_view ns, const TraverseQuery& query) const;
  // NOT_FOUND "No path found from '<from>' to '<to>'"; RESOURCE_EXHAUSTED when the search
  // visits limits.max_traversal_nodes nodes without an answer.
  absl::StatusOr<PathResult> ShortestPath(std::string_view ns, const PathQuery& query) const;

  // Upserts the interval (from, type, to, valid_from). INVALID_ARGUMENT when valid_until is set
  // and not after valid_from.
  absl::Status AddTemporalEdge(std::string_view ns, const TemporalEdge& edge);
  // Ends the open intervals of (from, type, to) at `end_time` (0 = now) and returns the latest.
  // NOT_FOUND "No open temporal edge '<from>' -[<type>]-> '<to>'"; INVALID_ARGUMENT when an
  // open interval starts at or after end_time.
  absl::StatusOr<TemporalEdge> EndTemporalEdge(std::string_view ns, std::string_view from,
                                               std::string_view type, std::string_view to,
                                               uint64_t end_time);
  // The temporal edges of query.node valid per the mode (../shared UPSTREAM §2.3, half-open
  // intervals), in the directions asked, ordered by (valid_from, from, type, to).
  absl::StatusOr<std::vector<TemporalEdge>> QueryTemporal(std::string_view ns,
                                                          const TemporalQuery& query) const;

  const GraphLimits& limits() const { return limits_; }

  // UsageCounter: the bytes of `ns`'s nodes, edges and temporal intervals, read from a snapshot
  // taken while no graph write is in flight; `start` runs in that moment. Cost: one scan of the
  // namespace's graph, with graph writes held only while the snapshot is taken.
  absl::StatusOr<namespaces::Usage> CountUsage(std::string_view ns,
                                               absl::FunctionRef<void()> start) override;

 private:
  // An item a write stores or removes, for the usage charge of a tracked namespace: its primary
  // key (node, out-edge or forward temporal key) and the bytes it will count (0: removed). Its
  // current bytes are read before the write, unless known (`old_bytes`).
  struct ItemWrite {
    std::string key;
    uint64_t new_bytes = 0;
    std::optional<uint64_t> old_bytes;
  };
  // 32 stripes: few enough that a thread holding them all stays inside ThreadSanitizer's limit
  // of 64 locks held at once, enough that single writes rarely share one.
  static constexpr size_t kStripes = 32;
  using Stripes = std::array<absl::Mutex, kStripes>;

  // Lock stripes `indexes` (any order, repeats allowed) taken in index order, as every holder of
  // several takes them, for as long as it lives.
  class HeldStripes {
   public:
    HeldStripes(Stripes& stripes, std::vector<size_t> indexes);
    // Every stripe.
    explicit HeldStripes(Stripes& stripes);
    ~HeldStripes();
    HeldStripes(const HeldStripes&) = delete;
    HeldStripes& operator=(const HeldStripes&) = delete;

   private:
    Stripes& stripes_;
    std::vector<size_t> held_;  // ascending, unique
  };

  bool Tracked(std::string_view ns) const;
  // Writes `batch`, whose items are `items`: for a tracked namespace, under the items' stripes
  // (unless `stripes_held`), charged their net bytes first. The caller holds count_barrier_
  // shared.
  absl::Status Commit(std::string_view ns, std::vector<ItemWrite> items, storage::WriteBatch* batch,
                      bool stripes_held = false);
  absl::Mutex& Stripe(std::string_view key) const;
  absl::Status ValidateNode(const Node& node, std::string_view field) const;
  absl::Status ValidateEdge(const Edge& edge, std::string_view field) const;
  absl::Status ValidateProperties(const Properties& properties, std::string_view field) const;
  absl::Status ValidateBulk(std::string_view field, size_t items, size_t bytes) const;
  storage::Store* const store_;
  const Clock* const clock_;
  const GraphLimits limits_;
  namespaces::UsageLedger* const usage_;  // nullptr: no accounting
  // Held shared by every write from before it decides whether its namespace is tracked until it
  // has committed; CountUsage takes it exclusively to find a moment with no write in flight.
  // Taken before any stripe (clang's thread-safety attributes cannot name an array's elements).
  mutable absl::Mutex count_barrier_;
  // Orders the writes of one item (hashed by primary key) in a tracked namespace, so each reads
  // the record the previous one left; and the interval rewrites of one temporal relation
  // (EndTemporalEdge reads what it rewrites), tracked or not. Taken in index order.
  mutable Stripes stripes_;
};

}  // namespace sochdb::graph

#endif  // SOCHDB_ENGINE_GRAPH_GRAPH_STORE_H_
