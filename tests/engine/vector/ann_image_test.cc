// Tests for AnnIndex::Serialize / Deserialize: round trips in both phases and every storage give
// identical search results and stats and keep accepting adds; a different spec, truncation at
// any length, garbage and hundreds of random byte flips give DATA_LOSS or (for flips in plain
// data such as vector components or tombstone bits) a working index, never a crash.
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/common/byte_sink.h"
#include "engine/vector/ann_index.h"
#include "tests/engine/vector/ann_test_util.h"
#include "tools/bench/dataset/vector_dataset.h"

namespace sochdb::vector {
namespace {

using namespace testing;  // NOLINT: the helpers of this test only

struct Fixture {
  IndexSpec spec;
  bench::VectorDataset data;
  std::unique_ptr<AnnIndex> index;
};

// `n` clustered vectors of dimension `d` with every seventh label removed.
Fixture Make(uint32_t n, uint32_t d, uint32_t threshold, Metric metric, Quantization quantization) {
  Fixture f;
  f.spec.dimension = d;
  f.spec.metric = metric;
  f.spec.quantization = quantization;
  f.spec.exact_threshold = threshold;
  f.spec.m = 8;
  f.spec.ef_construction = 40;
  f.spec = ValueOrFail(ResolveSpec(f.spec));
  bench::ClusteredOptions options;
  options.vectors = n;
  options.queries = 20;
  options.dimension = d;
  options.clusters = 10;
  f.data = bench::MakeClusteredDataset(options);
  f.index = NewIndex(f.spec);
  ValueOrFail(f.index->Add(f.data.base));
  for (uint32_t label = 0; label < n; label += 7) REQUIRE_OK(f.index->Remove(label));
  return f;
}

void RequireSameResults(const AnnIndex& a, const AnnIndex& b, const std::vector<float>& queries) {
  const uint32_t d = a.spec().dimension;
  for (size_t q = 0; q * d < queries.size(); ++q) {
    const auto x = SearchOk(a, Row(queries, q, d), 10);
    const auto y = SearchOk(b, Row(queries, q, d), 10);
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      REQUIRE(x[i].label == y[i].label);
      REQUIRE(x[i].distance == y[i].distance);
    }
  }
}

TEST_CASE("round trips give identical results in both phases and every storage") {
  struct Case {
    uint32_t threshold;
    Metric metric;
    Quantization quantization;
  };
  for (const Case& c : {Case{5'000, Metric::kCosine, Quantization::kNone},
                        Case{300, Metric::kL2, Quantization::kNone},
                        Case{300, Metric::kCosine, Quantization::kNone},
                        Case{300, Metric::kDot, Quantization::kScalar8},
                        Case{300, Metric::kCosine, Quantization::kProduct}}) {
    INFO("threshold " << c.threshold << " metric " << MetricName(c.metric));
    Fixture f = Make(1'000, 16, c.threshold, c.metric, c.quantization);
    const std::string image = ValueOrFail(f.index->Serialize());
    auto copy = ValueOrFail(AnnIndex::Deserialize(image, f.spec));
    RequireSameResults(*f.index, *copy, f.data.queries);
    const AnnStats a = f.index->Stats(), b = copy->Stats();
    CHECK(a.labels == b.labels);
    CHECK(a.tombstones == b.tombstones);
    CHECK(a.exact_phase == b.exact_phase);
    CHECK(a.max_level == b.max_level);
    CHECK(a.avg_connections == b.avg_connections);
    CHECK(ValueOrFail(copy->Serialize()) == image);
    // The copy keeps growing like the original.
    const auto more = Row(f.data.queries, 0, 16);
    CHECK(ValueOrFail(copy->Add(more)) == 1'000);
    CHECK(ValueOrFail(f.index->Add(more)) == 1'000);
    RequireSameResults(*f.index, *copy, f.data.queries);
  }
}

TEST_CASE("an image whose stored codes follow later, after more adds, is the same image") {
  // A snapshot writes the head under the lock and the stored codes afterwards, with adds (and
  // the growth of the arrays they cause) in between: the codes of the labels present at the
  // head do not change, so the pieces join into the image of that moment.
  struct Case {
    uint32_t threshold;
    Quantization quantization;
  };
  for (const Case& c : {Case{5'000, Quantization::kNone}, Case{300, Quantization::kNone},
                        Case{300, Quantization::kScalar8}, Case{300, Quantization::kProduct}}) {
    INFO("threshold " << c.threshold << " quantization " << static_cast<int>(c.quantization));
    Fixture f = Make(1'000, 16, c.threshold, Metric::kL2, c.quantization);
    const std::string image = ValueOrFail(f.index->Serialize());
    std::string joined;
    StringSink sink(&joined);
    uint64_t codes = 99;
    REQUIRE_OK(f.index->SerializeHead(&sink, &codes));
    // Graph phase: the codes are left out (1,000 x 16 floats, or bytes); exact phase and
    // product quantization (whose settings follow its codes): nothing is.
    if (c.threshold > 1'000 || c.quantization == Quantization::kProduct) {
      CHECK(codes == 0);
    } else {
      CHECK(codes == (c.quantization == Quantization::kNone ? 64'000 : 16'000));
    }
    CHECK(joined.size() + codes == image.size());
    f.index->PrepareAdd(3'000);  // new arrays: the codes move
    bench::ClusteredOptions options;
    options.vectors = 3'000;
    options.dimension = 16;
    options.clusters = 10;
    options.seed = 99;
    ValueOrFail(f.index->Add(bench::MakeClusteredDataset(options).base));
    REQUIRE_OK(f.index->Remove(3));
    // In two pieces.
    REQUIRE_OK(f.index->AppendStoredCodes(0, codes / 2, &sink));
    REQUIRE_OK(f.index->AppendStoredCodes(codes / 2, codes - codes / 2, &sink));
    CHECK(joined == image);
    RequireErrorContaining(f.index->AppendStoredCodes(codes, 1ull << 40, &sink),
                           absl::StatusCode::kOutOfRange, "stored codes");
  }
}

TEST_CASE("an image made for another spec is DATA_LOSS") {
  Fixture f = Make(400, 8, 300, Metric::kL2, Quantization::kNone);
  const std::string image = ValueOrFail(f.index->Serialize());
  for (auto mutate : {+[](IndexSpec& s) { s.m = 12; }, +[](IndexSpec& s) { s.dimension = 16; },
                      +[](IndexSpec& s) { s.metric = Metric::kCosine; },
                      +[](IndexSpec& s) { s.exact_threshold = 500; },
                      +[](IndexSpec& s) { s.quantization = Quantization::kScalar8; }}) {
    IndexSpec other = f.spec;
    mutate(other);
    RequireErrorContaining(AnnIndex::Deserialize(image, other).status(), absl::StatusCode::kDataLoss,
                 "index image");
  }
}

// Deserialises a damaged image: DATA_LOSS, or an index whose searches are well formed.
// Returns true when it was DATA_LOSS.
bool SurvivesDamage(const std::string& image, const Fixture& f) {
  absl::StatusOr<std::unique_ptr<AnnIndex>> copy = AnnIndex::Deserialize(image, f.spec);
  if (!copy.ok()) {
    INFO(copy.status().ToString());
    REQUIRE(copy.status().code() == absl::StatusCode::kDataLoss);
    return true;
  }
  const int64_t labels = static_cast<int64_t>((*copy)->Stats().labels);
  for (size_t q = 0; q < 3; ++q) {
    RequireWellFormed(SearchOk(**copy, Row(f.data.queries, q, f.spec.dimension), 10), labels);
  }
  return false;
}

TEST_CASE("truncated, garbage and bit-flipped images never crash") {
  for (uint32_t threshold : {1'000u, 256u}) {
    for (Quantization q : {Quantization::kNone, Quantization::kScalar8, Quantization::kProduct}) {
      if (threshold == 1'000 && q != Quantization::kNone) continue;
      INFO("threshold " << threshold << " quantization " << static_cast<int>(q));
      Fixture f = Make(300, 8, threshold, Metric::kL2, q);
      const std::string image = ValueOrFail(f.index->Serialize());
      // Truncation: the header byte by byte, then a spread of lengths.
      for (size_t length = 0; length < image.size(); length += length < 200 ? 1 : 37) {
        REQUIRE(SurvivesDamage(image.substr(0, length), f));
      }
      REQUIRE(SurvivesDamage(image + "x", f));
      // Every byte of the fixed header (magic .. tombstone word count) matters.
      for (size_t at = 0; at < 65; ++at) {
        std::string damaged = image;
        damaged[at] ^= 0x10;
        INFO("header byte " << at);
        REQUIRE(SurvivesDamage(damaged, f));
      }
      std::mt19937 rng(17);
      int data_loss = 0;
      const int trials = 300;
      for (int trial = 0; trial < trials; ++trial) {
        std::string damaged = image;
        for (int flips = 1 + rng() % 4; flips > 0; --flips) {
          damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
        }
        data_loss += SurvivesDamage(damaged, f) ? 1 : 0;
      }
      std::printf(
          "ann image fuzz: threshold=%u quantization=%d bytes=%zu flips=%d "
          "data_loss=%d loaded=%d\n",
          threshold, static_cast<int>(q), image.size(), trials, data_loss, trials - data_loss);
    }
  }
  Fixture f = Make(300, 8, 256, Metric::kL2, Quantization::kNone);
  std::mt19937 rng(23);
  for (size_t size : {0, 1, 7, 64, 1'000, 100'000}) {
    std::string garbage(size, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    REQUIRE(SurvivesDamage(garbage, f));
  }
}

}  // namespace
}  // namespace sochdb::vector
