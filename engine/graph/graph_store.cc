// GraphStore's writes and point reads, and validation. Edge listings are in graph_edges.cc,
// temporal edges in graph_temporal.cc, traversals and paths in graph_walk.cc.
#include "engine/graph/graph_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/graph/graph_reader.h"
#include "engine/graph/graph_records.h"

namespace sochdb::graph {
namespace {

absl::Status TooLarge(std::string_view field, size_t bytes, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(field), " is ", bytes, " bytes; the limit is ", limit, " bytes"));
}

size_t PropertyBytes(const Properties& properties) {
  size_t bytes = 0;
  for (const auto& [key, value] : properties) bytes += key.size() + value.size();
  return bytes;
}

// Puts both entries of `edge`; returns its primary (out) key and the bytes it will count.
std::pair<std::string, uint64_t> PutEdge(std::string_view ns, const Edge& edge,
                                         storage::WriteBatch* batch) {
  const std::string record = EncodeEdge(edge.properties);
  std::string key = EdgeKey(Side::kOut, ns, edge.from, edge.type, edge.to);
  batch->Put(key, record);
  batch->Put(EdgeKey(Side::kIn, ns, edge.from, edge.type, edge.to), record);
  const uint64_t bytes = ItemBytes(ns, key, record);
  return {std::move(key), bytes};
}

void DeleteEdgeEntries(std::string_view ns, std::string_view from, std::string_view type,
                       std::string_view to, storage::WriteBatch* batch) {
  batch->Delete(EdgeKey(Side::kOut, ns, from, type, to));
  batch->Delete(EdgeKey(Side::kIn, ns, from, type, to));
}

}  // namespace

GraphStore::GraphStore(storage::Store* store, const Clock* clock, GraphLimits limits,
                       namespaces::UsageLedger* usage)
    : store_(store), clock_(clock), limits_(std::move(limits)), usage_(usage) {
  if (usage_ != nullptr) usage_->Attach(namespaces::UsageSource::kGraph, this);
}

GraphStore::~GraphStore() {
  if (usage_ != nullptr) usage_->Detach(namespaces::UsageSource::kGraph);
}

absl::Status GraphStore::ValidateProperties(const Properties& properties,
                                            std::string_view field) const {
  if (properties.size() > limits_.max_properties) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " holds ", properties.size(),
                                                   " entries; the limit is ",
                                                   limits_.max_properties));
  }
  for (const auto& [key, value] : properties) {
    SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(field), " key"), key,
                                        limits_.max_property_key_bytes, EmptyName::kRefused));
  }
  const size_t bytes = PropertyBytes(properties);
  if (bytes > limits_.max_properties_bytes) {
    return TooLarge(field, bytes, limits_.max_properties_bytes);
  }
  return absl::OkStatus();
}

absl::Status GraphStore::ValidateNode(const Node& node, std::string_view field) const {
  SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(field), ".id"), node.id,
                                      limits_.max_id_bytes, EmptyName::kRefused));
  SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(field), ".node_type"), node.type,
                                      limits_.max_type_bytes, EmptyName::kAllowed));
  return ValidateProperties(node.properties, absl::StrCat(AbslView(field), ".properties"));
}

absl::Status GraphStore::ValidateEdge(const Edge& edge, std::string_view field) const {
  const std::string dot = field.empty() ? "" : absl::StrCat(AbslView(field), ".");
  SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(dot), "from_id"), edge.from,
                                      limits_.max_id_bytes, EmptyName::kRefused));
  SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(dot), "edge_type"), edge.type,
                                      limits_.max_type_bytes, EmptyName::kRefused));
  SOCHDB_RETURN_IF_ERROR(ValidateName(absl::StrCat(AbslView(dot), "to_id"), edge.to,
                                      limits_.max_id_bytes, EmptyName::kRefused));
  return ValidateProperties(edge.properties, absl::StrCat(AbslView(dot), "properties"));
}

absl::Status GraphStore::ValidateBulk(std::string_view field, size_t items, size_t bytes) const {
  if (items > limits_.max_batch_items) {
    return absl::InvalidArgumentError(absl::StrCat(
        AbslView(field), " holds ", items, " items; the limit is ", limits_.max_batch_items));
  }
  if (bytes > limits_.max_batch_bytes) return TooLarge(field, bytes, limits_.max_batch_bytes);
  return absl::OkStatus();
}

