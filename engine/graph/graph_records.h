// The graph's storage layout: its keys (built with engine/storage/keys.h's KeyBuilder, in the
// families that file documents) and its record format. Private to engine/graph.
//
// Adjacency keys put the node a scan starts from right after the namespace, so the edges of a
// node are one range, and those of one type a sub-range:
//   out   kGraphOutEdge          Name(ns) Name(from) Name(type) Raw(to)
//   in    kGraphInEdge           Name(ns) Name(to)   Name(type) Raw(from)
//   temporal out / in            Name(ns) Name(a) Name(type) Name(b) U64(valid_from)
//
// Records are binary (they are read on every hop of a traversal): a format byte, then varint
// length-prefixed strings. Node: type, property count, pairs. Edge: property count, pairs (the
// same record under both keys). Temporal edge: valid_until as a varint, then as an edge.
#ifndef SOCHDB_ENGINE_GRAPH_GRAPH_RECORDS_H_
#define SOCHDB_ENGINE_GRAPH_GRAPH_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "engine/graph/graph_store.h"
#include "engine/storage/keys.h"

namespace sochdb::graph {

// The adjacency family a node's edges of one side live in: out = edges leaving it.
enum class Side { kOut, kIn };

std::string NodeKey(std::string_view ns, std::string_view id);
// The prefix of every node key of `ns`.
std::string NodePrefix(std::string_view ns);

// The key of edge (from, type, to) on `side`.
std::string EdgeKey(Side side, std::string_view ns, std::string_view from, std::string_view type,
                    std::string_view to);
// The prefix of `node`'s edges on `side` (its out-edges, or its in-edges).
std::string AdjacencyPrefix(Side side, std::string_view ns, std::string_view node);
// ... of one type.
std::string TypedAdjacencyPrefix(Side side, std::string_view ns, std::string_view node,
                                 std::string_view type);
// Splits what follows an adjacency prefix: Name(type) Raw(other). False when malformed.
bool ParseAdjacencySuffix(std::string_view suffix, std::string_view* type, std::string_view* other);

std::string TemporalKey(Side side, std::string_view ns, std::string_view from,
                        std::string_view type, std::string_view to, uint64_t valid_from);
std::string TemporalPrefix(Side side, std::string_view ns, std::string_view node);
// The prefix of one relation's intervals (forward side): Name(ns) Name(from) Name(type) Name(to).
std::string TemporalRelationPrefix(std::string_view ns, std::string_view from,
                                   std::string_view type, std::string_view to);
// Splits what follows a TemporalPrefix: Name(type) Name(other) U64(valid_from).
bool ParseTemporalSuffix(std::string_view suffix, std::string_view* type, std::string_view* other,
                         uint64_t* valid_from);

// The bytes an item counts in its namespace's usage: its key after the family byte and the
// namespace, plus its record.
uint64_t ItemBytes(std::string_view ns, std::string_view key, std::string_view record);

std::string EncodeNode(const Node& node);
// DATA_LOSS naming the node when `record` does not decode. Fills type and properties.
absl::Status DecodeNode(std::string_view record, std::string_view ns, Node* node);

std::string EncodeEdge(const Properties& properties);
absl::Status DecodeEdge(std::string_view record, std::string_view ns, Edge* edge);
// The value of `name` among an edge record's properties, without decoding the others; nullopt
// when absent or when the record does not decode.
std::optional<std::string_view> FindEdgeProperty(std::string_view record, std::string_view name);

std::string EncodeTemporal(uint64_t valid_until, const Properties& properties);
absl::Status DecodeTemporal(std::string_view record, std::string_view ns, TemporalEdge* edge);

}  // namespace sochdb::graph

#endif  // SOCHDB_ENGINE_GRAPH_GRAPH_RECORDS_H_
