// sochdb.v1.ContextExtensionService (our addition): one episode by id, a namespace's episodes
// page by page, and deletion, over the same agent memory and rules as ContextService. A missing
// episode is found=false (GetEpisode) or success=false with `error` (DeleteEpisode), as the
// upstream services answer not-found; bad input is INVALID_ARGUMENT naming the field.
#ifndef SOCHDB_SERVICES_CONTEXT_CONTEXT_EXTENSION_SERVICE_H_
#define SOCHDB_SERVICES_CONTEXT_CONTEXT_EXTENSION_SERVICE_H_

#include "engine/memory/memory_store.h"
#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/context_extension.grpc.pb.h"

namespace sochdb::services {

// ListEpisodesRequest.limit: 0 means the default; more than the maximum is INVALID_ARGUMENT.
inline constexpr uint32_t kDefaultEpisodePage = 100;
inline constexpr uint32_t kMaxEpisodePage = 1000;

class ContextExtensionService {
 public:
  // `memory` is not owned and must outlive the server.
  explicit ContextExtensionService(memory::MemoryStore* memory);

  void Register(server::GrpcServer& server);

 private:
  using CallContext = server::CallContext;

  grpc::Status GetEpisode(CallContext& ctx, const v1::GetEpisodeRequest& req,
                          v1::GetEpisodeResponse* resp);
  grpc::Status ListEpisodes(CallContext& ctx, const v1::ListEpisodesRequest& req,
                            v1::ListEpisodesResponse* resp);
  grpc::Status DeleteEpisode(CallContext& ctx, const v1::DeleteEpisodeRequest& req,
                             v1::DeleteEpisodeResponse* resp);

  memory::MemoryStore* const memory_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CONTEXT_CONTEXT_EXTENSION_SERVICE_H_
