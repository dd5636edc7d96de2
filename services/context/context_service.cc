#include "services/context/context_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/context/format_context.h"
#include "nlohmann/json.hpp"
#include "server/rpc/status.h"
#include "services/context/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;
namespace convert = context_convert;

grpc::Status CheckSize(std::string_view field, size_t size) {
  if (size <= kMaxTokenizedBytes) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(AbslView(field), " is ", size, " bytes; the limit is ",
                                   kMaxTokenizedBytes, " bytes"));
}

// Upstream's text for metadata that does not parse, with nlohmann's reason.
std::string MetadataError(const std::string& metadata_json) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(metadata_json);
  } catch (const nlohmann::json::exception& e) {
    return absl::StrCat("invalid metadata_json: ", e.what());
  }
  return "";
}

// The KV values a context query renders pass the redaction a KV Get of them would: the
// redactor of the scope (one per section, CallContext::AdmitScopes) that read that namespace
// as the service "kv".
context::ValueRedaction KvRedaction(const governance::Admission* admission) {
  if (admission == nullptr) return nullptr;
  std::vector<const governance::Redactor*> redactors;
  const auto add = [&redactors](const governance::Admission& a) {
    if (a.redactor.active() && a.redactor.service() == "kv") redactors.push_back(&a.redactor);
  };
  add(*admission);
  for (const governance::Admission& scope : admission->scopes) add(scope);
  if (redactors.empty()) return nullptr;
  return [redactors](std::string_view ns, std::string_view key, std::string* value) {
    for (const governance::Redactor* redactor : redactors) {
      if (redactor->ns() == ns) {
        redactor->Apply(key, value);
        return;
      }
    }
  };
}

}  // namespace

ContextService::ContextService(memory::MemoryStore* memory, kv::KvStore* kv,
                               absl::StatusOr<const context::Tokenizers*> tokenizers)
    : memory_(memory), kv_(kv), tokenizers_(std::move(tokenizers)) {}

void ContextService::Register(server::GrpcServer& server) {
  // A query reads (and may write, for ingest sections) several namespaces and counts tokens
  // over the whole context: the long lane. Token counting and formatting take up to 16 MiB of
  // CPU work: the long lane too. A WriteEpisode waits for its sync: the pool.
  constexpr Execution kPool = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::ContextService>();
  r.Unary("Query",
          {Capability::kRead, server::ScopesOf<v1::ContextQueryRequest>{&convert::QueryScopes},
           kLong},
          this, &ContextService::Query);
  r.Unary("WriteEpisode",
          {Capability::kWrite, Access::kWrite, &v1::WriteEpisodeRequest::namespace_,
           &convert::AnyEpisodeSubject<v1::WriteEpisodeRequest>, kPool},
          this, &ContextService::WriteEpisode);
  r.Unary("EstimateTokens", {Capability::kRead, nullptr, kLong}, this,
          &ContextService::EstimateTokens);
  r.Unary("FormatContext", {Capability::kRead, nullptr, kLong}, this,
          &ContextService::FormatContext);
}

grpc::Status ContextService::Query(CallContext& ctx, const v1::ContextQueryRequest& req,
                                   v1::ContextQueryResponse* resp) {
  if (!tokenizers_.ok()) return ToGrpcStatus(tokenizers_.status());
  absl::StatusOr<context::ContextRequest> request = convert::ToContextRequest(req);
  if (!request.ok()) return ToGrpcStatus(request.status());
  request->redact_value = KvRedaction(ctx.admission());
  const context::ContextAssembler assembler(memory_, kv_, *tokenizers_);
  absl::StatusOr<context::ContextAnswer> answer = assembler.Assemble(*request);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  convert::FillAnswer(*std::move(answer), resp);
  return grpc::Status::OK;
}

grpc::Status ContextService::WriteEpisode(CallContext& ctx, const v1::WriteEpisodeRequest& req,
                                          v1::WriteEpisodeResponse* resp) {
  if (req.text().empty()) {
    resp->set_error("text must not be empty");
    return grpc::Status::OK;
  }
  if (!req.metadata_json().empty()) {
    if (std::string error = MetadataError(req.metadata_json()); !error.empty()) {
      resp->set_error(std::move(error));
      return grpc::Status::OK;
    }
  }
  absl::StatusOr<memory::WrittenEpisode> written =
      memory_->WriteEpisode(req.namespace_(), convert::ToEpisodeWrite(req));
  if (!written.ok()) return ToGrpcStatus(written.status());
  resp->set_episode_id(written->id);
  resp->set_t_created(written->t_created_ms);
  resp->set_lexical_indexed(true);  // the postings commit with the episode
  resp->set_ingestion_lag_us(written->ingestion_lag_us);
  resp->set_enrichment_queued(false);  // nothing runs later: every lane is written at once
  return grpc::Status::OK;
}

grpc::Status ContextService::EstimateTokens(CallContext& ctx,
                                            const v1::EstimateTokensRequest& req,
                                            v1::EstimateTokensResponse* resp) {
  if (!tokenizers_.ok()) return ToGrpcStatus(tokenizers_.status());
  if (grpc::Status s = CheckSize("content", req.content().size()); !s.ok()) return s;
  resp->set_token_count(
      static_cast<uint32_t>((*tokenizers_)->ForModel(req.model()).Count(req.content())));
  return grpc::Status::OK;
}

grpc::Status ContextService::FormatContext(CallContext& ctx, const v1::FormatContextRequest& req,
                                           v1::FormatContextResponse* resp) {
  if (grpc::Status s = CheckSize("content", req.content().size()); !s.ok()) return s;
  absl::StatusOr<context::OutputFormat> format = convert::ToFormat(req.format());
  if (!format.ok()) return ToGrpcStatus(format.status());
  absl::StatusOr<std::string> formatted = context::FormatContent(req.content(), *format);
  if (!formatted.ok()) return ToGrpcStatus(formatted.status());
  resp->set_formatted(*std::move(formatted));
  return grpc::Status::OK;
}

}  // namespace sochdb::services
