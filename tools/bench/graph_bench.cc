// The graph benchmark (see graph_bench.h): one Target interface with a gRPC and an in-process
// implementation, a bulk-load runner and a closed-loop query runner shared by both.
#include "tools/bench/graph_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/common/clock.h"
#include "engine/graph/graph_store.h"
#include "engine/storage/store.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "sochdb/v1/graph.grpc.pb.h"
#include "sochdb/v1/graph_extension.grpc.pb.h"
#include "tools/bench/dataset/graph_dataset.h"
#include "tools/bench/dataset/random.h"
#include "tools/bench/latency.h"
#include "tools/bench/process_cpu.h"

namespace sochdb::bench {
namespace {

namespace v1 = sochdb::v1;
using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// How a query ended when it did not fail. A path search that reaches the server's node cap
// (RESOURCE_EXHAUSTED) is an answer too: it says how the engine copes with far-apart pairs.
enum class Outcome { kComplete, kTruncated, kNotFound, kExhausted };

struct Answer {
  Outcome outcome = Outcome::kComplete;
  size_t nodes = 0;  // nodes returned (Traverse) or on the path
  size_t edges = 0;  // edges returned
};

// One way of loading and querying the graph. `client` (0-based) names the caller, so that
// each can have its own connection.
class Target {
 public:
  virtual ~Target() = default;
  virtual absl::Status AddNodes(int client, const GraphDataset& graph, size_t first,
                                size_t end) = 0;
  virtual absl::Status AddEdges(int client, const GraphDataset& graph, size_t first,
                                size_t end) = 0;
  virtual absl::StatusOr<Answer> Traverse(int client, const std::string& start,
                                          uint32_t depth) = 0;
  virtual absl::StatusOr<Answer> ShortestPath(int client, const std::string& from,
                                              const std::string& to) = 0;
  // CPU seconds spent so far by whatever answers the queries; negative when unknown.
  virtual double CpuSeconds() const = 0;
};

absl::Status ToAbsl(const grpc::Status& s) {
  // The absl codes equal the gRPC codes.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// A failed query's status as an outcome where it is one (see Outcome), else the error.
absl::StatusOr<Answer> OutcomeOf(const absl::Status& status) {
  if (absl::IsResourceExhausted(status)) return Answer{Outcome::kExhausted, 0, 0};
  if (absl::IsNotFound(status)) return Answer{Outcome::kNotFound, 0, 0};
  return status;
}

class ServerTarget final : public Target {
 public:
  ServerTarget(const GraphBenchOptions& o, int clients) : o_(o) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(256 << 20);
    args.SetMaxReceiveMessageSize(256 << 20);
    for (int i = 0; i < clients; ++i) {
      args.SetInt("sochdb.bench.channel", i);  // distinct args: distinct connections
      auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
      graphs_.push_back(v1::GraphService::NewStub(channel));
      extensions_.push_back(v1::GraphExtensionService::NewStub(channel));
    }
  }

  absl::Status AddNodes(int client, const GraphDataset& graph, size_t first,
                        size_t end) override {
    v1::AddNodesRequest req;
    req.set_namespace_(o_.ns);
    for (size_t i = first; i < end; ++i) {
      v1::GraphNode* node = req.add_nodes();
      node->set_id(NodeId(static_cast<uint32_t>(i)));
      node->set_node_type(std::string(NodeTypeName(graph, static_cast<uint32_t>(i))));
      for (auto& [key, value] : NodeProperties(static_cast<uint32_t>(i))) {
        (*node->mutable_properties())[key] = value;
      }
    }
    v1::AddNodesResponse resp;
    auto ctx = Context(60);
    return ToAbsl(extensions_[client]->AddNodes(ctx.get(), req, &resp));
  }

  absl::Status AddEdges(int client, const GraphDataset& graph, size_t first,
                        size_t end) override {
    v1::AddEdgesRequest req;
    req.set_namespace_(o_.ns);
    for (size_t i = first; i < end; ++i) {
      const GeneratedEdge& e = graph.edges[i];
      v1::GraphEdge* edge = req.add_edges();
      edge->set_from_id(NodeId(e.from));
      edge->set_edge_type(std::string(EdgeTypeName(e.type)));
      edge->set_to_id(NodeId(e.to));
      for (auto& [key, value] : EdgeProperties(i)) (*edge->mutable_properties())[key] = value;
    }
    v1::AddEdgesResponse resp;
    auto ctx = Context(60);
    return ToAbsl(extensions_[client]->AddEdges(ctx.get(), req, &resp));
  }

  absl::StatusOr<Answer> Traverse(int client, const std::string& start,
                                  uint32_t depth) override {
    v1::TraverseRequest req;
    req.set_namespace_(o_.ns);
    req.set_start_node_id(start);
    req.set_max_depth(depth);
    req.set_max_nodes(o_.max_nodes);
    req.set_max_edges(o_.max_edges);
    req.set_skip_frontier_edges(o_.skip_frontier_edges);
    v1::TraverseResponse resp;
    auto ctx = Context(30);
    const grpc::Status s = graphs_[client]->Traverse(ctx.get(), req, &resp);
    if (!s.ok()) return OutcomeOf(ToAbsl(s));
    if (!resp.error().empty()) return absl::InternalError("Traverse: " + resp.error());
    return Answer{resp.truncated() ? Outcome::kTruncated : Outcome::kComplete,
                  static_cast<size_t>(resp.nodes_size()), static_cast<size_t>(resp.edges_size())};
  }

  absl::StatusOr<Answer> ShortestPath(int client, const std::string& from,
                                      const std::string& to) override {
    v1::ShortestPathRequest req;
    req.set_namespace_(o_.ns);
    req.set_from_id(from);
    req.set_to_id(to);
    req.set_max_depth(o_.path_depth);
    v1::ShortestPathResponse resp;
    auto ctx = Context(30);
    const grpc::Status s = graphs_[client]->ShortestPath(ctx.get(), req, &resp);
    if (!s.ok()) return OutcomeOf(ToAbsl(s));
    if (resp.path_size() == 0) return Answer{Outcome::kNotFound, 0, 0};  // error says why
    return Answer{Outcome::kComplete, static_cast<size_t>(resp.path_size()),
                  static_cast<size_t>(resp.edges_size())};
  }

  double CpuSeconds() const override {
    return o_.server_pid > 0 ? ProcessCpuSeconds(o_.server_pid) : -1;
  }

 private:
  static std::unique_ptr<grpc::ClientContext> Context(int seconds) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return ctx;
  }

