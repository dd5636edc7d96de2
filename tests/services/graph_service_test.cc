// GraphService and GraphExtensionService over the real call layer and a real Engine, in
// process: what the service layer decides rather than the engine: which failures are an OK
// response with `error` (upstream's channel) and which a status, GetEdge's found flag,
// EndTemporalEdge's success flag, enum numbers and node_filter refused naming the field, bulk
// counts, and StreamEdges (the namespace carried from the first message, one stream writing
// one namespace, an error saying what stays committed). The graph's own semantics are the
// engine's tests; the Python end-to-end tests run the SDK's calls against the binary. Policies
// see both services as `graph`, a node as its id, an edge as "<from>/<type>/<to>" and a
// traversal as every key.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "engine/engine.h"
#include "engine/policy/policy.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/registry.h"
#include "server/rpc/grpc_server.h"
#include "services/graph/graph_extension_service.h"
#include "services/graph/graph_service.h"
#include "sochdb/v1/graph.grpc.pb.h"
#include "sochdb/v1/graph_extension.grpc.pb.h"

namespace sochdb {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return context;
}

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/graph_service");
  std::filesystem::remove_all(dir);
  return dir;
}

v1::GraphEdge MakeEdge(const std::string& from, const std::string& type, const std::string& to) {
  v1::GraphEdge edge;
  edge.set_from_id(from);
  edge.set_edge_type(type);
  edge.set_to_id(to);
  return edge;
}

struct Harness {
  Harness() : metrics(registry) {
    EngineOptions options;
    options.data_dir = TestDir();
    options.store.sync_mode = storage::SyncMode::kOff;
    engine = std::move(Engine::Open(options)).value();
    server::GrpcServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    server = std::make_unique<server::GrpcServer>(server_options, &authorizer, &metrics,
                                                  &engine->governance());
    graph = std::make_unique<services::GraphService>(&engine->graph());
    extensions = std::make_unique<services::GraphExtensionService>(&engine->graph());
    graph->Register(*server);
    extensions->Register(*server);
    REQUIRE(server->Start().ok());
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                       grpc::InsecureChannelCredentials());
    stub = v1::GraphService::NewStub(channel);
    ext = v1::GraphExtensionService::NewStub(channel);
  }
  ~Harness() { server->Shutdown(absl::Seconds(5)); }

  // A DENY rule of the development tenant on `pattern` for `trigger`, for service `graph`.
  void Deny(const std::string& name, const std::string& pattern, policy::Trigger trigger) {
    policy::PolicyRule rule;
    rule.name = name;
    rule.pattern = pattern;
    rule.trigger = trigger;
    rule.action = policy::Action::kDeny;
    rule.expression = "service == 'graph'";
    const std::shared_ptr<const auth::Principal> who =
        *authorizer.Authenticate(std::nullopt, std::nullopt);
    REQUIRE(engine->policies().Register(*who, rule).ok());
  }

  // Whether (from, type, to) is stored in `ns`, through GetEdge.
  bool HasEdge(const std::string& ns, const std::string& from, const std::string& type,
               const std::string& to) {
    v1::GetEdgeRequest req;
    req.set_namespace_(ns);
    req.set_from_id(from);
    req.set_edge_type(type);
    req.set_to_id(to);
    v1::GetEdgeResponse resp;
    REQUIRE(ext->GetEdge(Context().get(), req, &resp).ok());
    return resp.found();
  }

  prometheus::Registry registry;
  auth::Authorizer authorizer{nullptr};
  server::RpcMetrics metrics;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<server::GrpcServer> server;
  std::unique_ptr<services::GraphService> graph;
  std::unique_ptr<services::GraphExtensionService> extensions;
  std::unique_ptr<v1::GraphService::Stub> stub;
  std::unique_ptr<v1::GraphExtensionService::Stub> ext;
};

