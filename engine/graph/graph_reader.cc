#include "engine/graph/graph_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"

namespace sochdb::graph {

QueryMeter::QueryMeter(const GraphLimits& limits, const StopCheck* stop, std::string_view what,
                       std::string_view hint)
    : max_(limits.max_edges_examined), stop_(stop), what_(what), hint_(hint) {}

absl::Status QueryMeter::Step() {
  if (++steps_ > max_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        AbslView(what_), " read more than ", max_, " edges (the server's cap); ", AbslView(hint_)));
  }
  if (steps_ % kStopEvery == 0) return Check();
  return absl::OkStatus();
}

absl::Status QueryMeter::Check() const {
  if (stop_ == nullptr || !*stop_) return absl::OkStatus();
  return (*stop_)();
}

TypeFilter::TypeFilter(const std::vector<std::string>& types) {
  // Keys order types by their encoded component (length prefix first), so sort by that.
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const std::string& type : types) {
    encoded.emplace_back(storage::KeyBuilder(storage::KeyFamily::kMeta).Name(type).key(), type);
  }
  std::sort(encoded.begin(), encoded.end());
  encoded.erase(std::unique(encoded.begin(), encoded.end()), encoded.end());
  for (auto& [key, type] : encoded) types_.push_back(std::move(type));
}

GraphReader::GraphReader(const storage::Store* store, std::string_view ns)
    : store_(store), ns_(ns), snapshot_(store->GetSnapshot()) {}

absl::StatusOr<std::optional<std::string>> GraphReader::Read(std::string_view key) const {
  return store_->Get(key, snapshot_.get());
}

absl::StatusOr<std::optional<Node>> GraphReader::ReadNode(std::string_view id) const {
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> record, Read(NodeKey(ns_, id)));
  if (!record.has_value()) return std::optional<Node>();
  Node node;
  node.id = std::string(id);
  SOCHDB_RETURN_IF_ERROR(DecodeNode(*record, ns_, &node));
  return std::optional<Node>(std::move(node));
}

absl::Status GraphReader::ScanAdjacency(
    Side side, std::string_view node, const TypeFilter& types, std::string_view after,
    absl::FunctionRef<absl::StatusOr<bool>(const AdjacencyEntry&)> fn) {
  const std::string prefix = AdjacencyPrefix(side, ns_, node);
  std::string start = prefix;
  if (!after.empty()) {
    // The smallest key after prefix + after.
    start.append(after);
    start.push_back('\0');
  }
  bool stopped = false;
  if (types.all()) return ScanRange(prefix, start, prefix, &stopped, fn);
  for (const std::string& type : types.types()) {
    const std::string range = TypedAdjacencyPrefix(side, ns_, node, type);
    SOCHDB_RETURN_IF_ERROR(
        ScanRange(range, std::max<std::string_view>(range, start), prefix, &stopped, fn));
    if (stopped) break;
  }
  return absl::OkStatus();
}

absl::Status GraphReader::ScanRange(
    std::string_view range, std::string_view start, std::string_view node_prefix, bool* stopped,
    absl::FunctionRef<absl::StatusOr<bool>(const AdjacencyEntry&)> fn) {
  if (iterator_ == nullptr) iterator_ = store_->NewIterator(snapshot_.get());
  storage::Iterator& it = *iterator_;
  for (it.Seek(start); it.Valid(); it.Next()) {
    const std::string_view key = it.key();
    if (key.substr(0, range.size()) != range) break;
    AdjacencyEntry entry;
    entry.suffix = key.substr(node_prefix.size());
    entry.record = it.value();
    if (!ParseAdjacencySuffix(entry.suffix, &entry.type, &entry.other)) {
      return MalformedKey("edge", ns_);
    }
    SOCHDB_ASSIGN_OR_RETURN(bool more, fn(entry));
    if (!more) {
      *stopped = true;
      return absl::OkStatus();
    }
  }
  return it.status();
}

absl::Status GraphReader::ScanPrefix(
    std::string_view prefix,
    absl::FunctionRef<absl::StatusOr<bool>(std::string_view key, std::string_view value)> fn) {
  if (iterator_ == nullptr) iterator_ = store_->NewIterator(snapshot_.get());
  storage::Iterator& it = *iterator_;
  for (it.Seek(prefix); it.Valid(); it.Next()) {
    if (it.key().substr(0, prefix.size()) != prefix) break;
    SOCHDB_ASSIGN_OR_RETURN(bool more, fn(it.key(), it.value()));
    if (!more) return absl::OkStatus();
  }
  return it.status();
}

absl::StatusOr<Edge> EdgeOf(Side side, std::string_view node, const AdjacencyEntry& entry,
                            std::string_view ns) {
  Edge edge;
  edge.from = std::string(side == Side::kOut ? node : entry.other);
  edge.type = std::string(entry.type);
  edge.to = std::string(side == Side::kOut ? entry.other : node);
  SOCHDB_RETURN_IF_ERROR(DecodeEdge(entry.record, ns, &edge));
  return edge;
}

namespace {

size_t PropertiesBytes(const Properties& properties) {
  size_t bytes = 0;
  for (const auto& [key, value] : properties) bytes += key.size() + value.size() + 8;
  return bytes;
}

size_t EdgeBytes(const Edge& edge) {
  return edge.from.size() + edge.type.size() + edge.to.size() + PropertiesBytes(edge.properties);
}

absl::Status Charge(AnswerBudget* budget, size_t bytes) {
  return budget == nullptr ? absl::OkStatus() : budget->Charge(bytes + 8);
}

}  // namespace

absl::Status ChargeAnswer(AnswerBudget* budget, const Node& node) {
  return Charge(budget, node.id.size() + node.type.size() + PropertiesBytes(node.properties));
}

absl::Status ChargeAnswer(AnswerBudget* budget, const Edge& edge) {
  return Charge(budget, EdgeBytes(edge));
}

absl::Status ChargeAnswer(AnswerBudget* budget, const TemporalEdge& edge) {
  return Charge(budget, EdgeBytes(edge.edge) + 16);  // + valid_from, valid_until
}

absl::Status MalformedKey(std::string_view what, std::string_view ns) {
  return absl::DataLossError(absl::StrCat("a stored ", AbslView(what), " key of namespace ",
                                          storage::QuotedKey(ns), " is malformed"));
}

absl::Status ValidateTypes(std::string_view field, const std::vector<std::string>& types,
                           const GraphLimits& limits, EmptyName empty) {
  for (const std::string& type : types) {
    SOCHDB_RETURN_IF_ERROR(ValidateName(field, type, limits.max_type_bytes, empty));
  }
  return absl::OkStatus();
}

}  // namespace sochdb::graph
