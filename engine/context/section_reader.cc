#include "engine/context/section_reader.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/common/utf8.h"
#include "engine/context/mmr.h"

namespace sochdb::context {
namespace {

std::string OptionField(size_t index, std::string_view name) {
  return absl::StrCat("sections[", index, "].options.", AbslView(name));
}

const std::string* FindOption(const SectionSpec& spec, std::string_view name) {
  auto it = spec.options.find(std::string(name));
  return it == spec.options.end() ? nullptr : &it->second;
}

absl::StatusOr<uint64_t> UintOption(const std::string& value, size_t index,
                                    std::string_view name, uint64_t min, uint64_t max) {
  uint64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat(OptionField(index, name), " is '", value,
                                                   "'; want an integer in [", min, ", ", max,
                                                   "]"));
  }
  return parsed;
}

// A KV value as an item's text: the value itself when it is UTF-8 text, else its base64 (under
// the name "value_base64", so a reader can tell).
void SetValueText(std::string value, SectionItem* item) {
  if (IsUtf8(value)) {
    item->text_field = "value";
    item->text = std::move(value);
  } else {
    item->text_field = "value_base64";
    item->text = absl::Base64Escape(value);
  }
}

SectionItem EpisodeItem(const memory::Episode& episode) {
  SectionItem item;
  item.fields["id"] = episode.id;
  item.fields["t_valid_from"] = episode.t_valid_from_ms;
  item.text = episode.text;
  item.heading = absl::StrCat("Memory ", episode.id);
  return item;
}

absl::Status InSection(const absl::Status& status, size_t index) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("sections[", index, "]: ", status.message()));
}

}  // namespace

absl::StatusOr<SectionOptions> ParseSectionOptions(const SectionSpec& spec, size_t index,
                                                   const ContextLimits& limits) {
  SectionOptions options;
  const std::string* top_k = FindOption(spec, "top_k");
  if (top_k == nullptr) top_k = FindOption(spec, "k");
  if (top_k != nullptr) {
    SOCHDB_ASSIGN_OR_RETURN(options.top_k, UintOption(*top_k, index, "top_k", 1, limits.max_top_k));
  }
  if (const std::string* doc_id = FindOption(spec, "doc_id")) {
    SOCHDB_ASSIGN_OR_RETURN(options.doc_id, UintOption(*doc_id, index, "doc_id", 1, UINT64_MAX));
  }
  if (const std::string* as_of = FindOption(spec, "as_of")) {
    SOCHDB_ASSIGN_OR_RETURN(options.as_of_ms, UintOption(*as_of, index, "as_of", 0, UINT64_MAX));
  }
  if (const std::string* lanes = FindOption(spec, "lanes")) {
    absl::StatusOr<memory::Lanes> parsed = memory::ParseLanes(*lanes);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(OptionField(index, "lanes"), ": ", parsed.status().message()));
    }
    options.lanes = *parsed;
  }
  if (const std::string* prefix = FindOption(spec, "prefix")) options.prefix = *prefix;
  if (const std::string* text = FindOption(spec, "episode_text")) {
    if (text->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(OptionField(index, "episode_text"), " must not be empty"));
    }
    options.episode_text = *text;
  }
  if (const std::string* metadata = FindOption(spec, "metadata_json")) {
    options.metadata_json = *metadata;
  }
  return options;
}

absl::StatusOr<SectionData> SectionReader::Read(const SectionSpec& spec, size_t index) const {
  SOCHDB_ASSIGN_OR_RETURN(SectionOptions options, ParseSectionOptions(spec, index, *limits_));
  SectionData section;
  section.name = spec.name;
  section.header["name"] = spec.name;
  absl::Status read;
  switch (spec.kind) {
    case SectionKind::kLiteral: {
      section.header["kind"] = "literal";
      SectionItem item;
      item.text = spec.literal;
      section.items.push_back(std::move(item));
      break;
    }
    case SectionKind::kGet:
      read = ReadGet(spec, options, &section);
      break;
    case SectionKind::kLast:
      read = ReadLast(spec, options, &section);
      break;
    case SectionKind::kSearch:
      read = ReadSearch(spec, options, &section);
      break;
    case SectionKind::kSelect:
      read = absl::UnimplementedError("SELECT sections need a query service");
      break;
  }
  SOCHDB_RETURN_IF_ERROR(InSection(read, index));
  return section;
}

std::string SectionReader::Redacted(std::string_view ns, std::string_view key,
                                    std::string value) const {
  if (redact_value_ != nullptr && *redact_value_) (*redact_value_)(ns, key, &value);
  return value;
}

