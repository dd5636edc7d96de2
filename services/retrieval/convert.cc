#include "services/retrieval/convert.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sochdb::services::retrieval_convert {
namespace {

template <class Req>
retrieval::RequestEnvelope ToEnvelope(const Req& req) {
  retrieval::RequestEnvelope e;
  if (req.has_contract_version()) {
    e.contract = std::make_pair(req.contract_version().major(), req.contract_version().minor());
  }
  e.deadline_unix_ms = req.deadline_unix_ms();
  if (req.has_index_object_id()) e.index_object_id = ToId(req.index_object_id());
  if (req.has_capability()) e.capability = ToToken(req.capability());
  e.policy_scope_digest = req.policy_scope_digest();
  return e;
}

}  // namespace

retrieval::Id128 ToId(const v1::Uint128& id) { return retrieval::Id128{id.high(), id.low()}; }

void FillId(const retrieval::Id128& id, v1::Uint128* out) {
  out->set_high(id.high);
  out->set_low(id.low);
}

retrieval::CapabilityToken ToToken(const v1::RetrievalCapabilityToken& token) {
  return retrieval::CapabilityToken{token.index_key(),           token.tenant_id(),
                                    token.expires_at_unix_ms(),  token.policy_scope_digest(),
                                    static_cast<int32_t>(token.operation()), token.signature()};
}

void FillToken(const retrieval::CapabilityToken& token, v1::RetrievalCapabilityToken* out) {
  out->set_index_key(token.index_key);
  out->set_tenant_id(token.tenant);
  out->set_expires_at_unix_ms(token.expires_at_unix_ms);
  out->set_policy_scope_digest(token.policy_scope_digest);
  out->set_operation(static_cast<v1::RetrievalOperation>(token.operation));
  out->set_signature(token.signature);
}

retrieval::RetrieveRequest ToRetrieveRequest(const v1::RetrievalRequest& req) {
  retrieval::RetrieveRequest r;
  r.envelope = ToEnvelope(req);
  r.required_generation = req.required_index_generation();
  r.source_snapshot_id = req.source_snapshot_id();
  r.query = absl::MakeConstSpan(req.query_vectors().data(), req.query_vectors_size());
  r.top_k = req.top_k();
  r.candidate_budget = req.candidate_budget();
  return r;
}

retrieval::IngestRequest ToIngestRequest(const v1::RetrievalIngestRequest& req) {
  retrieval::IngestRequest r;
  r.envelope = ToEnvelope(req);
  r.index_generation = req.index_generation();
  r.source_snapshot_id = req.source_snapshot_id();
  r.batch_sequence = req.batch_sequence();
  r.ids.reserve(req.ids_size());
  for (const v1::Uint128& id : req.ids()) r.ids.push_back(ToId(id));
  r.vectors = absl::MakeConstSpan(req.vectors().data(), req.vectors_size());
  return r;
}

void FillRetrieveResponse(const v1::RetrievalRequest& req, const retrieval::RetrieveResult& r,
                          v1::RetrievalResponse* resp) {
  resp->set_index_generation(r.generation);
  resp->set_searchable_watermark(r.generation);
  resp->set_source_snapshot_id(req.source_snapshot_id());
  for (const auto& [id, distance] : r.candidates) {
    v1::RetrievalCandidate* c = resp->add_candidates();
    FillId(id, c->mutable_id());
    c->set_distance(distance);
  }
  // HNSW is approximate: saying otherwise would let a caller present the answer as exhaustive.
  resp->set_approximate(true);
  resp->set_recall_configuration(absl::StrCat("hnsw;candidate_budget=", r.budget));
  v1::RetrievalStage* search = resp->add_stages();
  search->set_name("hnsw_search");
  search->set_duration_us(r.search_us);
  search->set_candidates_out(r.searched);
  v1::RetrievalStage* top_k = resp->add_stages();
  top_k->set_name("top_k");
  top_k->set_candidates_in(r.searched);
  top_k->set_candidates_out(static_cast<uint32_t>(r.candidates.size()));
  for (const std::string& w : r.warnings) resp->add_warnings(w);
  resp->set_evidence_digest(r.evidence_digest);
  resp->set_query_id(req.query_id());
}

std::string GrantedIndexName(bool has_token, const v1::RetrievalCapabilityToken& token) {
  if (!has_token) return "";
  const std::string prefix = absl::StrCat(token.tenant_id(), ":");
  if (!absl::StartsWith(token.index_key(), prefix)) return token.index_key();
  return token.index_key().substr(prefix.size());
}

void RetrieveSubjects(const v1::RetrievalRequest& req, governance::KeyList* keys) {
  keys->AddComposed(absl::StrCat(GrantedIndexName(req.has_capability(), req.capability()), "/"),
                    /*prefix=*/true);
}

void IngestSubjects(const v1::RetrievalIngestRequest& req, governance::KeyList* keys) {
  const std::string name = GrantedIndexName(req.has_capability(), req.capability());
  for (const v1::Uint128& id : req.ids()) {
    // A 128-bit id is refused by the engine; its key still names it whole.
    keys->AddComposed(id.high() == 0
                          ? absl::StrCat(name, "/", id.low())
                          : absl::StrFormat("%s/0x%016x%016x", name, id.high(), id.low()));
  }
}

}  // namespace sochdb::services::retrieval_convert
