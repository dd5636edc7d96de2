#include "services/collection/collection_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "engine/common/answer_budget.h"
#include "server/rpc/status.h"
#include "services/collection/convert.h"
#include "services/common/error_field.h"
#include "services/common/encoded_size.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = collection_convert;

}  // namespace

CollectionService::CollectionService(collection::CollectionStore* collections)
    : collections_(collections) {}

void CollectionService::Register(server::GrpcServer& server) {
  // Single writes wait for a sync: the pool. Searches, counts, batches of documents and
  // collection drops can take seconds: its long lane, so that single writes never wait
  // behind them.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::CollectionService>();
  r.Unary("CreateCollection",
          {Capability::kManageCollections, Access::kWrite,
           &v1::CreateCollectionRequest::namespace_, &v1::CreateCollectionRequest::name, kPool},
          this, &CollectionService::CreateCollection);
  r.Unary("GetCollection", {Capability::kRead, Access::kRead,
                            &v1::GetCollectionRequest::namespace_, &v1::GetCollectionRequest::name},
          this, &CollectionService::GetCollection);
  // An empty namespace lists the caller's own namespaces: checked in the handler.
  r.Unary("ListCollections", {Capability::kRead}, this, &CollectionService::ListCollections);
  r.Unary("DeleteCollection",
          {Capability::kManageCollections, Access::kDelete,
           &v1::DeleteCollectionRequest::namespace_, &convert::DropSubjects, kLong},
          this, &CollectionService::DeleteCollection);
  r.Unary("AddDocuments", {Capability::kWrite, Access::kWrite,
                           &v1::AddDocumentsRequest::namespace_, &convert::AddSubjects, kLong},
          this, &CollectionService::AddDocuments);
  // Searches rank over the whole collection and read their winners from storage: the pool.
  r.Unary("SearchCollection",
          {Capability::kRead, Access::kRead, &v1::SearchCollectionRequest::namespace_,
           &convert::AllDocumentsSubject<v1::SearchCollectionRequest>, kLong,
           &convert::RedactSearch},
          this, &CollectionService::SearchCollection);
  r.Unary("GetDocument", {Capability::kRead, Access::kRead, &v1::GetDocumentRequest::namespace_,
                          &convert::DocumentSubject<v1::GetDocumentRequest>, Execution::kInline,
                          &convert::RedactGetDocument},
          this, &CollectionService::GetDocument);
  r.Unary("DeleteDocument",
          {Capability::kWrite, Access::kDelete, &v1::DeleteDocumentRequest::namespace_,
           &convert::DocumentSubject<v1::DeleteDocumentRequest>, kPool},
          this, &CollectionService::DeleteDocument);

  auto d = server.AddService<v1::CollectionDocumentService>();
  d.Unary("UpdateDocumentMetadata",
          {Capability::kWrite, Access::kWrite, &v1::UpdateDocumentMetadataRequest::namespace_,
           &convert::DocumentSubject<v1::UpdateDocumentMetadataRequest>, kPool},
          this, &CollectionService::UpdateDocumentMetadata);
  // A filtered count evaluates the filter on every document: the pool too.
  d.Unary("CountDocuments",
          {Capability::kRead, Access::kRead, &v1::CountDocumentsRequest::namespace_,
           &convert::AllDocumentsSubject<v1::CountDocumentsRequest>, kLong},
          this, &CollectionService::CountDocuments);
}

grpc::Status CollectionService::CreateCollection(CallContext& ctx,
                                                 const v1::CreateCollectionRequest& req,
                                                 v1::CreateCollectionResponse* resp) {
  absl::StatusOr<collection::CollectionDefinition> definition = convert::ToDefinition(req);
  if (!definition.ok()) return ToGrpcStatus(definition.status());
  absl::StatusOr<collection::CollectionInfo> created = collections_->Create(*definition);
  if (ReportInErrorField(created.status(), resp)) return grpc::Status::OK;
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_success(true);
  convert::FillCollection(*created, resp->mutable_collection());
  return grpc::Status::OK;
}

grpc::Status CollectionService::GetCollection(CallContext& ctx,
                                              const v1::GetCollectionRequest& req,
                                              v1::GetCollectionResponse* resp) {
  absl::StatusOr<collection::CollectionInfo> info =
      collections_->Get(req.namespace_(), req.name());
  if (ReportInErrorField(info.status(), resp)) return grpc::Status::OK;
  if (!info.ok()) return ToGrpcStatus(info.status());
  convert::FillCollection(*info, resp->mutable_collection());
  return grpc::Status::OK;
}

