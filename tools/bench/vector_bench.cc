// sochdb-vector-bench: the vector benchmark. Generates a clustered data set with exact ground
// truth, loads it into an index, then measures searches at several ef values: recall@k, one
// client sequentially (latency) and several clients concurrently (QPS). The same run works
// against a sochdb-grpc server (VectorIndexService over gRPC) or in process on the very same
// AnnIndex/FAISS code with the same parameters, so the two can be compared line by line.
// --inprocess-index faiss puts FAISS's own HNSW in process instead (IndexHNSWFlat: FAISS's add
// and search, none of the engine's kernels or construction), the baseline a FAISS user has.
//
//   sochdb-vector-bench --mode server --target 127.0.0.1:50051 --n 100000 --dim 128
//       --m 32 --ef-construction 256 --ef 64,128,256,500 --clients 4 --duration 10
//   sochdb-vector-bench --mode inprocess --n 100000 --dim 128 ...
//
// --mode compare loads the data in process and (unless --skip-load) into the server, then
// alternates the two measurements --rounds times per ef and prints the median ratio: on a
// shared machine whose speed drifts, back-to-back pairs are what can be compared. Pin the
// server to one core and this process to the other (taskset) to give the server exactly the
// CPU the in-process search gets. With --server-pid the bench also reads the server's CPU time
// (/proc/PID/stat) around each concurrent measurement and reports CPU microseconds per query on
// both sides, and compare mode the ratio of queries per CPU-second: what the server would serve
// on cores of its own, clients elsewhere, and steadier than QPS on a machine whose vCPUs drift.
// --inprocess-cpu runs the in-process searches on the given core: give it the server's core, so
// that both sides search on the same vCPU, and the bench's own (the server's clients) the other.
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/vector/ann_index.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "server/huge_pages.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tools/bench/dataset/vector_dataset.h"
#include "tools/bench/process_cpu.h"

