// CollectionService and CollectionDocumentService end to end through the real binary: every
// RPC's contract and error channel, scores and ordering against brute force, exact-match and
// JSON filters, keyword and hybrid search, multi-vector documents, metadata updates, counting,
// tenant-scoped listing and persistence across kill -9.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "engine/auth/auth.h"
#include "sochdb/v1/collection.grpc.pb.h"
#include "sochdb/v1/collection_document.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

using v1::CollectionService;

struct Client {
  explicit Client(const ServerProcess& server, std::string key = "")
      : stub(CollectionService::NewStub(server.Channel())),
        docs(v1::CollectionDocumentService::NewStub(server.Channel())),
        api_key(std::move(key)) {}

  v1::CreateCollectionResponse Create(const std::string& ns, const std::string& name,
                                      uint32_t dim, v1::DistanceMetric metric, bool hybrid = false,
                                      grpc::Status* status = nullptr) {
    v1::CreateCollectionRequest req;
    req.set_namespace_(ns);
    req.set_name(name);
    req.set_dimension(dim);
    req.set_metric(metric);
    req.set_enable_hybrid_search(hybrid);
    (*req.mutable_metadata())["owner"] = "tests";
    v1::CreateCollectionResponse resp;
    const grpc::Status s = stub->CreateCollection(MakeContext(api_key).get(), req, &resp);
    if (status != nullptr) *status = s;
    return resp;
  }

  grpc::Status Add(const std::string& ns, const std::string& name,
                   const std::vector<v1::Document>& documents, v1::AddDocumentsResponse* resp) {
    v1::AddDocumentsRequest req;
    req.set_namespace_(ns);
    req.set_collection_name(name);
    for (const v1::Document& d : documents) *req.add_documents() = d;
    return stub->AddDocuments(MakeContext(api_key).get(), req, resp);
  }

  grpc::Status Search(v1::SearchCollectionRequest req, v1::SearchCollectionResponse* resp) {
    return stub->SearchCollection(MakeContext(api_key).get(), req, resp);
  }

  std::unique_ptr<CollectionService::Stub> stub;
  std::unique_ptr<v1::CollectionDocumentService::Stub> docs;
  std::string api_key;
};

