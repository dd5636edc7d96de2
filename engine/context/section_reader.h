// Reads one context section's content from its source — literal text, agent memory or KV
// data — into a SectionData (context_query.h says what each section kind reads).
#ifndef SOCHDB_ENGINE_CONTEXT_SECTION_READER_H_
#define SOCHDB_ENGINE_CONTEXT_SECTION_READER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/context/context_query.h"
#include "engine/context/section_data.h"
#include "engine/kv/kv_store.h"
#include "engine/memory/memory_store.h"

namespace sochdb::context {

// Defaults for a section's options["top_k"].
inline constexpr size_t kDefaultLastTopK = 10;
inline constexpr size_t kDefaultSearchTopK = 32;

// A section's options, parsed and checked against the limits. Unknown option names are ignored
// (clients send options meant for other servers: upstream ignores them too).
struct SectionOptions {
  std::optional<size_t> top_k;                // "top_k" (or "k"): 1..max_top_k
  std::optional<uint64_t> doc_id;             // "doc_id"
  std::optional<uint64_t> as_of_ms;           // "as_of", Unix ms
  memory::Lanes lanes = memory::Lanes::kAll;  // "lanes"
  std::optional<std::string> prefix;          // "prefix": LAST over KV
  std::optional<std::string> episode_text;    // "episode_text": GET ingests it
  std::string metadata_json;                  // "metadata_json", with episode_text
};

// INVALID_ARGUMENT naming `sections[index].options.<name>` and what it accepts.
absl::StatusOr<SectionOptions> ParseSectionOptions(const SectionSpec& spec, size_t index,
                                                   const ContextLimits& limits);

class SectionReader {
 public:
  // Not owned; must outlive the reader.
  SectionReader(memory::MemoryStore* memory, kv::KvStore* kv, const ContextLimits* limits,
                std::string_view session_id, const ValueRedaction* redact_value)
      : memory_(memory),
        kv_(kv),
        limits_(limits),
        session_id_(session_id),
        redact_value_(redact_value) {}

  // Section `index` of the request (errors name it: "sections[2].options.top_k ...").
  absl::StatusOr<SectionData> Read(const SectionSpec& spec, size_t index) const;

 private:
  absl::Status ReadGet(const SectionSpec& spec, const SectionOptions& options,
                       SectionData* section) const;
  absl::Status ReadLast(const SectionSpec& spec, const SectionOptions& options,
                        SectionData* section) const;
  absl::Status ReadKvTail(const SectionSpec& spec, const SectionOptions& options,
                          SectionData* section) const;
  absl::Status ReadSearch(const SectionSpec& spec, const SectionOptions& options,
                          SectionData* section) const;

  memory::MemoryStore* const memory_;
  kv::KvStore* const kv_;
  const ContextLimits* const limits_;
  const std::string_view session_id_;
  const ValueRedaction* const redact_value_;  // may hold nullptr

  // `value`, read at (ns, key), as the caller may see it.
  std::string Redacted(std::string_view ns, std::string_view key, std::string value) const;
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_SECTION_READER_H_
