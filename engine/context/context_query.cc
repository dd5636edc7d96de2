#include "engine/context/context_query.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/common/status_macros.h"
#include "engine/context/budget_fit.h"
#include "engine/context/context_render.h"
#include "engine/context/section_reader.h"
#include "nlohmann/json.hpp"

namespace sochdb::context {
namespace {

absl::Status TooLong(std::string_view field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " is ", size,
                                                 " bytes; the limit is ", limit, " bytes"));
}

absl::Status ValidateOptions(const SectionSpec& spec, size_t index, const ContextLimits& limits) {
  const std::string field = absl::StrCat("sections[", index, "].options");
  if (spec.options.size() > limits.max_options) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has ", spec.options.size(),
                                                   " entries; the limit is ",
                                                   limits.max_options));
  }
  for (const auto& [name, value] : spec.options) {
    const size_t longest = std::max(name.size(), value.size());
    if (longest > limits.max_option_bytes) {
      return TooLong(absl::StrCat(field, ".", name.substr(0, 64)), longest,
                     limits.max_option_bytes);
    }
  }
  SOCHDB_ASSIGN_OR_RETURN(SectionOptions options, ParseSectionOptions(spec, index, limits));
  if (options.episode_text.has_value() && !options.metadata_json.empty() &&
      !nlohmann::json::accept(options.metadata_json)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".metadata_json: invalid metadata_json: not a JSON value"));
  }
  return absl::OkStatus();
}

absl::Status ValidateKind(const SectionSpec& spec, size_t index, const ContextLimits& limits) {
  const std::string field = absl::StrCat("sections[", index, "]");
  switch (spec.kind) {
    case SectionKind::kLiteral:
      if (spec.literal.size() > limits.max_literal_bytes) {
        return TooLong(field + ".literal", spec.literal.size(), limits.max_literal_bytes);
      }
      return absl::OkStatus();
    case SectionKind::kSelect:
      return absl::UnimplementedError(absl::StrCat(
          field, ": SELECT sections need a query (SQL) service, which this server does not have "
                 "yet; use GET, LAST, SEARCH or a literal section"));
    case SectionKind::kGet:
      if (spec.query.empty() && !spec.options.count("doc_id") &&
          !spec.options.count("episode_text")) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": a GET section needs query (a KV path \"<namespace>/<key>\"), "
                   "options.doc_id or options.episode_text"));
      }
      if (!spec.query.empty() && !spec.options.count("doc_id") &&
          !spec.options.count("episode_text")) {
        const std::string_view path = spec.query;
        const size_t slash = path.find('/');
        if (slash != std::string_view::npos && slash + 1 == path.size() &&
            !spec.options.count("namespace")) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, ".query '", spec.query, "' names no key after the '/'"));
        }
      }
      return absl::OkStatus();
    case SectionKind::kSearch:
      if (spec.query.empty() && spec.embedding.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": a SEARCH section needs query (text) or query_embedding"));
      }
      for (size_t i = 0; i < spec.embedding.size(); ++i) {
        if (!std::isfinite(spec.embedding[i])) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, ".query_embedding[", i, "] is not a finite number"));
        }
      }
      return absl::OkStatus();
    case SectionKind::kLast:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view SectionNamespace(const SectionSpec& spec, std::string_view session_id) {
  auto it = spec.options.find("namespace");
  return it == spec.options.end() ? session_id : std::string_view(it->second);
}

