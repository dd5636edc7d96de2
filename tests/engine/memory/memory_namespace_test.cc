// DeleteNamespace with agent memory, through the Engine: the registry counts episodes as data,
// and a forced delete removes every episode key (records, metadata, time index, trigram and BM25
// postings), the namespace's vector space (records, change log, snapshot file) and the store's
// cached state, while other namespaces keep theirs; the namespace then starts over at id 1, with
// a new dimension if it likes.
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/storage/keys.h"
#include "tests/common/status_testing.h"
#include "tests/engine/storage/test_env.h"

namespace sochdb::memory {
namespace {

using sochdb::testing::ValueOrFail;
using storage::KeyFamily;

size_t KeysWithPrefix(const storage::Store& store, const std::string& prefix) {
  size_t count = 0;
  std::unique_ptr<storage::Iterator> it = store.NewIterator();
  for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
    ++count;
  }
  REQUIRE_OK(it->status());
  return count;
}

// Every key agent memory keeps for `ns`, in all its families and the episodes' vector spaces.
size_t MemoryKeys(const storage::Store& store, const std::string& ns) {
  size_t count = 0;
  for (KeyFamily family : {KeyFamily::kEpisode, KeyFamily::kEpisodeMeta, KeyFamily::kEpisodeTrigram,
                           KeyFamily::kEpisodeTime, KeyFamily::kEpisodePosting}) {
    count += KeysWithPrefix(store, storage::NamespacePrefix(family, ns));
  }
  for (KeyFamily family : {KeyFamily::kVector, KeyFamily::kVectorLog}) {
    count += KeysWithPrefix(store, storage::KeyBuilder(family).Name("m").Name(ns).key());
  }
  return count;
}

size_t MemorySnapshots(const std::string& data_dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/vectors")) {
    n += entry.path().filename().string().rfind("mem-", 0) == 0;
  }
  return n;
}

uint64_t Write(Engine& engine, const std::string& ns, std::string text,
               std::vector<float> embedding) {
  EpisodeWrite write;
  write.text = std::move(text);
  write.embedding = std::move(embedding);
  return ValueOrFail(engine.memory().WriteEpisode(ns, std::move(write))).id;
}

TEST_CASE("DeleteNamespace removes episodes, postings, vectors and snapshots", "[memory]") {
  EngineOptions options;
  options.data_dir = storage::testing::FreshTestDir("memory_namespace");
  options.store.sync_mode = storage::SyncMode::kOff;
  {
    std::unique_ptr<Engine> engine = ValueOrFail(Engine::Open(options));
    for (int i = 0; i < 10; ++i) {
      Write(*engine, "gone", "episode about walruses " + std::to_string(i),
            {1, static_cast<float>(i)});
      Write(*engine, "kept", "episode about walruses " + std::to_string(i),
            {static_cast<float>(i), 1});
    }
  }  // closing snapshots both spaces
  REQUIRE(MemorySnapshots(options.data_dir) == 2);
  std::unique_ptr<Engine> engine = ValueOrFail(Engine::Open(options));
  CHECK(MemoryKeys(engine->store(), "gone") > 0);
  CHECK(ValueOrFail(engine->namespaces().Holdings("gone")) == std::vector<std::string>{"episodes"});
  // The cached state too: a search loads the space before the delete.
  SearchOptions search;
  search.embedding = {1, 0};
  CHECK(ValueOrFail(engine->memory().Search("gone", "walruses", search)).size() == 10);

  REQUIRE_OK(engine->namespaces().Delete("gone", /*force=*/true));
  CHECK(MemoryKeys(engine->store(), "gone") == 0);
  CHECK(MemorySnapshots(options.data_dir) == 1);
  CHECK(ValueOrFail(engine->namespaces().Holdings("gone")).empty());
  CHECK(ValueOrFail(engine->memory().Search("gone", "walruses", search)).empty());
  CHECK(ValueOrFail(engine->memory().Search("kept", "walruses", search)).size() == 10);

  // Anew: ids from 1, and the old dimension is gone with the old space.
  CHECK(Write(*engine, "gone", "walruses again", {1, 2, 3}) == 1);
  engine.reset();
  engine = ValueOrFail(Engine::Open(options));
  search.embedding = {1, 2, 3};
  CHECK(ValueOrFail(engine->memory().Search("gone", "walruses", search)).size() == 1);
  CHECK(ValueOrFail(engine->memory().ListEpisodes("kept", 0, 100)).episodes.size() == 10);
}

}  // namespace
}  // namespace sochdb::memory
