// ExpiryIndex: every entry of the KV TTL index in a store, as "expiry-ms/namespace/key" strings in
// key order, for tests that check the index a write left behind.
#ifndef SOCHDB_TESTS_ENGINE_KV_EXPIRY_INDEX_H_
#define SOCHDB_TESTS_ENGINE_KV_EXPIRY_INDEX_H_

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/keys.h"
#include "engine/storage/store.h"

namespace sochdb::kv::testing {

inline std::vector<std::string> ExpiryIndex(storage::Store& store) {
  std::vector<std::string> entries;
  const std::string start = storage::KeyBuilder(storage::KeyFamily::kKvExpiry).key();
  std::unique_ptr<storage::Iterator> it = store.NewIterator();
  for (it->Seek(start); it->Valid() && it->key()[0] == start[0]; it->Next()) {
    storage::KeyReader reader(it->key());
    storage::KeyFamily family;
    uint64_t expiry = 0;
    std::string_view ns;
    REQUIRE((reader.Family(&family) && reader.U64(&expiry) && reader.Name(&ns)));
    entries.push_back(std::to_string(expiry) + "/" + std::string(ns) + "/" +
                      std::string(reader.Rest()));
  }
  REQUIRE(it->status().ok());
  return entries;
}

}  // namespace sochdb::kv::testing

#endif  // SOCHDB_TESTS_ENGINE_KV_EXPIRY_INDEX_H_