namespace {

namespace v1 = sochdb::v1;
namespace vec = sochdb::vector;
using sochdb::bench::OwnCpuSeconds;
using sochdb::bench::ProcessCpuSeconds;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "server";
  std::string target = "127.0.0.1:50051";
  std::string index = "bench-vectors";
  uint32_t n = 100'000;
  uint32_t dim = 128;
  uint32_t queries = 200;
  uint32_t k = 10;
  uint32_t m = 32;
  uint32_t ef_construction = 256;
  std::string ef_list = "64,128,256,500";
  uint32_t batch = 1000;
  int clients = 4;
  double duration_s = 10;
  bool skip_load = false;  // the index already holds the data (a restart measurement)
  int rounds = 3;          // --mode compare: alternations per ef
  uint64_t seed = 42;
  uint32_t clusters = 0;   // 0 = one per 1,000 vectors (at least 64)
  int build_threads = 0;   // in process: OpenMP threads for graph construction (0 = all cores)
  int load_clients = 1;    // server: concurrent InsertBatch callers while loading
  int server_pid = 0;      // the server's process, for its CPU time (0 = not measured)
  int inprocess_cpu = -1;  // the core in-process searches run on (-1 = wherever)
  std::string inprocess_index = "engine";  // engine (AnnIndex) | faiss (FAISS's own HNSW)
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// One way of loading and searching: over gRPC or in process.
class Target {
 public:
  virtual ~Target() = default;
  virtual bool Create(const Options& o) = 0;
  // `client` (0-based) names the caller when several load at once (server only).
  virtual bool Insert(int client, uint64_t first_id, const float* vectors, uint32_t count,
                      uint32_t dim) = 0;
  // Fills `labels` with the ids found; false on error.
  virtual bool Search(const float* query, uint32_t dim, uint32_t k, uint32_t ef,
                      std::vector<int64_t>* labels) = 0;
  // CPU seconds spent so far by whatever serves the searches (user + system), or a negative
  // number when it cannot be read.
  virtual double CpuSeconds() const = 0;
};

class ServerTarget final : public Target {
 public:
  explicit ServerTarget(const Options& o) : server_pid_(o.server_pid), index_(o.index) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(256 << 20);
    args.SetMaxReceiveMessageSize(256 << 20);
    for (int i = 0; i < std::max({1, o.clients, o.load_clients}); ++i) {
      args.SetInt("sochdb.bench.channel", i);
      stubs_.push_back(v1::VectorIndexService::NewStub(
          grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args)));
    }
  }

  bool Create(const Options& o) override {
    v1::CreateIndexRequest req;
    req.set_name(index_);
    req.set_dimension(o.dim);
    req.set_metric(v1::DISTANCE_METRIC_L2);
    req.mutable_config()->set_max_connections(o.m);
    req.mutable_config()->set_ef_construction(o.ef_construction);
    v1::CreateIndexResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stubs_[0]->CreateIndex(&ctx, req, &resp);
    if (!s.ok() || !resp.success()) {
      std::fprintf(stderr, "CreateIndex: %s %s\n", s.error_message().c_str(), resp.error().c_str());
      return false;
    }
    return true;
  }

  bool Insert(int client, uint64_t first_id, const float* vectors, uint32_t count,
              uint32_t dim) override {
    v1::InsertBatchRequest req;
    req.set_index_name(index_);
    for (uint32_t i = 0; i < count; ++i) req.add_ids(first_id + i);
    req.mutable_vectors()->Add(vectors, vectors + static_cast<size_t>(count) * dim);
    v1::InsertBatchResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stubs_[client % stubs_.size()]->InsertBatch(&ctx, req, &resp);
    if (!s.ok()) std::fprintf(stderr, "InsertBatch: %s\n", s.error_message().c_str());
    return s.ok();
  }

  bool Search(const float* query, uint32_t dim, uint32_t k, uint32_t ef,
              std::vector<int64_t>* labels) override {
    thread_local size_t next = 0;
    v1::SearchRequest req;
    req.set_index_name(index_);
    req.mutable_query()->Add(query, query + dim);
    req.set_k(k);
    req.set_ef(ef);
    v1::SearchResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = stubs_[next++ % stubs_.size()]->Search(&ctx, req, &resp);
    if (!s.ok()) return false;
    labels->clear();
    for (const v1::SearchResult& r : resp.results()) labels->push_back(static_cast<int64_t>(r.id()));
    return true;
  }

  double CpuSeconds() const override {
    return server_pid_ > 0 ? ProcessCpuSeconds(server_pid_) : -1;
  }

 private:
  const int server_pid_;
  const std::string index_;
  std::vector<std::unique_ptr<v1::VectorIndexService::Stub>> stubs_;
};

// The spec both in-process targets build: what the server gets from CreateIndex.
absl::StatusOr<vec::IndexSpec> InProcessSpec(const Options& o) {
  vec::IndexSpec spec;
  spec.dimension = o.dim;
  spec.metric = vec::Metric::kL2;
  spec.m = o.m;
  spec.ef_construction = o.ef_construction;
  return vec::ResolveSpec(spec);
}

// An index in this process: the engine's own (AnnIndex: the server's code without the
// server) or FAISS's (StockFaissHnsw: FAISS's add and search), made by `Index::Create`.
template <class Index>
class InProcessTarget final : public Target {
 public:
  bool Create(const Options& o) override {
    absl::StatusOr<vec::IndexSpec> resolved = InProcessSpec(o);
    if (!resolved.ok()) return false;
    absl::StatusOr<std::unique_ptr<Index>> index = Index::Create(*resolved);
    if (!index.ok()) return false;
    index_ = *std::move(index);
    return true;
  }

  bool Insert(int, uint64_t, const float* vectors, uint32_t count, uint32_t dim) override {
    return index_->Add(absl::MakeConstSpan(vectors, static_cast<size_t>(count) * dim)).ok();
  }

