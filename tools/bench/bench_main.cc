// sochdb-bench: a closed-loop load generator for sochdb-grpc (and the echo server). Modes:
// `kv` (below), `graph` (bulk load and traversals; graph_bench.h), `cache` (semantic cache Get
// against a full scan; cache_bench.h) and `context` (agent memory load and context queries;
// context_bench.h).
//
//   sochdb-bench kv --target 127.0.0.1:50051 --clients 32 --duration 10 --value-size 100
//                   --mix 90:10 --keys 10000 [--namespace bench] [--api-key KEY]
//                   [--policies N] [--matching-policies M]
//
// `--clients` calls are kept in flight at all times, spread over `--threads` completion queues
// (async stubs: one thread drives many calls, so the client does not eat the cores it measures).
// `--mix get:put` weights the operations. Before the timed run every key is written once, so
// gets hit. The report gives ops/s and p50/p99/p999 latency per operation.
//
// The cost of the governance step: `--policies N` registers N rules in the caller's tenant, each
// with its own literal prefix ("other-<i>/*", DENY, triggers in turn), which the benchmark's keys
// never match; `--matching-policies M` adds M ALLOW rules ("key-*", triggers in turn) that apply
// to every call (each is run: pattern and condition). Rules are registered before the preload.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/policy.grpc.pb.h"
#include "tools/bench/cache_bench.h"
#include "tools/bench/context_bench.h"
#include "tools/bench/graph_bench.h"
#include "tools/bench/latency.h"

namespace {

namespace v1 = sochdb::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string target = "127.0.0.1:50051";
  int clients = 32;
  int threads = 1;
  int channels = 2;
  double duration_s = 10;
  int value_size = 100;
  int get_weight = 90;
  int put_weight = 10;
  int keys = 10000;
  std::string ns = "bench";
  std::string api_key;
  int policies = 0;
  int matching_policies = 0;
};

std::string KeyName(int i) { return absl::StrCat("key-", i); }

// One in-flight call; its address is the completion-queue tag.
struct Call {
  bool is_get = false;
  Clock::time_point start;
  grpc::ClientContext context;
  grpc::Status status;
  v1::KvGetResponse get_response;
  v1::KvPutResponse put_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::KvGetResponse>> get_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::KvPutResponse>> put_reader;
};

struct Results {
  std::vector<uint32_t> get_us, put_us;
  uint64_t errors = 0;
};

class Driver {
 public:
  Driver(const Options& o, std::vector<std::unique_ptr<v1::KvService::Stub>>* stubs, int calls,
         uint64_t seed)
      : o_(o), stubs_(stubs), calls_(calls), rng_(seed), value_(o.value_size, 'v') {}

  Results Run(Clock::time_point end) {
    for (int i = 0; i < calls_; ++i) Issue(i);
    int outstanding = calls_;
    void* tag;
    bool ok;
    while (outstanding > 0 && cq_.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - call->start);
      if (!ok || !call->status.ok()) {
        ++results_.errors;
      } else {
        (call->is_get ? results_.get_us : results_.put_us).push_back(static_cast<uint32_t>(us.count()));
      }
      if (Clock::now() < end) {
        Issue(next_stub_++);
      } else {
        --outstanding;
      }
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
    return std::move(results_);
  }

 private:
  void Issue(int n) {
    auto* call = new Call;
    call->is_get = static_cast<int>(rng_() % (o_.get_weight + o_.put_weight)) < o_.get_weight;
    if (!o_.api_key.empty()) call->context.AddMetadata("authorization", "Bearer " + o_.api_key);
    v1::KvService::Stub* stub = (*stubs_)[n % stubs_->size()].get();
    const std::string key = KeyName(static_cast<int>(rng_() % o_.keys));
    call->start = Clock::now();
    if (call->is_get) {
      v1::KvGetRequest req;
      req.set_namespace_(o_.ns);
      req.set_key(key);
      call->get_reader = stub->AsyncGet(&call->context, req, &cq_);
      call->get_reader->Finish(&call->get_response, &call->status, call);
    } else {
      v1::KvPutRequest req;
      req.set_namespace_(o_.ns);
      req.set_key(key);
      req.set_value(value_);
      call->put_reader = stub->AsyncPut(&call->context, req, &cq_);
      call->put_reader->Finish(&call->put_response, &call->status, call);
    }
  }