  const GraphBenchOptions& o_;
  std::vector<std::unique_ptr<v1::GraphService::Stub>> graphs_;
  std::vector<std::unique_ptr<v1::GraphExtensionService::Stub>> extensions_;
};

graph::Properties ToProperties(const StringPairs& pairs) {
  return graph::Properties(pairs.begin(), pairs.end());
}

// GraphStore on the store a server keeps under --data-dir (the server must be stopped: LevelDB
// allows one process), with the server's default store options.
class InProcessTarget final : public Target {
 public:
  static absl::StatusOr<std::unique_ptr<InProcessTarget>> Open(const GraphBenchOptions& o) {
    storage::StoreOptions options;
    absl::StatusOr<storage::SyncMode> sync = storage::ParseSyncMode(o.sync);
    if (!sync.ok()) return sync.status();
    options.sync_mode = *sync;
    options.block_cache_bytes = size_t{o.block_cache_mb} << 20;
    const std::filesystem::path dir = std::filesystem::path(o.data_dir) / "store";
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::Store::Open(dir.string(), options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<InProcessTarget>(new InProcessTarget(o, *std::move(store)));
  }

  absl::Status AddNodes(int, const GraphDataset& graph, size_t first, size_t end) override {
    std::vector<graph::Node> nodes;
    nodes.reserve(end - first);
    for (size_t i = first; i < end; ++i) {
      const uint32_t n = static_cast<uint32_t>(i);
      nodes.push_back({NodeId(n), std::string(NodeTypeName(graph, n)),
                       ToProperties(NodeProperties(n))});
    }
    return graph_.AddNodes(o_.ns, nodes);
  }

  absl::Status AddEdges(int, const GraphDataset& graph, size_t first, size_t end) override {
    std::vector<graph::Edge> edges;
    edges.reserve(end - first);
    for (size_t i = first; i < end; ++i) {
      const GeneratedEdge& e = graph.edges[i];
      edges.push_back({NodeId(e.from), std::string(EdgeTypeName(e.type)), NodeId(e.to),
                       ToProperties(EdgeProperties(i))});
    }
    return graph_.AddEdges(o_.ns, edges);
  }

  absl::StatusOr<Answer> Traverse(int, const std::string& start, uint32_t depth) override {
    graph::TraverseQuery query;
    query.start = start;
    query.max_depth = depth;
    query.max_nodes = o_.max_nodes;
    query.max_edges = o_.max_edges;
    query.frontier_edges = !o_.skip_frontier_edges;
    absl::StatusOr<graph::TraverseResult> result = graph_.Traverse(o_.ns, query);
    if (!result.ok()) return OutcomeOf(result.status());
    return Answer{result->truncated ? Outcome::kTruncated : Outcome::kComplete,
                  result->nodes.size(), result->edges.size()};
  }

  absl::StatusOr<Answer> ShortestPath(int, const std::string& from,
                                      const std::string& to) override {
    graph::PathQuery query;
    query.from = from;
    query.to = to;
    query.max_depth = o_.path_depth;
    absl::StatusOr<graph::PathResult> result = graph_.ShortestPath(o_.ns, query);
    if (!result.ok()) return OutcomeOf(result.status());
    return Answer{Outcome::kComplete, result->path.size(), result->edges.size()};
  }

  // The queries run on this process's threads; nothing else does meanwhile.
  double CpuSeconds() const override { return OwnCpuSeconds(); }

 private:
  InProcessTarget(const GraphBenchOptions& o, std::unique_ptr<storage::Store> store)
      : o_(o), store_(std::move(store)), graph_(store_.get(), Clock::Real()) {}

  const GraphBenchOptions& o_;
  std::unique_ptr<storage::Store> store_;
  graph::GraphStore graph_;
};

// What a set of calls measured.
struct Tally {
  std::vector<uint32_t> us;  // latency of each call that did not fail
  uint64_t counts[4] = {0, 0, 0, 0};  // per Outcome
  uint64_t nodes = 0;
  uint64_t edges = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Add(const Tally& other) {
    us.insert(us.end(), other.us.begin(), other.us.end());
    for (int i = 0; i < 4; ++i) counts[i] += other.counts[i];
    nodes += other.nodes;
    edges += other.edges;
    errors += other.errors;
    if (first_error.empty()) first_error = other.first_error;
  }
  void Fail(const absl::Status& status) {
    ++errors;
    if (first_error.empty()) first_error = status.ToString();
  }
};

// Runs `call` on `clients` threads at once; each returns its tally, merged here.
template <typename Call>
Tally OnClients(int clients, Call call) {
  std::vector<Tally> tallies(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) threads.emplace_back([&, c] { tallies[c] = call(c); });
  for (std::thread& t : threads) t.join();
  Tally all;
  for (const Tally& t : tallies) all.Add(t);
  return all;
}

// Sends items [0, total) in batches, each client taking the next batch when its last is done.
template <typename Send>
Tally LoadInBatches(int clients, size_t total, size_t batch, Send send) {
  std::atomic<size_t> next{0};
  return OnClients(clients, [&](int client) {
    Tally tally;
    for (size_t first = next.fetch_add(batch); first < total; first = next.fetch_add(batch)) {
      const auto start = SteadyClock::now();
      const absl::Status s = send(client, first, std::min(total, first + batch));
      if (!s.ok()) {
        tally.Fail(s);
        break;
      }
      tally.us.push_back(static_cast<uint32_t>(Seconds(start) * 1e6));
    }
    return tally;
  });
}

void ReportLoad(const GraphBenchOptions& o, const char* what, size_t items, double seconds,
                Tally& tally) {
  std::printf("graph %s load %s=%zu seconds=%.2f %s/s=%.0f batch=%u clients=%d "
              "batch_p50=%.1fms batch_p99=%.1fms errors=%lu\n",
              o.mode.c_str(), what, items, seconds, what, static_cast<double>(items) / seconds,
              o.batch, o.load_clients, Percentile(tally.us, 0.5) / 1e3,
              Percentile(tally.us, 0.99) / 1e3, static_cast<unsigned long>(tally.errors));
  if (!tally.first_error.empty()) std::fprintf(stderr, "%s\n", tally.first_error.c_str());
}

int RunLoad(const GraphBenchOptions& o, Target& target, const GraphDataset& graph) {
  auto start = SteadyClock::now();
  Tally nodes = LoadInBatches(o.load_clients, graph.nodes, o.batch,
                              [&](int c, size_t f, size_t e) {
                                return target.AddNodes(c, graph, f, e);
                              });
  ReportLoad(o, "nodes", graph.nodes, Seconds(start), nodes);
  if (nodes.errors > 0) return 1;
  start = SteadyClock::now();
  Tally edges = LoadInBatches(o.load_clients, graph.edges.size(), o.batch,
                              [&](int c, size_t f, size_t e) {
                                return target.AddEdges(c, graph, f, e);
                              });
  ReportLoad(o, "edges", graph.edges.size(), Seconds(start), edges);
  return edges.errors > 0 ? 1 : 0;
}

enum class QueryKind { kTraverse2, kTraverse3, kPath };

absl::StatusOr<Answer> Ask(Target& target, QueryKind kind, int client, uint32_t nodes,
                           Random& random) {
  const uint32_t from = random.Below(nodes);
  if (kind != QueryKind::kPath) {
    return target.Traverse(client, NodeId(from), kind == QueryKind::kTraverse2 ? 2 : 3);
  }
  uint32_t to = random.Below(nodes - 1);
  if (to >= from) ++to;  // a pair of distinct nodes, uniformly
  return target.ShortestPath(client, NodeId(from), NodeId(to));
}

// `clients` callers, each asking one query after the other until `seconds` have passed; each
// has its own seed, so the server and the in-process runs ask the same queries in the same
// order.
Tally Measure(Target& target, QueryKind kind, int clients, double seconds, uint32_t nodes,
              uint64_t seed) {
  const auto end =
      SteadyClock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  return OnClients(clients, [&](int client) {
    Random random(seed * 1000 + static_cast<uint64_t>(client));
    Tally tally;
    while (SteadyClock::now() < end) {
      const auto start = SteadyClock::now();
      absl::StatusOr<Answer> answer = Ask(target, kind, client, nodes, random);
      if (!answer.ok()) {
        tally.Fail(answer.status());
        continue;
      }
      tally.us.push_back(static_cast<uint32_t>(Seconds(start) * 1e6));
      ++tally.counts[static_cast<int>(answer->outcome)];
      tally.nodes += answer->nodes;
      tally.edges += answer->edges;
    }
    return tally;
  });
}

void ReportQueries(const GraphBenchOptions& o, const std::string& name, int clients,
                   double seconds, double cpu_seconds, Tally& t) {
  const size_t ops = t.us.size();
  const double cpu_us =
      cpu_seconds < 0 || ops == 0 ? -1 : cpu_seconds * 1e6 / static_cast<double>(ops);
  std::printf("graph %s %s clients=%d ops=%zu ops/s=%.0f p50=%.0fus p99=%.0fus p999=%.0fus "
              "cpu=%.0fus nodes=%.0f edges=%.0f complete=%lu truncated=%lu not_found=%lu "
              "exhausted=%lu errors=%lu\n",
              o.mode.c_str(), name.c_str(), clients, ops, static_cast<double>(ops) / seconds,
              Percentile(t.us, 0.5), Percentile(t.us, 0.99), Percentile(t.us, 0.999), cpu_us,
              ops == 0 ? 0.0 : static_cast<double>(t.nodes) / static_cast<double>(ops),
              ops == 0 ? 0.0 : static_cast<double>(t.edges) / static_cast<double>(ops),
              static_cast<unsigned long>(t.counts[0]), static_cast<unsigned long>(t.counts[1]),
              static_cast<unsigned long>(t.counts[2]), static_cast<unsigned long>(t.counts[3]),
              static_cast<unsigned long>(t.errors));
  std::fflush(stdout);
  if (!t.first_error.empty()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), t.first_error.c_str());
  }
}