  bool Search(const float* query, uint32_t dim, uint32_t k, uint32_t ef,
              std::vector<int64_t>* labels) override {
    absl::StatusOr<std::vector<vec::Neighbor>> found =
        index_->Search(absl::MakeConstSpan(query, dim), k, ef);
    if (!found.ok()) return false;
    labels->clear();
    for (const vec::Neighbor& n : *found) labels->push_back(n.label);
    return true;
  }

  double CpuSeconds() const override { return OwnCpuSeconds(); }

 private:
  std::unique_ptr<Index> index_;
};

// Loads the data set in batches of --batch; with --load-clients > 1 (server only) that many
// callers take the next batch as soon as their previous one is acknowledged, so one batch's
// transfer and parsing overlap another's commit and graph work (the server commits and applies
// batches one at a time).
bool Load(const Options& o, const sochdb::bench::VectorDataset& data, Target& target,
          int clients) {
  const auto start = Clock::now();
  std::atomic<uint32_t> next{0};
  std::atomic<uint32_t> loaded{0};
  std::atomic<bool> failed{false};
  std::mutex report_mu;
  auto last = start;
  auto load = [&](int client) {
    for (;;) {
      const uint32_t first = next.fetch_add(o.batch);
      if (first >= o.n || failed.load()) return;
      const uint32_t count = std::min(o.batch, o.n - first);
      if (!target.Insert(client, first, data.base.data() + static_cast<size_t>(first) * o.dim,
                         count, o.dim)) {
        failed = true;
        return;
      }
      const uint32_t total = loaded.fetch_add(count) + count;
      std::lock_guard<std::mutex> lock(report_mu);
      if (Seconds(last) > 30 || total == o.n) {
        std::printf("  loaded %u vectors in %.1f s: %.0f vec/s\n", total, Seconds(start),
                    total / Seconds(start));
        std::fflush(stdout);
        last = Clock::now();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int c = 1; c < clients; ++c) threads.emplace_back(load, c);
  load(0);
  for (std::thread& t : threads) t.join();
  if (failed) return false;
  std::printf("insert: n=%u dim=%u m=%u efC=%u batch=%u callers=%d: %.1f s, %.0f vec/s\n", o.n,
              o.dim, o.m, o.ef_construction, o.batch, clients, Seconds(start),
              o.n / Seconds(start));
  return true;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Measured {
  double qps = 0;           // concurrent
  double cpu_us_per_query = -1;  // concurrent, of whatever serves the searches; < 0 unknown
};

// Runs `work` on a thread of its own, bound to core `cpu` unless it is negative.
template <typename Work>
std::thread StartOn(int cpu, Work work) {
  return std::thread([cpu, work]() mutable {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        std::fprintf(stderr, "cannot bind a search thread to core %d\n", cpu);
      }
    }
    work();
  });
}

// Prints one line of figures for `target` at `ef`; `cpu`: the core the searching threads are
// bound to (-1: not bound).
Measured MeasureEf(const Options& o, const std::string& label,
                 const sochdb::bench::VectorDataset& data,
                 const sochdb::bench::GroundTruth& truth, Target& target, uint32_t ef, int cpu) {
  std::vector<std::vector<int64_t>> results(data.query_count());
  std::vector<double> latency_ms;
  const auto start = Clock::now();
  StartOn(cpu, [&] {
    for (size_t q = 0; q < data.query_count(); ++q) {
      const auto t = Clock::now();
      target.Search(data.queries.data() + q * o.dim, o.dim, o.k, ef, &results[q]);
      latency_ms.push_back(Seconds(t) * 1000);
    }
  }).join();
  const double sequential_qps = data.query_count() / Seconds(start);
  const double recall = sochdb::bench::RecallAtK(truth, results, o.k);

  std::atomic<uint64_t> done{0};
  std::vector<std::vector<double>> per_client(o.clients);
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000));
  const auto concurrent_start = Clock::now();
  const double cpu_start = target.CpuSeconds();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.push_back(StartOn(cpu, [&, c] {
      std::vector<int64_t> labels;
      for (size_t q = c; Clock::now() < end; q = (q + o.clients) % data.query_count()) {
        const auto t = Clock::now();
        if (target.Search(data.queries.data() + q * o.dim, o.dim, o.k, ef, &labels)) ++done;
        per_client[c].push_back(Seconds(t) * 1000);
      }
    }));
  }
  for (auto& t : threads) t.join();
  Measured measured;
  measured.qps = done.load() / Seconds(concurrent_start);
  const double cpu_end = target.CpuSeconds();
  if (cpu_start >= 0 && cpu_end >= 0 && done.load() > 0) {
    measured.cpu_us_per_query = (cpu_end - cpu_start) * 1e6 / static_cast<double>(done.load());
  }
  std::vector<double> all;
  for (const auto& v : per_client) all.insert(all.end(), v.begin(), v.end());
  std::printf(
      "search %s ef=%u k=%u: recall@%u=%.4f | 1 client: %.0f qps p50=%.3fms p99=%.3fms | %d "
      "clients: %.0f qps p50=%.3fms p99=%.3fms max=%.1fms",
      label.c_str(), ef, o.k, o.k, recall, sequential_qps, Percentile(latency_ms, 0.5),
      Percentile(latency_ms, 0.99), o.clients, measured.qps, Percentile(all, 0.5),
      Percentile(all, 0.99), Percentile(all, 1.0));
  if (measured.cpu_us_per_query >= 0) std::printf(" cpu=%.0fus/query", measured.cpu_us_per_query);
  std::printf("\n");
  std::fflush(stdout);
  return measured;
}