absl::Status GraphStore::AddNode(std::string_view ns, const Node& node) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateNode(node, "node"));
  storage::WriteBatch batch;
  std::string key = NodeKey(ns, node.id);
  const std::string record = EncodeNode(node);
  batch.Put(key, record);
  const uint64_t bytes = ItemBytes(ns, key, record);
  absl::ReaderMutexLock barrier(&count_barrier_);
  return Commit(ns, {ItemWrite{std::move(key), bytes, std::nullopt}}, &batch);
}

absl::Status GraphStore::AddNodes(std::string_view ns, absl::Span<const Node> nodes) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  size_t total_bytes = 0;
  for (const Node& node : nodes) {
    total_bytes += node.id.size() + node.type.size() + PropertyBytes(node.properties);
  }
  SOCHDB_RETURN_IF_ERROR(ValidateBulk("nodes", nodes.size(), total_bytes));
  storage::WriteBatch batch;
  std::vector<ItemWrite> items;
  items.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    SOCHDB_RETURN_IF_ERROR(ValidateNode(nodes[i], absl::StrCat("nodes[", i, "]")));
    std::string key = NodeKey(ns, nodes[i].id);
    const std::string record = EncodeNode(nodes[i]);
    batch.Put(key, record);
    const uint64_t bytes = ItemBytes(ns, key, record);
    items.push_back(ItemWrite{std::move(key), bytes, std::nullopt});
  }
  if (nodes.empty()) return absl::OkStatus();
  absl::ReaderMutexLock barrier(&count_barrier_);
  return Commit(ns, std::move(items), &batch);
}

absl::StatusOr<Node> GraphStore::GetNode(std::string_view ns, std::string_view id) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateName("node_id", id, limits_.max_id_bytes, EmptyName::kRefused));
  GraphReader reader(store_, ns);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<Node> node, reader.ReadNode(id));
  if (!node.has_value())
    return absl::NotFoundError(absl::StrCat("Node '", AbslView(id), "' not found"));
  return *std::move(node);
}

absl::Status GraphStore::DeleteNode(std::string_view ns, std::string_view id) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateName("node_id", id, limits_.max_id_bytes, EmptyName::kRefused));
  absl::ReaderMutexLock barrier(&count_barrier_);
  // Charged, the delete must read what it removes with no write of those items in between: it
  // cannot know their stripes before it reads, so it takes them all.
  const bool tracked = Tracked(ns);
  std::optional<HeldStripes> all_stripes;
  if (tracked) all_stripes.emplace(stripes_);
  GraphReader reader(store_, ns);
  storage::WriteBatch batch;
  std::vector<ItemWrite> items;  // what the charge gives back; only when tracked
  size_t edges = 0;
  size_t intervals = 0;  // temporal ones among them
  // Deletes both entries of an item whose primary key is `primary` and its mirror `mirror`.
  auto remove = [&](std::string primary, std::string mirror,
                    std::string_view record) -> absl::Status {
    if (++edges > limits_.max_node_delete_edges) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Node '", AbslView(id), "' has more than ", limits_.max_node_delete_edges,
          " edges, more than one DeleteNode removes; delete some with DeleteEdge first"));
    }
    batch.Delete(primary);
    batch.Delete(mirror);
    if (tracked) {
      const uint64_t bytes = ItemBytes(ns, primary, record);
      items.push_back(ItemWrite{std::move(primary), 0, bytes});
    }
    return absl::OkStatus();
  };
  for (Side side : {Side::kOut, Side::kIn}) {
    const bool out = side == Side::kOut;
    SOCHDB_RETURN_IF_ERROR(reader.ScanAdjacency(
        side, id, TypeFilter({}), "", [&](const AdjacencyEntry& e) -> absl::StatusOr<bool> {
          const std::string_view from = out ? id : e.other, to = out ? e.other : id;
          SOCHDB_RETURN_IF_ERROR(remove(EdgeKey(Side::kOut, ns, from, e.type, to),
                                        EdgeKey(Side::kIn, ns, from, e.type, to), e.record));
          return true;
        }));
    const std::string prefix = TemporalPrefix(side, ns, id);
    SOCHDB_RETURN_IF_ERROR(reader.ScanPrefix(
        prefix, [&](std::string_view key, std::string_view record) -> absl::StatusOr<bool> {
          std::string_view type, other;
          uint64_t valid_from = 0;
          if (!ParseTemporalSuffix(key.substr(prefix.size()), &type, &other, &valid_from)) {
            return MalformedKey("temporal edge", ns);
          }
          const std::string_view from = out ? id : other, to = out ? other : id;
          ++intervals;
          SOCHDB_RETURN_IF_ERROR(remove(TemporalKey(Side::kOut, ns, from, type, to, valid_from),
                                        TemporalKey(Side::kIn, ns, from, type, to, valid_from),
                                        record));
          return true;
        }));
  }
  std::string node_key = NodeKey(ns, id);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> node, reader.Read(node_key));
  if (!node.has_value() && edges == 0) {
    return absl::NotFoundError(absl::StrCat("Node '", AbslView(id), "' not found"));
  }
  batch.Delete(node_key);
  if (tracked && node.has_value()) {
    const uint64_t bytes = ItemBytes(ns, node_key, *node);
    items.push_back(ItemWrite{std::move(node_key), 0, bytes});
  }
  // EndTemporalEdge rewrites the intervals it read under their relation's stripe: holding the
  // stripes over the write puts it wholly before the deletion (whose deletes, of the same keys,
  // cover its rewrite) or wholly after (it finds nothing), never astride it.
  if (!tracked && intervals != 0) all_stripes.emplace(stripes_);
  return Commit(ns, std::move(items), &batch, /*stripes_held=*/true);
}