grpc::Status CollectionService::ListCollections(CallContext& ctx,
                                                const v1::ListCollectionsRequest& req,
                                                v1::ListCollectionsResponse* resp) {
  const std::string& ns = req.namespace_();
  if (!ns.empty()) {
    grpc::Status allowed = ctx.CheckNamespace(ns);
    if (!allowed.ok()) return allowed;
  }
  const auto include = [&](const std::string& candidate) {
    if (!ns.empty()) return candidate == ns;
    // Upstream lists every tenant's collections here; we list the namespaces the caller may use.
    return ctx.CheckNamespace(candidate).ok();
  };
  // Collections are many and each may carry 64 KiB of metadata: the list has a budget too.
  AnswerBudget budget =
      ctx.ResponseBudget("ListCollections answer", "list one namespace at a time");
  for (const collection::CollectionInfo& info : collections_->List(include)) {
    v1::Collection* out = resp->add_collections();
    convert::FillCollection(info, out);
    if (absl::Status s = budget.Charge(EncodedFieldBytes(*out)); !s.ok()) return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

grpc::Status CollectionService::DeleteCollection(CallContext& ctx,
                                                 const v1::DeleteCollectionRequest& req,
                                                 v1::DeleteCollectionResponse* resp) {
  absl::Status deleted = collections_->Delete(req.namespace_(), req.name());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status CollectionService::AddDocuments(CallContext& ctx,
                                             const v1::AddDocumentsRequest& req,
                                             v1::AddDocumentsResponse* resp) {
  absl::StatusOr<std::vector<std::string>> ids = collections_->AddDocuments(
      req.namespace_(), req.collection_name(), convert::ToDocuments(req.documents()));
  if (ReportInErrorField(ids.status(), resp)) return grpc::Status::OK;
  if (!ids.ok()) return ToGrpcStatus(ids.status());
  resp->set_added_count(static_cast<uint32_t>(ids->size()));
  for (std::string& id : *ids) resp->add_ids(std::move(id));
  return grpc::Status::OK;
}

grpc::Status CollectionService::SearchCollection(CallContext& ctx,
                                                 const v1::SearchCollectionRequest& req,
                                                 v1::SearchCollectionResponse* resp) {
  const absl::Time start = absl::Now();
  absl::StatusOr<collection::SearchQuery> query = convert::ToQuery(req);
  if (!query.ok()) return ToGrpcStatus(query.status());
  query->max_answer_bytes = ctx.response_budget_bytes();
  query->max_answer_setting = server::kResponseBudgetSetting;
  absl::StatusOr<std::vector<collection::ScoredDocument>> results =
      collections_->Search(req.namespace_(), req.collection_name(), *query);
  if (ReportInErrorField(results.status(), resp)) return grpc::Status::OK;
  if (!results.ok()) return ToGrpcStatus(results.status());
  for (const collection::ScoredDocument& r : *results) {
    v1::DocumentResult* out = resp->add_results();
    convert::FillDocument(r.document, query->include_embeddings, out->mutable_document());
    out->set_score(r.score);
  }
  resp->set_duration_us(static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)));
  return grpc::Status::OK;
}

grpc::Status CollectionService::GetDocument(CallContext& ctx, const v1::GetDocumentRequest& req,
                                            v1::GetDocumentResponse* resp) {
  absl::StatusOr<collection::Document> doc =
      collections_->GetDocument(req.namespace_(), req.collection_name(), req.document_id());
  if (ReportInErrorField(doc.status(), resp)) return grpc::Status::OK;
  if (!doc.ok()) return ToGrpcStatus(doc.status());
  convert::FillDocument(*doc, true, resp->mutable_document());
  // A document is at most ~2 MiB (content, metadata, 64 embeddings); this matters only for a
  // budget set lower.
  AnswerBudget budget = ctx.ResponseBudget(
      "GetDocument answer", "the document is larger than the server's answer budget");
  return ToGrpcStatus(budget.Charge(resp->ByteSizeLong()));
}

grpc::Status CollectionService::DeleteDocument(CallContext& ctx,
                                               const v1::DeleteDocumentRequest& req,
                                               v1::DeleteDocumentResponse* resp) {
  absl::Status deleted =
      collections_->DeleteDocument(req.namespace_(), req.collection_name(), req.document_id());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status CollectionService::UpdateDocumentMetadata(
    CallContext& ctx, const v1::UpdateDocumentMetadataRequest& req,
    v1::UpdateDocumentMetadataResponse* resp) {
  absl::Status updated = collections_->UpdateMetadata(req.namespace_(), req.collection_name(),
                                                      req.document_id(),
                                                      convert::ToMap(req.metadata()), req.merge());
  if (ReportInErrorField(updated, resp)) return grpc::Status::OK;
  if (!updated.ok()) return ToGrpcStatus(updated);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status CollectionService::CountDocuments(CallContext& ctx,
                                               const v1::CountDocumentsRequest& req,
                                               v1::CountDocumentsResponse* resp) {
  absl::StatusOr<filter::MetadataFilter> f = convert::ToFilter(req.filter(), req.filter_json());
  if (!f.ok()) return ToGrpcStatus(f.status());
  absl::StatusOr<uint64_t> count =
      collections_->Count(req.namespace_(), req.collection_name(), *f);
  if (ReportInErrorField(count.status(), resp)) return grpc::Status::OK;
  if (!count.ok()) return ToGrpcStatus(count.status());
  resp->set_count(*count);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
