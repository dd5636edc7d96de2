// Proto <-> engine conversions for CollectionService and CollectionDocumentService.
#ifndef SOCHDB_SERVICES_COLLECTION_CONVERT_H_
#define SOCHDB_SERVICES_COLLECTION_CONVERT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/collection/collection_store.h"
#include "engine/governance/governance.h"
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

// What policies see of a call (governance::KeyList). A collection is the key "<name>"; its
// documents are "<collection>/<id>"; a document whose id the server generates, a search, a count
// or a drop may reach any document: the prefix "<collection>/" (a rule applies when it may match
// some key under it, so no generated id can escape a rule such as "kb/?*").
void DropSubjects(const v1::DeleteCollectionRequest& req, governance::KeyList* keys);
void AddSubjects(const v1::AddDocumentsRequest& req, governance::KeyList* keys);
// A request that reaches every document of its collection (a search, a count).
template <class Req>
void AllDocumentsSubject(const Req& req, governance::KeyList* keys) {
  keys->AddComposed(absl::StrCat(req.collection_name(), "/"), /*prefix=*/true);
}
template <class Req>
void DocumentSubject(const Req& req, governance::KeyList* keys) {
  keys->AddComposed(absl::StrCat(req.collection_name(), "/", req.document_id()));
}

// Redaction (governance::Redactor) of the content of the documents a read returns, each under
// its key "<collection>/<id>".
void RedactGetDocument(const v1::GetDocumentRequest& req, google::protobuf::Message* resp,
                       const governance::Redactor& redactor);
void RedactSearch(const v1::SearchCollectionRequest& req, google::protobuf::Message* resp,
                  const governance::Redactor& redactor);

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m);

}  // namespace sochdb::services::collection_convert

#endif  // SOCHDB_SERVICES_COLLECTION_CONVERT_H_
