#include "tools/bench/cache_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "sochdb/v1/semantic_cache.grpc.pb.h"
#include "tools/bench/dataset/random.h"
#include "tools/bench/latency.h"
#include "tools/bench/process_cpu.h"

namespace sochdb::bench {
namespace {

namespace v1 = sochdb::v1;
using Clock = std::chrono::steady_clock;

// Entry i's embedding: a Gaussian vector from its own stream of the seed.
std::vector<float> EntryVector(const CacheBenchOptions& o, uint32_t i) {
  Random rng(o.seed * 1'000'003 + i);
  std::vector<float> v(o.dim);
  for (float& x : v) x = rng.Gaussian();
  return v;
}

struct Query {
  std::vector<float> vector;
  int64_t near = -1;  // the entry it was made from; -1 for a random (miss) query
};

std::vector<Query> MakeQueries(const CacheBenchOptions& o) {
  Random rng(o.seed ^ 0x5eedull);
  std::vector<Query> queries(o.queries);
  for (uint32_t q = 0; q < o.queries; ++q) {
    if (q % 2 == 0) {
      queries[q].near = rng.Below(o.entries);
      queries[q].vector = EntryVector(o, static_cast<uint32_t>(queries[q].near));
      // Noise of a third of the norm: cosine ~0.95 to the entry.
      for (float& x : queries[q].vector) x += 0.33f * rng.Gaussian();
    } else {
      queries[q].vector.resize(o.dim);
      for (float& x : queries[q].vector) x = rng.Gaussian();
    }
  }
  return queries;
}

std::unique_ptr<v1::SemanticCacheService::Stub> Stub(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per stub
  return v1::SemanticCacheService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

int Load(const CacheBenchOptions& o) {
  std::atomic<uint32_t> next{0};
  std::atomic<uint64_t> errors{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.load_clients; ++t) {
    threads.emplace_back([&] {
      auto stub = Stub(o.target);
      for (uint32_t i = next++; i < o.entries; i = next++) {
        v1::SemanticCachePutRequest req;
        req.set_cache_name(o.cache_name);
        req.set_key(absl::StrCat("question ", i));
        req.set_value(absl::StrCat("answer ", i));
        for (float x : EntryVector(o, i)) req.add_key_embedding(x);
        v1::SemanticCachePutResponse resp;
        grpc::ClientContext ctx;
        const grpc::Status s = stub->Put(&ctx, req, &resp);
        if (!s.ok() && errors++ == 0) std::fprintf(stderr, "Put: %s\n", s.error_message().c_str());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("cache load entries=%u dim=%u clients=%d seconds=%.1f puts_per_s=%.0f errors=%lu\n",
              o.entries, o.dim, o.load_clients, s, o.entries / s,
              static_cast<unsigned long>(errors.load()));
  return errors == 0 ? 0 : 1;
}

// Runs `lookup` (query index -> hit) from `clients` threads for duration_s; prints one line,
// with the CPU time per lookup of `cpu_pid` (the server) or, with 0, of this process.
void Measure(const CacheBenchOptions& o, const char* method, int clients, int cpu_pid,
             const std::function<std::function<bool(size_t)>()>& make_lookup) {
  const double cpu_before = cpu_pid > 0 ? ProcessCpuSeconds(cpu_pid) : OwnCpuSeconds();
  std::atomic<bool> stop{false};
  std::vector<std::vector<uint32_t>> latencies(clients);
  std::vector<uint64_t> hits(clients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::function<bool(size_t)> lookup = make_lookup();
      for (size_t q = c; !stop.load(std::memory_order_relaxed); q += clients) {
        const auto t0 = Clock::now();
        hits[c] += lookup(q % o.queries);
        latencies[c].push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double cpu = (cpu_pid > 0 ? ProcessCpuSeconds(cpu_pid) : OwnCpuSeconds()) - cpu_before;
  std::vector<uint32_t> all;
  uint64_t hit_total = 0;
  for (int c = 0; c < clients; ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    hit_total += hits[c];
  }
  const double lookups = static_cast<double>(std::max<size_t>(all.size(), 1));
  std::printf("cache %s entries=%u dim=%u clients=%d qps=%.0f p50_us=%.0f p99_us=%.0f "
              "hit_rate=%.3f cpu_us_per_get=%.0f%s\n",
              method, o.entries, o.dim, clients, all.size() / o.duration_s,
              Percentile(all, 0.5), Percentile(all, 0.99), hit_total / lookups,
              cpu >= 0 ? 1e6 * cpu / lookups : -1.0,
              cpu_pid > 0 ? " (server process)" : " (this process)");
  std::fflush(stdout);
}

// Upstream's Get: cosine (dot / (|a| |b|)) against every entry, the best at or above the
// threshold. Entries are kept as given; their norms are computed per comparison as upstream.
struct FullScan {
  std::vector<float> data;  // entries x dim
  uint32_t dim = 0;

  int64_t Best(const std::vector<float>& q, float threshold) const {
    const size_t n = data.size() / dim;
    float best = -2;
    int64_t best_i = -1;
    for (size_t i = 0; i < n; ++i) {
      const float* e = &data[i * dim];
      float dot = 0, ne = 0, nq = 0;
      for (uint32_t d = 0; d < dim; ++d) {
        dot += e[d] * q[d];
        ne += e[d] * e[d];
        nq += q[d] * q[d];
      }
      const float cosine = dot / (std::sqrt(ne) * std::sqrt(nq));
      if (cosine > best) best = cosine, best_i = static_cast<int64_t>(i);
    }
    return best >= threshold ? best_i : -1;
  }
};

std::vector<int> ParseCounts(const std::string& text) {
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n) && n > 0) counts.push_back(n);
  }
  return counts;
}

// Every query's answer from the server against the full scan's (the ground truth).
void CheckAgreement(const CacheBenchOptions& o, const std::vector<Query>& queries,
                    const FullScan& scan) {
  auto stub = Stub(o.target);
  size_t agree = 0;
  for (const Query& query : queries) {
    const int64_t truth = scan.Best(query.vector, o.threshold);
    v1::SemanticCacheGetRequest req;
    req.set_cache_name(o.cache_name);
    req.set_similarity_threshold(o.threshold);
    req.mutable_query_embedding()->Add(query.vector.begin(), query.vector.end());
    v1::SemanticCacheGetResponse resp;
    grpc::ClientContext ctx;
    if (!stub->Get(&ctx, req, &resp).ok()) continue;
    agree += resp.matched_key() == (truth < 0 ? "" : absl::StrCat("question ", truth));
  }
  std::printf("cache agreement server_vs_full_scan=%zu/%zu\n", agree, queries.size());
}

int MeasureGets(const CacheBenchOptions& o) {
  const std::vector<Query> queries = MakeQueries(o);
  FullScan scan{{}, o.dim};
  if (o.scan) {
    scan.data.reserve(static_cast<size_t>(o.entries) * o.dim);
    for (uint32_t i = 0; i < o.entries; ++i) {
      const std::vector<float> v = EntryVector(o, i);
      scan.data.insert(scan.data.end(), v.begin(), v.end());
    }
    CheckAgreement(o, queries, scan);
  }
  for (int clients : ParseCounts(o.clients)) {
    Measure(o, "get_server", clients, o.server_pid, [&] {
      auto stub = std::shared_ptr<v1::SemanticCacheService::Stub>(Stub(o.target));
      return [&o, &queries, stub](size_t q) {
        v1::SemanticCacheGetRequest req;
        req.set_cache_name(o.cache_name);
        req.set_similarity_threshold(o.threshold);
        req.mutable_query_embedding()->Add(queries[q].vector.begin(), queries[q].vector.end());
        v1::SemanticCacheGetResponse resp;
        grpc::ClientContext ctx;
        return stub->Get(&ctx, req, &resp).ok() && resp.hit();
      };
    });
    if (o.scan) {
      Measure(o, "full_scan_inprocess", clients, 0, [&] {
        return [&](size_t q) { return scan.Best(queries[q].vector, o.threshold) >= 0; };
      });
    }
  }
  return 0;
}

}  // namespace

CLI::App* AddCacheCommand(CLI::App& app, CacheBenchOptions* o) {
  CLI::App* c = app.add_subcommand("cache", "SemanticCacheService Get against a full scan");
  c->add_option("--phase", o->phase, "load | query | all")
      ->check(CLI::IsMember({"load", "query", "all"}))
      ->capture_default_str();
  c->add_option("--target", o->target, "server address")->capture_default_str();
  c->add_option("--cache", o->cache_name, "cache name")->capture_default_str();
  c->add_option("--entries", o->entries, "entries")->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  c->add_option("--dim", o->dim, "embedding floats")->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  c->add_option("--seed", o->seed, "data and query seed")->capture_default_str();
  c->add_option("--load-clients", o->load_clients, "concurrent Put callers")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  c->add_option("--clients", o->clients, "concurrent Get callers, one measurement per count")
      ->capture_default_str();
  c->add_option("--duration", o->duration_s, "seconds per measurement")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  c->add_option("--queries", o->queries, "distinct queries (cycled)")
      ->check(CLI::Range(2u, 1'000'000u))
      ->capture_default_str();
  c->add_option("--threshold", o->threshold, "similarity_threshold")->capture_default_str();
  c->add_flag("!--no-scan", o->scan, "skip the in-process full scan");
  c->add_option("--server-pid", o->server_pid, "the server's pid: CPU time per Get (/proc)");
  return c;
}

int RunCache(const CacheBenchOptions& o) {
  if (o.phase != "query") {
    if (int rc = Load(o); rc != 0) return rc;
  }
  return o.phase == "load" ? 0 : MeasureGets(o);
}

}  // namespace sochdb::bench
