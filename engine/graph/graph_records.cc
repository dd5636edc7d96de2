#include "engine/graph/graph_records.h"

#include "absl/strings/str_cat.h"
#include "engine/common/absl_view.h"
#include "engine/storage/varint.h"

namespace sochdb::graph {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;
using storage::KeyReader;

constexpr char kRecordFormat = 1;

// The key a builder chain built, moved out of it rather than copied.
std::string Take(KeyBuilder& builder) { return std::move(builder).Build(); }

KeyFamily AdjacencyFamily(Side side) {
  return side == Side::kOut ? KeyFamily::kGraphOutEdge : KeyFamily::kGraphInEdge;
}

KeyFamily TemporalFamily(Side side) {
  return side == Side::kOut ? KeyFamily::kGraphTemporalEdge : KeyFamily::kGraphTemporalInEdge;
}

void PutProperties(const Properties& properties, std::string* out) {
  storage::PutVarint64(properties.size(), out);
  for (const auto& [key, value] : properties) {
    storage::PutLengthPrefixed(key, out);
    storage::PutLengthPrefixed(value, out);
  }
}

bool GetProperties(std::string_view* in, Properties* properties) {
  uint64_t count = 0;
  if (!storage::GetVarint64(in, &count) || count > in->size()) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key, value;
    if (!storage::GetLengthPrefixed(in, &key) || !storage::GetLengthPrefixed(in, &value))
      return false;
    properties->emplace(key, value);
  }
  return in->empty();
}

bool GetFormat(std::string_view* in) {
  if (in->empty() || (*in)[0] != kRecordFormat) return false;
  in->remove_prefix(1);
  return true;
}

absl::Status Damaged(std::string_view what, std::string_view ns) {
  return absl::DataLossError(absl::StrCat("the stored record of ", AbslView(what), " in namespace ",
                                          storage::QuotedKey(ns), " is damaged"));
}

}  // namespace

std::string NodeKey(std::string_view ns, std::string_view id) {
  return Take(KeyBuilder(KeyFamily::kGraphNode).Name(ns).Raw(id));
}

std::string NodePrefix(std::string_view ns) {
  return Take(KeyBuilder(KeyFamily::kGraphNode).Name(ns));
}

std::string EdgeKey(Side side, std::string_view ns, std::string_view from, std::string_view type,
                    std::string_view to) {
  const bool out = side == Side::kOut;
  return Take(KeyBuilder(AdjacencyFamily(side))
                  .Name(ns)
                  .Name(out ? from : to)
                  .Name(type)
                  .Raw(out ? to : from));
}

std::string AdjacencyPrefix(Side side, std::string_view ns, std::string_view node) {
  return Take(KeyBuilder(AdjacencyFamily(side)).Name(ns).Name(node));
}

std::string TypedAdjacencyPrefix(Side side, std::string_view ns, std::string_view node,
                                 std::string_view type) {
  return Take(KeyBuilder(AdjacencyFamily(side)).Name(ns).Name(node).Name(type));
}

bool ParseAdjacencySuffix(std::string_view suffix, std::string_view* type,
                          std::string_view* other) {
  KeyReader reader(suffix);
  if (!reader.Name(type)) return false;
  *other = reader.Rest();
  return true;
}

std::string TemporalKey(Side side, std::string_view ns, std::string_view from,
                        std::string_view type, std::string_view to, uint64_t valid_from) {
  const bool out = side == Side::kOut;
  return Take(KeyBuilder(TemporalFamily(side))
                  .Name(ns)
                  .Name(out ? from : to)
                  .Name(type)
                  .Name(out ? to : from)
                  .U64(valid_from));
}

std::string TemporalPrefix(Side side, std::string_view ns, std::string_view node) {
  return Take(KeyBuilder(TemporalFamily(side)).Name(ns).Name(node));
}

std::string TemporalRelationPrefix(std::string_view ns, std::string_view from,
                                   std::string_view type, std::string_view to) {
  return Take(KeyBuilder(KeyFamily::kGraphTemporalEdge).Name(ns).Name(from).Name(type).Name(to));
}

bool ParseTemporalSuffix(std::string_view suffix, std::string_view* type, std::string_view* other,
                         uint64_t* valid_from) {
  KeyReader reader(suffix);
  return reader.Name(type) && reader.Name(other) && reader.U64(valid_from) && reader.Rest().empty();
}

std::string EncodeNode(const Node& node) {
  std::string out(1, kRecordFormat);
  storage::PutLengthPrefixed(node.type, &out);
  PutProperties(node.properties, &out);
  return out;
}

absl::Status DecodeNode(std::string_view record, std::string_view ns, Node* node) {
  std::string_view type;
  if (!GetFormat(&record) || !storage::GetLengthPrefixed(&record, &type) ||
      !GetProperties(&record, &node->properties)) {
    return Damaged(absl::StrCat("node ", storage::QuotedKey(node->id)), ns);
  }
  node->type = std::string(type);
  return absl::OkStatus();
}

std::string EncodeEdge(const Properties& properties) {
  std::string out(1, kRecordFormat);
  PutProperties(properties, &out);
  return out;
}

absl::Status DecodeEdge(std::string_view record, std::string_view ns, Edge* edge) {
  if (!GetFormat(&record) || !GetProperties(&record, &edge->properties)) {
    return Damaged(absl::StrCat("edge ", storage::QuotedKey(edge->from), " -[", edge->type, "]-> ",
                                storage::QuotedKey(edge->to)),
                   ns);
  }
  return absl::OkStatus();
}

std::optional<std::string_view> FindEdgeProperty(std::string_view record, std::string_view name) {
  uint64_t count = 0;
  if (!GetFormat(&record) || !storage::GetVarint64(&record, &count)) return std::nullopt;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key, value;
    if (!storage::GetLengthPrefixed(&record, &key) || !storage::GetLengthPrefixed(&record, &value))
      return std::nullopt;
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string EncodeTemporal(uint64_t valid_until, const Properties& properties) {
  std::string out(1, kRecordFormat);
  storage::PutVarint64(valid_until, &out);
  PutProperties(properties, &out);
  return out;
}

absl::Status DecodeTemporal(std::string_view record, std::string_view ns, TemporalEdge* edge) {
  if (!GetFormat(&record) || !storage::GetVarint64(&record, &edge->valid_until) ||
      !GetProperties(&record, &edge->edge.properties)) {
    return Damaged(absl::StrCat("temporal edge ", storage::QuotedKey(edge->edge.from), " -[",
                                edge->edge.type, "]-> ", storage::QuotedKey(edge->edge.to)),
                   ns);
  }
  return absl::OkStatus();
}

}  // namespace sochdb::graph
