// Tests for ContextAssembler (engine/context/context_query.h) on an in-memory store with the real
// BPE tables: budgets that hold for every format, strategy and limit with counts equal to the
// tokenizer's; which end each strategy cuts; STRICT's refusal; sections past the budget; each
// section kind's content; MMR's demotion of near-duplicates; validation before any write.
#include "engine/context/context_query.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/context/mmr.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "nlohmann/json.hpp"
#include "tests/common/status_testing.h"

namespace sochdb::context {
namespace {

using sochdb::testing::RequireErrorContaining;
using sochdb::testing::ValueOrFail;

std::string RanksDir() {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  return std::string(runfiles == nullptr ? "." : runfiles) + "/sochdb_grpc/tools/tokenizer/ranks";
}

std::string Words(size_t n, size_t seed = 0) {
  static const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                 "golf",  "hotel", "india",   "juliet", "kilo", "lima"};
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += kWords[(i * 7 + seed) % 12];
  }
  return out;
}

class ContextFixture {
 public:
  ContextFixture() : env_(leveldb::NewMemEnv(leveldb::Env::Default())) {
    storage::StoreOptions options;
    options.env = env_.get();
    store_ = ValueOrFail(storage::Store::Open("/ctx", options));
    kv_ = std::make_unique<kv::KvStore>(store_.get(), Clock::Real());
    memory_ = std::make_unique<memory::MemoryStore>(store_.get());
    tokenizers_ = ValueOrFail(Tokenizers::Load(RanksDir()));
    assembler_ = std::make_unique<ContextAssembler>(memory_.get(), kv_.get(), tokenizers_.get());
  }

  const ContextAssembler& assembler() const { return *assembler_; }
  memory::MemoryStore& memory() { return *memory_; }
  kv::KvStore& kv() { return *kv_; }
  size_t Count(const std::string& text) const { return tokenizers_->ForModel("").Count(text); }

 private:
  std::unique_ptr<leveldb::Env> env_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<memory::MemoryStore> memory_;
  std::unique_ptr<Tokenizers> tokenizers_;
  std::unique_ptr<ContextAssembler> assembler_;
};

SectionSpec Literal(std::string name, std::string text, uint32_t priority = 0) {
  SectionSpec spec;
  spec.name = std::move(name);
  spec.kind = SectionKind::kLiteral;
  spec.literal = std::move(text);
  spec.priority = priority;
  return spec;
}

SectionSpec Section(std::string name, SectionKind kind, std::string query,
                    std::map<std::string, std::string> options = {}, uint32_t priority = 0) {
  SectionSpec spec;
  spec.name = std::move(name);
  spec.kind = kind;
  spec.query = std::move(query);
  spec.options = std::move(options);
  spec.priority = priority;
  return spec;
}

ContextRequest Request(std::vector<SectionSpec> sections, uint32_t limit, OutputFormat format,
                       Truncation truncation = Truncation::kTailDrop) {
  ContextRequest request;
  request.session_id = "s";
  request.sections = std::move(sections);
  request.token_limit = limit;
  request.format = format;
  request.truncation = truncation;
  return request;
}

TEST_CASE("the budget holds for every format, strategy and limit, with honest counts") {
  ContextFixture f;
  for (int i = 0; i < 30; ++i) {
    REQUIRE(f.memory().WriteEpisode("s", {"Episode " + std::to_string(i) + ": " + Words(20, i)})
                .ok());
  }
  const std::vector<SectionSpec> sections = {
      Literal("SYSTEM", "You are terse. " + Words(50)),
      Section("history", SectionKind::kLast, "", {{"top_k", "15"}}, 1),
      Section("facts", SectionKind::kSearch, "alpha charlie", {}, 2)};
  for (OutputFormat format : {OutputFormat::kToon, OutputFormat::kJson, OutputFormat::kMarkdown,
                              OutputFormat::kText}) {
    for (Truncation truncation :
         {Truncation::kTailDrop, Truncation::kHeadDrop, Truncation::kProportional}) {
      for (uint32_t limit : {0u, 1u, 3u, 9u, 40u, 120u, 400u, 20000u}) {
        INFO("format " << static_cast<int>(format) << " truncation "
                       << static_cast<int>(truncation) << " limit " << limit);
        ContextAnswer answer =
            ValueOrFail(f.assembler().Assemble(Request(sections, limit, format, truncation)));
        REQUIRE(answer.total_tokens <= std::max(limit, 1u));
        REQUIRE(answer.total_tokens == f.Count(answer.context));
        REQUIRE(answer.sections.size() == 3);
        for (const SectionOutcome& section : answer.sections) {
          REQUIRE(section.tokens_used == f.Count(section.content));
          if (limit == 20000) REQUIRE_FALSE(section.truncated);
        }
        if (limit <= 120) REQUIRE(answer.sections.back().truncated);
      }
    }
  }
}

