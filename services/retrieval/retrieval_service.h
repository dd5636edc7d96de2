// sochdb.v1.RetrievalService (retrieval protocol v2: BindIndex, Retrieve, Ingest) and
// RetrievalExtensionService (our addition: MintToken) over the engine's RetrievalStore. The
// protocol's checks, their order and their status codes are the engine's
// (engine/retrieval/retrieval_store.h); handlers convert and fill.
//
// Error channels follow upstream (../shared/UPSTREAM.md §1.2): BindIndex's refusals (no or zero
// object id, unknown index, id bound to another index) are an OK response with `error` set;
// Retrieve and Ingest fail with status codes only.
#ifndef SOCHDB_SERVICES_RETRIEVAL_RETRIEVAL_SERVICE_H_
#define SOCHDB_SERVICES_RETRIEVAL_RETRIEVAL_SERVICE_H_

#include "engine/retrieval/retrieval_store.h"
#include "engine/vector/vector_index_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/retrieval.grpc.pb.h"
#include "sochdb/v1/retrieval_extension.grpc.pb.h"

namespace sochdb::services {

// The longest policy_scope_digest a token may carry (it is echoed in error texts).
inline constexpr size_t kMaxPolicyScopeDigestBytes = 1024;
// MintToken's lifetime when the request gives none.
inline constexpr uint64_t kDefaultTokenTtlMs = 60'000;

class RetrievalService {
 public:
  // `retrieval` is not owned and must outlive the server.
  explicit RetrievalService(retrieval::RetrievalStore* retrieval);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status BindIndex(CallContext& ctx, const v1::BindIndexRequest& req,
                         v1::BindIndexResponse* resp);
  grpc::Status Retrieve(CallContext& ctx, const v1::RetrievalRequest& req,
                        v1::RetrievalResponse* resp);
  grpc::Status Ingest(CallContext& ctx, const v1::RetrievalIngestRequest& req,
                      v1::RetrievalIngestResponse* resp);

  retrieval::RetrievalStore* const retrieval_;
};

class RetrievalExtensionService {
 public:
  // Pointers are not owned and must outlive the server.
  RetrievalExtensionService(const retrieval::TokenSigner* signer,
                            const vector::VectorIndexStore* indexes);

  void Register(server::GrpcServer& server);

 private:
  grpc::Status MintToken(server::CallContext& ctx, const v1::MintTokenRequest& req,
                         v1::MintTokenResponse* resp);

  const retrieval::TokenSigner* const signer_;
  const vector::VectorIndexStore* const indexes_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_RETRIEVAL_RETRIEVAL_SERVICE_H_
