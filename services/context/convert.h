// Proto <-> engine conversions for ContextService and ContextExtensionService: the context
// query (its enum fields checked: a number no enum names is INVALID_ARGUMENT naming the field),
// its answer, episodes both ways, and what the governance step sees of each call.
#ifndef SOCHDB_SERVICES_CONTEXT_CONVERT_H_
#define SOCHDB_SERVICES_CONTEXT_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "engine/context/context_query.h"
#include "engine/governance/governance.h"
#include "engine/memory/memory_store.h"
#include "server/rpc/call_context.h"
#include "sochdb/v1/context.pb.h"
#include "sochdb/v1/context_extension.pb.h"

namespace sochdb::services::context_convert {

// INVALID_ARGUMENT "format 9 is not a known OutputFormat" (and the same for section_type and
// truncation).
absl::StatusOr<context::OutputFormat> ToFormat(v1::OutputFormat format);
absl::StatusOr<context::ContextRequest> ToContextRequest(const v1::ContextQueryRequest& req);
void FillAnswer(context::ContextAnswer answer, v1::ContextQueryResponse* out);

memory::EpisodeWrite ToEpisodeWrite(const v1::WriteEpisodeRequest& req);
void FillEpisode(memory::Episode episode, bool with_embedding, v1::Episode* out);

// What the governance step sees. A context query: one scope per section that touches data
// (context_query.h AccessOf) — memory reads and writes as the service "context" with the
// prefix "" (any episode), KV reads as the service "kv" with their key or prefix, so a rule on
// a KV key binds a context query that would read it. Episode calls: the episode's id as its
// key; a WriteEpisode, whose id is not known yet, the prefix "".
void QueryScopes(const v1::ContextQueryRequest& req, std::vector<server::Scope>* scopes);
template <class Req>
void EpisodeIdSubject(const Req& req, governance::KeyList* keys) {
  keys->AddComposed(std::to_string(req.episode_id()));
}
template <class Req>
void AnyEpisodeSubject(const Req& req, governance::KeyList* keys) {
  keys->AddPrefix("");
}

}  // namespace sochdb::services::context_convert

#endif  // SOCHDB_SERVICES_CONTEXT_CONVERT_H_
