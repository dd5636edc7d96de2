#include "services/vector/vector_index_service.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "engine/common/answer_budget.h"
#include "engine/common/version.h"
#include "server/rpc/status.h"
#include "services/common/encoded_size.h"
#include "services/vector/convert.h"
#include "services/vector/insert_stream.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = vector_convert;

uint64_t MicrosSince(absl::Time start) {
  return static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
}

// What a SearchBatchResponse holds besides its results: duration_us and metric, with tags.
constexpr size_t kBatchAnswerFixedBytes = 16;

// Everything about a SearchBatch that can be checked before the first search: sizes (upstream's
// text for a size mismatch), nq x k, and every query's values, so that a NaN in query 9,999 is
// refused before 9,999 searches run ("queries[9999][3] is NaN": query 9,999, component 3).
absl::Status ValidateSearchBatch(const v1::SearchBatchRequest& req, uint32_t dimension) {
  const uint64_t queries = req.num_queries();
  if (queries > vector::kMaxBatchQueries) {
    return absl::InvalidArgumentError(
        absl::StrFormat("num_queries is %d; the limit is %d", queries, vector::kMaxBatchQueries));
  }
  if (static_cast<uint64_t>(req.queries_size()) != queries * dimension) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Query data size mismatch: expected %d floats, got %d", queries * dimension,
                        req.queries_size()));
  }
  const uint64_t k = req.k() == 0 ? 1 : req.k();
  if (queries * k > vector::kMaxResultsPerCall) {
    return absl::InvalidArgumentError(absl::StrFormat("num_queries * k is %d; the limit is %d",
                                                      queries * k, vector::kMaxResultsPerCall));
  }
  return vector::ValidateVectors(absl::MakeConstSpan(req.queries().data(), req.queries_size()),
                                 dimension, "queries");
}

// The fewest bytes one query's results can take, known before searching: min(k, vectors) hits
// (none assumed with grouping, which may keep fewer), each at least its framing, its metric
// label and its metadata; the rest of a hit (id, distance, rank) may encode in no bytes.
uint64_t QueryAnswerFloor(const vector::VectorAnswerFloor& floor, uint32_t k,
                          const v1::GroupingOptions* grouping) {
  if (convert::GroupingActive(grouping)) return 0;
  // A k past kMaxK is the engine's INVALID_ARGUMENT to report, not a budget matter.
  const uint64_t hits = std::min<uint64_t>({k == 0 ? 1 : k, vector::kMaxK, floor.vectors});
  const size_t label = convert::MetricLabel(floor.metric_code).size();
  return hits * (2 + (2 + label) + floor.metadata_bytes);
}

}  // namespace

VectorIndexService::VectorIndexService(vector::VectorIndexStore* indexes) : indexes_(indexes) {}

void VectorIndexService::Register(server::GrpcServer& server) {
  // Builds, drops, batches and stats (which walk the graph) can take long: they run on the
  // worker pool's long lane; single searches are short and CPU-bound: inline. A create is one
  // synced write: the short lane.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  // Indexes belong to the caller's tenant (no namespace): policies see an index as the key
  // "<name>" and its vectors as "<name>/<id>"; a search reaches them all ("<name>/").
  auto r = server.AddService<v1::VectorIndexService>();
  r.Unary("CreateIndex", {Capability::kManageCollections, Access::kWrite, nullptr,
                          &v1::CreateIndexRequest::name, kPool},
          this, &VectorIndexService::CreateIndex);
  r.Unary("DropIndex", {Capability::kManageCollections, Access::kDelete, nullptr,
                        &convert::DropSubjects, kLong},
          this, &VectorIndexService::DropIndex);
  r.Unary("InsertBatch", {Capability::kWrite, Access::kWrite, nullptr,
                          &convert::InsertBatchSubjects, kLong},
          this, &VectorIndexService::InsertBatch);
  server::MethodPolicy<v1::InsertStreamRequest> insert_stream{
      Capability::kWrite, Access::kWrite, nullptr, &convert::InsertStreamSubjects, kLong};
  insert_stream.target.carry = &convert::CarryIndexName;  // later messages may omit the index
  r.ClientStream("InsertStream", std::move(insert_stream), this,
                 &VectorIndexService::InsertStream);
  r.Unary("Search", {Capability::kRead, Access::kRead, nullptr,
                     &convert::IndexPrefixSubject<v1::SearchRequest>},
          this, &VectorIndexService::Search);
  r.Unary("SearchBatch", {Capability::kRead, Access::kRead, nullptr,
                          &convert::IndexPrefixSubject<v1::SearchBatchRequest>, kLong},
          this, &VectorIndexService::SearchBatch);
  r.Unary("GetStats", {Capability::kRead, Access::kRead, nullptr,
                       &v1::GetStatsRequest::index_name, kLong},
          this, &VectorIndexService::GetStats);
  r.Unary("HealthCheck", {Capability::kRead}, this, &VectorIndexService::HealthCheck);
}

