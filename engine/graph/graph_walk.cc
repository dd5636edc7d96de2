// GraphStore::Traverse and ShortestPath: iterative walks over one snapshot, bounded by a visited
// set (cycles and self-loops end), a cap on visited nodes, a cap on edges read and the caller's
// StopCheck (its deadline), so a hub with millions of edges cannot hold a thread for long.
#include <algorithm>
#include <cmath>
#include <deque>
#include <queue>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/graph/graph_reader.h"
#include "engine/graph/graph_records.h"
#include "engine/graph/graph_store.h"

namespace sochdb::graph {
namespace {

std::vector<Side> SidesOf(Direction direction) {
  switch (direction) {
    case Direction::kOut:
      return {Side::kOut};
    case Direction::kIn:
      return {Side::kIn};
    case Direction::kBoth:
      return {Side::kOut, Side::kIn};
  }
  return {};
}

Direction Reversed(Direction direction) {
  switch (direction) {
    case Direction::kOut:
      return Direction::kIn;
    case Direction::kIn:
      return Direction::kOut;
    case Direction::kBoth:
      return Direction::kBoth;
  }
  return direction;
}

absl::Status ValidateWalk(std::string_view ns, std::string_view field, std::string_view id,
                          uint32_t max_depth, const std::vector<std::string>& edge_types,
                          const GraphLimits& limits) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateName(field, id, limits.max_id_bytes, EmptyName::kRefused));
  if (max_depth > limits.max_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_depth is ", max_depth, "; the limit is ", limits.max_depth));
  }
  return ValidateTypes("edge_types", edge_types, limits);
}

// One traversal (TraverseResult's comment in graph_store.h says what it returns).
class Walk {
 public:
  Walk(GraphReader& reader, const TraverseQuery& query, const GraphLimits& limits,
       TraverseResult* result)
      : reader_(reader),
        query_(query),
        types_(query.edge_types),
        sides_(SidesOf(query.direction)),
        cap_(query.max_nodes != 0 ? query.max_nodes : limits.max_traversal_nodes),
        edge_cap_(query.max_edges != 0 ? query.max_edges : limits.max_traversal_edges),
        meter_(limits, &query.stop, "Traverse", "lower max_depth or set max_nodes"),
        result_(result) {}

  absl::Status Run() {
    queued_.insert(query_.start);
    pending_.push_back(Pending{query_.start, 0, std::nullopt, false});
    while (!pending_.empty()) {
      Pending next = Pop();
      if (visited_.contains(AbslView(next.id))) continue;  // depth-first holds repeats
      if (visited_.size() == cap_) return Truncate();
      visited_.insert(next.id);
      SOCHDB_RETURN_IF_ERROR(Keep(next));
      SOCHDB_RETURN_IF_ERROR(Expand(next));
      if (result_->truncated) return absl::OkStatus();
    }
    return meter_.Check();
  }

 private:
  struct Pending {
    std::string id;
    uint32_t depth = 0;
    std::optional<Node> node;  // read when `read`
    bool read = false;
  };

  Pending Pop() {
    Pending next;
    if (query_.order == Order::kBreadthFirst) {
      next = std::move(pending_.front());
      pending_.pop_front();
    } else {
      next = std::move(pending_.back());
      pending_.pop_back();
    }
    return next;
  }