bool ParseQueries(const std::string& text, std::vector<std::pair<std::string, QueryKind>>* out) {
  for (absl::string_view name : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (name == "traverse2") {
      out->emplace_back("traverse2", QueryKind::kTraverse2);
    } else if (name == "traverse3") {
      out->emplace_back("traverse3", QueryKind::kTraverse3);
    } else if (name == "path") {
      out->emplace_back("path", QueryKind::kPath);
    } else {
      return false;
    }
  }
  return !out->empty();
}

bool ParseClients(const std::string& text, std::vector<int>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 256) return false;
    out->push_back(n);
  }
  return !out->empty();
}

int RunQueries(const GraphBenchOptions& o, Target& target) {
  std::vector<std::pair<std::string, QueryKind>> kinds;
  std::vector<int> clients;
  if (!ParseQueries(o.queries, &kinds) || !ParseClients(o.clients, &clients)) {
    std::fprintf(stderr, "--queries takes traverse2,traverse3,path; --clients counts 1..256\n");
    return 2;
  }
  const int most = *std::max_element(clients.begin(), clients.end());
  if (o.warmup_s > 0) Measure(target, kinds[0].second, most, o.warmup_s, o.nodes, o.seed + 99);
  uint64_t errors = 0;
  for (const auto& [name, kind] : kinds) {
    for (int n : clients) {
      const auto start = SteadyClock::now();
      const double cpu_start = target.CpuSeconds();
      Tally tally = Measure(target, kind, n, o.duration_s, o.nodes, o.seed);
      const double cpu_end = target.CpuSeconds();
      const double cpu = cpu_start < 0 || cpu_end < 0 ? -1 : cpu_end - cpu_start;
      ReportQueries(o, name, n, Seconds(start), cpu, tally);
      errors += tally.errors;
    }
  }
  return errors == 0 ? 0 : 1;
}

