// Tests for CollectionStore's lifecycle and documents: create/get/list/delete with their exact
// error texts, a recreated collection seeing nothing of its predecessor (and no key left behind),
// documents added, read, replaced (vectors, metadata, content, postings) and deleted, generated
// UUIDs, every validation message with nothing written on error, metadata updates and counts.
#include <catch2/catch.hpp>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "engine/collection/collection_store.h"
#include "engine/storage/keys.h"
#include "tests/engine/collection/collection_test_util.h"

namespace sochdb::collection {
namespace {

using namespace std::string_literals;
using namespace testing;  // NOLINT: this test's helpers
using absl::StatusCode;
using storage::KeyBuilder;
using storage::KeyFamily;

// Keys of `family` in the whole store.
size_t KeysOf(const storage::Store& store, KeyFamily family) {
  const std::string prefix = KeyBuilder(family).key();
  size_t n = 0;
  std::unique_ptr<storage::Iterator> it = store.NewIterator();
  for (it->Seek(prefix); it->Valid() && it->key().substr(0, 1) == prefix; it->Next()) ++n;
  return n;
}

// 8-4-4-4-12 lowercase hex, version nibble 4, variant 10xx. (Not std::regex: GCC 12 warns
// inside <regex> under the sanitizer build's -O1.)
bool IsUuidV4(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = s[i];
    if (dash != (c == '-')) return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

TEST_CASE("create, get, list and delete collections", "[collection]") {
  Fixture f("lifecycle");
  CollectionDefinition d;
  d.ns = "tenant-a";
  d.name = "docs";
  d.spec.dimension = 4;
  d.spec.metric = vector::Metric::kDot;
  d.metric_code = 2;
  d.metadata = {{"owner", "me"}, {"", "empty key"}, {"bin\x01 =", "a b=c"}};
  d.hybrid = true;
  d.content_field = "body text";
  const CollectionInfo created = ValueOrFail(f.collections->Create(d));
  CHECK(created.document_count == 0);
  CHECK(created.definition.created_at == 1'700'000'000);
  CHECK(created.definition.incarnation != 0);
  CHECK(created.definition.spec.m == 32);  // resolved
  CHECK(created.definition.spec.ef_search == 500);
  CHECK(created.definition.metric_code == 2);

  RequireError(f.collections->Create(d).status(), StatusCode::kAlreadyExists,
               "Collection 'docs' already exists");
  RequireError(f.collections->Get("tenant-a", "nope").status(), StatusCode::kNotFound,
               "Collection 'nope' not found");
  RequireError(f.collections->Get("tenant-b", "docs").status(), StatusCode::kNotFound,
               "Collection 'docs' not found");

  f.Create("b", 3, vector::Metric::kL2, false, "tenant-b");
  f.Create("a", 3, vector::Metric::kL2, false, "tenant-b");
  f.Create("z", 3, vector::Metric::kL2, false, "");
  std::vector<CollectionInfo> all = f.collections->List([](const std::string&) { return true; });
  REQUIRE(all.size() == 4);
  CHECK(all[0].definition.ns == "");
  CHECK(all[1].definition.name == "docs");
  CHECK(all[2].definition.name == "a");
  CHECK(all[3].definition.name == "b");
  std::vector<CollectionInfo> only_b =
      f.collections->List([](const std::string& ns) { return ns == "tenant-b"; });
  REQUIRE(only_b.size() == 2);
  CHECK(f.collections->CollectionCount() == 4);

  // Everything in the definition survives a reopen.
  f.Reopen();
  const CollectionInfo got = ValueOrFail(f.collections->Get("tenant-a", "docs"));
  CHECK(got.definition.ns == "tenant-a");
  CHECK(got.definition.name == "docs");
  CHECK(got.definition.metadata == d.metadata);
  CHECK(got.definition.content_field == "body text");
  CHECK(got.definition.hybrid);
  CHECK(got.definition.metric_code == 2);
  CHECK(got.definition.spec.metric == vector::Metric::kDot);
  CHECK(got.definition.spec.dimension == 4);
  CHECK(got.definition.incarnation == created.definition.incarnation);
  CHECK(got.definition.created_at == created.definition.created_at);

  REQUIRE_OK(f.collections->Delete("tenant-a", "docs"));
  RequireError(f.collections->Get("tenant-a", "docs").status(), StatusCode::kNotFound,
               "Collection 'docs' not found");
  RequireError(f.collections->Delete("tenant-a", "docs"), StatusCode::kNotFound,
               "Collection 'docs' not found");
  CHECK(f.collections->CollectionCount() == 3);
  f.Reopen();
  CHECK(f.collections->CollectionCount() == 3);
}

TEST_CASE("bad collection definitions are refused with the field and the limit", "[collection]") {
  Fixture f("bad_definitions");
  auto create = [&](CollectionDefinition d) { return f.collections->Create(d).status(); };
  CollectionDefinition good;
  good.name = "c";
  good.spec.dimension = 4;

  CollectionDefinition d = good;
  d.name = "";
  RequireError(create(d), StatusCode::kInvalidArgument, "collection name must not be empty");
  d.name = std::string(257, 'n');
  RequireError(create(d), StatusCode::kInvalidArgument,
               "collection name is 257 bytes; the limit is 256 bytes");
  d.name = "a\0b"s;
  RequireError(create(d), StatusCode::kInvalidArgument,
               "collection name must not contain NUL bytes");
  d = good;
  d.ns = std::string(257, 's');
  RequireError(create(d), StatusCode::kInvalidArgument,
               "namespace is 257 bytes; the limit is 256 bytes");
  d.ns = "x\0"s;
  RequireError(create(d), StatusCode::kInvalidArgument, "namespace must not contain NUL bytes");
  d = good;
  d.spec.dimension = 0;
  RequireError(create(d), StatusCode::kInvalidArgument, "dimension is 0; the range is 1..4096");
  d.spec.dimension = 4097;
  RequireError(create(d), StatusCode::kInvalidArgument, "dimension is 4097; the range is 1..4096");
  d = good;
  d.spec.m = 1000;
  RequireError(create(d), StatusCode::kInvalidArgument, "m is 1000; the range is 2..256");
  d = good;
  for (int i = 0; i < 257; ++i) d.metadata[std::to_string(i)] = "v";
  RequireError(create(d), StatusCode::kInvalidArgument,
               "metadata is 257 entries; the limit is 256 entries");
  d = good;
  d.metadata["big"] = std::string(64 * 1024, 'x');
  RequireError(create(d), StatusCode::kInvalidArgument,
               "metadata is 65539 bytes; the limit is 65536 bytes");
  d = good;
  d.content_field = std::string(300, 'f');
  RequireError(create(d), StatusCode::kInvalidArgument,
               "content_field is 300 bytes; the limit is 256 bytes");
  CHECK(f.collections->CollectionCount() == 0);
  CHECK(KeysOf(*f.store, KeyFamily::kCollection) == 0);

  // Names are checked on every call, before any lookup.
  RequireError(f.collections->Get("", std::string(300, 'n')).status(),
               StatusCode::kInvalidArgument,
               "collection name is 300 bytes; the limit is 256 bytes");
  RequireError(f.collections->Delete("\0"s, "c"), StatusCode::kInvalidArgument,
               "namespace must not contain NUL bytes");
  // The empty namespace is a namespace of its own.
  REQUIRE_OK(create(good));
  RequireError(f.collections->Get("default", "c").status(), StatusCode::kNotFound,
               "Collection 'c' not found");
}

TEST_CASE("a collection created again after a delete sees nothing of the old one",
          "[collection]") {
  Fixture f("recreate");
  const uint64_t first = f.Create("c", 2, vector::Metric::kCosine, true).definition.incarnation;
  f.Add("c", {MakeDocument("d1", {{1, 0}}, "alpha beta", {{"k", "v"}}),
              MakeDocument("d2", {{0, 1}, {1, 1}}, "beta gamma")});
  CHECK(f.Count("c") == 2);
  REQUIRE_OK(f.collections->Delete("", "c"));
  // Nothing of it is left in the keyspace, nor its snapshot.
  CHECK(KeysOf(*f.store, KeyFamily::kDocument) == 0);
  CHECK(KeysOf(*f.store, KeyFamily::kVector) == 0);
  CHECK(KeysOf(*f.store, KeyFamily::kVectorLog) == 0);
  CHECK(KeysOf(*f.store, KeyFamily::kPosting) == 0);

  const uint64_t second = f.Create("c", 2, vector::Metric::kCosine, true).definition.incarnation;
  CHECK(second != first);
  CHECK(f.Count("c") == 0);
  RequireError(f.collections->GetDocument("", "c", "d1").status(), StatusCode::kNotFound,
               "Document 'd1' not found");
  SearchQuery q;
  q.vector = {1, 0};
  CHECK(f.Search("c", q).empty());
  q.vector.clear();
  q.text_query = "beta";
  CHECK(f.Search("c", q).empty());
  f.Add("c", {MakeDocument("d3", {{1, 0}}, "beta")});
  const std::vector<ScoredDocument> hits = f.Search("c", q);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].document.id == "d3");
}

TEST_CASE("documents are added, read, replaced and deleted", "[collection]") {
  Fixture f("documents");
  f.Create("c", 3, vector::Metric::kL2, true);
  const std::vector<std::string> ids =
      f.Add("c", {MakeDocument("first", {{1, 2, 3}}, "hello world", {{"a", "1"}}),
                  MakeDocument("", {{0, 0, 1}}, "generated id"),
                  MakeDocument("multi", {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, "three vectors")});
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == "first");
  CHECK(ids[2] == "multi");
  CHECK(IsUuidV4(ids[1]));
  // Every generated id is a fresh UUID v4.
  std::set<std::string> generated;
  for (int i = 0; i < 100; ++i) {
    const std::string id = f.Add("c", {MakeDocument("", {{1, 1, 1}})})[0];
    CHECK(IsUuidV4(id));
    generated.insert(id);
    REQUIRE_OK(f.collections->DeleteDocument("", "c", id));
  }
  CHECK(generated.size() == 100);
  CHECK(f.Count("c") == 3);
  CHECK(ValueOrFail(f.collections->Get("", "c")).document_count == 3);
  CHECK(f.collections->TotalDocuments() == 3);

  const Document got = ValueOrFail(f.collections->GetDocument("", "c", "first"));
  CHECK(got.id == "first");
  CHECK(got.content == "hello world");
  CHECK(got.metadata == std::map<std::string, std::string>{{"a", "1"}});
  REQUIRE(got.embeddings.size() == 1);
  CHECK(got.embeddings[0] == std::vector<float>{1, 2, 3});
  const Document multi = ValueOrFail(f.collections->GetDocument("", "c", "multi"));
  REQUIRE(multi.embeddings.size() == 3);
  CHECK(multi.embeddings[2] == std::vector<float>{0, 0, 1});

  // Replacing "multi" by a one-vector document drops its old vectors 1 and 2: a query equal to
  // old vector 2 now scores it by its only vector.
  f.Add("c", {MakeDocument("multi", {{5, 5, 5}}, "replaced body", {{"b", "2"}})});
  CHECK(f.Count("c") == 3);
  const Document replaced = ValueOrFail(f.collections->GetDocument("", "c", "multi"));
  REQUIRE(replaced.embeddings.size() == 1);
  CHECK(replaced.embeddings[0] == std::vector<float>{5, 5, 5});
  CHECK(replaced.content == "replaced body");
  CHECK(replaced.metadata == std::map<std::string, std::string>{{"b", "2"}});
  SearchQuery q;
  q.vector = {0, 0, 1};
  q.k = 10;
  std::vector<ScoredDocument> hits = f.Search("c", q);
  REQUIRE(hits.size() == 3);
  CHECK(hits[0].document.id == ids[1]);  // exact match, distance 0
  CHECK(hits[0].score == Approx(1.0));
  CHECK(hits[2].document.id == "multi");
  CHECK(hits[2].score == Approx(1 / (1 + std::sqrt(25.0 + 25 + 16))));
  // Its old words are gone from BM25, the new ones are in.
  SearchQuery text;
  text.text_query = "three vectors";
  CHECK(f.Search("c", text).empty());
  text.text_query = "replaced";
  REQUIRE(f.Search("c", text).size() == 1);
  // And it grows again: one vector to four.
  f.Add("c", {MakeDocument("multi", {{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}}, "x")});
  CHECK(ValueOrFail(f.collections->GetDocument("", "c", "multi")).embeddings.size() == 4);

  REQUIRE_OK(f.collections->DeleteDocument("", "c", "multi"));
  RequireError(f.collections->GetDocument("", "c", "multi").status(), StatusCode::kNotFound,
               "Document 'multi' not found");
  RequireError(f.collections->DeleteDocument("", "c", "multi"), StatusCode::kNotFound,
               "Document 'multi' not found");
  RequireError(f.collections->DeleteDocument("", "nope", "x"), StatusCode::kNotFound,
               "Collection 'nope' not found");
  RequireError(f.collections->AddDocuments("", "nope", {}).status(), StatusCode::kNotFound,
               "Collection 'nope' not found");
  CHECK(f.Count("c") == 2);
  hits = f.Search("c", q);
  REQUIRE(hits.size() == 2);
  // Only the remaining documents' vectors are in the space.
  f.Reopen();
  CHECK(f.Count("c") == 2);
  CHECK(f.Search("c", q).size() == 2);
  // include_embeddings = false leaves them out.
  q.include_embeddings = false;
  hits = f.Search("c", q);
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].document.embeddings.empty());
  CHECK(hits[0].document.content == "generated id");
  // k = 0 answers nothing.
  q.k = 0;
  CHECK(f.Search("c", q).empty());
}