  // Adds a visited node to the answer when it exists.
  absl::Status Keep(Pending& pending) {
    if (!pending.read) {
      SOCHDB_ASSIGN_OR_RETURN(pending.node, reader_.ReadNode(pending.id));
    }
    if (!pending.node.has_value()) return absl::OkStatus();
    SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query_.budget, *pending.node));
    result_->nodes.push_back(*std::move(pending.node));
    return absl::OkStatus();
  }

  // Whether node `id` passes node_types and node_filter; fills `*node` when it had to read it.
  absl::StatusOr<bool> Admits(std::string_view id, std::optional<Node>* node, bool* read) {
    if (query_.node_types.empty() && !query_.node_filter.has_value()) return true;
    if (rejected_.contains(AbslView(id))) return false;
    SOCHDB_ASSIGN_OR_RETURN(*node, reader_.ReadNode(id));
    *read = true;
    bool admitted = node->has_value();
    if (admitted && !query_.node_types.empty()) {
      admitted = std::find(query_.node_types.begin(), query_.node_types.end(), (*node)->type) !=
                 query_.node_types.end();
    }
    if (admitted && query_.node_filter.has_value()) {
      admitted = query_.node_filter->Matches((*node)->properties);
    }
    if (!admitted) rejected_.emplace(std::string(id));
    return admitted;
  }

  // Upstream's rule: every edge from a visited node to a node not visited yet is returned
  // (those from nodes at max_depth too), and its target is queued unless it lies past
  // max_depth. Breadth-first queues a node once (its first place is where upstream visits
  // it); depth-first queues it again on every edge, as upstream's stack does, so the latest
  // reaches it first.
  absl::Status Expand(const Pending& from) {
    const bool deeper = from.depth < query_.max_depth;
    if (!deeper && !query_.frontier_edges) return absl::OkStatus();
    const bool breadth_first = query_.order == Order::kBreadthFirst;
    for (Side side : sides_) {
      SOCHDB_RETURN_IF_ERROR(reader_.ScanAdjacency(
          side, from.id, types_, "", [&](const AdjacencyEntry& e) -> absl::StatusOr<bool> {
            SOCHDB_RETURN_IF_ERROR(meter_.Step());
            if (visited_.contains(AbslView(e.other))) return true;
            std::optional<Node> node;  // read by the filters, if they had to
            bool read = false;
            SOCHDB_ASSIGN_OR_RETURN(bool admitted, Admits(e.other, &node, &read));
            if (!admitted) return true;
            if (result_->edges.size() == edge_cap_) {
              SOCHDB_RETURN_IF_ERROR(TruncateEdges());
              return false;
            }
            SOCHDB_ASSIGN_OR_RETURN(Edge edge, EdgeOf(side, from.id, e, reader_.ns()));
            SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query_.budget, edge));
            result_->edges.push_back(std::move(edge));
            if (deeper && (!breadth_first || !queued_.contains(AbslView(e.other)))) {
              if (breadth_first) queued_.emplace(std::string(e.other));
              pending_.push_back(
                  Pending{std::string(e.other), from.depth + 1, std::move(node), read});
            }
            return true;
          }));
      if (result_->truncated) break;
    }
    return absl::OkStatus();
  }

  // max_edges are returned and another edge is next.
  absl::Status TruncateEdges() {
    if (query_.max_edges == 0) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Traverse returned ", edge_cap_,
          " edges (the server's cap); set max_edges (and max_nodes) to take a partial answer"));
    }
    result_->truncated = true;
    return absl::OkStatus();
  }

  // max_nodes are visited and another node in reach is next.
  absl::Status Truncate() {
    if (query_.max_nodes == 0) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Traverse reached ", cap_,
          " nodes (the server's cap); set max_nodes (and max_edges) to take a partial answer"));
    }
    result_->truncated = true;
    return absl::OkStatus();
  }

  GraphReader& reader_;
  const TraverseQuery& query_;
  const TypeFilter types_;
  const std::vector<Side> sides_;
  const size_t cap_;
  const size_t edge_cap_;
  QueryMeter meter_;
  TraverseResult* const result_;
  std::deque<Pending> pending_;
  absl::flat_hash_set<std::string> queued_;    // breadth-first: ever queued
  absl::flat_hash_set<std::string> visited_;   // taken from the queue and expanded
  absl::flat_hash_set<std::string> rejected_;  // failed node_types / node_filter
};

// How a path search reached a node: from `prev` over the edge of `type`, stored as prev -> node
// when `prev_to_node`, else node -> prev.
struct Link {
  std::string prev;
  std::string type;
  bool prev_to_node = true;
  uint32_t depth = 0;
};
using Links = absl::flat_hash_map<std::string, Link>;