v1::Document Doc(const std::string& id, std::vector<float> embedding, const std::string& content,
                 std::map<std::string, std::string> metadata = {}) {
  v1::Document d;
  d.set_id(id);
  d.mutable_embedding()->Add(embedding.begin(), embedding.end());
  d.set_content(content);
  d.mutable_metadata()->insert(metadata.begin(), metadata.end());
  return d;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

v1::SearchCollectionRequest Query(const std::string& ns, const std::string& name,
                                  std::vector<float> q, uint32_t k) {
  v1::SearchCollectionRequest req;
  req.set_namespace_(ns);
  req.set_collection_name(name);
  req.mutable_query()->Add(q.begin(), q.end());
  req.set_k(k);
  return req;
}

std::vector<std::string> ResultIds(const v1::SearchCollectionResponse& resp) {
  std::vector<std::string> ids;
  for (const auto& r : resp.results()) ids.push_back(r.document().id());
  return ids;
}

TEST_CASE("collection lifecycle and the upstream error channel") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  v1::CreateCollectionResponse created = c.Create("default", "notes", 3, v1::DISTANCE_METRIC_COSINE);
  REQUIRE(created.success());
  CHECK(created.collection().name() == "notes");
  CHECK(created.collection().document_count() == 0);
  CHECK(created.collection().metadata().at("owner") == "tests");
  CHECK(created.collection().created_at() > 1'600'000'000);
  v1::CreateCollectionResponse again = c.Create("default", "notes", 3, v1::DISTANCE_METRIC_COSINE);
  CHECK(!again.success());
  CHECK(again.error() == "Collection 'notes' already exists");
  grpc::Status bad;
  c.Create("default", "zero", 0, v1::DISTANCE_METRIC_COSINE, false, &bad);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(c.Create("team", "notes", 3, v1::DISTANCE_METRIC_L2).success());

  v1::GetCollectionRequest get;
  get.set_namespace_("default");
  get.set_name("missing");
  v1::GetCollectionResponse got;
  REQUIRE(c.stub->GetCollection(MakeContext().get(), get, &got).ok());
  CHECK(got.error() == "Collection 'missing' not found");

  v1::ListCollectionsRequest list;
  v1::ListCollectionsResponse listed;
  REQUIRE(c.stub->ListCollections(MakeContext().get(), list, &listed).ok());
  CHECK(listed.collections_size() == 2);  // development mode: every namespace
  list.set_namespace_("team");
  REQUIRE(c.stub->ListCollections(MakeContext().get(), list, &listed).ok());
  REQUIRE(listed.collections_size() == 1);
  CHECK(listed.collections(0).metric() == v1::DISTANCE_METRIC_L2);

  v1::DeleteCollectionRequest del;
  del.set_namespace_("team");
  del.set_name("notes");
  v1::DeleteCollectionResponse deleted;
  REQUIRE(c.stub->DeleteCollection(MakeContext().get(), del, &deleted).ok());
  CHECK(deleted.success());
  REQUIRE(c.stub->DeleteCollection(MakeContext().get(), del, &deleted).ok());
  CHECK(deleted.error() == "Collection 'notes' not found");

  v1::AddDocumentsResponse added;
  REQUIRE(c.Add("team", "notes", {Doc("", {1, 0, 0}, "x")}, &added).ok());
  CHECK(added.added_count() == 0);
  CHECK(added.error() == "Collection 'notes' not found");
}

TEST_CASE("documents: generated ids, upserts, scores by cosine, get and delete") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "docs", 3, v1::DISTANCE_METRIC_UNSPECIFIED).success());
  const std::vector<std::vector<float>> vectors = {{1, 0, 0}, {0.9f, 0.1f, 0}, {0, 1, 0}, {0, 0, 1}};
  std::vector<v1::Document> docs;
  for (size_t i = 0; i < vectors.size(); ++i) {
    docs.push_back(Doc(i == 0 ? "" : absl::StrCat("d", i), vectors[i], absl::StrCat("text ", i),
                       {{"rank", std::to_string(i)}, {"kind", i % 2 ? "odd" : "even"}}));
  }
  v1::AddDocumentsResponse added;
  REQUIRE(c.Add("default", "docs", docs, &added).ok());
  REQUIRE(added.added_count() == 4);
  const std::string generated = added.ids(0);
  CHECK(generated.size() == 36);  // a UUID
  CHECK(added.ids(1) == "d1");

  v1::SearchCollectionResponse resp;
  REQUIRE(c.Search(Query("default", "docs", {1, 0.05f, 0}, 4), &resp).ok());
  REQUIRE(resp.results_size() == 4);
  CHECK(resp.results(0).document().id() == generated);
  CHECK(resp.results(1).document().id() == "d1");
  for (const auto& r : resp.results()) {
    const std::vector<float> e(r.document().embedding().begin(), r.document().embedding().end());
    CHECK(r.score() == Approx(Cosine(e, {1, 0.05f, 0})).epsilon(1e-4));
  }
  CHECK(resp.results(0).document().metadata().at("rank") == "0");

  REQUIRE(c.Search(Query("default", "docs", {1, 0, 0}, 0), &resp).ok());
  CHECK(resp.results_size() == 0);  // k = 0: nothing, as upstream

  REQUIRE(c.Add("default", "docs", {Doc("d1", {0, 0, 1}, "moved")}, &added).ok());
  REQUIRE(c.Search(Query("default", "docs", {0, 0, 1}, 2), &resp).ok());
  CHECK((ResultIds(resp) == std::vector<std::string>{"d1", "d3"} ||
         ResultIds(resp) == std::vector<std::string>{"d3", "d1"}));

  grpc::Status s = c.Add("default", "docs", {Doc("bad", {1, 2}, "short")}, &added);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("dimension") != std::string::npos);

  v1::GetDocumentRequest get;
  get.set_namespace_("default");
  get.set_collection_name("docs");
  get.set_document_id("d1");
  v1::GetDocumentResponse got;
  REQUIRE(c.stub->GetDocument(MakeContext().get(), get, &got).ok());
  CHECK(got.document().content() == "moved");
  CHECK(got.document().embedding_size() == 3);
  get.set_document_id("nope");
  REQUIRE(c.stub->GetDocument(MakeContext().get(), get, &got).ok());
  CHECK(got.error() == "Document 'nope' not found");

  v1::DeleteDocumentRequest del;
  del.set_namespace_("default");
  del.set_collection_name("docs");
  del.set_document_id("d1");
  v1::DeleteDocumentResponse deleted;
  REQUIRE(c.stub->DeleteDocument(MakeContext().get(), del, &deleted).ok());
  CHECK(deleted.success());
  REQUIRE(c.stub->DeleteDocument(MakeContext().get(), del, &deleted).ok());
  CHECK(!deleted.success());
  CHECK(deleted.error() == "Document 'd1' not found");
}