absl::Status GraphStore::AddEdge(std::string_view ns, const Edge& edge) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateEdge(edge, "edge"));
  storage::WriteBatch batch;
  auto [key, bytes] = PutEdge(ns, edge, &batch);
  absl::ReaderMutexLock barrier(&count_barrier_);
  return Commit(ns, {ItemWrite{std::move(key), bytes, std::nullopt}}, &batch);
}

absl::Status GraphStore::AddEdges(std::string_view ns, absl::Span<const Edge> edges) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  size_t total_bytes = 0;
  for (const Edge& edge : edges) {
    total_bytes +=
        edge.from.size() + edge.type.size() + edge.to.size() + PropertyBytes(edge.properties);
  }
  SOCHDB_RETURN_IF_ERROR(ValidateBulk("edges", edges.size(), total_bytes));
  storage::WriteBatch batch;
  std::vector<ItemWrite> items;
  items.reserve(edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    SOCHDB_RETURN_IF_ERROR(ValidateEdge(edges[i], absl::StrCat("edges[", i, "]")));
    auto [key, bytes] = PutEdge(ns, edges[i], &batch);
    items.push_back(ItemWrite{std::move(key), bytes, std::nullopt});
  }
  if (edges.empty()) return absl::OkStatus();
  absl::ReaderMutexLock barrier(&count_barrier_);
  return Commit(ns, std::move(items), &batch);
}

absl::StatusOr<Edge> GraphStore::GetEdge(std::string_view ns, std::string_view from,
                                         std::string_view type, std::string_view to) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  Edge edge{std::string(from), std::string(type), std::string(to), {}};
  SOCHDB_RETURN_IF_ERROR(ValidateEdge(edge, ""));
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record,
                          store_->Get(EdgeKey(Side::kOut, ns, from, type, to)));
  if (!record.has_value()) return absl::NotFoundError("Edge not found");
  SOCHDB_RETURN_IF_ERROR(DecodeEdge(*record, ns, &edge));
  return edge;
}

absl::Status GraphStore::DeleteEdge(std::string_view ns, std::string_view from,
                                    std::string_view type, std::string_view to) {
  SOCHDB_ASSIGN_OR_RETURN(Edge edge, GetEdge(ns, from, type, to));
  storage::WriteBatch batch;
  DeleteEdgeEntries(ns, edge.from, edge.type, edge.to, &batch);
  absl::ReaderMutexLock barrier(&count_barrier_);
  return Commit(ns, {ItemWrite{EdgeKey(Side::kOut, ns, from, type, to), 0, std::nullopt}}, &batch);
}

}  // namespace sochdb::graph
