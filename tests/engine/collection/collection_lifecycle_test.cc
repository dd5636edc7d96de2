// Tests of what binds a collection's derived data to it and ends with it: a snapshot copied over
// another collection's is rebuilt over, never served.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/collection/collection_store.h"
#include "tests/engine/collection/collection_test_util.h"

namespace sochdb::collection {
namespace {

using namespace testing;  // NOLINT: this test's helpers

std::string SnapshotFile(const Fixture& f, const CollectionInfo& c) {
  char name[64];
  std::snprintf(name, sizeof(name), "/col-%016llx.snap",
                static_cast<unsigned long long>(c.definition.incarnation));
  return f.snapshot_dir() + name;
}

// Documents d0..d<n-1>; document i's vector is (1, i * step) under L2.
std::vector<Document> Line(int n, float step) {
  std::vector<Document> docs;
  for (int i = 0; i < n; ++i) {
    docs.push_back(MakeDocument("d" + std::to_string(i), {{1, static_cast<float>(i) * step}}));
  }
  return docs;
}

TEST_CASE("a collection snapshot copied over another's is rebuilt over, never served",
          "[collection]") {
  // Same document ids, different vectors, different namespaces: b must rank by its own vectors.
  Fixture f("snapshot_identity");
  const CollectionInfo a = f.Create("a", 2, vector::Metric::kL2, false, "ns-a");
  const CollectionInfo b = f.Create("b", 2, vector::Metric::kL2, false, "ns-b");
  f.Add("a", Line(30, -1), "ns-a");
  f.Add("b", Line(20, 1), "ns-b");
  f.Reopen();  // closing snapshots both
  REQUIRE(std::filesystem::exists(SnapshotFile(f, a)));
  REQUIRE(std::filesystem::exists(SnapshotFile(f, b)));
  f.Close();
  std::filesystem::copy_file(SnapshotFile(f, a), SnapshotFile(f, b),
                             std::filesystem::copy_options::overwrite_existing);
  f.Open();

  SearchQuery q;
  q.vector = {1, 7};
  q.k = 25;
  const std::vector<ScoredDocument> hits = f.Search("b", q, "ns-b");
  REQUIRE(hits.size() == 20);
  CHECK(hits[0].document.id == "d7");
  CHECK(hits[0].score == Approx(1.0));
  CHECK(hits[0].document.embeddings == std::vector<std::vector<float>>{{1, 7}});
}

}  // namespace
}  // namespace sochdb::collection