TEST_CASE("missing nodes, edges and paths are upstream's OK answers with an error text") {
  Harness h;
  v1::AddNodeRequest add_node;
  add_node.set_namespace_("kg");
  v1::AddNodeResponse node_added;
  REQUIRE(h.stub->AddNode(Context().get(), add_node, &node_added).ok());
  CHECK_FALSE(node_added.success());
  CHECK(node_added.error() == "Node is required");

  v1::AddEdgeRequest add_edge;
  add_edge.set_namespace_("kg");
  v1::AddEdgeResponse edge_added;
  REQUIRE(h.stub->AddEdge(Context().get(), add_edge, &edge_added).ok());
  CHECK_FALSE(edge_added.success());
  CHECK(edge_added.error() == "Edge is required");

  v1::GetNodeRequest get;
  get.set_namespace_("kg");
  get.set_node_id("ghost");
  v1::GetNodeResponse got;
  REQUIRE(h.stub->GetNode(Context().get(), get, &got).ok());
  CHECK_FALSE(got.has_node());
  CHECK(got.error() == "Node 'ghost' not found");

  v1::DeleteNodeRequest del;
  del.set_namespace_("kg");
  del.set_node_id("ghost");
  v1::DeleteNodeResponse deleted;
  REQUIRE(h.stub->DeleteNode(Context().get(), del, &deleted).ok());
  CHECK_FALSE(deleted.success());
  CHECK(deleted.error() == "Node 'ghost' not found");

  v1::DeleteEdgeRequest del_edge;
  del_edge.set_namespace_("kg");
  del_edge.set_from_id("a");
  del_edge.set_edge_type("t");
  del_edge.set_to_id("b");
  v1::DeleteEdgeResponse edge_deleted;
  REQUIRE(h.stub->DeleteEdge(Context().get(), del_edge, &edge_deleted).ok());
  CHECK_FALSE(edge_deleted.success());
  CHECK(edge_deleted.error() == "Edge not found");

  v1::ShortestPathRequest path;
  path.set_namespace_("kg");
  path.set_from_id("a");
  path.set_to_id("b");
  path.set_max_depth(3);
  v1::ShortestPathResponse no_path;
  REQUIRE(h.stub->ShortestPath(Context().get(), path, &no_path).ok());
  CHECK(no_path.path().empty());
  CHECK(no_path.error() == "No path found from 'a' to 'b'");

  CHECK_FALSE(h.HasEdge("kg", "a", "t", "b"));  // GetEdge: found=false, no error channel
}

