// BatchGetEntryBytes: the BatchGet budget's measure of one answer entry is what the entry takes
// in the encoded KvBatchGetResponse, so an answer at exactly the budget fits a message limit of
// the same size. Checked against protobuf's own encoding across the varint length boundaries.
#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "services/kv/convert.h"
#include "sochdb/v1/kv.pb.h"

namespace sochdb::services::kv_convert {
namespace {

size_t EncodedWithEntry(size_t key_bytes, const std::optional<std::string>& value) {
  v1::KvBatchGetResponse response;
  v1::KvEntry* entry = response.add_entries();
  entry->set_key(std::string(key_bytes, 'k'));
  if (value.has_value()) {
    entry->set_found(true);
    entry->set_value(*value);
  }
  return response.ByteSizeLong();
}

TEST_CASE("a BatchGet entry is counted as the response encodes it, framing included") {
  for (size_t key_bytes : {1, 88, 127, 128, 16'383, 16'384}) {
    for (size_t value_bytes : {0, 1, 5, 127, 128, 16'380, 16'384, 2'097'152}) {
      INFO("key " << key_bytes << " bytes, value " << value_bytes << " bytes");
      const std::optional<std::string> value = std::string(value_bytes, 'v');
      CHECK(BatchGetEntryBytes(key_bytes, value) == EncodedWithEntry(key_bytes, value));
    }
    INFO("key " << key_bytes << " bytes, not found");
    CHECK(BatchGetEntryBytes(key_bytes, std::nullopt) == EncodedWithEntry(key_bytes, std::nullopt));
  }
}

TEST_CASE("the entries of an answer add up to the answer") {
  v1::KvBatchGetRequest request;
  request.add_keys("a");
  request.add_keys("missing");
  request.add_keys(std::string(200, 'k'));
  std::vector<std::optional<std::string>> values = {"12345", std::nullopt, std::string(300, 'v')};
  size_t counted = 0;
  for (int i = 0; i < request.keys_size(); ++i) {
    counted += BatchGetEntryBytes(request.keys(i).size(), values[i]);
  }
  v1::KvBatchGetResponse response;
  FillBatchGet(request, values, &response);
  CHECK(counted == response.ByteSizeLong());
}

}  // namespace
}  // namespace sochdb::services::kv_convert
