#include "services/vector/convert.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/vector_enums.h"

namespace sochdb::services::vector_convert {
absl::StatusOr<vector::VectorIndexDefinition> ToDefinition(const v1::CreateIndexRequest& req,
                                                           std::string_view tenant) {
  vector::VectorIndexDefinition d;
  d.tenant = std::string(tenant);
  d.name = req.name();
  d.metric_code = static_cast<int32_t>(req.metric());
  absl::StatusOr<vector::Metric> metric = ToMetric(req.metric());
  if (!metric.ok()) return metric.status();
  absl::StatusOr<vector::Quantization> quantization = ToQuantization(req.quantization());
  if (!quantization.ok()) return quantization.status();
  d.spec.dimension = req.dimension();
  d.spec.metric = *metric;
  d.spec.quantization = *quantization;
  d.spec.pq_subvectors = req.pq_num_subvectors();
  d.spec.m = d.requested_m = req.config().max_connections();
  d.spec.m0 = d.requested_m0 = req.config().max_connections_layer0();
  d.spec.ef_construction = d.requested_ef_construction = req.config().ef_construction();
  d.spec.ef_search = d.requested_ef_search = req.config().ef_search();
  return d;
}

void FillIndexInfo(const vector::VectorIndexDefinition& d, v1::IndexInfo* info) {
  info->set_name(d.name);
  info->set_dimension(d.spec.dimension);
  info->set_metric(static_cast<v1::DistanceMetric>(d.metric_code));
  v1::HnswConfig* config = info->mutable_config();
  config->set_max_connections(d.requested_m);
  config->set_max_connections_layer0(d.requested_m0);
  config->set_ef_construction(d.requested_ef_construction);
  config->set_ef_search(d.requested_ef_search);
  info->set_created_at(d.created_at);
}

std::vector<vector::VectorMetadata> ToMetadata(
    const google::protobuf::RepeatedPtrField<v1::VectorMetadata>& metadata) {
  std::vector<vector::VectorMetadata> out;
  out.reserve(metadata.size());
  for (const v1::VectorMetadata& m : metadata) {
    vector::VectorMetadata converted;
    if (m.has_parent_id()) converted.parent_id = m.parent_id();
    if (m.has_view_type()) converted.view_type = m.view_type();
    out.push_back(std::move(converted));
  }
  return out;
}

bool GroupingActive(const v1::GroupingOptions* grouping) {
  return grouping != nullptr && grouping->group_by() == v1::GROUP_BY_PARENT_ID;
}

vector::VectorSearchOptions ToSearchOptions(uint32_t k, uint32_t ef,
                                            const v1::GroupingOptions* grouping) {
  vector::VectorSearchOptions options;
  options.k = k;
  options.ef = ef;
  if (GroupingActive(grouping)) {
    options.group_by_parent =
        vector::GroupingOptions{grouping->max_per_group(), grouping->candidate_k()};
  }
  return options;
}

std::string_view MetricLabel(int32_t metric_code) {
  switch (metric_code) {
    case v1::DISTANCE_METRIC_L2:
      return "euclidean";
    case v1::DISTANCE_METRIC_COSINE:
      return "cosine";
    case v1::DISTANCE_METRIC_DOT_PRODUCT:
      return "dot_product";
    default:
      return "unspecified";
  }
}

void FillResults(const vector::VectorSearchOutcome& outcome, uint32_t k, int32_t metric_code,
                 const v1::GroupingOptions* grouping, bool diagnostics,
                 google::protobuf::RepeatedPtrField<v1::SearchResult>* results,
                 v1::GroupingInfo* grouping_info, v1::SearchDiagnostics* diag) {
  const std::string label(MetricLabel(metric_code));
  absl::flat_hash_set<uint64_t> groups;
  uint32_t rank = 0;
  for (const vector::VectorSearchHit& hit : outcome.hits) {
    v1::SearchResult* r = results->Add();
    r->set_id(hit.id);
    r->set_distance(hit.distance);
    r->set_metric(label);
    if (hit.metadata.parent_id) r->set_parent_id(*hit.metadata.parent_id);
    if (hit.metadata.view_type) r->set_view_type(*hit.metadata.view_type);
    if (diagnostics) r->set_result_rank(++rank);
    groups.insert(hit.metadata.parent_id.value_or(hit.id));
  }
  const bool grouped = GroupingActive(grouping);
  const uint32_t effective_k = k == 0 ? 1 : k;
  if (grouped && grouping_info != nullptr) {
    grouping_info->set_group_by(v1::GROUP_BY_PARENT_ID);
    grouping_info->set_requested_k(effective_k);
    grouping_info->set_candidate_k(outcome.candidate_k);
    grouping_info->set_raw_candidate_count(outcome.raw_candidates);
    grouping_info->set_returned_group_count(
        std::min<uint32_t>(static_cast<uint32_t>(outcome.hits.size()), effective_k));
  }
  if (!diagnostics || diag == nullptr) return;
  diag->set_requested_k(effective_k);
  diag->set_candidate_k(outcome.candidate_k);
  diag->set_candidates_considered(outcome.raw_candidates);
  diag->set_candidates_after_filtering(outcome.raw_candidates);
  diag->set_results_returned(static_cast<uint32_t>(outcome.hits.size()));
  diag->set_truncation_applied(outcome.index_size > outcome.candidate_k);
  diag->set_grouping_applied(grouped);
  diag->set_deterministic_tie_breaker("distance_then_id");
  diag->set_distance_metric(static_cast<v1::DistanceMetric>(metric_code));
  if (grouped) {
    diag->set_groups_considered(outcome.groups_considered);
    diag->set_groups_returned(static_cast<uint32_t>(groups.size()));
    diag->set_max_per_group(std::max<uint32_t>(1, grouping->max_per_group()));
    diag->set_excluded_by_group_limit(outcome.excluded_by_group_limit);
  }
}

void DropSubjects(const v1::DropIndexRequest& req, governance::KeyList* keys) {
  keys->Add(req.name());
  keys->AddComposed(absl::StrCat(req.name(), "/"), /*prefix=*/true);
}

void InsertBatchSubjects(const v1::InsertBatchRequest& req, governance::KeyList* keys) {
  for (uint64_t id : req.ids()) keys->AddComposed(absl::StrCat(req.index_name(), "/", id));
}

void CarryIndexName(v1::InsertStreamRequest* message, v1::InsertStreamRequest* stream) {
  if (stream->index_name().empty()) {
    stream->set_index_name(message->index_name());
  } else if (message->index_name().empty()) {
    message->set_index_name(stream->index_name());
  }
}

void InsertStreamSubjects(const v1::InsertStreamRequest& req, governance::KeyList* keys) {
  keys->AddComposed(absl::StrCat(req.index_name(), "/", req.id()));
}

}  // namespace sochdb::services::vector_convert
