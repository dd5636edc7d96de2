// Tests for GraphStore's edge reads: GetEdges and GetNeighbors per direction on a graph built to
// tell the directions apart (upstream's INCOMING returned outgoing edges too), BOTH listing each
// edge once and a self-loop once, edge type filters, and paging: over a node with 2,500 edges of
// 3 types every edge comes exactly once, in order, and a forged page token is refused or reads
// only the node it is used on.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/graph/graph_store.h"
#include "tests/common/status_testing.h"
#include "tests/engine/graph/graph_fixture.h"

namespace sochdb::graph {
namespace {

using sochdb::testing::ValueOrFail;
using testing::GraphFixture;
using testing::Ids;
using testing::Names;
using Strings = std::vector<std::string>;

// "c" has outgoing edges, incoming edges of other types and sources, and a self-loop; "a" and
// "b" are nodes, "d" is only an endpoint; a-knows->b does not touch c.
void BuildDirections(GraphFixture& f) {
  f.AddNode("ns", "a");
  f.AddNode("ns", "b");
  f.AddNode("ns", "c");
  f.AddEdge("ns", "c", "knows", "b");
  f.AddEdge("ns", "c", "knows", "a");
  f.AddEdge("ns", "c", "likes", "a");
  f.AddEdge("ns", "a", "knows", "c");
  f.AddEdge("ns", "d", "hates", "c");
  f.AddEdge("ns", "b", "likes", "c");
  f.AddEdge("ns", "c", "self", "c");
  f.AddEdge("ns", "a", "knows", "b");
}

EdgeQuery Query(std::string node, Direction direction, Strings types = {}) {
  EdgeQuery query;
  query.node = std::move(node);
  query.direction = direction;
  query.edge_types = std::move(types);
  return query;
}

Strings Edges(GraphFixture& f, const EdgeQuery& query) {
  const EdgePage page = ValueOrFail(f.graph().GetEdges("ns", query));
  CHECK(page.next_page_token.empty());
  return Names(page.edges);
}

TEST_CASE("GetEdges: OUT, IN and BOTH (each edge once, the self-loop once)", "[graph]") {
  GraphFixture f;
  BuildDirections(f);
  // Types in storage order: by length, then bytes ("self" before "hates").
  CHECK(Edges(f, Query("c", Direction::kOut)) ==
        Strings{"c-self->c", "c-knows->a", "c-knows->b", "c-likes->a"});
  CHECK(Edges(f, Query("c", Direction::kIn)) ==
        Strings{"c-self->c", "d-hates->c", "a-knows->c", "b-likes->c"});
  CHECK(Edges(f, Query("c", Direction::kBoth)) == Strings{"c-self->c", "c-knows->a", "c-knows->b",
                                                          "c-likes->a", "d-hates->c", "a-knows->c",
                                                          "b-likes->c"});
  CHECK(Edges(f, Query("c", Direction::kOut, {"knows"})) == Strings{"c-knows->a", "c-knows->b"});
  CHECK(Edges(f, Query("c", Direction::kIn, {"knows"})) == Strings{"a-knows->c"});
  CHECK(Edges(f, Query("c", Direction::kBoth, {"self", "knows"})) ==
        Strings{"c-self->c", "c-knows->a", "c-knows->b", "a-knows->c"});
  CHECK(Edges(f, Query("c", Direction::kBoth, {"nothing"})).empty());
  CHECK(Edges(f, Query("d", Direction::kIn)).empty());
  CHECK(Edges(f, Query("d", Direction::kOut)) == Strings{"d-hates->c"});
  CHECK(Edges(f, Query("nobody", Direction::kBoth)).empty());  // no edges is no error
}

TEST_CASE("GetNeighbors: per direction, one edge per neighbour, nodes that exist", "[graph]") {
  GraphFixture f;
  BuildDirections(f);
  const Strings types = {"knows", "likes", "hates"};
  NeighborPage out = ValueOrFail(f.graph().GetNeighbors("ns", Query("c", Direction::kOut, types)));
  CHECK(Ids(out.nodes) == Strings{"a", "b"});
  CHECK(Names(out.edges) == Strings{"c-knows->a", "c-knows->b"});  // c-likes->a: a seen

  NeighborPage in = ValueOrFail(f.graph().GetNeighbors("ns", Query("c", Direction::kIn, types)));
  CHECK(Ids(in.nodes) == Strings{"a", "b"});  // d is no node
  CHECK(Names(in.edges) == Strings{"d-hates->c", "a-knows->c", "b-likes->c"});

  NeighborPage both =
      ValueOrFail(f.graph().GetNeighbors("ns", Query("c", Direction::kBoth, types)));
  CHECK(Ids(both.nodes) == Strings{"a", "b"});
  CHECK(Names(both.edges) == Strings{"c-knows->a", "c-knows->b", "d-hates->c"});

  NeighborPage likes =
      ValueOrFail(f.graph().GetNeighbors("ns", Query("c", Direction::kBoth, {"likes"})));
  CHECK(Ids(likes.nodes) == Strings{"a", "b"});
  CHECK(Names(likes.edges) == Strings{"c-likes->a", "b-likes->c"});
  CHECK(likes.next_page_token.empty());
}

// 2,000 outgoing edges of 3 types and 500 incoming ones.
void BuildPagingHub(GraphFixture& f, std::string_view ns) {
  std::vector<Edge> edges;
  for (int i = 0; i < 2000; ++i) {
    edges.push_back({"hub", absl::StrFormat("t%d", i % 3), absl::StrFormat("n%04d", i), {}});
  }
  for (int i = 0; i < 500; ++i) {
    edges.push_back({absl::StrFormat("m%03d", i), absl::StrFormat("t%d", i % 3), "hub", {}});
  }
  REQUIRE_OK(f.graph().AddEdges(ns, absl::MakeConstSpan(edges).subspan(0, 1250)));
  REQUIRE_OK(f.graph().AddEdges(ns, absl::MakeConstSpan(edges).subspan(1250)));
}

// Every page of `query` with `limit`, concatenated; checks each page's size.
Strings AllPages(GraphFixture& f, EdgeQuery query, uint32_t limit, int* pages) {
  query.limit = limit;
  Strings all;
  *pages = 0;
  for (;;) {
    const EdgePage page = ValueOrFail(f.graph().GetEdges("ns", query));
    ++*pages;
    REQUIRE(page.edges.size() <= limit);
    for (const std::string& name : Names(page.edges)) all.push_back(name);
    if (page.next_page_token.empty()) return all;
    REQUIRE(*pages < 10'000);
    query.page_token = page.next_page_token;
  }
}

TEST_CASE("GetEdges paging: every edge exactly once, in order, whatever the page size",
          "[graph][paging]") {
  GraphFixture f;
  BuildPagingHub(f, "ns");
  for (Direction direction : {Direction::kOut, Direction::kIn, Direction::kBoth}) {
    for (const Strings& types : {Strings{}, Strings{"t1"}, Strings{"t0", "t2"}}) {
      const Strings whole = Edges(f, Query("hub", direction, types));
      REQUIRE(std::set<std::string>(whole.begin(), whole.end()).size() == whole.size());
      for (uint32_t limit : {1u, 7u, 300u, 2500u, 5000u}) {
        if (limit == 1 && whole.size() > 1000) continue;  // the 1-edge pages of a small set
        INFO("direction " << static_cast<int>(direction) << " types " << types.size() << " limit "
                          << limit);
        int pages = 0;
        CHECK(AllPages(f, Query("hub", direction, types), limit, &pages) == whole);
        const size_t expected_pages = std::max<size_t>(1, (whole.size() + limit - 1) / limit);
        CHECK(static_cast<size_t>(pages) == expected_pages);
      }
    }
  }
  CHECK(Edges(f, Query("hub", Direction::kBoth)).size() == 2500);
  CHECK(Edges(f, Query("hub", Direction::kIn, {"t1"})).size() == 167);
}

TEST_CASE("GetEdges paging with long ids and types resumes exactly where it stopped",
          "[graph][paging]") {
  // Suffixes past any small-string buffer: a page position that outlived its bytes shows here.
  GraphFixture f;
  std::vector<Edge> edges;
  for (int i = 0; i < 400; ++i) {
    edges.push_back({"hub",
                     std::string(40, 'a' + i % 3) + "-type",
                     absl::StrFormat("%s-%05d", std::string(60, 'n'), i),
                     {}});
    edges.push_back({absl::StrFormat("%s-%05d", std::string(60, 'm'), i),
                     std::string(40, 'a' + i % 2) + "-type",
                     "hub",
                     {}});
  }
  REQUIRE_OK(f.graph().AddEdges("ns", edges));
  for (Direction direction : {Direction::kOut, Direction::kIn, Direction::kBoth}) {
    const Strings whole = Edges(f, Query("hub", direction));
    for (uint32_t limit : {1u, 3u, 64u}) {
      int pages = 0;
      INFO("direction " << static_cast<int>(direction) << " limit " << limit);
      CHECK(AllPages(f, Query("hub", direction), limit, &pages) == whole);
    }
  }
}

TEST_CASE("GetNeighbors paging: every neighbour reached, listed once per page", "[graph][paging]") {
  GraphFixture f;
  // Each of 300 neighbours reached by two edges: "a" out and "b" in.
  std::vector<Edge> edges;
  for (int i = 0; i < 300; ++i) {
    const std::string other = absl::StrFormat("p%03d", i);
    f.AddNode("ns", other);
    edges.push_back({"me", "a", other, {}});
    edges.push_back({other, "b", "me", {}});
  }
  REQUIRE_OK(f.graph().AddEdges("ns", edges));
  EdgeQuery query = Query("me", Direction::kBoth);
  query.limit = 70;
  std::set<std::string> reached;
  int pages = 0;
  for (;;) {
    const NeighborPage page = ValueOrFail(f.graph().GetNeighbors("ns", query));
    ++pages;
    REQUIRE(page.edges.size() <= 70);
    const Strings ids = Ids(page.nodes);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    CHECK(ids.size() == page.edges.size());  // every neighbour is a node here
    reached.insert(ids.begin(), ids.end());
    if (page.next_page_token.empty()) break;
    REQUIRE(pages < 100);
    query.page_token = page.next_page_token;
  }
  CHECK(reached.size() == 300);
  CHECK(pages == 9);  // 600 edges, 70 a page
}

TEST_CASE("a garbage or forged page token is refused or reads only its own node",
          "[graph][paging]") {
  GraphFixture f;
  BuildPagingHub(f, "ns");
  BuildPagingHub(f, "other");
  f.AddEdge("other", "hub", "secret", "leak");
  f.AddEdge("ns", "zz", "secret", "leak");
  const Strings whole = Edges(f, Query("hub", Direction::kBoth));
  const std::set<std::string> hub_edges(whole.begin(), whole.end());

  for (const std::string& token : Strings{"garbage", "\x01", std::string(3000, 'x')}) {
    EdgeQuery query = Query("hub", Direction::kBoth);
    query.limit = 10;
    query.page_token = token;
    CHECK(f.graph().GetEdges("ns", query).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(f.graph().GetNeighbors("ns", query).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }

  // Real tokens, from other nodes, namespaces and directions, and with every byte altered.
  std::vector<std::string> tokens;
  for (const auto& [ns, node, direction] :
       {std::tuple{"ns", "hub", Direction::kOut}, std::tuple{"ns", "hub", Direction::kIn},
        std::tuple{"other", "hub", Direction::kBoth}, std::tuple{"ns", "zz", Direction::kOut}}) {
    EdgeQuery first = Query(node, direction);
    first.limit = node == std::string("zz") ? 0 : 250;
    const EdgePage page = ValueOrFail(f.graph().GetEdges(ns, first));
    if (!page.next_page_token.empty()) tokens.push_back(page.next_page_token);
  }
  REQUIRE(tokens.size() == 3);
  const size_t real = tokens.size();
  for (size_t t = 0; t < real; ++t) {
    for (size_t i = 0; i < tokens[t].size(); ++i) {
      std::string forged = tokens[t];
      forged[i] = static_cast<char>(forged[i] ^ 0x5a);
      tokens.push_back(forged);
    }
  }
  int refused = 0;
  for (const std::string& token : tokens) {
    EdgeQuery query = Query("hub", Direction::kBoth);
    query.limit = 50;
    query.page_token = token;
    absl::StatusOr<EdgePage> page = f.graph().GetEdges("ns", query);
    if (!page.ok()) {
      CHECK(page.status().code() == absl::StatusCode::kInvalidArgument);
      ++refused;
      continue;
    }
    for (const std::string& name : Names(page->edges)) {
      INFO("token " << storage::QuotedKey(token) << " read " << name);
      CHECK(hub_edges.count(name) == 1);
    }
  }
  INFO(refused << " of " << tokens.size() << " tokens refused");
  CHECK(refused > 0);
}

}  // namespace
}  // namespace sochdb::graph