// "inprocess" (the engine's AnnIndex) or "inprocess-faiss" (FAISS's own HNSW).
std::string InProcessLabel(const Options& o) {
  return o.inprocess_index == "faiss" ? "inprocess-faiss" : "inprocess";
}

// One line of compare mode: the median, least and greatest of `ratios` (none: no line).
void PrintRatios(const Options& o, uint32_t ef, const char* what, std::vector<double> ratios) {
  if (ratios.empty()) return;
  std::sort(ratios.begin(), ratios.end());
  std::printf("compare ef=%u: server/%s %s, median of %zu rounds: %.2f (min %.2f, max %.2f)\n",
              ef, InProcessLabel(o).c_str(), what, ratios.size(), ratios[ratios.size() / 2],
              ratios.front(), ratios.back());
}

}  // namespace

int main(int argc, char** argv) {
  // The allocator set up as the server sets it up, so in-process figures compare like for like.
  sochdb::server::ReexecWithHugePageMalloc(argv);
  CLI::App app("sochdb-vector-bench: vector index benchmark (server or in process)");
  Options o;
  app.add_option("--mode", o.mode, "server | inprocess | compare")
      ->check(CLI::IsMember({"server", "inprocess", "compare"}));
  app.add_option("--target", o.target, "server address");
  app.add_option("--index", o.index, "index name (server mode)");
  app.add_option("--n", o.n, "vectors");
  app.add_option("--dim", o.dim, "dimension");
  app.add_option("--queries", o.queries, "queries (ground truth is exact)");
  app.add_option("--k", o.k, "neighbours per query");
  app.add_option("--m", o.m, "HNSW M");
  app.add_option("--ef-construction", o.ef_construction, "HNSW efConstruction");
  app.add_option("--ef", o.ef_list, "comma-separated search ef values");
  app.add_option("--batch", o.batch, "vectors per insert call");
  app.add_option("--clients", o.clients, "concurrent search clients");
  app.add_option("--duration", o.duration_s, "seconds per concurrent measurement");
  app.add_flag("--skip-load", o.skip_load, "the server's index already holds the data set");
  app.add_option("--rounds", o.rounds, "compare mode: server/in-process alternations per ef");
  app.add_option("--seed", o.seed, "data set seed");
  app.add_option("--clusters", o.clusters, "clusters in the data set (0 = n / 1000, at least 64)");
  app.add_option("--load-clients", o.load_clients,
                 "server: concurrent InsertBatch callers while loading (in process: always 1)");
  app.add_option("--server-pid", o.server_pid,
                 "the server's process id: report its CPU time per query (server and compare)");
  app.add_option("--inprocess-index", o.inprocess_index,
                 "what in-process searches run on: engine (this server's AnnIndex) or faiss "
                 "(FAISS's own IndexHNSWFlat add and search, same parameters)")
      ->check(CLI::IsMember({"engine", "faiss"}));
  app.add_option("--inprocess-cpu", o.inprocess_cpu,
                 "the core in-process searches run on (compare: the server's core)");
  app.add_option("--build-threads", o.build_threads,
                 "in process: threads for graph construction (0 = every core); 1 lets two "
                 "builds be compared side by side on a 2-core machine");
  CLI11_PARSE(app, argc, argv);
  sochdb::vector::SetFaissThreads(o.build_threads);

  sochdb::bench::ClusteredOptions data_options;
  data_options.vectors = o.n;
  data_options.queries = o.queries;
  data_options.dimension = o.dim;
  data_options.clusters = o.clusters != 0 ? o.clusters : std::max<uint32_t>(64, o.n / 1000);
  data_options.seed = o.seed;
  const auto made = Clock::now();
  const sochdb::bench::VectorDataset data = sochdb::bench::MakeClusteredDataset(data_options);
  const sochdb::bench::GroundTruth truth = sochdb::bench::ExactNeighbors(
      data.base, data.queries, o.dim, vec::Metric::kL2, o.k);
  std::printf("data: %u x %u clustered (%u clusters), %u queries, ground truth in %.1f s\n", o.n,
              o.dim, data_options.clusters, o.queries, Seconds(made));

  std::vector<uint32_t> efs;
  for (absl::string_view part : absl::StrSplit(o.ef_list, ',')) {
    uint32_t ef = 0;
    if (!absl::SimpleAtoi(part, &ef)) return 2;
    efs.push_back(ef);
  }
  std::unique_ptr<Target> server, inprocess;
  if (o.mode != "inprocess") {
    server = std::make_unique<ServerTarget>(o);
    const int callers = std::max(1, o.load_clients);
    if (!o.skip_load && (!server->Create(o) || !Load(o, data, *server, callers))) return 1;
  }
  if (o.mode != "server") {
    if (o.inprocess_index == "faiss") {
      inprocess = std::make_unique<InProcessTarget<vec::testing::StockFaissHnsw>>();
    } else {
      inprocess = std::make_unique<InProcessTarget<vec::AnnIndex>>();
    }
    if (!inprocess->Create(o) || !Load(o, data, *inprocess, 1)) return 1;
  }
  for (uint32_t ef : efs) {
    if (o.mode != "compare") {
      if (server != nullptr) {
        MeasureEf(o, o.mode, data, truth, *server, ef, -1);
      } else {
        MeasureEf(o, InProcessLabel(o), data, truth, *inprocess, ef, o.inprocess_cpu);
      }
      continue;
    }
    std::vector<double> ratios, cpu_ratios;
    for (int round = 0; round < std::max(1, o.rounds); ++round) {
      const Measured remote = MeasureEf(o, "server", data, truth, *server, ef, -1);
      const Measured local =
          MeasureEf(o, InProcessLabel(o), data, truth, *inprocess, ef, o.inprocess_cpu);
      ratios.push_back(local.qps > 0 ? remote.qps / local.qps : 0);
      // Queries per CPU-second, server over in process, is in-process CPU per query over the
      // server's.
      if (remote.cpu_us_per_query > 0 && local.cpu_us_per_query > 0) {
        cpu_ratios.push_back(local.cpu_us_per_query / remote.cpu_us_per_query);
      }
    }
    PrintRatios(o, ef, "concurrent qps", ratios);
    PrintRatios(o, ef, "queries per CPU-second", cpu_ratios);
    std::fflush(stdout);
  }
  return 0;
}