grpc::Status VectorIndexService::CreateIndex(CallContext& ctx, const v1::CreateIndexRequest& req,
                                             v1::CreateIndexResponse* resp) {
  absl::StatusOr<vector::VectorIndexDefinition> request =
      convert::ToDefinition(req, ctx.principal().tenant);
  if (!request.ok()) return ToGrpcStatus(request.status());
  absl::StatusOr<vector::VectorIndexDefinition> created = indexes_->Create(*request);
  if (absl::IsAlreadyExists(created.status())) {
    resp->set_error(std::string(created.status().message()));
    return grpc::Status::OK;
  }
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_success(true);
  convert::FillIndexInfo(*created, resp->mutable_info());
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::DropIndex(CallContext& ctx, const v1::DropIndexRequest& req,
                                           v1::DropIndexResponse* resp) {
  absl::Status dropped = indexes_->Drop(ctx.principal().tenant, req.name());
  if (absl::IsNotFound(dropped)) {
    resp->set_error(std::string(dropped.message()));
    return grpc::Status::OK;
  }
  if (!dropped.ok()) return ToGrpcStatus(dropped);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::InsertBatch(CallContext& ctx, const v1::InsertBatchRequest& req,
                                             v1::InsertBatchResponse* resp) {
  const absl::Time start = absl::Now();
  absl::StatusOr<size_t> inserted = indexes_->Insert(
      ctx.principal().tenant, req.index_name(), req.ids(), req.vectors(),
      convert::ToMetadata(req.metadata()));
  if (!inserted.ok()) return ToGrpcStatus(inserted.status());
  resp->set_inserted_count(static_cast<uint32_t>(*inserted));
  resp->set_duration_us(MicrosSince(start));
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::InsertStream(
    CallContext& ctx,
    std::unique_ptr<server::StreamSink<v1::InsertStreamRequest, v1::InsertStreamResponse>>* sink) {
  *sink = std::make_unique<InsertStreamSink>(indexes_);
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::Search(CallContext& ctx, const v1::SearchRequest& req,
                                        v1::SearchResponse* resp) {
  const absl::Time start = absl::Now();
  const v1::GroupingOptions* grouping = req.has_grouping() ? &req.grouping() : nullptr;
  absl::StatusOr<vector::VectorSearchOutcome> outcome =
      indexes_->Search(ctx.principal().tenant, req.index_name(), req.query(),
                       convert::ToSearchOptions(req.k(), req.ef(), grouping));
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  convert::FillResults(*outcome, req.k(), outcome->metric_code, grouping,
                       req.include_diagnostics(), resp->mutable_results(),
                       convert::GroupingActive(grouping) ? resp->mutable_grouping() : nullptr,
                       req.include_diagnostics() ? resp->mutable_diagnostics() : nullptr);
  resp->set_metric(static_cast<v1::DistanceMetric>(outcome->metric_code));
  resp->set_duration_us(MicrosSince(start));
  // One query's hits are bounded (k <= 10,000, view_type <= 256 bytes: ~3 MB at most), so the
  // check comes after they are built, and the hot path pays no second index lookup for a check
  // before; it matters only for a budget set below a few MiB.
  AnswerBudget budget = ctx.ResponseBudget("Search answer", "ask for a smaller k");
  return ToGrpcStatus(budget.Charge(resp->ByteSizeLong()));
}

grpc::Status VectorIndexService::SearchBatch(CallContext& ctx, const v1::SearchBatchRequest& req,
                                             v1::SearchBatchResponse* resp) {
  const absl::Time start = absl::Now();
  const std::string& tenant = ctx.principal().tenant;
  absl::StatusOr<vector::VectorIndexDefinition> d = indexes_->Definition(tenant, req.index_name());
  if (!d.ok()) return ToGrpcStatus(d.status());
  const uint32_t dimension = d->spec.dimension;
  if (absl::Status valid = ValidateSearchBatch(req, dimension); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  const v1::GroupingOptions* grouping = req.has_grouping() ? &req.grouping() : nullptr;
  // Unlike upstream, which ignores it here, `ef` applies as in Search (same limit).
  const vector::VectorSearchOptions options = convert::ToSearchOptions(req.k(), req.ef(), grouping);
  const absl::Span<const float> all(req.queries().data(), req.queries_size());
  // A batch that cannot fit even with the fewest bytes its queries can answer is refused before
  // the first search. Otherwise every query's results are charged as they are added: a
  // too-large answer stops at the first query past the budget, holding at most that query's
  // hits beyond it.
  AnswerBudget budget =
      ctx.ResponseBudget("SearchBatch answer", "ask for fewer queries or a smaller k");
  absl::StatusOr<vector::VectorAnswerFloor> floor = indexes_->AnswerFloor(tenant, req.index_name());
  if (!floor.ok()) return ToGrpcStatus(floor.status());
  const uint64_t per_query = 2 + QueryAnswerFloor(*floor, req.k(), grouping);
  if (absl::Status room = budget.CheckRoomFor(req.num_queries() * per_query); !room.ok()) {
    return ToGrpcStatus(room);
  }
  absl::Status within = budget.Charge(kBatchAnswerFixedBytes);
  for (uint64_t q = 0; q < req.num_queries() && within.ok(); ++q) {
    // A batch can outlast its deadline; it ends with DEADLINE_EXCEEDED, never a partial OK.
    if (grpc::Status in_time = ctx.CheckDeadline(); !in_time.ok()) return in_time;
    absl::StatusOr<vector::VectorSearchOutcome> outcome = indexes_->Search(
        tenant, req.index_name(), all.subspan(q * dimension, dimension), options);
    if (!outcome.ok()) return ToGrpcStatus(outcome.status());
    v1::QueryResults* out = resp->add_results();
    convert::FillResults(*outcome, req.k(), d->metric_code, grouping, req.include_diagnostics(),
                         out->mutable_results(),
                         convert::GroupingActive(grouping) ? out->mutable_grouping() : nullptr,
                         req.include_diagnostics() ? out->mutable_diagnostics() : nullptr);
    within = budget.Charge(EncodedFieldBytes(*out));
  }
  if (!within.ok()) return ToGrpcStatus(within);
  resp->set_metric(static_cast<v1::DistanceMetric>(d->metric_code));
  resp->set_duration_us(MicrosSince(start));
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::GetStats(CallContext& ctx, const v1::GetStatsRequest& req,
                                          v1::GetStatsResponse* resp) {
  absl::StatusOr<vector::VectorIndexStats> stats =
      indexes_->Stats(ctx.principal().tenant, req.index_name());
  if (absl::IsNotFound(stats.status())) {
    resp->set_error(std::string(stats.status().message()));
    return grpc::Status::OK;
  }
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  v1::IndexStats* out = resp->mutable_stats();
  out->set_num_vectors(stats->num_vectors);
  out->set_dimension(stats->dimension);
  out->set_max_layer(stats->max_layer);
  out->set_memory_bytes(stats->memory_bytes);
  out->set_avg_connections(stats->avg_connections);
  return grpc::Status::OK;
}

grpc::Status VectorIndexService::HealthCheck(CallContext& ctx, const v1::HealthCheckRequest& req,
                                             v1::HealthCheckResponse* resp) {
  // Index names are never listed: that would show one tenant's inventory to another.
  resp->set_status(v1::HealthCheckResponse::SERVING);
  resp->set_version(kProtocolVersion);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
