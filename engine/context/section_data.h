// What a context section holds once read, before it is cut to the budget and rendered: the
// assembler's internal model (context_query.h describes the output it becomes).
#ifndef SOCHDB_ENGINE_CONTEXT_SECTION_DATA_H_
#define SOCHDB_ENGINE_CONTEXT_SECTION_DATA_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace sochdb::context {

using OrderedJson = nlohmann::ordered_json;

// One unit of a section: an episode or a KV entry. Its text is what the budget may cut.
struct SectionItem {
  OrderedJson fields = OrderedJson::object();  // everything but the text, in output order
  std::string text_field = "text";             // the text's name in the item ("value" for KV)
  std::string text;
  std::string heading;  // MARKDOWN's "### ..." line for the item
};

struct SectionData {
  std::string name;
  OrderedJson header = OrderedJson::object();  // name, kind, namespace, ...
  // The items' list name ("episodes", "entries"). Empty: the section holds one text (a literal,
  // a KV value): items has at most one item, written as a field of the section itself.
  std::string items_field;
  std::vector<SectionItem> items;
  bool truncated = false;  // something of it was left out
  bool dropped = false;    // the budget could not reach it: nothing of it is written
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_SECTION_DATA_H_
