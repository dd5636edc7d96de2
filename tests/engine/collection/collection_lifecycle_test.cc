// Tests of what binds a collection's derived data to it and ends with it: a snapshot copied over
// another collection's is rebuilt over, never served; calls racing a Delete answer NOT_FOUND
// (never DATA_LOSS); Create's and Delete's synced writes hold up no other collection.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "engine/collection/collection_store.h"
#include "engine/storage/keys.h"
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

TEST_CASE("a search racing a collection delete answers NOT_FOUND, not DATA_LOSS", "[collection]") {
  // The interleaving of the report: the search has ranked; the Delete has removed the vectors
  // but not yet the documents; the search then reads a document whose embedding is gone.
  Fixture f("search_races_delete");
  absl::Notification search_ranked, vectors_dropped, search_done, let_search_read;
  f.before_search_reads = [&] {
    search_ranked.Notify();
    let_search_read.WaitForNotification();
  };
  f.after_vectors_dropped = [&] {
    vectors_dropped.Notify();
    search_done.WaitForNotification();
  };
  f.Close();
  f.Open();  // with the hooks
  f.Create("c", 2, vector::Metric::kL2, /*hybrid=*/true);
  f.Add("c", {MakeDocument("d1", {{1, 0}}, "apple pie"), MakeDocument("d2", {{0, 1}}, "pie")});

  const bool hybrid = GENERATE(true, false);
  INFO((hybrid ? "hybrid" : "vector only"));
  SearchQuery q;
  q.vector = {1, 0};
  if (hybrid) q.text_query = "pie";
  absl::StatusOr<std::vector<ScoredDocument>> searched;
  std::thread search([&] {
    searched = f.collections->Search("", "c", q);
    search_done.Notify();
  });
  search_ranked.WaitForNotification();
  absl::Status deleted;
  std::thread drop([&] { deleted = f.collections->Delete("", "c"); });
  vectors_dropped.WaitForNotification();
  let_search_read.Notify();
  search.join();
  drop.join();
  REQUIRE_OK(deleted);
  INFO(searched.status().ToString());
  CHECK(searched.status().code() == absl::StatusCode::kNotFound);
  CHECK(searched.status().message() == "Collection 'c' not found");
}

TEST_CASE("a search that ranked before a delete does not serve the deleted collection",
          "[collection]") {
  // With the Delete done before the search reads its winners, nothing is left to read: the
  // answer is NOT_FOUND, not an empty list from a collection that no longer exists.
  Fixture f("search_after_delete");
  absl::Notification search_ranked, let_search_read;
  f.before_search_reads = [&] {
    search_ranked.Notify();
    let_search_read.WaitForNotification();
  };
  f.Close();
  f.Open();
  f.Create("c", 2, vector::Metric::kL2);
  f.Add("c", {MakeDocument("d1", {{1, 0}})});
  SearchQuery q;
  q.vector = {1, 0};
  absl::StatusOr<std::vector<ScoredDocument>> searched;
  std::thread search([&] { searched = f.collections->Search("", "c", q); });
  search_ranked.WaitForNotification();
  REQUIRE_OK(f.collections->Delete("", "c"));
  let_search_read.Notify();
  search.join();
  CHECK(searched.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("calls on other collections do not wait for Create's or Delete's write",
          "[collection]") {
  // The definition write is held inside the log append; a search, a count, a write and a
  // listing of another collection must complete meanwhile.
  storage::testing::FaultInjectionEnv env(leveldb::Env::Default());  // outlives the store
  Fixture f("definition_write_held");
  f.env = &env;
  f.Reopen();
  f.Create("busy", 2, vector::Metric::kL2);
  f.Add("busy", {MakeDocument("d1", {{1, 0}})});
  const std::string operation = GENERATE("create", "delete");
  INFO(operation);
  if (operation == "delete") f.Create("other", 2);
  absl::Status written;
  // Catch2's assertions are not thread-safe: the results are checked after the joins.
  absl::StatusOr<std::vector<ScoredDocument>> searched;
  absl::StatusOr<uint64_t> counted;
  size_t listed = 0, total_documents = 0;
  const bool others_first = storage::testing::OthersRunWhileFirstAppendHeld(
      env,
      [&] {
        if (operation == "create") {
          CollectionDefinition d;
          d.name = "other";
          d.spec.dimension = 2;
          written = f.collections->Create(d).status();
        } else {
          written = f.collections->Delete("", "other");
        }
      },
      [&] {
        SearchQuery q;
        q.vector = {1, 0};
        searched = f.collections->Search("", "busy", q);
        counted = f.collections->Count("", "busy", filter::MetadataFilter());
        listed = f.collections->List([](const std::string&) { return true; }).size();
        total_documents = f.collections->TotalDocuments();
      });
  REQUIRE_OK(written);
  CHECK(others_first);
  CHECK(ValueOrFail(std::move(searched)).size() == 1);
  CHECK(ValueOrFail(std::move(counted)) == 1);
  CHECK(listed >= 1);
  CHECK(total_documents == 1);
}

}  // namespace
}  // namespace sochdb::collection