absl::StatusOr<std::unique_ptr<Target>> MakeTarget(const GraphBenchOptions& o) {
  if (o.mode == "inprocess") {
    if (o.data_dir.empty()) {
      return absl::InvalidArgumentError("--mode inprocess needs --data-dir");
    }
    absl::StatusOr<std::unique_ptr<InProcessTarget>> target = InProcessTarget::Open(o);
    if (!target.ok()) return target.status();
    return std::unique_ptr<Target>(*std::move(target));
  }
  // A connection per caller of either phase.
  int clients = o.load_clients;
  std::vector<int> counts;
  if (ParseClients(o.clients, &counts)) {
    clients = std::max(clients, *std::max_element(counts.begin(), counts.end()));
  }
  return std::unique_ptr<Target>(std::make_unique<ServerTarget>(o, clients));
}

}  // namespace

CLI::App* AddGraphCommand(CLI::App& app, GraphBenchOptions* o) {
  CLI::App* g = app.add_subcommand("graph", "GraphService bulk load and traversals");
  g->add_option("--phase", o->phase, "load | query")
      ->check(CLI::IsMember({"load", "query"}))
      ->capture_default_str();
  g->add_option("--mode", o->mode, "server (gRPC) | inprocess (GraphStore on --data-dir)")
      ->check(CLI::IsMember({"server", "inprocess"}))
      ->capture_default_str();
  g->add_option("--target", o->target, "server address")->capture_default_str();
  g->add_option("--server-pid", o->server_pid, "server: read its CPU time (/proc) per query");
  g->add_option("--data-dir", o->data_dir, "inprocess: the server's --data-dir (server stopped)");
  g->add_option("--sync", o->sync, "inprocess load: full | normal | off")
      ->check(CLI::IsMember({"full", "normal", "off"}))
      ->capture_default_str();
  g->add_option("--block-cache-mb", o->block_cache_mb, "inprocess: LevelDB block cache")
      ->check(CLI::Range(1u, 65'536u))
      ->capture_default_str();
  g->add_option("--namespace", o->ns, "namespace")->capture_default_str();
  g->add_option("--nodes", o->nodes, "nodes of the generated graph")
      ->check(CLI::Range(2u, 100'000'000u))
      ->capture_default_str();
  g->add_option("--edges", o->edges, "edges of the generated graph")->capture_default_str();
  g->add_option("--seed", o->seed, "graph and query seed")->capture_default_str();
  g->add_option("--batch", o->batch, "items per AddNodes / AddEdges call")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  g->add_option("--load-clients", o->load_clients, "concurrent bulk callers")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  g->add_option("--queries", o->queries, "traverse2, traverse3, path")->capture_default_str();
  g->add_option("--clients", o->clients, "concurrent callers, one measurement per count")
      ->capture_default_str();
  g->add_option("--duration", o->duration_s, "seconds per measurement")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  g->add_option("--warmup", o->warmup_s, "seconds of unreported queries first")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  g->add_option("--max-nodes", o->max_nodes, "Traverse max_nodes")->capture_default_str();
  g->add_option("--max-edges", o->max_edges, "Traverse max_edges (0: the server's cap)")
      ->capture_default_str();
  g->add_flag("--skip-frontier-edges", o->skip_frontier_edges,
              "Traverse skip_frontier_edges: no edges leaving nodes at max_depth");
  g->add_option("--path-depth", o->path_depth, "ShortestPath max_depth")->capture_default_str();
  return g;
}

int RunGraph(const GraphBenchOptions& o) {
  absl::StatusOr<std::unique_ptr<Target>> target = MakeTarget(o);
  if (!target.ok()) {
    std::fprintf(stderr, "%s\n", target.status().ToString().c_str());
    return 2;
  }
  if (o.phase == "query") return RunQueries(o, **target);
  GraphDatasetOptions options;
  options.nodes = o.nodes;
  options.edges = o.edges;
  options.seed = o.seed;
  const GraphDataset graph = MakePowerLawGraph(options);
  if (graph.nodes == 0) {
    std::fprintf(stderr, "--edges %llu is more than --nodes %u can hold (n(n-1)/2)\n",
                 static_cast<unsigned long long>(o.edges), o.nodes);
    return 2;
  }
  return RunLoad(o, **target, graph);
}

}  // namespace sochdb::bench