TEST_CASE("bad documents are refused with the field and the limit, and nothing is written",
          "[collection]") {
  Fixture f("bad_documents");
  f.Create("c", 4, vector::Metric::kCosine, true);
  f.Add("c", {MakeDocument("keep", {{1, 2, 3, 4}}, "kept")});
  const std::vector<float> ok = {1, 0, 0, 0};
  auto add = [&](Document bad) {
    // The bad document comes third, after two good ones that must not be written either.
    std::vector<Document> docs = {MakeDocument("g1", {ok}), MakeDocument("g2", {ok}),
                                  std::move(bad)};
    return f.collections->AddDocuments("", "c", std::move(docs)).status();
  };
  const float nan = std::nanf("");
  const float inf = std::numeric_limits<float>::infinity();
  RequireError(add(MakeDocument("d", {})), StatusCode::kInvalidArgument,
               "documents[2] has no embedding");
  RequireError(add(MakeDocument("d", {{1, 2, 3, 4, 5}})), StatusCode::kInvalidArgument,
               "documents[2].embedding has 5 floats; the collection dimension is 4");
  // The second vector is the request's extra_embeddings[0] (before: named "embeddings[1]").
  RequireError(add(MakeDocument("d", {ok, {1, 2}})), StatusCode::kInvalidArgument,
               "documents[2].extra_embeddings[0].values has 2 floats; the collection dimension "
               "is 4");
  Document extras_only = MakeDocument("d", {ok, ok, {1, 2}});
  extras_only.first_is_embedding = false;
  RequireError(add(extras_only), StatusCode::kInvalidArgument,
               "documents[2].extra_embeddings[2].values has 2 floats; the collection dimension "
               "is 4");
  RequireError(add(MakeDocument("d", {{1, nan, 0, 0}})), StatusCode::kInvalidArgument,
               "documents[2].embedding[1] is NaN");
  RequireError(add(MakeDocument("d", {ok, {0, 0, 0, -inf}})), StatusCode::kInvalidArgument,
               "documents[2].extra_embeddings[0].values[3] is -Inf");
  RequireError(add(MakeDocument("d", {{0, 0, 1e17f, 0}})), StatusCode::kInvalidArgument,
               "documents[2].embedding[2] is 1e+17; the limit is +-1e+16");
  RequireError(add(MakeDocument("d", std::vector<std::vector<float>>(65, ok))),
               StatusCode::kInvalidArgument, "documents[2] has 65 embeddings; the limit is 64");
  RequireError(add(MakeDocument(std::string(513, 'i'), {ok})), StatusCode::kInvalidArgument,
               "documents[2].id is 513 bytes; the limit is 512 bytes");
  RequireError(add(MakeDocument("a\0b"s, {ok})), StatusCode::kInvalidArgument,
               "documents[2].id must not contain NUL bytes");
  RequireError(add(MakeDocument("d", {ok}, std::string((1 << 20) + 1, 'c'))),
               StatusCode::kInvalidArgument,
               "documents[2].content is 1048577 bytes; the limit is 1048576 bytes");
  std::map<std::string, std::string> many;
  for (int i = 0; i < 257; ++i) many[std::to_string(i)] = "";
  RequireError(add(MakeDocument("d", {ok}, "", many)), StatusCode::kInvalidArgument,
               "documents[2].metadata is 257 entries; the limit is 256 entries");
  RequireError(add(MakeDocument("d", {ok}, "", {{"k", std::string(65536, 'v')}})),
               StatusCode::kInvalidArgument,
               "documents[2].metadata is 65537 bytes; the limit is 65536 bytes");
  RequireError(add(MakeDocument("g1", {ok})), StatusCode::kInvalidArgument,
               "documents[2].id duplicates documents[0].id");
  std::vector<Document> too_many(10'001, MakeDocument("", {ok}));
  RequireError(f.collections->AddDocuments("", "c", std::move(too_many)).status(),
               StatusCode::kInvalidArgument, "documents has 10001 items; the limit is 10000");

  // Nothing of any of those calls was written.
  CHECK(f.Count("c") == 1);
  RequireError(f.collections->GetDocument("", "c", "g1").status(), StatusCode::kNotFound,
               "Document 'g1' not found");
  SearchQuery text;
  text.text_query = "kept";
  REQUIRE(f.Search("c", text).size() == 1);
  f.Reopen();
  CHECK(f.Count("c") == 1);

  RequireError(f.collections->GetDocument("", "c", std::string(600, 'x')).status(),
               StatusCode::kInvalidArgument, "id is 600 bytes; the limit is 512 bytes");
  RequireError(f.collections->UpdateMetadata("", "c", "keep", many, false),
               StatusCode::kInvalidArgument, "metadata is 257 entries; the limit is 256 entries");
  RequireError(f.collections->UpdateMetadata("", "c", "nope", {}, false), StatusCode::kNotFound,
               "Document 'nope' not found");
}

TEST_CASE("UpdateMetadata replaces or merges, and filters and counts see it at once",
          "[collection]") {
  Fixture f("update_metadata");
  CollectionDefinition d;
  d.name = "c";
  d.spec.dimension = 2;
  d.hybrid = true;
  d.content_field = "title";  // BM25 indexes the "title" metadata field
  REQUIRE(f.collections->Create(d).ok());
  f.Add("c", {MakeDocument("a", {{1, 0}}, "body a", {{"color", "red"}, {"title", "red apple"}}),
              MakeDocument("b", {{0, 1}}, "body b", {{"color", "blue"}, {"size", "3"}}),
              MakeDocument("c", {{1, 1}}, "body c", {{"color", "red"}, {"size", "10"}})});
  auto count = [&](const std::string& json) {
    return ValueOrFail(f.collections->Count(
        "", "c", ValueOrFail(filter::MetadataFilter::Parse(json))));
  };
  CHECK(count("{}") == 3);
  CHECK(count(R"({"color": "red"})") == 2);
  CHECK(count(R"({"size": {"$gt": 5}})") == 1);
  CHECK(ValueOrFail(f.collections->Count(
            "", "c", filter::MetadataFilter::ExactMatch({{"color", "blue"}}))) == 1);

  REQUIRE_OK(f.collections->UpdateMetadata("", "c", "b", {{"color", "red"}}, /*merge=*/true));
  CHECK(count(R"({"color": "red"})") == 3);
  CHECK(count(R"({"size": {"$gt": 2}})") == 2);  // b kept its size
  REQUIRE_OK(f.collections->UpdateMetadata("", "c", "b", {{"shape", "round"}}, /*merge=*/false));
  CHECK(count(R"({"color": "red"})") == 2);
  CHECK(count(R"({"shape": "round"})") == 1);
  CHECK(count(R"({"size": {"$gt": 2}})") == 1);
  const Document b = ValueOrFail(f.collections->GetDocument("", "c", "b"));
  CHECK(b.metadata == std::map<std::string, std::string>{{"shape", "round"}});
  CHECK(b.content == "body b");
  REQUIRE(b.embeddings.size() == 1);

  // A filtered search sees the change too.
  SearchQuery q;
  q.vector = {0, 1};
  q.filter = ValueOrFail(filter::MetadataFilter::Parse(R"({"shape": "round"})"));
  std::vector<ScoredDocument> hits = f.Search("c", q);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].document.id == "b");

  // The indexed field follows the metadata: "apple" leaves a, "pear" comes to b.
  SearchQuery text;
  text.text_query = "apple";
  REQUIRE(f.Search("c", text).size() == 1);
  REQUIRE_OK(f.collections->UpdateMetadata("", "c", "a", {{"title", "green"}}, true));
  REQUIRE_OK(f.collections->UpdateMetadata("", "c", "b", {{"title", "pear"}}, true));
  CHECK(f.Search("c", text).empty());
  text.text_query = "pear";
  hits = f.Search("c", text);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].document.id == "b");
  text.text_query = "body";  // content is not indexed when content_field is set
  CHECK(f.Search("c", text).empty());

  f.Reopen();
  CHECK(count(R"({"shape": "round"})") == 1);
  text.text_query = "pear";
  REQUIRE(f.Search("c", text).size() == 1);
}