TEST_CASE("filters, min_score, include_embeddings, metadata updates and counts") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "f", 2, v1::DISTANCE_METRIC_COSINE).success());
  std::vector<v1::Document> docs;
  for (int i = 0; i < 50; ++i) {
    const float angle = 0.03f * static_cast<float>(i);
    docs.push_back(Doc(absl::StrCat("doc", i), {std::cos(angle), std::sin(angle)}, "",
                       {{"year", std::to_string(1990 + i)}, {"genre", i % 5 == 0 ? "scifi" : "other"}}));
  }
  v1::AddDocumentsResponse added;
  REQUIRE(c.Add("default", "f", docs, &added).ok());

  v1::SearchCollectionRequest req = Query("default", "f", {1, 0}, 5);
  (*req.mutable_filter())["genre"] = "scifi";
  v1::SearchCollectionResponse resp;
  REQUIRE(c.Search(req, &resp).ok());
  CHECK(ResultIds(resp) == std::vector<std::string>{"doc0", "doc5", "doc10", "doc15", "doc20"});

  req.clear_filter();
  req.set_filter_json(R"({"year": {"$gte": 2030}, "genre": {"$ne": "scifi"}})");
  REQUIRE(c.Search(req, &resp).ok());
  CHECK(ResultIds(resp) == std::vector<std::string>{"doc41", "doc42", "doc43", "doc44", "doc46"});

  req.set_filter_json(R"({"year": {"$regex": "x"}})");
  CHECK(c.Search(req, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  req.clear_filter_json();
  req.set_min_score(std::cos(0.061f));
  req.set_include_embeddings(false);
  REQUIRE(c.Search(req, &resp).ok());
  CHECK(ResultIds(resp) == std::vector<std::string>{"doc0", "doc1", "doc2"});
  CHECK(resp.results(0).document().embedding_size() == 0);

  v1::UpdateDocumentMetadataRequest update;
  update.set_namespace_("default");
  update.set_collection_name("f");
  update.set_document_id("doc1");
  (*update.mutable_metadata())["genre"] = "scifi";
  update.set_merge(true);
  v1::UpdateDocumentMetadataResponse updated;
  REQUIRE(c.docs->UpdateDocumentMetadata(MakeContext().get(), update, &updated).ok());
  CHECK(updated.success());
  v1::CountDocumentsRequest count;
  count.set_namespace_("default");
  count.set_collection_name("f");
  (*count.mutable_filter())["genre"] = "scifi";
  v1::CountDocumentsResponse counted;
  REQUIRE(c.docs->CountDocuments(MakeContext().get(), count, &counted).ok());
  CHECK(counted.count() == 11);
  count.set_filter_json(R"({"year": {"$lt": 1995}})");
  REQUIRE(c.docs->CountDocuments(MakeContext().get(), count, &counted).ok());
  CHECK(counted.count() == 2);  // doc0 and doc1 are scifi before 1995
  update.set_document_id("ghost");
  REQUIRE(c.docs->UpdateDocumentMetadata(MakeContext().get(), update, &updated).ok());
  CHECK(updated.error() == "Document 'ghost' not found");
}

TEST_CASE("keyword and hybrid search; multi-vector documents") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "h", 2, v1::DISTANCE_METRIC_COSINE, /*hybrid=*/true).success());
  v1::AddDocumentsResponse added;
  REQUIRE(c.Add("default", "h",
                {Doc("a", {1, 0}, "the quick brown fox"), Doc("b", {0, 1}, "lazy dogs sleep"),
                 Doc("c", {0.7f, 0.7f}, "a fox and a dog")},
                &added).ok());
  v1::SearchCollectionRequest keyword;
  keyword.set_namespace_("default");
  keyword.set_collection_name("h");
  keyword.set_k(3);
  keyword.set_text_query("fox");
  v1::SearchCollectionResponse resp;
  REQUIRE(c.Search(keyword, &resp).ok());
  const std::vector<std::string> keyword_ids = ResultIds(resp);
  REQUIRE(keyword_ids.size() == 2);  // only documents holding the term
  CHECK(std::set<std::string>(keyword_ids.begin(), keyword_ids.end()) ==
        std::set<std::string>{"a", "c"});

  v1::SearchCollectionRequest hybrid = Query("default", "h", {0, 1}, 3);
  hybrid.set_text_query("fox");
  hybrid.set_alpha(0.5f);
  REQUIRE(c.Search(hybrid, &resp).ok());
  REQUIRE(resp.results_size() == 3);
  CHECK(resp.results(0).document().id() == "c");  // second in both lists beats first in one
  hybrid.set_alpha(1.0f);
  REQUIRE(c.Search(hybrid, &resp).ok());
  CHECK(resp.results(0).document().id() == "b");  // vector only

  REQUIRE(c.Create("default", "plain", 2, v1::DISTANCE_METRIC_COSINE).success());
  v1::SearchCollectionRequest refused = Query("default", "plain", {1, 0}, 1);
  refused.set_text_query("fox");
  CHECK(c.Search(refused, &resp).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  REQUIRE(c.Create("default", "multi", 2, v1::DISTANCE_METRIC_COSINE).success());
  v1::Document m1 = Doc("m1", {1, 0}, "");
  v1::Vector* second = m1.add_extra_embeddings();
  second->add_values(0);
  second->add_values(1);
  v1::Document m2 = Doc("m2", {0.8f, 0.6f}, "");
  REQUIRE(c.Add("default", "multi", {m1, m2}, &added).ok());
  v1::SearchCollectionRequest multi = Query("default", "multi", {0, 1}, 2);
  REQUIRE(c.Search(multi, &resp).ok());
  CHECK(ResultIds(resp) == std::vector<std::string>{"m1", "m2"});  // max: m1's second vector
  multi.set_aggregate(v1::MULTI_VECTOR_AGGREGATE_FIRST);
  REQUIRE(c.Search(multi, &resp).ok());
  CHECK(ResultIds(resp) == std::vector<std::string>{"m2", "m1"});  // first: (1,0) scores 0
  REQUIRE(resp.results(1).document().extra_embeddings_size() == 1);
}

