// GraphStore's temporal edges: intervals of validity per relation (from, type, to), kept
// forward (by from) and reverse (by to) in one batch, read per mode (UPSTREAM §2.3).
#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/names.h"
#include "engine/common/status_macros.h"
#include "engine/graph/graph_reader.h"
#include "engine/graph/graph_records.h"
#include "engine/graph/graph_store.h"

namespace sochdb::graph {
namespace {

// Puts both entries of interval `t`; returns its primary (forward) key and the bytes it counts.
std::pair<std::string, uint64_t> PutTemporal(std::string_view ns, const TemporalEdge& t,
                                             storage::WriteBatch* batch) {
  const std::string record = EncodeTemporal(t.valid_until, t.edge.properties);
  std::string key = TemporalKey(Side::kOut, ns, t.edge.from, t.edge.type, t.edge.to, t.valid_from);
  batch->Put(key, record);
  batch->Put(TemporalKey(Side::kIn, ns, t.edge.from, t.edge.type, t.edge.to, t.valid_from), record);
  const uint64_t bytes = ItemBytes(ns, key, record);
  return {std::move(key), bytes};
}

// Half-open [valid_from, valid_until), valid_until 0 = no end.
bool ValidAt(const TemporalEdge& t, uint64_t instant) {
  return t.valid_from <= instant && (t.valid_until == 0 || instant < t.valid_until);
}

bool Overlaps(const TemporalEdge& t, uint64_t start, uint64_t end) {
  const uint64_t until = t.valid_until == 0 ? std::numeric_limits<uint64_t>::max() : t.valid_until;
  return t.valid_from < end && until > start;
}

}  // namespace

absl::Status GraphStore::AddTemporalEdge(std::string_view ns, const TemporalEdge& edge) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(ValidateEdge(edge.edge, ""));
  if (edge.valid_until != 0 && edge.valid_until <= edge.valid_from) {
    return absl::InvalidArgumentError(absl::StrCat("valid_until (", edge.valid_until,
                                                   ") must be after valid_from (", edge.valid_from,
                                                   "), or 0 for an interval with no end"));
  }
  storage::WriteBatch batch;
  auto [key, bytes] = PutTemporal(ns, edge, &batch);
  absl::ReaderMutexLock barrier(&count_barrier_);
  // Every write of a relation's intervals holds the relation's stripe (EndTemporalEdge reads
  // what it rewrites).
  absl::MutexLock lock(
      &Stripe(TemporalRelationPrefix(ns, edge.edge.from, edge.edge.type, edge.edge.to)));
  return Commit(ns, {ItemWrite{std::move(key), bytes, std::nullopt}}, &batch,
                /*stripes_held=*/true);
}

absl::StatusOr<TemporalEdge> GraphStore::EndTemporalEdge(std::string_view ns, std::string_view from,
                                                         std::string_view type, std::string_view to,
                                                         uint64_t end_time) {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(
      ValidateEdge(Edge{std::string(from), std::string(type), std::string(to), {}}, ""));
  if (end_time == 0) end_time = static_cast<uint64_t>(clock_->NowMillis());
  const std::string prefix = TemporalRelationPrefix(ns, from, type, to);
  absl::ReaderMutexLock barrier(&count_barrier_);
  absl::MutexLock lock(&Stripe(prefix));
  GraphReader reader(store_, ns);
  std::vector<TemporalEdge> open;
  SOCHDB_RETURN_IF_ERROR(reader.ScanPrefix(
      prefix, [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
        storage::KeyReader rest(key.substr(prefix.size()));
        TemporalEdge t{Edge{std::string(from), std::string(type), std::string(to), {}}, 0, 0};
        if (!rest.U64(&t.valid_from) || !rest.Rest().empty())
          return MalformedKey("temporal edge", ns);
        SOCHDB_RETURN_IF_ERROR(DecodeTemporal(value, ns, &t));
        if (t.valid_until == 0) open.push_back(std::move(t));
        return true;
      }));
  if (open.empty()) {
    return absl::NotFoundError(absl::StrCat("No open temporal edge '", AbslView(from), "' -[",
                                            AbslView(type), "]-> '", AbslView(to), "'"));
  }
  storage::WriteBatch batch;
  std::vector<ItemWrite> items;
  for (TemporalEdge& t : open) {
    if (t.valid_from >= end_time) {
      return absl::InvalidArgumentError(
          absl::StrCat("end_time (", end_time, ") must be after the open interval's valid_from (",
                       t.valid_from, ")"));
    }
    t.valid_until = end_time;
    auto [key, bytes] = PutTemporal(ns, t, &batch);
    items.push_back(ItemWrite{std::move(key), bytes, std::nullopt});
  }
  SOCHDB_RETURN_IF_ERROR(Commit(ns, std::move(items), &batch, /*stripes_held=*/true));
  return open.back();  // key order: the latest valid_from
}