SectionAccess AccessOf(const SectionSpec& spec, std::string_view session_id) {
  SectionAccess access;
  access.ns = std::string(SectionNamespace(spec, session_id));
  switch (spec.kind) {
    case SectionKind::kLiteral:
    case SectionKind::kSelect:
      access.data = SectionAccess::Data::kNone;
      break;
    case SectionKind::kSearch:
      access.data = SectionAccess::Data::kMemoryRead;
      break;
    case SectionKind::kLast:
      if (auto prefix = spec.options.find("prefix"); prefix != spec.options.end()) {
        access.data = SectionAccess::Data::kKvPrefix;
        access.key = prefix->second;
      } else {
        access.data = SectionAccess::Data::kMemoryRead;
      }
      break;
    case SectionKind::kGet:
      if (spec.options.count("episode_text")) {
        access.data = SectionAccess::Data::kMemoryWrite;
      } else if (spec.options.count("doc_id")) {
        access.data = SectionAccess::Data::kMemoryRead;
      } else {
        access.data = SectionAccess::Data::kKvKey;
        const size_t slash = spec.query.find('/');
        if (slash == std::string::npos || spec.options.count("namespace")) {
          access.key = spec.query;
        } else {
          access.ns = spec.query.substr(0, slash);
          access.key = spec.query.substr(slash + 1);
        }
      }
      break;
  }
  return access;
}

absl::Status ValidateRequest(const ContextRequest& request, const ContextLimits& limits) {
  if (request.sections.size() > limits.max_sections) {
    return absl::InvalidArgumentError(absl::StrCat("sections has ", request.sections.size(),
                                                   " entries; the limit is ",
                                                   limits.max_sections));
  }
  if (request.token_limit > limits.max_token_limit) {
    return absl::InvalidArgumentError(absl::StrCat("token_limit is ", request.token_limit,
                                                   "; the limit is ", limits.max_token_limit));
  }
  for (size_t i = 0; i < request.sections.size(); ++i) {
    const SectionSpec& spec = request.sections[i];
    if (spec.name.size() > limits.max_name_bytes) {
      return TooLong(absl::StrCat("sections[", i, "].name"), spec.name.size(),
                     limits.max_name_bytes);
    }
    if (spec.query.size() > limits.max_query_bytes) {
      return TooLong(absl::StrCat("sections[", i, "].query"), spec.query.size(),
                     limits.max_query_bytes);
    }
    SOCHDB_RETURN_IF_ERROR(ValidateKind(spec, i, limits));
    SOCHDB_RETURN_IF_ERROR(ValidateOptions(spec, i, limits));
  }
  return absl::OkStatus();
}

ContextAssembler::ContextAssembler(memory::MemoryStore* memory, kv::KvStore* kv,
                                   const Tokenizers* tokenizers, ContextLimits limits)
    : memory_(memory), kv_(kv), tokenizers_(tokenizers), limits_(limits) {}

absl::StatusOr<ContextAnswer> ContextAssembler::Assemble(const ContextRequest& request) const {
  SOCHDB_RETURN_IF_ERROR(ValidateRequest(request, limits_));
  const BpeTokenizer& tokenizer = tokenizers_->ForModel(request.model);
  // Priority order, lower first; equal priorities keep the request's order (as upstream).
  std::vector<size_t> order(request.sections.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return request.sections[a].priority < request.sections[b].priority;
  });
  const SectionReader reader(memory_, kv_, &limits_, request.session_id, &request.redact_value);
  std::vector<SectionData> sections;
  sections.reserve(order.size());
  for (size_t index : order) {
    SOCHDB_ASSIGN_OR_RETURN(SectionData section, reader.Read(request.sections[index], index));
    sections.push_back(std::move(section));
  }
  const ContextRenderer renderer(request.format);
  const BudgetFit fit(&renderer, &tokenizer, std::max<uint32_t>(1, request.token_limit));
  ContextAnswer answer;
  SOCHDB_ASSIGN_OR_RETURN(FittedDocument fitted, fit.Fit(request.truncation, &sections));
  SOCHDB_RETURN_IF_ERROR(renderer.error());
  answer.context = std::move(fitted.text);
  answer.total_tokens = static_cast<uint32_t>(fitted.tokens);
  for (const SectionData& section : sections) {
    SectionOutcome outcome;
    outcome.name = section.name;
    outcome.content = renderer.Section(section);
    outcome.tokens_used = static_cast<uint32_t>(tokenizer.Count(outcome.content));
    outcome.truncated = section.truncated;
    answer.sections.push_back(std::move(outcome));
  }
  SOCHDB_RETURN_IF_ERROR(renderer.error());
  return answer;
}

}  // namespace sochdb::context
