#include "services/kv/convert.h"

#include <utility>

#include "google/protobuf/io/coded_stream.h"

namespace sochdb::services::kv_convert {

std::vector<kv::KvPutEntry> ToPutEntries(const v1::KvBatchPutRequest& req) {
  std::vector<kv::KvPutEntry> entries;
  entries.reserve(req.entries_size());
  for (const v1::KvPutEntry& e : req.entries()) {
    entries.push_back(kv::KvPutEntry{e.key(), e.value(), e.ttl_seconds()});
  }
  return entries;
}

std::vector<std::string_view> ToKeys(const v1::KvBatchGetRequest& req) {
  return std::vector<std::string_view>(req.keys().begin(), req.keys().end());
}

size_t BatchGetEntryBytes(size_t key_bytes, const std::optional<std::string>& value) {
  using google::protobuf::io::CodedOutputStream;
  // KvEntry: key (field 1), value (2, omitted when empty), found (3, a bool: 2 bytes).
  size_t body = 1 + CodedOutputStream::VarintSize64(key_bytes) + key_bytes;
  if (value.has_value()) {
    body += 2;
    if (!value->empty()) body += 1 + CodedOutputStream::VarintSize64(value->size()) + value->size();
  }
  return 1 + CodedOutputStream::VarintSize64(body) + body;  // as field 1 of the response
}

void FillBatchGet(const v1::KvBatchGetRequest& req, std::vector<std::optional<std::string>> values,
                  v1::KvBatchGetResponse* resp) {
  resp->mutable_entries()->Reserve(static_cast<int>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    v1::KvEntry* entry = resp->add_entries();
    entry->set_key(req.keys(static_cast<int>(i)));
    if (values[i].has_value()) {
      entry->set_found(true);
      entry->set_value(std::move(*values[i]));
    }
  }
}

void ScanSubjects(const v1::KvScanRequest& req, governance::KeyList* keys) {
  keys->AddPrefix(req.prefix());
}

void BatchGetSubjects(const v1::KvBatchGetRequest& req, governance::KeyList* keys) {
  for (const std::string& key : req.keys()) keys->Add(key);
}

void BatchPutSubjects(const v1::KvBatchPutRequest& req, governance::KeyList* keys) {
  for (const v1::KvPutEntry& entry : req.entries()) keys->Add(entry.key());
}

void RedactGet(const v1::KvGetRequest& req, google::protobuf::Message* resp,
               const governance::Redactor& redactor) {
  auto* get = dynamic_cast<v1::KvGetResponse*>(resp);
  if (get != nullptr && get->found()) redactor.Apply(req.key(), get->mutable_value());
}

void RedactBatchGet(const v1::KvBatchGetRequest& req, google::protobuf::Message* resp,
                    const governance::Redactor& redactor) {
  auto* batch = dynamic_cast<v1::KvBatchGetResponse*>(resp);
  if (batch == nullptr) return;
  for (v1::KvEntry& entry : *batch->mutable_entries()) {
    if (entry.found()) redactor.Apply(entry.key(), entry.mutable_value());
  }
}

void RedactScan(const v1::KvScanRequest& req, google::protobuf::Message* resp,
                const governance::Redactor& redactor) {
  auto* row = dynamic_cast<v1::KvScanResponse*>(resp);
  if (row != nullptr) redactor.Apply(row->key(), row->mutable_value());
}

}  // namespace sochdb::services::kv_convert
