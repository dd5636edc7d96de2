// GraphStore::GetEdges and GetNeighbors: a node's edges in pages.
//
// A page token is where the previous page stopped: the side ('o' or 'i') and the adjacency key
// suffix (type, far node) of the last edge it returned, in hex. It is read back only as a
// position inside this node's own key range, so a forged token can skip or repeat edges of the
// node, never reach another node's or namespace's.
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/hex.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/graph/graph_reader.h"
#include "engine/graph/graph_records.h"
#include "engine/graph/graph_store.h"

namespace sochdb::graph {
namespace {

struct PagePosition {
  Side side = Side::kOut;
  std::string after;  // suffix of the last entry returned; empty: the side's start
};

absl::StatusOr<PagePosition> ParsePageToken(std::string_view token, Direction direction) {
  PagePosition position;
  position.side = direction == Direction::kIn ? Side::kIn : Side::kOut;
  if (token.empty()) return position;
  const bool side_ok = (token[0] == 'o' && direction != Direction::kIn) ||
                       (token[0] == 'i' && direction != Direction::kOut);
  // An empty suffix is the side's start (a page that ended with the out side's last edge).
  if (!side_ok || !HexToBytes(token.substr(1), &position.after)) {
    return absl::InvalidArgumentError(
        "page_token is not a token this query returned (pass next_page_token unchanged, with "
        "the same node and direction)");
  }
  position.side = token[0] == 'o' ? Side::kOut : Side::kIn;
  return position;
}

std::string PageToken(Side side, std::string_view suffix) {
  return absl::StrCat(side == Side::kOut ? "o" : "i", BytesToHex(suffix));
}

// Walks the edges of query.node from the token's position, calling `take` for each until it
// has accepted `limit` (0: no limit) of them; then looks for one more to decide whether a next
// page exists. `take` returns whether it kept the entry (a de-duplicated neighbour is not).
absl::StatusOr<std::string> WalkPage(
    GraphReader& reader, const EdgeQuery& query, const GraphLimits& limits, std::string_view what,
    absl::FunctionRef<absl::StatusOr<bool>(Side, const AdjacencyEntry&)> take) {
  SOCHDB_ASSIGN_OR_RETURN(PagePosition position, ParsePageToken(query.page_token, query.direction));
  const TypeFilter types(query.edge_types);
  const size_t cap = query.limit != 0 ? query.limit : limits.max_page_edges;
  size_t taken = 0;
  std::string last_suffix;
  for (Side side : {Side::kOut, Side::kIn}) {
    if (side == Side::kOut && position.side == Side::kIn) continue;
    if (side == Side::kIn && query.direction == Direction::kOut) break;
    // (A view of position.after itself: `? position.after : ""` is a temporary std::string.)
    const std::string_view after =
        side == position.side ? std::string_view(position.after) : std::string_view();
    bool full = false;
    SOCHDB_RETURN_IF_ERROR(reader.ScanAdjacency(
        side, query.node, types, after, [&](const AdjacencyEntry& e) -> absl::StatusOr<bool> {
          // Under kBoth a self-loop is listed with the out side only.
          if (side == Side::kIn && query.direction == Direction::kBoth && e.other == query.node) {
            return true;
          }
          if (taken == cap) {
            full = true;
            return false;
          }
          SOCHDB_ASSIGN_OR_RETURN(bool kept, take(side, e));
          if (kept) ++taken;
          last_suffix.assign(e.suffix);
          return true;
        }));
    if (full) {
      if (query.limit == 0) {
        return absl::ResourceExhaustedError(absl::StrCat(
            AbslView(what), ": node '", query.node, "' has more than ", limits.max_page_edges,
            " edges to list (the server's cap); page with limit and page_token"));
      }
      return PageToken(side, last_suffix);
    }
    last_suffix.clear();  // a page that fills up on the next side resumes at its start
  }
  return std::string();  // every edge was listed
}

absl::Status ValidateEdgeQuery(const EdgeQuery& query, std::string_view ns,
                               const GraphLimits& limits) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(
      ValidateName("node_id", query.node, limits.max_id_bytes, EmptyName::kRefused));
  if (query.limit > limits.max_page_edges) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit is ", query.limit, "; the limit is ", limits.max_page_edges));
  }
  return ValidateTypes("edge_types", query.edge_types, limits);
}

}  // namespace

absl::StatusOr<EdgePage> GraphStore::GetEdges(std::string_view ns, const EdgeQuery& query) const {
  SOCHDB_RETURN_IF_ERROR(ValidateEdgeQuery(query, ns, limits_));
  GraphReader reader(store_, ns);
  EdgePage page;
  SOCHDB_ASSIGN_OR_RETURN(page.next_page_token,
                          WalkPage(reader, query, limits_, "GetEdges",
                                   [&](Side side, const AdjacencyEntry& e) -> absl::StatusOr<bool> {
                                     SOCHDB_ASSIGN_OR_RETURN(Edge edge,
                                                             EdgeOf(side, query.node, e, ns));
                                     SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query.budget, edge));
                                     page.edges.push_back(std::move(edge));
                                     return true;
                                   }));
  return page;
}

absl::StatusOr<NeighborPage> GraphStore::GetNeighbors(std::string_view ns,
                                                      const EdgeQuery& query) const {
  SOCHDB_RETURN_IF_ERROR(ValidateEdgeQuery(query, ns, limits_));
  GraphReader reader(store_, ns);
  NeighborPage page;
  absl::flat_hash_set<std::string> seen;
  SOCHDB_ASSIGN_OR_RETURN(page.next_page_token,
                          WalkPage(reader, query, limits_, "GetNeighbors",
                                   [&](Side side, const AdjacencyEntry& e) -> absl::StatusOr<bool> {
                                     if (!seen.emplace(std::string(e.other)).second) return false;
                                     SOCHDB_ASSIGN_OR_RETURN(Edge edge,
                                                             EdgeOf(side, query.node, e, ns));
                                     SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query.budget, edge));
                                     page.edges.push_back(std::move(edge));
                                     return true;
                                   }));
  for (const Edge& edge : page.edges) {
    const std::string& other = edge.from == query.node ? edge.to : edge.from;
    SOCHDB_ASSIGN_OR_RETURN(std::optional<Node> node, reader.ReadNode(other));
    if (!node.has_value()) continue;
    SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query.budget, *node));
    page.nodes.push_back(*std::move(node));
  }
  return page;
}

}  // namespace sochdb::graph
