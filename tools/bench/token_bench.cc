// sochdb-token-bench: the BPE tokenizer's speed (engine/context/tokenizer). Loads both rank
// tables (timing the load the server does at start-up), builds two texts of about --mb MiB each
// from the test corpus (tests/engine/context/tokenizer): "corpus" = the hand-written files
// (code, prose, scripts, emoji) repeated, "mixed" = those interleaved with seeded random
// strings (many scripts, emoji, whitespace); then prints Count's MB/s per text and encoding
// (by this thread's CPU time, so a busy machine does not skew it), best of --rounds. --write-dir DIR also writes the texts there (corpus.txt, mixed.txt) for
// token_bench.sh to time the npm tokenizers on the same bytes.
//
//   bazel run //tools/bench:sochdb-token-bench -- --ranks $PWD/tools/tokenizer/ranks
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "engine/context/tokenizer/tokenizers.h"
#include "tests/engine/context/tokenizer/corpus_texts.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU seconds of this thread (or of the process): on a shared machine, wall time measures the
// neighbours too.
double CpuSeconds(clockid_t clock = CLOCK_THREAD_CPUTIME_ID) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}
using sochdb::context::Encoding;

std::string BuildText(const std::vector<std::string>& corpus, bool mixed, size_t bytes) {
  std::vector<std::string> random;
  if (mixed) random = sochdb::context::testing::RandomTexts(/*seed=*/1, /*count=*/20000);
  std::string text;
  size_t r = 0;
  while (text.size() < bytes) {
    for (const std::string& part : corpus) {
      text += part;
      text += '\n';
      if (mixed) {
        for (int i = 0; i < 20; ++i) text += random[r++ % random.size()] + "\n";
      }
    }
  }
  return text;
}

void Measure(const sochdb::context::Tokenizers& tokenizers, const char* name,
             const std::string& text, int rounds) {
  for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    double best = 1e30;
    size_t tokens = 0;
    for (int i = 0; i < rounds; ++i) {
      const double start = CpuSeconds();
      tokens = tokenizers.Get(e).Count(text);
      best = std::min(best, CpuSeconds() - start);
    }
    std::printf("%-8s %-12s %8.2f MB  %9zu tokens  %8.1f MB/s  (%.3f s)\n", name,
                std::string(sochdb::context::EncodingName(e)).c_str(), text.size() / 1e6,
                tokens, text.size() / 1e6 / best, best);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("BPE tokenizer speed");
  std::string ranks = "tools/tokenizer/ranks";
  std::string corpus_dir = "tests/engine/context/tokenizer/corpus";
  std::string write_dir;
  double mb = 4;
  int rounds = 3;
  app.add_option("--ranks", ranks, "directory of the rank tables")->capture_default_str();
  app.add_option("--corpus", corpus_dir, "corpus directory")->capture_default_str();
  app.add_option("--mb", mb, "size of each text, MB")->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds (best is printed)")->capture_default_str();
  app.add_option("--write-dir", write_dir, "also write corpus.txt and mixed.txt here");
  CLI11_PARSE(app, argc, argv);

  const auto start = Clock::now();
  const double cpu_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  auto tokenizers = sochdb::context::Tokenizers::Load(ranks);
  if (!tokenizers.ok()) {
    std::fprintf(stderr, "%s\n", tokenizers.status().ToString().c_str());
    return 1;
  }
  std::printf("load both tables: %.0f ms CPU (both threads), %.0f ms wall\n",
              (CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) * 1e3,
              std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  const std::vector<std::string> corpus =
      sochdb::context::testing::CorpusFileTexts(corpus_dir);
  if (corpus.empty()) {
    std::fprintf(stderr, "no corpus files in %s\n", corpus_dir.c_str());
    return 1;
  }
  const size_t bytes = static_cast<size_t>(mb * 1e6);
  const std::string plain = BuildText(corpus, /*mixed=*/false, bytes);
  const std::string mixed = BuildText(corpus, /*mixed=*/true, bytes);
  if (!write_dir.empty()) {
    std::ofstream(write_dir + "/corpus.txt", std::ios::binary) << plain;
    std::ofstream(write_dir + "/mixed.txt", std::ios::binary) << mixed;
  }
  Measure(**tokenizers, "corpus", plain, rounds);
  Measure(**tokenizers, "mixed", mixed, rounds);
  return 0;
}
