// Proto <-> engine conversions for CollectionService and CollectionDocumentService.
#ifndef SOCHDB_SERVICES_COLLECTION_CONVERT_H_
#define SOCHDB_SERVICES_COLLECTION_CONVERT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/collection/collection_store.h"
#include "sochdb/v1/collection.pb.h"
#include "sochdb/v1/collection_document.pb.h"

namespace sochdb::services::collection_convert {

absl::StatusOr<collection::CollectionDefinition> ToDefinition(
    const v1::CreateCollectionRequest& req);
void FillCollection(const collection::CollectionInfo& info, v1::Collection* out);

std::vector<collection::Document> ToDocuments(
    const google::protobuf::RepeatedPtrField<v1::Document>& documents);
void FillDocument(const collection::Document& doc, bool with_embeddings, v1::Document* out);

// The query of a SearchCollection request: exact-match `filter` and `filter_json` combined
// (INVALID_ARGUMENT for a bad JSON filter), and every extension field.
absl::StatusOr<collection::SearchQuery> ToQuery(const v1::SearchCollectionRequest& req);

// The filter of a CountDocuments request.
absl::StatusOr<filter::MetadataFilter> ToFilter(
    const google::protobuf::Map<std::string, std::string>& exact, const std::string& json);

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m);

}  // namespace sochdb::services::collection_convert

#endif  // SOCHDB_SERVICES_COLLECTION_CONVERT_H_
