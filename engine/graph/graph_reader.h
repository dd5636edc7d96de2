// How the graph's queries read: one snapshot per query (GraphReader), edges of a node visited in
// key order without copying (ScanAdjacency), and a meter that bounds a query's work and checks
// its deadline (QueryMeter). Private to engine/graph.
#ifndef SOCHDB_ENGINE_GRAPH_GRAPH_READER_H_
#define SOCHDB_ENGINE_GRAPH_GRAPH_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/common/names.h"
#include "engine/graph/graph_records.h"
#include "engine/graph/graph_store.h"
#include "engine/storage/store.h"

namespace sochdb::graph {

// Counts the edges a query reads: RESOURCE_EXHAUSTED "<what> read more than <max> edges (the
// server's cap); <hint>" past limits.max_edges_examined, and the query's StopCheck every
// kStopEvery edges.
class QueryMeter {
 public:
  static constexpr uint64_t kStopEvery = 256;

  // `stop` (may be null or empty), `what` and `hint` must outlive the meter.
  QueryMeter(const GraphLimits& limits, const StopCheck* stop, std::string_view what,
             std::string_view hint);
  absl::Status Step();
  // The StopCheck alone, for loops that read no edge between checks.
  absl::Status Check() const;

 private:
  const uint64_t max_;
  const StopCheck* const stop_;
  const std::string_view what_;
  const std::string_view hint_;
  uint64_t steps_ = 0;
};

// One adjacency entry, viewing the iterator's current key and value: valid until the scan
// moves on.
struct AdjacencyEntry {
  std::string_view type;
  std::string_view other;   // the node at the far end
  std::string_view record;  // the edge record (EncodeEdge)
  std::string_view suffix;  // the key after the node's adjacency prefix: the page position
};

// The edge types a scan keeps, in the store's key order; empty keeps every type.
class TypeFilter {
 public:
  explicit TypeFilter(const std::vector<std::string>& types);
  bool all() const { return types_.empty(); }
  const std::vector<std::string>& types() const { return types_; }

 private:
  std::vector<std::string> types_;  // unique, ordered as their encoded key components
};

class GraphReader {
 public:
  // Reads `ns` of `store` as it is now (a snapshot), for as long as the reader lives.
  GraphReader(const storage::Store* store, std::string_view ns);

  std::string_view ns() const { return ns_; }

  // The node `id`, or nullopt when it does not exist.
  absl::StatusOr<std::optional<Node>> ReadNode(std::string_view id) const;
  // The value under `key`, or nullopt.
  absl::StatusOr<std::optional<std::string>> Read(std::string_view key) const;

  // Calls `fn` for each edge of `node` on `side` whose type `types` keeps, in key order,
  // beginning after the entry whose suffix is `after` (empty: the first). `fn` returns false to
  // stop. Storage errors (DATA_LOSS for an unreadable range or a malformed key) end the scan.
  absl::Status ScanAdjacency(Side side, std::string_view node, const TypeFilter& types,
                             std::string_view after,
                             absl::FunctionRef<absl::StatusOr<bool>(const AdjacencyEntry&)> fn);

  // Calls `fn` for each key and value under `prefix`, in order; `fn` returns false to stop.
  absl::Status ScanPrefix(
      std::string_view prefix,
      absl::FunctionRef<absl::StatusOr<bool>(std::string_view key, std::string_view value)> fn);

 private:
  // Scans [start, end of `range`) for keys under `range`; `node_prefix` is cut from the suffix.
  absl::Status ScanRange(std::string_view range, std::string_view start,
                         std::string_view node_prefix, bool* stopped,
                         absl::FunctionRef<absl::StatusOr<bool>(const AdjacencyEntry&)> fn);

  const storage::Store* const store_;
  const std::string ns_;
  std::unique_ptr<storage::Snapshot> snapshot_;
  std::unique_ptr<storage::Iterator> iterator_;
};

// The full edge `entry` stands for, read from `node` on `side`, with its properties.
absl::StatusOr<Edge> EdgeOf(Side side, std::string_view node, const AdjacencyEntry& entry,
                            std::string_view ns);

// Charges what a returned node, edge or temporal edge adds to an answer (its strings plus
// framing) to `budget`; nullptr charges nothing.
absl::Status ChargeAnswer(AnswerBudget* budget, const Node& node);
absl::Status ChargeAnswer(AnswerBudget* budget, const Edge& edge);
absl::Status ChargeAnswer(AnswerBudget* budget, const TemporalEdge& edge);

// DATA_LOSS for a stored key of the graph's families, in `ns`, that does not decode ("edge",
// "temporal edge").
absl::Status MalformedKey(std::string_view what, std::string_view ns);

// The edge_types (or node_types) of a query: each 1..max_type_bytes, no NUL.
absl::Status ValidateTypes(std::string_view field, const std::vector<std::string>& types,
                           const GraphLimits& limits, EmptyName empty = EmptyName::kRefused);

}  // namespace sochdb::graph

#endif  // SOCHDB_ENGINE_GRAPH_GRAPH_READER_H_