TEST_CASE("TAIL_DROP keeps the beginning, HEAD_DROP the end, STRICT refuses") {
  ContextFixture f;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "w" + std::to_string(i) + " ";
  text.pop_back();
  auto tail = ValueOrFail(f.assembler().Assemble(
      Request({Literal("L", text)}, 40, OutputFormat::kText, Truncation::kTailDrop)));
  auto head = ValueOrFail(f.assembler().Assemble(
      Request({Literal("L", text)}, 40, OutputFormat::kText, Truncation::kHeadDrop)));
  CHECK(tail.context.rfind("L\n\nw0 w1 w2", 0) == 0);
  CHECK(head.context.size() > 20);
  CHECK(head.context.substr(head.context.size() - 11) == "w1998 w1999");
  CHECK(tail.total_tokens <= 40);
  CHECK(head.total_tokens <= 40);
  // Filled close to the limit, not far below it.
  CHECK(tail.total_tokens >= 35);
  const size_t needed = f.Count("L\n\n" + text);
  RequireErrorContaining(
      f.assembler()
          .Assemble(Request({Literal("L", text)}, 40, OutputFormat::kText, Truncation::kStrict))
          .status(),
      absl::StatusCode::kOutOfRange, "needs " + std::to_string(needed) + " tokens");
}

TEST_CASE("a cut text fills the budget to within a token, in every format and either end") {
  ContextFixture f;
  std::string text;
  for (int i = 0; i < 600; ++i) text += "w" + std::to_string(i) + (i % 9 == 0 ? ",\n" : " ");
  for (OutputFormat format : {OutputFormat::kToon, OutputFormat::kJson, OutputFormat::kMarkdown,
                              OutputFormat::kText}) {
    for (Truncation truncation : {Truncation::kTailDrop, Truncation::kHeadDrop}) {
      for (uint32_t limit = 30; limit < 1500; limit += 97) {
        auto answer = ValueOrFail(
            f.assembler().Assemble(Request({Literal("L", text)}, limit, format, truncation)));
        INFO("format " << static_cast<int>(format) << " truncation "
                       << static_cast<int>(truncation) << " limit " << limit);
        CHECK(answer.total_tokens <= limit);
        if (answer.sections.back().truncated) {  // (the whole text is ~1,290 tokens)
          CHECK(answer.total_tokens + 2 >= limit);  // a token boundary, and where BPE merges
        }
      }
    }
  }
}

TEST_CASE("PROPORTIONAL gives every section its share") {
  ContextFixture f;
  const std::string big = Words(2000);
  auto answer = ValueOrFail(f.assembler().Assemble(
      Request({Literal("A", big), Literal("B", Words(1000, 3), 1)}, 300, OutputFormat::kText,
              Truncation::kProportional)));
  REQUIRE(answer.total_tokens <= 300);
  const uint32_t a = answer.sections[0].tokens_used, b = answer.sections[1].tokens_used;
  CHECK(answer.sections[0].truncated);
  CHECK(answer.sections[1].truncated);
  // A is twice B's size: its share is about twice B's.
  CHECK(a > b * 3 / 2);
  CHECK(a < b * 5 / 2);
}

TEST_CASE("sections past the budget are reported empty and truncated") {
  ContextFixture f;
  auto answer = ValueOrFail(f.assembler().Assemble(Request(
      {Literal("A", Words(300)), Literal("B", "small", 9)}, 50, OutputFormat::kMarkdown)));
  CHECK(answer.sections[0].name == "A");
  CHECK(answer.sections[1].content.empty());
  CHECK(answer.sections[1].truncated);
  CHECK(answer.context.find("small") == std::string::npos);
}