// The stored edge a link stands for.
absl::StatusOr<Edge> LinkEdge(GraphReader& reader, std::string_view node, const Link& link) {
  Edge edge;
  edge.from = link.prev_to_node ? link.prev : std::string(node);
  edge.type = link.type;
  edge.to = link.prev_to_node ? std::string(node) : link.prev;
  SOCHDB_ASSIGN_OR_RETURN(
      std::optional<std::string> record,
      reader.Read(EdgeKey(Side::kOut, reader.ns(), edge.from, edge.type, edge.to)));
  if (record.has_value()) SOCHDB_RETURN_IF_ERROR(DecodeEdge(*record, reader.ns(), &edge));
  return edge;
}

// Fills `*path` from `start` (the links' root) to `meet`, and its edges, in path order.
absl::Status ChainTo(GraphReader& reader, const Links& links, std::string_view start,
                     std::string_view meet, PathResult* path) {
  std::vector<std::string> nodes{std::string(meet)};
  std::vector<Edge> edges;
  std::string at(meet);
  while (at != start) {
    const Link& link = links.at(at);
    SOCHDB_ASSIGN_OR_RETURN(Edge edge, LinkEdge(reader, at, link));
    edges.push_back(std::move(edge));
    at = link.prev;
    nodes.push_back(at);
  }
  path->path.insert(path->path.end(), nodes.rbegin(), nodes.rend());
  path->edges.insert(path->edges.end(), std::make_move_iterator(edges.rbegin()),
                     std::make_move_iterator(edges.rend()));
  return absl::OkStatus();
}

absl::Status TooManyNodes(const GraphLimits& limits, std::string_view to) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "ShortestPath visited ", limits.max_traversal_nodes,
      " nodes (the server's cap) without reaching '", AbslView(to), "'; lower max_depth"));
}

absl::Status NoPath(const PathQuery& query) {
  return absl::NotFoundError(
      absl::StrCat("No path found from '", query.from, "' to '", query.to, "'"));
}

}  // namespace

absl::StatusOr<TraverseResult> GraphStore::Traverse(std::string_view ns,
                                                    const TraverseQuery& query) const {
  SOCHDB_RETURN_IF_ERROR(
      ValidateWalk(ns, "start_node_id", query.start, query.max_depth, query.edge_types, limits_));
  if (query.max_nodes > limits_.max_traversal_nodes) {
    return absl::InvalidArgumentError(absl::StrCat("max_nodes is ", query.max_nodes,
                                                   "; the limit is ", limits_.max_traversal_nodes));
  }
  if (query.max_edges > limits_.max_traversal_edges) {
    return absl::InvalidArgumentError(absl::StrCat("max_edges is ", query.max_edges,
                                                   "; the limit is ", limits_.max_traversal_edges));
  }
  SOCHDB_RETURN_IF_ERROR(
      ValidateTypes("node_types", query.node_types, limits_, EmptyName::kAllowed));
  GraphReader reader(store_, ns);
  TraverseResult result;
  Walk walk(reader, query, limits_, &result);
  SOCHDB_RETURN_IF_ERROR(walk.Run());
  return result;
}

