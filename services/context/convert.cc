#include "services/context/convert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sochdb::services::context_convert {
namespace {

absl::Status UnknownEnum(absl::string_view field, int number, absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " ", number, " is not a known ", type));
}

absl::StatusOr<context::SectionKind> ToKind(const v1::ContextSection& section, size_t index) {
  if (section.has_literal()) {
    if (section.section_type() != v1::CONTEXT_SECTION_GET || !section.query().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sections[", index, "]: a literal section has section_type GET (0) and no query"));
    }
    return context::SectionKind::kLiteral;
  }
  switch (section.section_type()) {
    case v1::CONTEXT_SECTION_GET:
      return context::SectionKind::kGet;
    case v1::CONTEXT_SECTION_LAST:
      return context::SectionKind::kLast;
    case v1::CONTEXT_SECTION_SEARCH:
      return context::SectionKind::kSearch;
    case v1::CONTEXT_SECTION_SELECT:
      return context::SectionKind::kSelect;
    default:
      return UnknownEnum(absl::StrCat("sections[", index, "].section_type"),
                         section.section_type(), "ContextSectionType");
  }
}

absl::StatusOr<context::Truncation> ToTruncation(v1::TruncationStrategy truncation) {
  switch (truncation) {
    case v1::TRUNCATION_STRATEGY_TAIL_DROP:
      return context::Truncation::kTailDrop;
    case v1::TRUNCATION_STRATEGY_HEAD_DROP:
      return context::Truncation::kHeadDrop;
    case v1::TRUNCATION_STRATEGY_PROPORTIONAL:
      return context::Truncation::kProportional;
    case v1::TRUNCATION_STRATEGY_STRICT:
      return context::Truncation::kStrict;
    default:
      return UnknownEnum("truncation", truncation, "TruncationStrategy");
  }
}

}  // namespace

absl::StatusOr<context::OutputFormat> ToFormat(v1::OutputFormat format) {
  switch (format) {
    case v1::OUTPUT_FORMAT_TOON:
      return context::OutputFormat::kToon;
    case v1::OUTPUT_FORMAT_JSON:
      return context::OutputFormat::kJson;
    case v1::OUTPUT_FORMAT_MARKDOWN:
      return context::OutputFormat::kMarkdown;
    case v1::OUTPUT_FORMAT_TEXT:
      return context::OutputFormat::kText;
    default:
      return UnknownEnum("format", format, "OutputFormat");
  }
}

absl::StatusOr<context::ContextRequest> ToContextRequest(const v1::ContextQueryRequest& req) {
  context::ContextRequest request;
  request.session_id = req.session_id();
  request.token_limit = req.token_limit();
  request.model = req.model();
  absl::StatusOr<context::OutputFormat> format = ToFormat(req.format());
  if (!format.ok()) return format.status();
  request.format = *format;
  absl::StatusOr<context::Truncation> truncation = ToTruncation(req.truncation());
  if (!truncation.ok()) return truncation.status();
  request.truncation = *truncation;
  request.sections.reserve(req.sections_size());
  for (int i = 0; i < req.sections_size(); ++i) {
    const v1::ContextSection& in = req.sections(i);
    absl::StatusOr<context::SectionKind> kind = ToKind(in, i);
    if (!kind.ok()) return kind.status();
    context::SectionSpec& spec = request.sections.emplace_back();
    spec.name = in.name();
    spec.priority = in.priority();
    spec.kind = *kind;
    spec.query = in.query();
    spec.options.insert(in.options().begin(), in.options().end());
    spec.literal = in.literal();
    spec.embedding.assign(in.query_embedding().begin(), in.query_embedding().end());
  }
  return request;
}

void FillAnswer(context::ContextAnswer answer, v1::ContextQueryResponse* out) {
  out->set_context(std::move(answer.context));
  out->set_total_tokens(answer.total_tokens);
  for (context::SectionOutcome& section : answer.sections) {
    v1::SectionResult* result = out->add_section_results();
    result->set_name(std::move(section.name));
    result->set_tokens_used(section.tokens_used);
    result->set_truncated(section.truncated);
    result->set_content(std::move(section.content));
  }
}

memory::EpisodeWrite ToEpisodeWrite(const v1::WriteEpisodeRequest& req) {
  memory::EpisodeWrite write;
  write.text = req.text();
  if (req.has_t_valid_from()) write.t_valid_from_ms = req.t_valid_from();
  write.metadata_json = req.metadata_json();
  write.embedding.assign(req.embedding().begin(), req.embedding().end());
  return write;
}

void FillEpisode(memory::Episode episode, bool with_embedding, v1::Episode* out) {
  out->set_episode_id(episode.id);
  out->set_text(std::move(episode.text));
  out->set_t_valid_from(episode.t_valid_from_ms);
  out->set_t_created(episode.t_created_ms);
  out->set_metadata_json(std::move(episode.metadata_json));
  if (with_embedding) out->mutable_embedding()->Add(episode.embedding.begin(), episode.embedding.end());
}

void QueryScopes(const v1::ContextQueryRequest& req, std::vector<server::Scope>* scopes) {
  for (int i = 0; i < req.sections_size(); ++i) {
    const v1::ContextSection& in = req.sections(i);
    // A section whose kind is refused touches nothing: the handler answers INVALID_ARGUMENT.
    absl::StatusOr<context::SectionKind> kind = ToKind(in, i);
    if (!kind.ok()) continue;
    context::SectionSpec spec;
    spec.query = in.query();
    spec.options.insert(in.options().begin(), in.options().end());
    spec.kind = *kind;
    const context::SectionAccess access = context::AccessOf(spec, req.session_id());
    server::Scope scope;
    scope.ns = access.ns;
    switch (access.data) {
      case context::SectionAccess::Data::kNone:
        continue;
      case context::SectionAccess::Data::kMemoryRead:
        scope.prefixes.push_back("");
        break;
      case context::SectionAccess::Data::kMemoryWrite:
        scope.access = policy::Access::kWrite;
        scope.capability = auth::Capability::kWrite;
        scope.prefixes.push_back("");
        break;
      case context::SectionAccess::Data::kKvKey:
        scope.service = "kv";
        scope.keys.push_back(access.key);
        break;
      case context::SectionAccess::Data::kKvPrefix:
        scope.service = "kv";
        scope.prefixes.push_back(access.key);
        break;
    }
    scopes->push_back(std::move(scope));
  }
}

}  // namespace sochdb::services::context_convert