  const Options& o_;
  std::vector<std::unique_ptr<v1::KvService::Stub>>* stubs_;
  const int calls_;
  std::mt19937_64 rng_;
  const std::string value_;
  grpc::CompletionQueue cq_;
  Results results_;
  int next_stub_ = 0;
};

void Report(const char* name, std::vector<uint32_t>& v, double seconds) {
  using sochdb::bench::Percentile;
  if (v.empty()) return;
  const double p50 = Percentile(v, 0.50), p99 = Percentile(v, 0.99), p999 = Percentile(v, 0.999);
  std::printf("  %-4s ops=%zu ops/s=%.0f p50=%.0fus p99=%.0fus p999=%.0fus\n", name, v.size(),
              static_cast<double>(v.size()) / seconds, p50, p99, p999);
}

bool Preload(const Options& o, v1::KvService::Stub& stub) {
  const std::string value(o.value_size, 'v');
  for (int start = 0; start < o.keys; start += 1000) {
    v1::KvBatchPutRequest req;
    req.set_namespace_(o.ns);
    for (int i = start; i < std::min(o.keys, start + 1000); ++i) {
      v1::KvPutEntry* e = req.add_entries();
      e->set_key(KeyName(i));
      e->set_value(value);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!o.api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + o.api_key);
    v1::KvBatchPutResponse resp;
    const grpc::Status s = stub.BatchPut(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "preload failed: %s\n", s.error_message().c_str());
      return false;
    }
  }
  return true;
}

// Registers the rules --policies and --matching-policies ask for.
bool RegisterPolicies(const Options& o, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::PolicyService::NewStub(channel);
  const int total = o.policies + o.matching_policies;
  for (int i = 0; i < total; ++i) {
    const bool matching = i >= o.policies;
    v1::RegisterPolicyRequest req;
    v1::PolicyRule* rule = req.mutable_policy();
    rule->set_id(absl::StrCat("bench-", i));
    rule->set_name(rule->id());
    rule->set_pattern(matching ? std::string("key-*") : absl::StrCat("other-", i, "/*"));
    rule->set_trigger(static_cast<v1::PolicyTrigger>(i % 6));
    rule->set_default_action(matching ? v1::POLICY_ACTION_ALLOW : v1::POLICY_ACTION_DENY);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!o.api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + o.api_key);
    v1::RegisterPolicyResponse resp;
    const grpc::Status s = stub->RegisterPolicy(&ctx, req, &resp);
    if (!s.ok() || !resp.success()) {
      std::fprintf(stderr, "policy registration failed: %s%s\n", s.error_message().c_str(),
                   resp.error().c_str());
      return false;
    }
  }
  return true;
}

