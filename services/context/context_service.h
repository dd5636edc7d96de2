// sochdb.v1.ContextService over the engine's agent memory (engine/memory), context assembler
// and tokenizers (engine/context). Each handler converts the request (convert.h), calls the
// engine and fills the response; authorization, the namespace rule and policies run in the
// call layer — for Query, once per section namespace, all before any section is read.
//
// Error channels follow upstream (../shared/UPSTREAM.md §1.5): WriteEpisode answers an empty
// text ("text must not be empty") and bad metadata_json ("invalid metadata_json: <why>") in its
// `error` field; everything else is a status: INVALID_ARGUMENT naming the field and the limit,
// UNIMPLEMENTED for SELECT sections, OUT_OF_RANGE for a STRICT query over its budget,
// FAILED_PRECONDITION when the server started without its tokenizer tables (--tokenizer-dir).
#ifndef SOCHDB_SERVICES_CONTEXT_CONTEXT_SERVICE_H_
#define SOCHDB_SERVICES_CONTEXT_CONTEXT_SERVICE_H_

#include "absl/status/statusor.h"
#include "engine/context/context_query.h"
#include "engine/context/tokenizer/tokenizers.h"
#include "engine/kv/kv_store.h"
#include "engine/memory/memory_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/context.grpc.pb.h"

namespace sochdb::services {

// Largest content EstimateTokens and FormatContext take.
inline constexpr size_t kMaxTokenizedBytes = 16u << 20;

class ContextService {
 public:
  // Not owned; must outlive the server. `tokenizers` holds the tables' load error when they
  // were not found: the token-counting calls then answer FAILED_PRECONDITION with it.
  ContextService(memory::MemoryStore* memory, kv::KvStore* kv,
                 absl::StatusOr<const context::Tokenizers*> tokenizers);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status Query(CallContext& ctx, const v1::ContextQueryRequest& req,
                     v1::ContextQueryResponse* resp);
  grpc::Status WriteEpisode(CallContext& ctx, const v1::WriteEpisodeRequest& req,
                            v1::WriteEpisodeResponse* resp);
  grpc::Status EstimateTokens(CallContext& ctx, const v1::EstimateTokensRequest& req,
                              v1::EstimateTokensResponse* resp);
  grpc::Status FormatContext(CallContext& ctx, const v1::FormatContextRequest& req,
                             v1::FormatContextResponse* resp);

  memory::MemoryStore* const memory_;
  kv::KvStore* const kv_;
  const absl::StatusOr<const context::Tokenizers*> tokenizers_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CONTEXT_CONTEXT_SERVICE_H_