absl::StatusOr<std::vector<TemporalEdge>> GraphStore::QueryTemporal(
    std::string_view ns, const TemporalQuery& query) const {
  SOCHDB_RETURN_IF_ERROR(ValidateNamespace(ns));
  SOCHDB_RETURN_IF_ERROR(
      ValidateName("node_id", query.node, limits_.max_id_bytes, EmptyName::kRefused));
  if (query.mode == TemporalMode::kRange && query.end_time < query.start_time) {
    return absl::InvalidArgumentError(absl::StrCat(
        "end_time (", query.end_time, ") must not be before start_time (", query.start_time, ")"));
  }
  const uint64_t now = static_cast<uint64_t>(clock_->NowMillis());
  auto keep = [&](const TemporalEdge& t) {
    switch (query.mode) {
      case TemporalMode::kPointInTime:
        return ValidAt(t, query.timestamp);
      case TemporalMode::kRange:
        return Overlaps(t, query.start_time, query.end_time);
      case TemporalMode::kCurrent:
        return ValidAt(t, now);
    }
    return false;
  };
  SOCHDB_RETURN_IF_ERROR(ValidateTypes("edge_types", query.edge_types, limits_));
  const std::vector<std::string>& types = query.edge_types;
  auto type_kept = [&](std::string_view type) {
    return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
  };
  GraphReader reader(store_, ns);
  QueryMeter meter(limits_, &query.stop, "QueryTemporalGraph", "narrow edge_types or direction");
  std::vector<TemporalEdge> found;
  for (Side side : {Side::kOut, Side::kIn}) {
    if ((side == Side::kOut && query.direction == Direction::kIn) ||
        (side == Side::kIn && query.direction == Direction::kOut)) {
      continue;
    }
    const std::string prefix = TemporalPrefix(side, ns, query.node);
    SOCHDB_RETURN_IF_ERROR(reader.ScanPrefix(
        prefix, [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
          SOCHDB_RETURN_IF_ERROR(meter.Step());
          std::string_view type, other;
          TemporalEdge t;
          if (!ParseTemporalSuffix(key.substr(prefix.size()), &type, &other, &t.valid_from)) {
            return MalformedKey("temporal edge", ns);
          }
          // Under kBoth a self-loop is listed with the out side only.
          if (side == Side::kIn && query.direction == Direction::kBoth && other == query.node) {
            return true;
          }
          if (!type_kept(type)) return true;
          const bool out = side == Side::kOut;
          t.edge.from = std::string(out ? query.node : other);
          t.edge.type = std::string(type);
          t.edge.to = std::string(out ? other : query.node);
          SOCHDB_RETURN_IF_ERROR(DecodeTemporal(value, ns, &t));
          if (!keep(t)) return true;
          if (found.size() == limits_.max_temporal_edges) {
            return absl::ResourceExhaustedError(absl::StrCat(
                "QueryTemporalGraph: node '", query.node, "' has more than ",
                limits_.max_temporal_edges,
                " matching temporal edges (the server's cap); narrow the time or edge_types"));
          }
          SOCHDB_RETURN_IF_ERROR(ChargeAnswer(query.budget, t));
          found.push_back(std::move(t));
          return true;
        }));
  }
  std::sort(found.begin(), found.end(), [](const TemporalEdge& a, const TemporalEdge& b) {
    return std::tie(a.valid_from, a.edge.from, a.edge.type, a.edge.to) <
           std::tie(b.valid_from, b.edge.from, b.edge.type, b.edge.to);
  });
  return found;
}

}  // namespace sochdb::graph
