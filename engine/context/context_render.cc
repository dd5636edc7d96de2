#include "engine/context/context_render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/context/toon.h"

namespace sochdb::context {
namespace {

constexpr char kSectionsField[] = "sections";

std::string CompactJson(const OrderedJson& value) {
  // Texts are valid UTF-8 (proto strings, and cuts fall on character boundaries); `replace`
  // only guards against a KV value that slipped through as bytes.
  return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

// The header's note ("episode 7 not found", ...), which MARKDOWN and TEXT show as a line.
std::string Note(const SectionData& section) {
  auto note = section.header.find("note");
  if (note == section.header.end() || !note->is_string()) return "";
  return note->get<std::string>();
}

std::string MarkdownSection(const SectionData& section) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("## ", section.name));
  if (std::string note = Note(section); !note.empty()) parts.push_back(absl::StrCat("_", note, "_"));
  for (const SectionItem& item : section.items) {
    if (section.items_field.empty() || item.heading.empty()) {
      parts.push_back(item.text);
    } else {
      parts.push_back(absl::StrCat("### ", item.heading, "\n", item.text));
    }
  }
  return absl::StrJoin(parts, "\n\n");
}

std::string TextSection(const SectionData& section) {
  std::vector<std::string> parts;
  parts.push_back(section.name);
  if (std::string note = Note(section); !note.empty()) parts.push_back(note);
  for (const SectionItem& item : section.items) parts.push_back(item.text);
  return absl::StrJoin(parts, "\n\n");
}

}  // namespace

OrderedJson SectionValue(const SectionData& section) {
  OrderedJson value = section.header;
  if (section.items_field.empty()) {
    for (const SectionItem& item : section.items) value[item.text_field] = item.text;
    return value;
  }
  OrderedJson items = OrderedJson::array();
  for (const SectionItem& item : section.items) {
    OrderedJson entry = item.fields;
    entry[item.text_field] = item.text;
    items.push_back(std::move(entry));
  }
  value[section.items_field] = std::move(items);
  return value;
}

std::string ContextRenderer::Document(const std::vector<const SectionData*>& sections) const {
  if (format_ == OutputFormat::kJson || format_ == OutputFormat::kToon) {
    OrderedJson list = OrderedJson::array();
    for (const SectionData* section : sections) {
      if (!section->dropped) list.push_back(SectionValue(*section));
    }
    OrderedJson document = OrderedJson::object();
    document[kSectionsField] = std::move(list);
    return format_ == OutputFormat::kJson ? CompactJson(document) : Toon(document);
  }
  std::vector<std::string> parts;
  for (const SectionData* section : sections) {
    if (!section->dropped) parts.push_back(Section(*section));
  }
  return absl::StrJoin(parts, "\n\n");
}

std::string ContextRenderer::Toon(const OrderedJson& value) const {
  absl::StatusOr<std::string> text = EncodeToon(value);
  if (text.ok()) return *std::move(text);
  absl::MutexLock lock(&mu_);
  if (error_.ok()) error_ = text.status();
  return "";
}

absl::Status ContextRenderer::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

std::string ContextRenderer::Section(const SectionData& section) const {
  if (section.dropped) return "";
  switch (format_) {
    case OutputFormat::kJson:
      return CompactJson(SectionValue(section));
    case OutputFormat::kToon:
      return Toon(SectionValue(section));
    case OutputFormat::kMarkdown:
      return MarkdownSection(section);
    case OutputFormat::kText:
      return TextSection(section);
  }
  return "";
}

}  // namespace sochdb::context
