// Proto <-> engine conversions for RetrievalService and RetrievalExtensionService, and the keys
// policies see for their calls. Indexes belong to the caller's tenant, as in VectorIndexService:
// an index is the key "<name>", its vectors "<name>/<id>". A v2 request names its index only
// through its object id and its capability token; the governance step runs before the handler
// resolves the binding, so it sees the name the token grants (index_key "<tenant>:<name>"), and
// the engine then refuses any token whose index_key is not the bound index: a call that passes
// touches exactly the index its policies were checked for.
#ifndef SOCHDB_SERVICES_RETRIEVAL_CONVERT_H_
#define SOCHDB_SERVICES_RETRIEVAL_CONVERT_H_

#include <string>

#include "engine/governance/governance.h"
#include "engine/retrieval/retrieval_store.h"
#include "sochdb/v1/retrieval.pb.h"
#include "sochdb/v1/retrieval_extension.pb.h"

namespace sochdb::services::retrieval_convert {

retrieval::Id128 ToId(const v1::Uint128& id);
void FillId(const retrieval::Id128& id, v1::Uint128* out);
retrieval::CapabilityToken ToToken(const v1::RetrievalCapabilityToken& token);
void FillToken(const retrieval::CapabilityToken& token, v1::RetrievalCapabilityToken* out);

retrieval::RetrieveRequest ToRetrieveRequest(const v1::RetrievalRequest& req);
retrieval::IngestRequest ToIngestRequest(const v1::RetrievalIngestRequest& req);
void FillRetrieveResponse(const v1::RetrievalRequest& req, const retrieval::RetrieveResult& r,
                          v1::RetrievalResponse* resp);

// The index name a token grants ("" without a token), for policies.
std::string GrantedIndexName(bool has_token, const v1::RetrievalCapabilityToken& token);
void RetrieveSubjects(const v1::RetrievalRequest& req, governance::KeyList* keys);
void IngestSubjects(const v1::RetrievalIngestRequest& req, governance::KeyList* keys);

}  // namespace sochdb::services::retrieval_convert

#endif  // SOCHDB_SERVICES_RETRIEVAL_CONVERT_H_