namespace {

// The path from query.from to `meet` over `forward`, then on to query.to over `backward`.
absl::StatusOr<PathResult> JoinAt(GraphReader& reader, const Links& forward, const Links& backward,
                                  const PathQuery& query, std::string_view meet) {
  PathResult path;
  SOCHDB_RETURN_IF_ERROR(ChainTo(reader, forward, query.from, meet, &path));
  PathResult back;
  SOCHDB_RETURN_IF_ERROR(ChainTo(reader, backward, query.to, meet, &back));
  // `back` runs from `to` to the meeting node: append it reversed, without the meet twice.
  for (auto it = back.path.rbegin() + 1; it != back.path.rend(); ++it) path.path.push_back(*it);
  for (auto it = back.edges.rbegin(); it != back.edges.rend(); ++it) {
    path.edges.push_back(std::move(*it));
  }
  path.total_weight = static_cast<double>(path.edges.size());
  return path;
}

// Fewest edges: breadth-first from both ends at once, a level at a time from the smaller
// frontier, so a path of length L reads about the nodes within L/2 of each end. The first
// meeting found is a shortest path: a node the other side holds below its frontier has been
// expanded, so a meeting through it was found when either side first reached the node. So the
// search stops there, rather than finish the level (a hub's level may pass the node cap).
absl::StatusOr<PathResult> FewestEdges(GraphReader& reader, const PathQuery& query,
                                       const GraphLimits& limits) {
  QueryMeter meter(limits, &query.stop, "ShortestPath", "lower max_depth");
  const TypeFilter types(query.edge_types);
  Links forward{{query.from, Link{}}}, backward{{query.to, Link{}}};
  std::vector<std::string> forward_frontier{query.from}, backward_frontier{query.to};
  uint32_t forward_depth = 0, backward_depth = 0;
  std::string meet;  // ids are never empty
  while (meet.empty() && forward_depth + backward_depth < query.max_depth &&
         !forward_frontier.empty() && !backward_frontier.empty()) {
    const bool go_forward = forward_frontier.size() <= backward_frontier.size();
    Links& own = go_forward ? forward : backward;
    const Links& other = go_forward ? backward : forward;
    std::vector<std::string>& frontier = go_forward ? forward_frontier : backward_frontier;
    const Direction direction = go_forward ? query.direction : Reversed(query.direction);
    std::vector<std::string> next;
    for (size_t i = 0; i < frontier.size() && meet.empty(); ++i) {
      const std::string& node = frontier[i];
      const uint32_t depth = own.at(node).depth + 1;
      for (Side side : SidesOf(direction)) {
        if (!meet.empty()) break;
        SOCHDB_RETURN_IF_ERROR(reader.ScanAdjacency(
            side, node, types, "", [&](const AdjacencyEntry& e) -> absl::StatusOr<bool> {
              SOCHDB_RETURN_IF_ERROR(meter.Step());
              if (own.contains(AbslView(e.other))) return true;
              auto [it, inserted] = own.try_emplace(
                  std::string(e.other), Link{node, std::string(e.type), side == Side::kOut, depth});
              if (!inserted) return true;
              if (other.contains(AbslView(e.other))) {
                meet = it->first;
                return false;
              }
              if (own.size() + other.size() > limits.max_traversal_nodes) {
                return TooManyNodes(limits, query.to);
              }
              next.push_back(it->first);
              return true;
            }));
      }
    }
    (go_forward ? forward_depth : backward_depth) += 1;
    frontier = std::move(next);
  }
  if (meet.empty()) {
    SOCHDB_RETURN_IF_ERROR(meter.Check());
    return NoPath(query);
  }
  return JoinAt(reader, forward, backward, query, meet);
}

// Least weight within max_depth edges: Dijkstra over (node, edges so far) from `from`, over
// edges whose weight property holds a finite number >= 0. A state is dropped when its node was
// already settled with no more edges (and, popping in weight order, no more weight): what it
// could reach, that one reaches as cheaply and as soon. So a heavier path with fewer edges is
// still found when the lightest one is too long.
absl::StatusOr<PathResult> LeastWeight(GraphReader& reader, const PathQuery& query,
                                       const GraphLimits& limits) {
  QueryMeter meter(limits, &query.stop, "ShortestPath", "lower max_depth");
  const TypeFilter types(query.edge_types);
  struct State {
    std::string node;
    uint32_t hops = 0;
    size_t parent = 0;  // index in `states`; the start's is itself
    Link link;          // how `parent` reached this state (link.prev = parent's node)
  };
  std::vector<State> states{State{query.from, 0, 0, Link{}}};
  absl::flat_hash_map<std::string, uint32_t> settled;  // node -> fewest edges it settled with
  // node -> (weight, edges) of its lightest queued state
  absl::flat_hash_map<std::string, std::pair<double, uint32_t>> queued;
  using Entry = std::tuple<double, uint32_t, size_t>;  // weight, hops, state
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  queue.emplace(0.0, 0, 0);
  while (!queue.empty()) {
    // Plain variables, not a structured binding: the lambda below captures them.
    const double weight = std::get<0>(queue.top());
    const uint32_t hops = std::get<1>(queue.top());
    const size_t index = std::get<2>(queue.top());
    queue.pop();
    const std::string node = states[index].node;
    auto [it, first] = settled.try_emplace(node, hops);
    if (!first && it->second <= hops) continue;
    it->second = hops;
    if (settled.size() > limits.max_traversal_nodes) return TooManyNodes(limits, query.to);
    if (node == query.to) {
      PathResult path;
      path.total_weight = weight;
      for (size_t at = index; at != 0; at = states[at].parent) {
        SOCHDB_ASSIGN_OR_RETURN(Edge edge, LinkEdge(reader, states[at].node, states[at].link));
        path.path.push_back(states[at].node);
        path.edges.push_back(std::move(edge));
      }
      path.path.push_back(query.from);
      std::reverse(path.path.begin(), path.path.end());
      std::reverse(path.edges.begin(), path.edges.end());
      return path;
    }
    if (hops == query.max_depth) continue;
    for (Side side : SidesOf(query.direction)) {
      SOCHDB_RETURN_IF_ERROR(reader.ScanAdjacency(
          side, node, types, "", [&](const AdjacencyEntry& e) -> absl::StatusOr<bool> {
            SOCHDB_RETURN_IF_ERROR(meter.Step());
            std::optional<std::string_view> text =
                FindEdgeProperty(e.record, query.weight_property);
            double edge_weight = 0;
            if (!text.has_value() || !absl::SimpleAtod(AbslView(*text), &edge_weight) ||
                !std::isfinite(edge_weight) || edge_weight < 0) {
              return true;
            }
            auto done = settled.find(AbslView(e.other));
            if (done != settled.end() && done->second <= hops + 1) return true;
            // A state no lighter and no shorter than one already queued for the node adds
            // nothing: keeping only the others bounds the queue by the improvements found.
            const double total = weight + edge_weight;
            auto [lightest, fresh] = queued.try_emplace(std::string(e.other), total, hops + 1);
            if (!fresh) {
              if (lightest->second.first <= total && lightest->second.second <= hops + 1) {
                return true;
              }
              if (total < lightest->second.first) lightest->second = {total, hops + 1};
            }
            states.push_back(State{std::string(e.other), hops + 1, index,
                                   Link{node, std::string(e.type), side == Side::kOut, hops + 1}});
            queue.emplace(weight + edge_weight, hops + 1, states.size() - 1);
            return true;
          }));
    }
  }
  SOCHDB_RETURN_IF_ERROR(meter.Check());
  return NoPath(query);
}

}  // namespace

absl::StatusOr<PathResult> GraphStore::ShortestPath(std::string_view ns,
                                                    const PathQuery& query) const {
  SOCHDB_RETURN_IF_ERROR(
      ValidateWalk(ns, "from_id", query.from, query.max_depth, query.edge_types, limits_));
  SOCHDB_RETURN_IF_ERROR(
      ValidateName("to_id", query.to, limits_.max_id_bytes, EmptyName::kRefused));
  if (!query.weight_property.empty()) {
    SOCHDB_RETURN_IF_ERROR(ValidateName("weight_property", query.weight_property,
                                        limits_.max_property_key_bytes, EmptyName::kRefused));
  }
  if (query.from == query.to) return PathResult{{query.from}, {}, 0};
  GraphReader reader(store_, ns);
  if (query.weight_property.empty()) return FewestEdges(reader, query, limits_);
  return LeastWeight(reader, query, limits_);
}

}  // namespace sochdb::graph
