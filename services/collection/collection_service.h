// sochdb.v1.CollectionService (the upstream eight RPCs) and sochdb.v1.CollectionDocumentService
// (our additions: UpdateDocumentMetadata, CountDocuments) over the engine's CollectionStore.
// Namespaces are checked by the call layer against the caller's tenant (ListCollections, whose
// namespace is optional, in its handler); "not found" and "already
// exists" go in the `error` field as upstream does, bad arguments are status codes.
#ifndef SOCHDB_SERVICES_COLLECTION_COLLECTION_SERVICE_H_
#define SOCHDB_SERVICES_COLLECTION_COLLECTION_SERVICE_H_

#include "engine/collection/collection_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/collection.grpc.pb.h"
#include "sochdb/v1/collection_document.grpc.pb.h"

namespace sochdb::services {

class CollectionService {
 public:
  // `collections` is not owned and must outlive the server.
  explicit CollectionService(collection::CollectionStore* collections);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status CreateCollection(CallContext& ctx, const v1::CreateCollectionRequest& req,
                                v1::CreateCollectionResponse* resp);
  grpc::Status GetCollection(CallContext& ctx, const v1::GetCollectionRequest& req,
                             v1::GetCollectionResponse* resp);
  grpc::Status ListCollections(CallContext& ctx, const v1::ListCollectionsRequest& req,
                               v1::ListCollectionsResponse* resp);
  grpc::Status DeleteCollection(CallContext& ctx, const v1::DeleteCollectionRequest& req,
                                v1::DeleteCollectionResponse* resp);
  grpc::Status AddDocuments(CallContext& ctx, const v1::AddDocumentsRequest& req,
                            v1::AddDocumentsResponse* resp);
  grpc::Status SearchCollection(CallContext& ctx, const v1::SearchCollectionRequest& req,
                                v1::SearchCollectionResponse* resp);
  grpc::Status GetDocument(CallContext& ctx, const v1::GetDocumentRequest& req,
                           v1::GetDocumentResponse* resp);
  grpc::Status DeleteDocument(CallContext& ctx, const v1::DeleteDocumentRequest& req,
                              v1::DeleteDocumentResponse* resp);
  grpc::Status UpdateDocumentMetadata(CallContext& ctx,
                                      const v1::UpdateDocumentMetadataRequest& req,
                                      v1::UpdateDocumentMetadataResponse* resp);
  grpc::Status CountDocuments(CallContext& ctx, const v1::CountDocumentsRequest& req,
                              v1::CountDocumentsResponse* resp);

  collection::CollectionStore* const collections_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_COLLECTION_COLLECTION_SERVICE_H_