TEST_CASE("the leftovers of an unfinished drop are removed at open", "[collection]") {
  Fixture f("orphans");
  f.Create("live", 2);
  f.Add("live", {MakeDocument("x", {{1, 0}})});
  // What a crash in the middle of Delete leaves: document and vector records of an incarnation
  // whose definition is gone.
  std::string inc(8, '\x07');
  storage::WriteBatch batch;
  batch.Put(KeyBuilder(KeyFamily::kDocument).Name("").Name("gone").Name(inc).Raw("d").key(),
            "garbage");
  batch.Put(KeyBuilder(KeyFamily::kVector).Name("c").Name("").Name("gone").Name(inc).Raw("d").key(),
            "garbage");
  REQUIRE_OK(f.store->Write(&batch));
  CHECK(KeysOf(*f.store, KeyFamily::kDocument) == 2);
  f.Reopen();
  CHECK(KeysOf(*f.store, KeyFamily::kDocument) == 1);
  CHECK(KeysOf(*f.store, KeyFamily::kVector) == 1);
  CHECK(f.Count("live") == 1);
}

TEST_CASE("a collection with an unreadable definition is out of service alone", "[collection]") {
  Fixture f("bad_definition_record");
  f.Create("good", 2);
  f.Create("bad", 2);
  f.Add("good", {MakeDocument("x", {{1, 0}})});
  storage::WriteBatch batch;
  batch.Put(KeyBuilder(KeyFamily::kCollection).Name("").Name("bad").key(), "format=1 dimension=x");
  REQUIRE_OK(f.store->Write(&batch));
  f.Reopen();
  CHECK(f.Count("good") == 1);
  const absl::Status s = f.collections->Get("", "bad").status();
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(std::string(s.message()).find("could not be loaded") != std::string::npos);
  CHECK(f.collections->List([](const std::string&) { return true; }).size() == 1);
  RequireError(f.collections->Create([] {
                 CollectionDefinition d;
                 d.name = "bad";
                 d.spec.dimension = 2;
                 return d;
               }()).status(),
               StatusCode::kAlreadyExists, "Collection 'bad' already exists");
  REQUIRE_OK(f.collections->Delete("", "bad"));
  f.Create("bad", 2);
  CHECK(f.Count("bad") == 0);
}