TEST_CASE("a limit that cannot hold the empty document gives an empty context") {
  ContextFixture f;
  for (OutputFormat format : {OutputFormat::kToon, OutputFormat::kJson}) {
    auto answer = ValueOrFail(
        f.assembler().Assemble(Request({Literal("A", "hello")}, 1, format)));
    CHECK(answer.context.empty());
    CHECK(answer.total_tokens == 0);
    CHECK(answer.sections[0].truncated);
  }
}

TEST_CASE("sections read episodes, KV values and prefixes") {
  ContextFixture f;
  for (int i = 1; i <= 5; ++i) {
    memory::EpisodeWrite write{"event " + std::to_string(i)};
    write.t_valid_from_ms = 1000 * i;
    REQUIRE(f.memory().WriteEpisode("s", write).ok());
  }
  REQUIRE_OK(f.kv().Put("users", "ada", "likes tea", 0));
  REQUIRE_OK(f.kv().Put("users", "bin", std::string("\xff\x00\x01", 3), 0));
  for (char c = 'a'; c <= 'f'; ++c) REQUIRE_OK(f.kv().Put("s", std::string("chat/") + c, "m", 0));
  auto answer = ValueOrFail(f.assembler().Assemble(Request(
      {Section("last", SectionKind::kLast, "", {{"top_k", "2"}}),
       Section("asof", SectionKind::kLast, "", {{"top_k", "2"}, {"as_of", "2500"}}),
       Section("kv", SectionKind::kGet, "users/ada"), Section("bin", SectionKind::kGet, "users/bin"),
       Section("tail", SectionKind::kLast, "", {{"prefix", "chat/"}, {"top_k", "2"}}),
       Section("one", SectionKind::kGet, "", {{"doc_id", "3"}}),
       Section("none", SectionKind::kGet, "", {{"doc_id", "99"}})},
      10000, OutputFormat::kJson)));
  const nlohmann::json doc = nlohmann::json::parse(answer.context);
  const auto& s = doc["sections"];
  CHECK(s[0]["episodes"][0]["text"] == "event 4");  // the newest two, oldest first
  CHECK(s[0]["episodes"][1]["text"] == "event 5");
  CHECK(s[1]["episodes"][0]["text"] == "event 1");
  CHECK(s[1]["episodes"][1]["text"] == "event 2");
  CHECK(s[2]["value"] == "likes tea");
  CHECK(s[3]["value_base64"] == "/wAB");
  CHECK(s[4]["entries"][0]["key"] == "chat/e");
  CHECK(s[4]["entries"][1]["key"] == "chat/f");
  CHECK(s[5]["episodes"][0]["id"] == 3);
  CHECK(s[6]["note"] == "episode 99 not found");
}

TEST_CASE("a bad option anywhere refuses the query before any section writes") {
  ContextFixture f;
  auto status = f.assembler()
                    .Assemble(Request({Section("in", SectionKind::kGet, "",
                                               {{"episode_text", "must not land"}}),
                                       Section("bad", SectionKind::kLast, "", {{"top_k", "0"}})},
                                      100, OutputFormat::kJson))
                    .status();
  RequireErrorContaining(status, absl::StatusCode::kInvalidArgument, "sections[1].options.top_k");
  CHECK(ValueOrFail(f.memory().ListEpisodes("s", 0, 10)).episodes.empty());
  RequireErrorContaining(
      f.assembler()
          .Assemble(Request({Section("q", SectionKind::kSelect, "SELECT 1")}, 100,
                            OutputFormat::kJson))
          .status(),
      absl::StatusCode::kUnimplemented, "sections[0]");
}

TEST_CASE("MMR demotes a near-duplicate below a different answer") {
  const std::vector<std::string_view> texts = {"the cat sat on the mat",
                                               "the cat sat on the mat today",
                                               "dogs chase cars in the park"};
  const std::vector<double> scores = {1.0, 0.95, 0.7};
  CHECK(MmrOrder(texts, scores, 3) == std::vector<size_t>{0, 2, 1});
  CHECK(MmrOrder(texts, scores, 1) == std::vector<size_t>{0});
  CHECK(MmrOrder(texts, scores, 0).empty());
}

}  // namespace
}  // namespace sochdb::context
