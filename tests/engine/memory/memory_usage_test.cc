// MemoryStore's part in namespace usage (engine/namespace/usage_ledger.h): a tracked namespace is
// charged each episode's bytes (id + record + 4 bytes per embedding float), refused with
// RESOURCE_EXHAUSTED past its storage quota (writing nothing, taking no id), given the bytes back
// on delete; Track counts what the namespace already holds exactly.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "engine/memory/memory_store.h"
#include "engine/namespace/usage_ledger.h"
#include "tests/engine/memory/memory_fixture.h"

namespace sochdb::memory {
namespace {

using testing::ValueOrFail;

TEST_CASE("episodes are charged to a tracked namespace and refused past its quota", "[memory]") {
  const std::string dir = storage::testing::FreshTestDir("memory_usage");
  storage::StoreOptions store_options;
  store_options.sync_mode = storage::SyncMode::kOff;
  auto store = ValueOrFail(storage::Store::Open(dir + "/db", store_options));
  namespaces::UsageLedger ledger;
  MemoryStoreOptions options;
  options.usage = &ledger;
  auto memory = std::make_unique<MemoryStore>(store.get(), options);
  auto write = [&](std::string text, std::vector<float> embedding) {
    EpisodeWrite w;
    w.text = std::move(text);
    w.embedding = std::move(embedding);
    return memory->WriteEpisode("ns", std::move(w));
  };
  // Before tracking: written, not charged; Track counts it.
  REQUIRE_OK(write("hello", {1, 2}).status());
  REQUIRE_OK(ledger.Track("ns", namespaces::Quota{}));
  const uint64_t first = ledger.UsageOf("ns")->storage_bytes;
  // id 8 + record (format and flags, two varint times of 6 bytes each: now is ~1.7e12 ms, text
  // and metadata with their lengths) + 2 floats.
  CHECK(first == 8 + (2 + 6 + 6 + 1 + 5 + 1) + 4 * 2);
  REQUIRE_OK(write("hello", {3, 4}).status());
  CHECK(ledger.UsageOf("ns")->storage_bytes == 2 * first);
  ledger.SetQuota("ns", namespaces::Quota{2 * first + first / 2, 0, 0});
  const absl::Status refused = write("hello", {5, 6}).status();
  CHECK(refused.code() == absl::StatusCode::kResourceExhausted);
  CHECK(ledger.UsageOf("ns")->storage_bytes == 2 * first);
  REQUIRE_OK(memory->DeleteEpisode("ns", 1));
  CHECK(ledger.UsageOf("ns")->storage_bytes == first);
  CHECK(ValueOrFail(write("hello", {7, 8})).id == 3);  // the refused write took no id
  CHECK(ledger.UsageOf("ns")->storage_bytes == 2 * first);
  // A fresh count agrees with the charges.
  ledger.Untrack("ns");
  REQUIRE_OK(ledger.Track("ns", namespaces::Quota{}));
  CHECK(ledger.UsageOf("ns")->storage_bytes == 2 * first);
  memory.reset();
}

}  // namespace
}  // namespace sochdb::memory