int RunKv(const Options& o) {
  std::vector<std::unique_ptr<v1::KvService::Stub>> stubs;
  for (int i = 0; i < std::max(1, o.channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("sochdb.bench.channel", i);  // distinct args: distinct connections
    stubs.push_back(v1::KvService::NewStub(
        grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args)));
  }
  if (o.policies + o.matching_policies > 0 &&
      !RegisterPolicies(o, grpc::CreateChannel(o.target, grpc::InsecureChannelCredentials()))) {
    return 1;
  }
  if (!Preload(o, *stubs[0])) return 1;
  const auto begin = Clock::now();
  const auto end = begin + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000));
  std::vector<Results> results(o.threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    const int calls = o.clients / o.threads + (t < o.clients % o.threads ? 1 : 0);
    threads.emplace_back([&, t, calls] {
      Driver driver(o, &stubs, calls, 1234 + t);
      results[t] = driver.Run(end);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  Results all;
  for (Results& r : results) {
    all.get_us.insert(all.get_us.end(), r.get_us.begin(), r.get_us.end());
    all.put_us.insert(all.put_us.end(), r.put_us.begin(), r.put_us.end());
    all.errors += r.errors;
  }
  const size_t total = all.get_us.size() + all.put_us.size();
  std::printf("kv target=%s clients=%d duration=%.1fs value=%dB mix=%d:%d keys=%d policies=%d+%d\n",
              o.target.c_str(), o.clients, seconds, o.value_size, o.get_weight, o.put_weight, o.keys,
              o.policies, o.matching_policies);
  std::printf("  all  ops=%zu ops/s=%.0f errors=%lu\n", total,
              static_cast<double>(total) / seconds, static_cast<unsigned long>(all.errors));
  Report("get", all.get_us, seconds);
  Report("put", all.put_us, seconds);
  return all.errors == 0 ? 0 : 1;
}

bool ParseMix(const std::string& text, Options* o) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], &o->get_weight) &&
         absl::SimpleAtoi(parts[1], &o->put_weight) && o->get_weight >= 0 && o->put_weight >= 0 &&
         o->get_weight + o->put_weight > 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sochdb-bench: load generator for sochdb-grpc");
  app.require_subcommand(1);
  Options o;
  std::string mix = "90:10";
  CLI::App* kv = app.add_subcommand("kv", "KvService Get/Put load");
  kv->add_option("--target", o.target, "server address")->capture_default_str();
  kv->add_option("--clients", o.clients, "calls kept in flight")->check(CLI::Range(1, 100000))->capture_default_str();
  kv->add_option("--threads", o.threads, "client completion-queue threads")->check(CLI::Range(1, 64))->capture_default_str();
  kv->add_option("--channels", o.channels, "HTTP/2 connections")->check(CLI::Range(1, 64))->capture_default_str();
  kv->add_option("--duration", o.duration_s, "seconds")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  kv->add_option("--value-size", o.value_size, "bytes per value")->check(CLI::Range(0, 8 << 20))->capture_default_str();
  kv->add_option("--mix", mix, "get:put weights")->capture_default_str();
  kv->add_option("--keys", o.keys, "distinct keys")->check(CLI::Range(1, 100000000))->capture_default_str();
  kv->add_option("--namespace", o.ns, "namespace")->capture_default_str();
  kv->add_option("--api-key", o.api_key, "API key (Bearer)");
  kv->add_option("--policies", o.policies, "rules registered first, never matching the keys")->check(CLI::Range(0, 10000))->capture_default_str();
  kv->add_option("--matching-policies", o.matching_policies, "ALLOW rules that apply to every call")->check(CLI::Range(0, 10000))->capture_default_str();
  sochdb::bench::GraphBenchOptions graph_options;
  CLI::App* graph = sochdb::bench::AddGraphCommand(app, &graph_options);
  sochdb::bench::CacheBenchOptions cache_options;
  CLI::App* cache = sochdb::bench::AddCacheCommand(app, &cache_options);
  sochdb::bench::ContextBenchOptions context_options;
  CLI::App* context = sochdb::bench::AddContextCommand(app, &context_options);
  CLI11_PARSE(app, argc, argv);
  if (graph->parsed()) return sochdb::bench::RunGraph(graph_options);
  if (cache->parsed()) return sochdb::bench::RunCache(cache_options);
  if (context->parsed()) return sochdb::bench::RunContext(context_options);
  if (!ParseMix(mix, &o)) {
    std::fprintf(stderr, "--mix must be GET:PUT weights, e.g. 90:10\n");
    return 2;
  }
  if (o.threads > o.clients) o.threads = o.clients;
  return RunKv(o);
}