absl::Status SectionReader::ReadGet(const SectionSpec& spec, const SectionOptions& options,
                                    SectionData* section) const {
  section->header["kind"] = "get";
  const std::string ns(SectionNamespace(spec, session_id_));
  if (options.episode_text.has_value()) {
    section->header["namespace"] = ns;
    memory::EpisodeWrite write;
    write.text = *options.episode_text;
    write.metadata_json = options.metadata_json;
    SOCHDB_ASSIGN_OR_RETURN(memory::WrittenEpisode written,
                            memory_->WriteEpisode(ns, std::move(write)));
    section->header["episode_id"] = written.id;
    section->header["note"] = absl::StrCat("stored as episode ", written.id);
    return absl::OkStatus();
  }
  if (options.doc_id.has_value()) {
    section->header["namespace"] = ns;
    section->items_field = "episodes";
    absl::StatusOr<memory::Episode> episode = memory_->GetEpisode(ns, *options.doc_id);
    if (absl::IsNotFound(episode.status())) {
      section->header["note"] = absl::StrCat("episode ", *options.doc_id, " not found");
      return absl::OkStatus();
    }
    SOCHDB_RETURN_IF_ERROR(episode.status());
    section->items.push_back(EpisodeItem(*episode));
    return absl::OkStatus();
  }
  const SectionAccess access = AccessOf(spec, session_id_);
  section->header["namespace"] = access.ns;
  section->header["key"] = access.key;
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, kv_->Get(access.ns, access.key));
  if (!value.has_value()) {
    section->header["note"] = "no value at this key";
    return absl::OkStatus();
  }
  SectionItem item;
  SetValueText(Redacted(access.ns, access.key, *std::move(value)), &item);
  section->items.push_back(std::move(item));
  return absl::OkStatus();
}

absl::Status SectionReader::ReadLast(const SectionSpec& spec, const SectionOptions& options,
                                     SectionData* section) const {
  section->header["kind"] = "last";
  if (options.prefix.has_value()) return ReadKvTail(spec, options, section);
  const std::string ns(SectionNamespace(spec, session_id_));
  section->header["namespace"] = ns;
  section->items_field = "episodes";
  SOCHDB_ASSIGN_OR_RETURN(
      std::vector<memory::Episode> latest,
      memory_->Latest(ns, options.top_k.value_or(kDefaultLastTopK), options.as_of_ms));
  // Newest first from the memory; a history reads oldest first.
  for (auto it = latest.rbegin(); it != latest.rend(); ++it) {
    section->items.push_back(EpisodeItem(*it));
  }
  return absl::OkStatus();
}

absl::Status SectionReader::ReadKvTail(const SectionSpec& spec, const SectionOptions& options,
                                       SectionData* section) const {
  const std::string ns(SectionNamespace(spec, session_id_));
  section->header["namespace"] = ns;
  section->header["prefix"] = *options.prefix;
  section->items_field = "entries";
  const size_t top_k = options.top_k.value_or(kDefaultLastTopK);
  // KV keys carry no time: "last" is the end of the prefix's key order, found by reading the
  // prefix forward (bounded by max_kv_scan) and keeping the final top_k.
  SOCHDB_ASSIGN_OR_RETURN(std::unique_ptr<kv::KvScanCursor> cursor,
                          kv_->Scan(ns, *options.prefix, limits_->max_kv_scan + 1));
  std::deque<std::pair<std::string, std::string>> tail;
  size_t read = 0;
  std::string key, value;
  while (true) {
    SOCHDB_ASSIGN_OR_RETURN(bool more, cursor->Next(&key, &value));
    if (!more) break;
    if (++read > limits_->max_kv_scan) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "more than ", limits_->max_kv_scan, " keys under options.prefix; a LAST section reads "
          "at most that many (choose a narrower prefix)"));
    }
    tail.emplace_back(std::move(key), std::move(value));
    if (tail.size() > top_k) tail.pop_front();
  }
  for (auto& [entry_key, entry_value] : tail) {
    SectionItem item;
    item.fields["key"] = IsUtf8(entry_key) ? entry_key : absl::Base64Escape(entry_key);
    item.heading = item.fields["key"].get<std::string>();
    SetValueText(Redacted(ns, entry_key, std::move(entry_value)), &item);
    section->items.push_back(std::move(item));
  }
  return absl::OkStatus();
}

absl::Status SectionReader::ReadSearch(const SectionSpec& spec, const SectionOptions& options,
                                       SectionData* section) const {
  section->header["kind"] = "search";
  const std::string ns(SectionNamespace(spec, session_id_));
  section->header["namespace"] = ns;
  section->header["query"] = spec.query;
  section->items_field = "episodes";
  const size_t top_k = options.top_k.value_or(kDefaultSearchTopK);
  memory::SearchOptions search;
  search.lanes = options.lanes;
  search.as_of_ms = options.as_of_ms;
  search.embedding = spec.embedding;
  // MMR needs candidates beyond the top_k it keeps.
  search.limit = std::min(limits_->max_top_k, std::max(top_k * 2, kDefaultSearchTopK));
  SOCHDB_ASSIGN_OR_RETURN(std::vector<memory::ScoredEpisode> found,
                          memory_->Search(ns, spec.query, search));
  std::vector<std::string_view> texts;
  std::vector<double> scores;
  for (const memory::ScoredEpisode& hit : found) {
    texts.push_back(hit.episode.text);
    scores.push_back(hit.score);
  }
  for (size_t i : MmrOrder(texts, scores, top_k)) {
    SectionItem item = EpisodeItem(found[i].episode);
    // Rounded: more digits would only cost tokens.
    item.fields["score"] = std::round(found[i].score * 1e4) / 1e4;
    section->items.push_back(std::move(item));
  }
  return absl::OkStatus();
}

}  // namespace sochdb::context