TEST_CASE("concurrent writers and searchers keep documents, vectors and postings exact",
          "[collection][threads]") {
  Fixture f("threads");
  f.Create("c", 4, vector::Metric::kCosine, /*hybrid=*/true);
  constexpr int kIds = 40;
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0};
  // Catch2's assertions are not thread-safe: threads record failures, the test checks them.
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(failures_mu);
    failures.push_back(what);
  };
  auto writer = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 300; ++i) {
      const std::string id = "d" + std::to_string(rng() % kIds);
      if (rng() % 4 == 0) {
        const absl::Status s = f.collections->DeleteDocument("", "c", id);
        if (!s.ok() && s.code() != StatusCode::kNotFound) fail(s.ToString());
        continue;
      }
      std::vector<std::vector<float>> embeddings(1 + rng() % 3);
      for (auto& e : embeddings) e = RandomVector(rng, 4);
      const absl::Status s =
          f.collections
              ->AddDocuments("", "c",
                             {MakeDocument(id, std::move(embeddings), "common " + id,
                                           {{"w", std::to_string(seed)}})})
              .status();
      if (!s.ok()) fail(s.ToString());
    }
  };
  auto searcher = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      SearchQuery q;
      q.vector = RandomVector(rng, 4);
      q.aggregate = static_cast<Aggregate>(rng() % 3);
      if (rng() % 2 == 0) q.text_query = "common";
      if (rng() % 2 == 0) q.filter = filter::MetadataFilter::ExactMatch({{"w", "1"}});
      absl::StatusOr<std::vector<ScoredDocument>> results = f.collections->Search("", "c", q);
      if (!results.ok()) fail(results.status().ToString());
      for (const ScoredDocument& r : results.value_or(std::vector<ScoredDocument>())) {
        if (r.document.embeddings.empty()) fail("a result without embeddings");
      }
      ++searches;
    }
  };
  std::thread s1(searcher, 11), s2(searcher, 12);
  std::thread w1(writer, 1), w2(writer, 2);
  w1.join();
  w2.join();
  stop = true;
  s1.join();
  s2.join();
  INFO(::Catch::Detail::stringify(failures));
  CHECK(failures.empty());
  CHECK(searches.load() > 0);

  // Memory, the vectors and the postings agree with the stored documents.
  const uint64_t count = f.Count("c");
  SearchQuery all_text;
  all_text.text_query = "common";
  all_text.k = 100;
  CHECK(f.Search("c", all_text).size() == count);
  SearchQuery all_vectors;
  all_vectors.vector = {1, 0, 0, 0};
  all_vectors.k = 100;
  const std::vector<ScoredDocument> hits = f.Search("c", all_vectors);
  CHECK(hits.size() == count);
  f.Reopen();
  CHECK(f.Count("c") == count);
  CHECK(f.Search("c", all_text).size() == count);
  const std::vector<ScoredDocument> reopened = f.Search("c", all_vectors);
  REQUIRE(reopened.size() == hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    CHECK(reopened[i].document.id == hits[i].document.id);
    CHECK(reopened[i].document.embeddings == hits[i].document.embeddings);
  }
}

}  // namespace
}  // namespace sochdb::collection