TEST_CASE("listing is scoped to the caller's namespaces; data survives kill -9") {
  const std::string dir = NewTempDir("ckeys");
  {
    std::ofstream keys(dir + "/keys");
    keys << *auth::MakeKeyEntry("sk_col_alpha_000001", "alpha", auth::Role::kEditor, "a") << "\n"
         << *auth::MakeKeyEntry("sk_col_beta_0000001", "beta", auth::Role::kEditor, "b") << "\n";
  }
  ServerProcess server({{}, {"--auth-keys", dir + "/keys"}});
  StartOrFail(server);
  Client alpha(server, "sk_col_alpha_000001"), beta(server, "sk_col_beta_0000001");
  REQUIRE(alpha.Create("alpha", "kb", 2, v1::DISTANCE_METRIC_COSINE).success());
  REQUIRE(alpha.Create("alpha/docs", "kb", 2, v1::DISTANCE_METRIC_COSINE).success());
  REQUIRE(beta.Create("beta", "kb", 2, v1::DISTANCE_METRIC_COSINE).success());
  grpc::Status refused;
  beta.Create("alpha", "stolen", 2, v1::DISTANCE_METRIC_COSINE, false, &refused);
  CHECK(refused.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  v1::ListCollectionsResponse listed;
  REQUIRE(beta.stub->ListCollections(MakeContext(beta.api_key).get(), {}, &listed).ok());
  REQUIRE(listed.collections_size() == 1);
  CHECK(listed.collections(0).namespace_() == "beta");
  REQUIRE(alpha.stub->ListCollections(MakeContext(alpha.api_key).get(), {}, &listed).ok());
  CHECK(listed.collections_size() == 2);

  v1::AddDocumentsResponse added;
  REQUIRE(alpha.Add("alpha", "kb", {Doc("keep", {1, 0}, "kept")}, &added).ok());
  server.Kill9();
  StartOrFail(server);
  Client again(server, "sk_col_alpha_000001");
  v1::SearchCollectionResponse resp;
  REQUIRE(again.Search(Query("alpha", "kb", {1, 0}, 1), &resp).ok());
  REQUIRE(resp.results_size() == 1);
  CHECK(resp.results(0).document().content() == "kept");
}

TEST_CASE("collection answers are bounded by the answer budget, naming it") {
  // --max-message-mb 8: the answer budget is 3/4 of it, 6 MiB (6291456 bytes).
  ServerProcess server({{}, {"--max-message-mb", "8", "--sync", "off"}});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "big", 2, v1::DISTANCE_METRIC_COSINE).success());
  v1::AddDocumentsResponse added;
  for (int call = 0; call < 2; ++call) {
    std::vector<v1::Document> docs;
    for (int i = 0; i < 5; ++i) {
      docs.push_back(Doc(absl::StrCat("d", call, i), {1, 0.01f * i}, std::string(1 << 20, 'c')));
    }
    REQUIRE(c.Add("default", "big", docs, &added).ok());
  }
  // Before: ten 1 MiB documents were built into one answer, then refused by gRPC ("Sent message
  // larger than max").
  v1::SearchCollectionResponse resp;
  grpc::Status s = c.Search(Query("default", "big", {1, 0}, 10), &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "SearchCollection answer exceeds 6291456 bytes (--max-response-mb); lower k, or leave "
        "embeddings out (include_embeddings=false)");
  REQUIRE(c.Search(Query("default", "big", {1, 0}, 5), &resp).ok());
  CHECK(resp.results_size() == 5);
  // Without embeddings the hint does not name them (before: it did).
  v1::SearchCollectionRequest bare = Query("default", "big", {1, 0}, 10);
  bare.set_include_embeddings(false);
  s = c.Search(bare, &resp);
  CHECK(s.error_message() ==
        "SearchCollection answer exceeds 6291456 bytes (--max-response-mb); lower k");

  // 150 collections with 60 KiB of metadata each: a 9.2 MB list. Before: built whole, then
  // refused by gRPC ("Sent message larger than max").
  for (int i = 0; i < 150; ++i) {
    v1::CreateCollectionRequest req;
    req.set_namespace_("many");
    req.set_name(absl::StrCat("c", i));
    req.set_dimension(2);
    (*req.mutable_metadata())["notes"] = std::string(60 << 10, 'm');
    v1::CreateCollectionResponse created;
    REQUIRE(c.stub->CreateCollection(MakeContext().get(), req, &created).ok());
  }
  v1::ListCollectionsResponse listed;
  s = c.stub->ListCollections(MakeContext().get(), {}, &listed);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(s.error_message() ==
        "ListCollections answer exceeds 6291456 bytes (--max-response-mb); list one namespace at "
        "a time");
  v1::ListCollectionsRequest one_ns;
  one_ns.set_namespace_("default");
  REQUIRE(c.stub->ListCollections(MakeContext().get(), one_ns, &listed).ok());
  CHECK(listed.collections_size() == 1);
}

