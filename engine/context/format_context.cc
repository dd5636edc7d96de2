#include "engine/context/format_context.h"

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/context/section_data.h"
#include "engine/context/toon.h"

namespace sochdb::context {
namespace {

// `content` as a JSON value, or a string value when it is not JSON (or nests too deep: the
// parser callback refuses to go deeper, which fails the parse).
OrderedJson AsJsonValue(std::string_view content) {
  bool too_deep = false;
  const OrderedJson::parser_callback_t bound = [&too_deep](int depth, OrderedJson::parse_event_t,
                                                           OrderedJson&) {
    if (depth > static_cast<int>(kMaxFormatDepth)) too_deep = true;
    return !too_deep;
  };
  OrderedJson value = OrderedJson::parse(content.begin(), content.end(), bound,
                                         /*allow_exceptions=*/false);
  if (too_deep || value.is_discarded()) return OrderedJson(std::string(content));
  return value;
}

}  // namespace

absl::StatusOr<std::string> FormatContent(std::string_view content, OutputFormat format) {
  switch (format) {
    case OutputFormat::kToon:
      return EncodeToon(AsJsonValue(content));
    case OutputFormat::kJson: {
      OrderedJson wrapped = OrderedJson::object();
      wrapped["content"] = std::string(content);
      return wrapped.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
    }
    case OutputFormat::kMarkdown:
      return absl::StrCat("```\n", AbslView(content), "\n```");
    case OutputFormat::kText:
      return std::string(content);
  }
  return std::string(content);
}

}  // namespace sochdb::context