TEST_CASE("bad input is a status naming the field") {
  Harness h;
  v1::AddNodeRequest add_node;
  add_node.set_namespace_("kg");
  add_node.mutable_node()->set_id("");  // the engine's INVALID_ARGUMENT, not an error text
  v1::AddNodeResponse node_added;
  const grpc::Status empty_id = h.stub->AddNode(Context().get(), add_node, &node_added);
  CHECK(empty_id.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(empty_id.error_message().find("id") != std::string::npos);

  v1::GetEdgesRequest edges;
  edges.set_namespace_("kg");
  edges.set_node_id("a");
  edges.set_direction(static_cast<v1::EdgeDirection>(5));
  v1::GetEdgesResponse edges_resp;
  const grpc::Status direction = h.stub->GetEdges(Context().get(), edges, &edges_resp);
  CHECK(direction.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(direction.error_message() == "direction 5 is not a known EdgeDirection");

  v1::TraverseRequest traverse;
  traverse.set_namespace_("kg");
  traverse.set_start_node_id("a");
  traverse.set_node_filter(R"({"age": {"$gt": []}})");
  v1::TraverseResponse traversed;
  const grpc::Status filter = h.stub->Traverse(Context().get(), traverse, &traversed);
  CHECK(filter.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(filter.error_message() == "node_filter.age: $gt needs a number or string");

  v1::QueryTemporalGraphRequest temporal;
  temporal.set_namespace_("kg");
  temporal.set_node_id("a");
  temporal.set_mode(static_cast<v1::TemporalQueryMode>(4));
  v1::QueryTemporalGraphResponse temporal_resp;
  const grpc::Status mode = h.stub->QueryTemporalGraph(Context().get(), temporal, &temporal_resp);
  CHECK(mode.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(mode.error_message() == "mode 4 is not a known TemporalQueryMode");
}

TEST_CASE("GetEdge, EndTemporalEdge and the bulk calls answer through their own fields") {
  Harness h;
  v1::AddEdgeRequest add;
  add.set_namespace_("kg");
  *add.mutable_edge() = MakeEdge("alice", "knows", "bob");
  (*add.mutable_edge()->mutable_properties())["since"] = "2020";
  v1::AddEdgeResponse added;
  REQUIRE(h.stub->AddEdge(Context().get(), add, &added).ok());
  CHECK(added.success());
  v1::GetEdgeRequest get;
  get.set_namespace_("kg");
  get.set_from_id("alice");
  get.set_edge_type("knows");
  get.set_to_id("bob");
  v1::GetEdgeResponse got;
  REQUIRE(h.ext->GetEdge(Context().get(), get, &got).ok());
  CHECK(got.found());
  CHECK(got.edge().properties().at("since") == "2020");

  v1::EndTemporalEdgeRequest end;
  end.set_namespace_("home");
  end.set_from_id("door");
  end.set_edge_type("STATE");
  end.set_to_id("open");
  end.set_end_time(2000);
  v1::EndTemporalEdgeResponse nothing_open;
  REQUIRE(h.ext->EndTemporalEdge(Context().get(), end, &nothing_open).ok());
  CHECK_FALSE(nothing_open.success());
  CHECK_FALSE(nothing_open.error().empty());
  v1::AddTemporalEdgeRequest temporal;
  temporal.set_namespace_("home");
  temporal.set_from_id("door");
  temporal.set_edge_type("STATE");
  temporal.set_to_id("open");
  temporal.set_valid_from(1000);
  v1::AddTemporalEdgeResponse temporal_added;
  REQUIRE(h.stub->AddTemporalEdge(Context().get(), temporal, &temporal_added).ok());
  CHECK(temporal_added.success());
  v1::EndTemporalEdgeResponse ended;
  REQUIRE(h.ext->EndTemporalEdge(Context().get(), end, &ended).ok());
  CHECK(ended.success());
  CHECK(ended.error().empty());
  CHECK((ended.edge().valid_from() == 1000 && ended.edge().valid_until() == 2000));

  v1::AddNodesRequest nodes;
  nodes.set_namespace_("kg");
  for (int i = 0; i < 3; ++i) nodes.add_nodes()->set_id(absl::StrCat("n", i));
  v1::AddNodesResponse nodes_added;
  REQUIRE(h.ext->AddNodes(Context().get(), nodes, &nodes_added).ok());
  CHECK(nodes_added.added_count() == 3);
  v1::AddEdgesRequest edges;
  edges.set_namespace_("kg");
  *edges.add_edges() = MakeEdge("n0", "t", "n1");
  *edges.add_edges() = MakeEdge("n1", "t", "n2");
  v1::AddEdgesResponse edges_added;
  REQUIRE(h.ext->AddEdges(Context().get(), edges, &edges_added).ok());
  CHECK(edges_added.added_count() == 2);
  CHECK(h.HasEdge("kg", "n1", "t", "n2"));
}

TEST_CASE("policies know both services as `graph` and see nodes, edges and wide reads") {
  Harness h;
  h.Deny("no-alice-knows", "alice/knows/*", policy::Trigger::kBeforeWrite);
  h.Deny("no-secret-reads", "secret*", policy::Trigger::kBeforeRead);
  v1::AddEdgeRequest add;
  add.set_namespace_("kg");
  *add.mutable_edge() = MakeEdge("alice", "knows", "bob");
  v1::AddEdgeResponse added;
  grpc::Status status = h.stub->AddEdge(Context().get(), add, &added);
  CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(status.error_message() == "Denied by policy: no-alice-knows");
  *add.mutable_edge() = MakeEdge("alice", "likes", "bob");
  CHECK(h.stub->AddEdge(Context().get(), add, &added).ok());

  // The extension service is `graph` too, and a bulk call presents every item's key.
  v1::AddEdgesRequest bulk;
  bulk.set_namespace_("kg");
  *bulk.add_edges() = MakeEdge("carol", "knows", "dave");
  *bulk.add_edges() = MakeEdge("alice", "knows", "erin");
  v1::AddEdgesResponse bulk_added;
  status = h.ext->AddEdges(Context().get(), bulk, &bulk_added);
  CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK_FALSE(h.HasEdge("kg", "carol", "knows", "dave"));

  // A node is its id; a traversal may read any key of the graph: the prefix "".
  v1::GetNodeRequest get;
  get.set_namespace_("kg");
  get.set_node_id("public");
  v1::GetNodeResponse got;
  CHECK(h.stub->GetNode(Context().get(), get, &got).ok());
  get.set_node_id("secret-plans");
  CHECK(h.stub->GetNode(Context().get(), get, &got).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  v1::TraverseRequest traverse;
  traverse.set_namespace_("kg");
  traverse.set_start_node_id("alice");
  v1::TraverseResponse traversed;
  CHECK(h.stub->Traverse(Context().get(), traverse, &traversed).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("a DeleteNode is held to rules on the edges into the node") {
  Harness h;
  v1::AddEdgeRequest add;
  add.set_namespace_("kg");
  *add.mutable_edge() = MakeEdge("alice", "knows", "bob");
  v1::AddEdgeResponse added;
  REQUIRE(h.stub->AddEdge(Context().get(), add, &added).ok());
  // Deleting bob removes alice/knows/bob, which no key of bob's own covers.
  h.Deny("keep-alice-edges", "alice/*", policy::Trigger::kBeforeDelete);
  v1::DeleteNodeRequest del;
  del.set_namespace_("kg");
  del.set_node_id("bob");
  v1::DeleteNodeResponse deleted;
  const grpc::Status status = h.stub->DeleteNode(Context().get(), del, &deleted);
  CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(status.error_message() == "Denied by policy: keep-alice-edges");
  CHECK(h.HasEdge("kg", "alice", "knows", "bob"));
}

TEST_CASE("StreamEdges commits each message; later ones may leave the namespace out") {
  Harness h;
  v1::AddEdgesResponse resp;
  auto context = Context();
  auto stream = h.ext->StreamEdges(context.get(), &resp);
  for (int m = 0; m < 3; ++m) {
    v1::AddEdgesRequest message;
    if (m == 0) message.set_namespace_("kg");
    for (int i = 0; i < 4; ++i) {
      *message.add_edges() = MakeEdge(absl::StrCat("m", m), "t", absl::StrCat("n", i));
    }
    REQUIRE(stream->Write(message));
  }
  stream->WritesDone();
  REQUIRE(stream->Finish().ok());
  CHECK(resp.added_count() == 12);
  CHECK(h.HasEdge("kg", "m2", "t", "n3"));  // the last message, written to the first's namespace
  CHECK_FALSE(h.HasEdge("", "m2", "t", "n3"));
}

TEST_CASE("a StreamEdges error ends the stream and says what stays committed") {
  Harness h;
  SECTION("a message naming another namespace") {
    v1::AddEdgesResponse resp;
    auto context = Context();
    auto stream = h.ext->StreamEdges(context.get(), &resp);
    v1::AddEdgesRequest first;
    first.set_namespace_("kg");
    *first.add_edges() = MakeEdge("a", "t", "b");
    *first.add_edges() = MakeEdge("b", "t", "c");
    REQUIRE(stream->Write(first));
    v1::AddEdgesRequest second;
    second.set_namespace_("elsewhere");
    *second.add_edges() = MakeEdge("c", "t", "d");
    stream->Write(second);  // may fail once the server has ended the call
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message() ==
          "stream message 2: namespace differs from the stream's namespace 'kg' (one stream "
          "writes one namespace) (the 1 message before it, 2 edges, are committed)");
    CHECK(h.HasEdge("kg", "b", "t", "c"));
    CHECK_FALSE(h.HasEdge("elsewhere", "c", "t", "d"));
    CHECK_FALSE(h.HasEdge("kg", "c", "t", "d"));
  }
  SECTION("a message the engine refuses") {
    v1::AddEdgesResponse resp;
    auto context = Context();
    auto stream = h.ext->StreamEdges(context.get(), &resp);
    v1::AddEdgesRequest bad;
    bad.set_namespace_("kg");
    *bad.add_edges() = MakeEdge("a", "t", "b");
    *bad.add_edges() = MakeEdge("", "t", "c");  // no from_id: the whole message is refused
    stream->Write(bad);
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().rfind("stream message 1: edges[1].from_id", 0) == 0);
    CHECK(status.error_message().find("(the 0 messages before it, 0 edges, are committed)") !=
          std::string::npos);
    CHECK_FALSE(h.HasEdge("kg", "a", "t", "b"));  // atomic: nothing of the message landed
  }
}

}  // namespace
}  // namespace sochdb