namespace sochdb::collection {
namespace {

// The definition as the hand-written text codec wrote it before definitions shared one
// (storage/field_record.h): the format string is that code's, verbatim.
std::string DefinitionAsWrittenBefore(const CollectionDefinition& d, const std::string& meta) {
  const vector::IndexSpec& s = d.spec;
  return absl::StrFormat(
             "format=%d dimension=%d metric=%d quantization=%d m=%d m0=%d ef_construction=%d "
             "ef_search=%d pq_subvectors=%d exact_threshold=%d metric_code=%d hybrid=%d "
             "created_at=%d incarnation=%d content_field=%s",
             1, s.dimension, static_cast<int>(s.metric), static_cast<int>(s.quantization), s.m,
             s.m0, s.ef_construction, s.ef_search, s.pq_subvectors, s.exact_threshold,
             d.metric_code, d.hybrid ? 1 : 0, d.created_at, d.incarnation, "74657874") +
         meta;
}

TEST_CASE("definitions keep their bytes on disk, and ones written before are read",
          "[collection]") {
  Fixture f("definition_bytes");
  CollectionDefinition d;
  d.ns = "tenant";
  d.name = "docs";
  d.spec.dimension = 4;
  d.spec.m = 16;
  d.metric_code = 2;
  d.hybrid = true;
  d.content_field = "text";
  d.metadata = {{"k", "v"}, {"", "empty key"}};
  const CollectionDefinition created = ValueOrFail(f.collections->Create(d)).definition;
  const std::string key =
      storage::KeyBuilder(storage::KeyFamily::kCollection).Name("tenant").Name("docs").key();
  const std::string meta = " meta.=656d707479206b6579 meta.6b=76";
  CHECK(ValueOrFail(f.store->Get(key)) == DefinitionAsWrittenBefore(created, meta));

  // Captured bytes of a collection stored by the old codec, with an incarnation past 2^63.
  storage::WriteBatch batch;
  batch.Put(storage::KeyBuilder(storage::KeyFamily::kCollection).Name("").Name("old").key(),
            "format=1 dimension=3 metric=0 quantization=1 m=32 m0=64 ef_construction=256 "
            "ef_search=500 pq_subvectors=0 exact_threshold=10000 metric_code=1 hybrid=0 "
            "created_at=1700000000 incarnation=18446744073709551615 content_field= meta.61=62");
  REQUIRE(f.store->Write(&batch).ok());
  f.Reopen();
  const CollectionDefinition old = ValueOrFail(f.collections->Get("", "old")).definition;
  CHECK(old.spec.dimension == 3);
  CHECK(old.spec.metric == vector::Metric::kL2);
  CHECK(old.spec.quantization == vector::Quantization::kScalar8);
  CHECK(old.spec.exact_threshold == 10000);
  CHECK(old.metric_code == 1);
  CHECK_FALSE(old.hybrid);
  CHECK(old.created_at == 1700000000);
  CHECK(old.incarnation == 18446744073709551615ull);
  CHECK(old.content_field.empty());
  CHECK(old.metadata == std::map<std::string, std::string>{{"a", "b"}});
  CHECK(ValueOrFail(f.collections->Get("tenant", "docs")).definition.metadata == d.metadata);
}

}  // namespace
}  // namespace sochdb::collection
