// Proto <-> engine conversions for VectorIndexService: index definitions, metadata, search
// options and the search response (grouping info, diagnostics, per-result metric labels).
#ifndef SOCHDB_SERVICES_VECTOR_CONVERT_H_
#define SOCHDB_SERVICES_VECTOR_CONVERT_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/governance/governance.h"
#include "engine/vector/vector_index_store.h"
#include "sochdb/v1/vector_index.pb.h"

namespace sochdb::services::vector_convert {

// The engine definition for a CreateIndex request (tenant from the caller). INVALID_ARGUMENT
// for an unknown metric or quantization value.
absl::StatusOr<vector::VectorIndexDefinition> ToDefinition(const v1::CreateIndexRequest& req,
                                                           std::string_view tenant);
void FillIndexInfo(const vector::VectorIndexDefinition& d, v1::IndexInfo* info);

std::vector<vector::VectorMetadata> ToMetadata(
    const google::protobuf::RepeatedPtrField<v1::VectorMetadata>& metadata);

vector::VectorSearchOptions ToSearchOptions(uint32_t k, uint32_t ef,
                                            const v1::GroupingOptions* grouping);
bool GroupingActive(const v1::GroupingOptions* grouping);

// What policies see of a call (governance::KeyList): an index is the key "<name>", its vectors
// "<name>/<id>" (decimal); a search or a drop reaches them all, the prefix "<name>/".
void DropSubjects(const v1::DropIndexRequest& req, governance::KeyList* keys);
void InsertBatchSubjects(const v1::InsertBatchRequest& req, governance::KeyList* keys);
void InsertStreamSubjects(const v1::InsertStreamRequest& req, governance::KeyList* keys);
// An InsertStream names its index in its first message; later ones may leave it out and write
// the stream's index (insert_stream.h). Fills a message's empty index_name from the stream's,
// so that policies check it under its real key.
void CarryIndexName(v1::InsertStreamRequest* message, v1::InsertStreamRequest* stream);
template <class Req>
void IndexPrefixSubject(const Req& req, governance::KeyList* keys) {
  keys->AddComposed(absl::StrCat(req.index_name(), "/"), /*prefix=*/true);
}

// "cosine" | "euclidean" | "dot_product" | "unspecified", from the metric the client asked for.
std::string_view MetricLabel(int32_t metric_code);

// Fills results (+ grouping info and diagnostics when asked) of one query's outcome.
void FillResults(const vector::VectorSearchOutcome& outcome, uint32_t k, int32_t metric_code,
                 const v1::GroupingOptions* grouping, bool diagnostics,
                 google::protobuf::RepeatedPtrField<v1::SearchResult>* results,
                 v1::GroupingInfo* grouping_info, v1::SearchDiagnostics* diag);

}  // namespace sochdb::services::vector_convert

#endif  // SOCHDB_SERVICES_VECTOR_CONVERT_H_
