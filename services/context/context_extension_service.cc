#include "services/context/context_extension_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/rpc/status.h"
#include "services/common/error_field.h"
#include "services/context/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = context_convert;

}  // namespace

ContextExtensionService::ContextExtensionService(memory::MemoryStore* memory) : memory_(memory) {}

void ContextExtensionService::Register(server::GrpcServer& server) {
  // GetEpisode is one read: inline. A page is up to 1,000 episodes with their embeddings, and
  // a delete waits for its sync: the pool.
  constexpr Execution kPool = Execution::kWorkerPool;
  auto r = server.AddService<v1::ContextExtensionService>();
  r.Unary("GetEpisode",
          {Capability::kRead, Access::kRead, &v1::GetEpisodeRequest::namespace_,
           &convert::EpisodeIdSubject<v1::GetEpisodeRequest>},
          this, &ContextExtensionService::GetEpisode);
  r.Unary("ListEpisodes",
          {Capability::kRead, Access::kRead, &v1::ListEpisodesRequest::namespace_,
           &convert::AnyEpisodeSubject<v1::ListEpisodesRequest>, kPool},
          this, &ContextExtensionService::ListEpisodes);
  r.Unary("DeleteEpisode",
          {Capability::kWrite, Access::kDelete, &v1::DeleteEpisodeRequest::namespace_,
           &convert::EpisodeIdSubject<v1::DeleteEpisodeRequest>, kPool},
          this, &ContextExtensionService::DeleteEpisode);
}

grpc::Status ContextExtensionService::GetEpisode(CallContext& ctx,
                                                 const v1::GetEpisodeRequest& req,
                                                 v1::GetEpisodeResponse* resp) {
  absl::StatusOr<memory::Episode> episode = memory_->GetEpisode(req.namespace_(), req.episode_id());
  if (absl::IsNotFound(episode.status())) return grpc::Status::OK;  // found = false
  if (!episode.ok()) return ToGrpcStatus(episode.status());
  resp->set_found(true);
  convert::FillEpisode(*std::move(episode), /*with_embedding=*/true, resp->mutable_episode());
  return grpc::Status::OK;
}

grpc::Status ContextExtensionService::ListEpisodes(CallContext& ctx,
                                                   const v1::ListEpisodesRequest& req,
                                                   v1::ListEpisodesResponse* resp) {
  if (req.limit() > kMaxEpisodePage) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("limit is ", req.limit(), "; the limit is ",
                                     kMaxEpisodePage));
  }
  const uint32_t limit = req.limit() == 0 ? kDefaultEpisodePage : req.limit();
  absl::StatusOr<memory::EpisodePage> page =
      memory_->ListEpisodes(req.namespace_(), req.after_id(), limit);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (memory::Episode& episode : page->episodes) {
    convert::FillEpisode(std::move(episode), !req.without_embeddings(), resp->add_episodes());
  }
  resp->set_next_after_id(page->next_after_id);
  return grpc::Status::OK;
}

grpc::Status ContextExtensionService::DeleteEpisode(CallContext& ctx,
                                                    const v1::DeleteEpisodeRequest& req,
                                                    v1::DeleteEpisodeResponse* resp) {
  absl::Status deleted = memory_->DeleteEpisode(req.namespace_(), req.episode_id());
  if (ReportInErrorField(deleted, resp)) return grpc::Status::OK;
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  resp->set_success(true);
  return grpc::Status::OK;
}

}  // namespace sochdb::services
