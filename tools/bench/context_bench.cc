#include "tools/bench/context_bench.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "sochdb/v1/context.grpc.pb.h"
#include "tools/bench/dataset/random.h"
#include "tools/bench/latency.h"

namespace sochdb::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr uint32_t kVocabulary = 5000;

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// A vocabulary word: "w<n>" with a few letters, so BM25 and trigrams see distinct terms.
std::string Word(uint32_t n) {
  static const char* kStems[] = {"ana", "bel", "cor", "dun", "eli", "fam", "gor", "hin"};
  return std::string(kStems[n % 8]) + std::to_string(n);
}

// Zipf-like: rank r with probability ~ 1/r (inverse-CDF of a log-uniform draw).
uint32_t ZipfWord(Random& random) {
  const double r = std::exp(random.Uniform() * std::log(static_cast<double>(kVocabulary)));
  return static_cast<uint32_t>(r) % kVocabulary;
}

std::string EpisodeText(Random& random) {
  const uint32_t words = 20 + random.Below(41);
  std::string text;
  for (uint32_t i = 0; i < words; ++i) {
    if (i > 0) text += ' ';
    text += Word(ZipfWord(random));
  }
  text += '.';
  return text;
}

void AddEmbedding(Random& random, uint32_t dim, google::protobuf::RepeatedField<float>* out) {
  std::vector<float> v(dim);
  double norm = 0;
  for (float& x : v) {
    x = random.Gaussian();
    norm += static_cast<double>(x) * x;
  }
  norm = std::sqrt(norm);
  for (float x : v) out->Add(static_cast<float>(x / norm));
}