TEST_CASE("AddDocuments refuses a document id given twice; added_count counts what was stored") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "dups", 2, v1::DISTANCE_METRIC_COSINE).success());
  v1::AddDocumentsResponse added;
  grpc::Status s = c.Add("default", "dups", {Doc("a", {1, 0}, "1"), Doc("a", {0, 1}, "2")}, &added);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "documents[1].id duplicates documents[0].id");
  // An id already stored is replaced (an upsert) and counted.
  REQUIRE(c.Add("default", "dups", {Doc("a", {1, 0}, "1")}, &added).ok());
  REQUIRE(c.Add("default", "dups", {Doc("a", {0, 1}, "2"), Doc("b", {1, 1}, "3")}, &added).ok());
  CHECK(added.added_count() == 2);
  v1::GetCollectionRequest get;
  get.set_namespace_("default");
  get.set_name("dups");
  v1::GetCollectionResponse info;
  REQUIRE(c.stub->GetCollection(MakeContext().get(), get, &info).ok());
  CHECK(info.collection().document_count() == 2);
}

TEST_CASE("a bad extra embedding is named by its field and index in the request") {
  ServerProcess server({});
  StartOrFail(server);
  Client c(server);
  REQUIRE(c.Create("default", "multi", 2, v1::DISTANCE_METRIC_COSINE).success());
  v1::Document with_first = Doc("m", {1, 0}, "");
  with_first.add_extra_embeddings()->add_values(1);  // 1 float of 2
  v1::AddDocumentsResponse added;
  // Before: "documents[0].embeddings[1] has 1 floats; ..."
  grpc::Status s = c.Add("default", "multi", {with_first}, &added);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() ==
        "documents[0].extra_embeddings[0].values has 1 floats; the collection dimension is 2");
  // Extra vectors only (no `embedding`): the second is extra_embeddings[1].
  v1::Document extras_only = Doc("n", {}, "");
  for (const float second : {1.f, std::nanf("")}) {
    v1::Vector* extra = extras_only.add_extra_embeddings();
    extra->add_values(0);
    extra->add_values(second);
  }
  s = c.Add("default", "multi", {Doc("ok", {0, 1}, ""), extras_only}, &added);
  CHECK(s.error_message() == "documents[1].extra_embeddings[1].values[1] is NaN");
}

}  // namespace
}  // namespace sochdb::testing
