// Proto <-> engine conversions for KvService, kept apart so each handler reads in a few lines.
// The engine types borrow from the request (string_views): they live as long as the request.
#ifndef SOCHDB_SERVICES_KV_CONVERT_H_
#define SOCHDB_SERVICES_KV_CONVERT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/governance/governance.h"
#include "engine/kv/kv_store.h"
#include "sochdb/v1/kv.pb.h"

namespace sochdb::services::kv_convert {

std::vector<kv::KvPutEntry> ToPutEntries(const v1::KvBatchPutRequest& req);
std::vector<std::string_view> ToKeys(const v1::KvBatchGetRequest& req);

// The bytes one entry of a KvBatchGetResponse takes on the wire: a key of `key_bytes` and, when
// found, the found flag and `value`, with the entry's own tag and length. The server's BatchGet
// budget counts these (KvLimits::batch_get_entry_bytes): counting only keys and values let an
// answer at exactly the budget pass gRPC's message limit by its framing when the two are equal.
size_t BatchGetEntryBytes(size_t key_bytes, const std::optional<std::string>& value);

// What policies see of a call (governance::KeyList): the keys it touches, and a scan reaches
// every key under its prefix.
void ScanSubjects(const v1::KvScanRequest& req, governance::KeyList* keys);
void BatchGetSubjects(const v1::KvBatchGetRequest& req, governance::KeyList* keys);
void BatchPutSubjects(const v1::KvBatchPutRequest& req, governance::KeyList* keys);

// Redaction (governance::Redactor) of the values each read returns.
void RedactGet(const v1::KvGetRequest& req, google::protobuf::Message* resp,
               const governance::Redactor& redactor);
void RedactBatchGet(const v1::KvBatchGetRequest& req, google::protobuf::Message* resp,
                    const governance::Redactor& redactor);
void RedactScan(const v1::KvScanRequest& req, google::protobuf::Message* resp,
                const governance::Redactor& redactor);

// Fills resp.entries in request order: key, value and found for each requested key.
void FillBatchGet(const v1::KvBatchGetRequest& req, std::vector<std::optional<std::string>> values,
                  v1::KvBatchGetResponse* resp);

}  // namespace sochdb::services::kv_convert

#endif  // SOCHDB_SERVICES_KV_CONVERT_H_
