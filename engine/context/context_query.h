// ContextAssembler: builds the prompt context of a ContextService.Query — the sections a client
// names, filled from agent memory (engine/memory), key-value data (engine/kv) or literal text,
// rendered in one output format under a token budget counted by a real BPE (tokenizer/).
//
// Sections. Each section reads one namespace (its options["namespace"], else the query's
// session_id; SectionNamespace) and is one of:
//   literal  its text (the builder's `.literal`);
//   get      options["episode_text"]: writes that text as a new episode and reports its id
//            (upstream's ingest form); options["doc_id"]: that episode; otherwise a KV value:
//            with options["namespace"], `query` is the key in that namespace; without, `query`
//            is the path "<namespace>/<key>" (the part before the first '/' names the
//            namespace), or a key of the session's namespace when it holds no '/';
//   last     the newest options["top_k"] episodes (default 10), oldest of them first, as a
//            history reads; with options["prefix"] instead, the last top_k KV entries under
//            that prefix, in key order;
//   search   the memory's retrieval (BM25, trigram and, with an embedding, vector lanes fused
//            by RRF), then MMR (lambda 0.7, Jaccard over words) for diversity; options "lanes",
//            "as_of" (Unix ms: episodes valid from then or earlier), "top_k" (default 32);
//   select   refused with UNIMPLEMENTED: this server has no query (SQL) service yet.
//
// Output. The context is one document with a list of sections, each a header (name, kind,
// namespace, ...) plus its items (episodes {id, t_valid_from[, score], text} or KV entries
// {key, value}) or its one text. JSON writes it compactly; TOON (engine/context/toon.h) writes
// the same value, so a TOON decoder gives back exactly the JSON output's value; MARKDOWN gives
// each section a "## name" heading and each item a "### ..." one; TEXT gives the name on a line,
// then the texts. Each SectionResult's content is that section alone, in the same format.
//
// Budget. total_tokens is the token count of the whole context as returned, by the tokenizer of
// the query's model, and never exceeds token_limit (0 counts as 1). Sections get the budget in
// priority order (lower first; ties keep request order); the truncation strategy says what is
// cut from the first section that does not fit: TAIL_DROP keeps its first items (and the
// beginning of the item that straddles the limit), HEAD_DROP its last items (and an item's end),
// PROPORTIONAL cuts every section by the same share, STRICT fails with OUT_OF_RANGE giving the
// tokens needed. Sections after the budget ran out keep their place in section_results with no
// content and truncated = true; `truncated` is true exactly when something of the section was
// left out. When the limit cannot hold even the format's empty document ("sections[0]:" in
// TOON), the context is empty.
//
// Thread safety: Assemble may be called concurrently.
#ifndef SOCHDB_ENGINE_CONTEXT_CONTEXT_QUERY_H_
#define SOCHDB_ENGINE_CONTEXT_CONTEXT_QUERY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/context/tokenizer/tokenizers.h"
#include "engine/kv/kv_store.h"
#include "engine/memory/memory_store.h"

namespace sochdb::context {

enum class SectionKind { kGet, kLast, kSearch, kSelect, kLiteral };
enum class OutputFormat { kToon, kJson, kMarkdown, kText };
enum class Truncation { kTailDrop, kHeadDrop, kProportional, kStrict };

// Bounds on one query (INVALID_ARGUMENT naming the field and the limit past them).
struct ContextLimits {
  size_t max_sections = 64;
  size_t max_name_bytes = 256;
  size_t max_options = 32;
  size_t max_option_bytes = 4096;         // a key or a value
  size_t max_literal_bytes = 4u << 20;    // a literal section's text
  size_t max_query_bytes = 16u << 10;     // a section's query (the memory's bound)
  size_t max_top_k = 1000;                // LAST and SEARCH items per section
  uint32_t max_token_limit = 1'000'000;
  size_t max_kv_scan = 100'000;           // keys a LAST over a KV prefix may read
};

struct SectionSpec {
  std::string name;
  uint32_t priority = 0;
  SectionKind kind = SectionKind::kGet;
  std::string query;
  std::map<std::string, std::string> options;
  std::string literal;              // kLiteral's text
  std::vector<float> embedding;     // kSearch's query vector (may be empty)
};

// Rewrites a KV value read under (namespace, key) where a policy redacts it (the call layer's
// governance::Redactor, as a KV Get of the same key would).
using ValueRedaction =
    std::function<void(std::string_view ns, std::string_view key, std::string* value)>;

struct ContextRequest {
  std::string session_id;
  uint32_t token_limit = 0;
  std::vector<SectionSpec> sections;
  OutputFormat format = OutputFormat::kToon;
  Truncation truncation = Truncation::kTailDrop;
  std::string model;  // chooses the tokenizer (Tokenizers::ForModel)
  ValueRedaction redact_value;  // nullptr: nothing to redact
};

struct SectionOutcome {
  std::string name;
  uint32_t tokens_used = 0;  // the token count of `content`
  bool truncated = false;
  std::string content;
};

struct ContextAnswer {
  std::string context;
  uint32_t total_tokens = 0;
  std::vector<SectionOutcome> sections;  // in priority order
};

// What a section reads or writes, for the governance step the call layer runs before any
// section is read (every namespace first, as upstream).
struct SectionAccess {
  enum class Data { kNone, kMemoryRead, kMemoryWrite, kKvKey, kKvPrefix };
  Data data = Data::kNone;
  std::string ns;
  std::string key;  // kKvKey: the key; kKvPrefix: the prefix
};

// The namespace section `spec` works in: options["namespace"], else `session_id`.
std::string_view SectionNamespace(const SectionSpec& spec, std::string_view session_id);
// What `spec` touches (its KV path is parsed here, as the assembler will read it).
SectionAccess AccessOf(const SectionSpec& spec, std::string_view session_id);
// INVALID_ARGUMENT naming the field (`sections[i].options`, ...) and the limit, UNIMPLEMENTED
// for a SELECT section; checked before anything is read or written.
absl::Status ValidateRequest(const ContextRequest& request, const ContextLimits& limits);

class ContextAssembler {
 public:
  // Not owned; must outlive the assembler.
  ContextAssembler(memory::MemoryStore* memory, kv::KvStore* kv, const Tokenizers* tokenizers,
                   ContextLimits limits = {});

  // Builds the context (see the file comment). Errors: those of ValidateRequest; OUT_OF_RANGE
  // for a STRICT query whose context exceeds the limit; INVALID_ARGUMENT from the memory for a
  // bad embedding or option ("sections[2].options.as_of ..."); store errors as they come.
  absl::StatusOr<ContextAnswer> Assemble(const ContextRequest& request) const;

  const ContextLimits& limits() const { return limits_; }

 private:
  memory::MemoryStore* const memory_;
  kv::KvStore* const kv_;
  const Tokenizers* const tokenizers_;
  const ContextLimits limits_;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_CONTEXT_QUERY_H_