std::unique_ptr<v1::ContextService::Stub> Connect(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // one connection per client
  return v1::ContextService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

int RunLoad(const ContextBenchOptions& o) {
  std::atomic<uint32_t> next{0};
  std::atomic<uint64_t> errors{0};
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.load_clients; ++c) {
    threads.emplace_back([&] {
      auto stub = Connect(o.target);
      for (uint32_t i = next++; i < o.episodes; i = next++) {
        Random random(o.seed * 1'000'003 + i);
        v1::WriteEpisodeRequest req;
        req.set_namespace_(o.ns);
        req.set_text(EpisodeText(random));
        req.set_t_valid_from(1'700'000'000'000ull + i * 1000ull);
        if (o.dim > 0) AddEmbedding(random, o.dim, req.mutable_embedding());
        v1::WriteEpisodeResponse resp;
        grpc::ClientContext ctx;
        grpc::Status s = stub->WriteEpisode(&ctx, req, &resp);
        if (!s.ok() || !resp.error().empty()) {
          if (errors++ == 0) {
            std::fprintf(stderr, "WriteEpisode: %s%s\n", s.error_message().c_str(),
                         resp.error().c_str());
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = Seconds(start);
  std::printf("context load episodes=%u dim=%u clients=%d seconds=%.1f episodes/s=%.0f "
              "errors=%lu\n",
              o.episodes, o.dim, o.load_clients, seconds, o.episodes / seconds,
              static_cast<unsigned long>(errors.load()));
  return errors.load() == 0 ? 0 : 1;
}

v1::ContextQueryRequest QueryRequest(const ContextBenchOptions& o, Random& random) {
  v1::ContextQueryRequest req;
  req.set_session_id(o.ns);
  req.set_token_limit(o.budget);
  static const std::pair<const char*, v1::OutputFormat> kFormats[] = {
      {"toon", v1::OUTPUT_FORMAT_TOON}, {"json", v1::OUTPUT_FORMAT_JSON},
      {"markdown", v1::OUTPUT_FORMAT_MARKDOWN}, {"text", v1::OUTPUT_FORMAT_TEXT}};
  for (const auto& [name, format] : kFormats) {
    if (o.format == name) req.set_format(format);
  }
  v1::ContextSection* system = req.add_sections();
  system->set_name("SYSTEM");
  system->set_literal("You are a helpful assistant. Answer from the memories below; say so "
                      "when they do not hold the answer.");
  v1::ContextSection* last = req.add_sections();
  last->set_name("HISTORY");
  last->set_priority(1);
  last->set_section_type(v1::CONTEXT_SECTION_LAST);
  (*last->mutable_options())["top_k"] = std::to_string(o.last_top_k);
  v1::ContextSection* search = req.add_sections();
  search->set_name("KNOWLEDGE");
  search->set_priority(2);
  search->set_section_type(v1::CONTEXT_SECTION_SEARCH);
  search->set_query(Word(ZipfWord(random)) + " " + Word(ZipfWord(random)) + " " +
                    Word(ZipfWord(random)));
  (*search->mutable_options())["top_k"] = std::to_string(o.search_top_k);
  if (o.dim > 0) AddEmbedding(random, o.dim, search->mutable_query_embedding());
  return req;
}

struct Tally {
  std::vector<uint32_t> us;
  uint64_t tokens = 0;
  uint64_t errors = 0;
  std::string first_error;
};

Tally Measure(const ContextBenchOptions& o, int clients, double seconds) {
  const auto end =
      SteadyClock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  std::vector<Tally> tallies(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = Connect(o.target);
      Random random(o.seed * 7919 + static_cast<uint64_t>(c));
      Tally& t = tallies[c];
      while (SteadyClock::now() < end) {
        const v1::ContextQueryRequest req = QueryRequest(o, random);
        const auto start = SteadyClock::now();
        v1::ContextQueryResponse resp;
        grpc::ClientContext ctx;
        grpc::Status s = stub->Query(&ctx, req, &resp);
        if (!s.ok()) {
          if (t.errors++ == 0) t.first_error = s.error_message();
          continue;
        }
        t.us.push_back(static_cast<uint32_t>(Seconds(start) * 1e6));
        t.tokens += resp.total_tokens();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Tally all;
  for (Tally& t : tallies) {
    all.us.insert(all.us.end(), t.us.begin(), t.us.end());
    all.tokens += t.tokens;
    all.errors += t.errors;
    if (all.first_error.empty()) all.first_error = t.first_error;
  }
  return all;
}

int RunQueries(const ContextBenchOptions& o) {
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(o.clients, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n <= 0) {
      std::fprintf(stderr, "--clients: '%s' is not a positive count\n", o.clients.c_str());
      return 2;
    }
    counts.push_back(n);
  }
  Measure(o, 1, o.warmup_s);
  for (int clients : counts) {
    Tally t = Measure(o, clients, o.duration_s);
    const size_t ops = t.us.size();
    std::printf("context query format=%s budget=%u dim=%u clients=%d ops=%zu ops/s=%.0f "
                "p50=%.0fus p99=%.0fus tokens=%.0f errors=%lu\n",
                o.format.c_str(), o.budget, o.dim, clients, ops, ops / o.duration_s,
                Percentile(t.us, 0.5), Percentile(t.us, 0.99),
                ops == 0 ? 0.0 : static_cast<double>(t.tokens) / static_cast<double>(ops),
                static_cast<unsigned long>(t.errors));
    std::fflush(stdout);
    if (!t.first_error.empty()) std::fprintf(stderr, "Query: %s\n", t.first_error.c_str());
  }
  return 0;
}

}  // namespace

CLI::App* AddContextCommand(CLI::App& app, ContextBenchOptions* o) {
  CLI::App* cmd = app.add_subcommand("context", "ContextService: memory load and Query latency");
  cmd->add_option("--phase", o->phase, "load | query")->check(CLI::IsMember({"load", "query"}));
  cmd->add_option("--target", o->target, "server address");
  cmd->add_option("--namespace", o->ns, "the memory's namespace");
  cmd->add_option("--episodes", o->episodes, "episodes to load");
  cmd->add_option("--dim", o->dim, "embedding dimension (0: none)");
  cmd->add_option("--seed", o->seed, "data seed");
  cmd->add_option("--load-clients", o->load_clients, "concurrent writers");
  cmd->add_option("--budget", o->budget, "Query token_limit");
  cmd->add_option("--search-top-k", o->search_top_k, "SEARCH top_k");
  cmd->add_option("--last-top-k", o->last_top_k, "LAST top_k");
  cmd->add_option("--format", o->format, "output format")
      ->check(CLI::IsMember({"toon", "json", "markdown", "text"}));
  cmd->add_option("--clients", o->clients, "comma-separated client counts");
  cmd->add_option("--duration", o->duration_s, "seconds per measurement");
  cmd->add_option("--warmup", o->warmup_s, "seconds before the first measurement");
  return cmd;
}

int RunContext(const ContextBenchOptions& o) {
  return o.phase == "load" ? RunLoad(o) : RunQueries(o);
}

}  // namespace sochdb::bench
