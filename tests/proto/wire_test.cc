// The wire-contract test: proves that the sochdb.v1 descriptors compiled into the server (from
// proto/sochdb/v1/*.proto) carry every service, method, message, field and enum value listed in
// the contract proto/wire/sochdb_v1_wire.tsv (the project's copy of
// ../shared/wire/sochdb_v1_wire.tsv), with the same numbers, types, labels and streaming kinds. The contract is what existing SochDB clients were built against, so an
// edit that renumbers, retypes or drops anything must fail here, naming the row. Definitions we
// add beyond the contract are allowed.

#include <catch2/catch.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "sochdb/v1/capability.pb.h"
#include "sochdb/v1/checkpoint.pb.h"
#include "sochdb/v1/collection.pb.h"
#include "sochdb/v1/common.pb.h"
#include "sochdb/v1/context.pb.h"
#include "sochdb/v1/graph.pb.h"
#include "sochdb/v1/kv.pb.h"
#include "sochdb/v1/mcp.pb.h"
#include "sochdb/v1/namespace.pb.h"
#include "sochdb/v1/policy.pb.h"
#include "sochdb/v1/retrieval.pb.h"
#include "sochdb/v1/semantic_cache.pb.h"
#include "sochdb/v1/subscription.pb.h"
#include "sochdb/v1/trace.pb.h"
#include "sochdb/v1/vector_index.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

// One contract row; the columns are documented in proto/wire/README.md.
struct Row {
  std::string kind;
  std::string scope;
  std::string name;
  std::string number_or_kind;
  std::string type_or_input;
  std::string label_or_output;
};

constexpr char kContractFile[] = "sochdb_v1_wire.tsv";
constexpr int kColumns = 6;

// Rows per kind. The first five are the totals stated in proto/wire/README.md; the README does
// not state the enum count, so 16 is counted from the TSV itself. Pinned so that a truncated or
// misread TSV cannot make the row-by-row check pass by checking less.
const std::map<std::string, int>& ExpectedRowCounts() {
  static const auto* counts =
      new std::map<std::string, int>{{"service", 14}, {"method", 75}, {"message", 211},
                                     {"field", 646},  {"enum", 16},   {"enum_value", 56}};
  return *counts;
}

// Generated descriptors register from static initialisers in each .pb.cc, and a linker may drop
// an object file nothing refers to; one symbol per file keeps every file in the binary.
std::vector<const FileDescriptor*> LinkedContractFiles() {
  namespace v1 = sochdb::v1;
  return {
      v1::DistanceMetric_descriptor()->file(),
      v1::CapabilityManifest::descriptor()->file(),
      v1::Checkpoint::descriptor()->file(),
      v1::Collection::descriptor()->file(),
      v1::ContextQueryRequest::descriptor()->file(),
      v1::GraphNode::descriptor()->file(),
      v1::KvGetRequest::descriptor()->file(),
      v1::McpTool::descriptor()->file(),
      v1::Namespace::descriptor()->file(),
      v1::PolicyRule::descriptor()->file(),
      v1::RetrievalRequest::descriptor()->file(),
      v1::SemanticCacheGetRequest::descriptor()->file(),
      v1::SubscribeRequest::descriptor()->file(),
      v1::Trace::descriptor()->file(),
      v1::CreateIndexRequest::descriptor()->file(),
  };
}

std::string Join(const std::vector<std::string>& lines) {
  std::string joined;
  for (const std::string& line : lines) joined += line + "\n";
  return joined;
}

// How failures name a row: "field sochdb.v1.KvPutRequest ttl_seconds".
std::string RowName(const Row& row) {
  std::string name = row.kind + " " + row.scope;
  if (!row.name.empty()) name += " " + row.name;
  return name;
}

std::string Mismatch(const Row& row, const std::string& what, const std::string& expected,
                     const std::string& got) {
  return RowName(row) + ": expected " + what + " " + expected + " got " + got;
}

std::string NotFound(const Row& row, const std::string& what) {
  return RowName(row) + ": " + what + " not found";
}

std::optional<int> ParseNumber(const std::string& text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string StreamingKind(const MethodDescriptor& method) {
  if (method.client_streaming() && method.server_streaming()) return "bidi";
  if (method.client_streaming()) return "client_stream";
  if (method.server_streaming()) return "server_stream";
  return "unary";
}

// Scalars by their .proto keyword; message and enum fields by "message:"/"enum:" + full name.
std::string FieldType(const FieldDescriptor& field) {
  if (field.type() == FieldDescriptor::TYPE_MESSAGE) {
    return "message:" + field.message_type()->full_name();
  }
  if (field.type() == FieldDescriptor::TYPE_ENUM) {
    return "enum:" + field.enum_type()->full_name();
  }
  return field.type_name();
}

// "optional" is explicit presence: a proto3 `optional` field sits in a synthetic oneof, so any
// containing oneof counts. Map fields are repeated entry messages, as the TSV lists them.
std::string FieldLabel(const FieldDescriptor& field) {
  if (field.is_repeated()) return "repeated";
  if (field.containing_oneof() != nullptr) return "optional";
  return "singular";
}

std::vector<std::string> CheckMethod(const Row& row, const DescriptorPool& pool) {
  const ServiceDescriptor* service = pool.FindServiceByName(row.scope);
  if (service == nullptr) return {NotFound(row, "service")};
  const MethodDescriptor* method = service->FindMethodByName(row.name);
  if (method == nullptr) return {NotFound(row, "method")};
  std::vector<std::string> failures;
  if (StreamingKind(*method) != row.number_or_kind) {
    failures.push_back(Mismatch(row, "streaming kind", row.number_or_kind, StreamingKind(*method)));
  }
  if (method->input_type()->full_name() != row.type_or_input) {
    failures.push_back(
        Mismatch(row, "input", row.type_or_input, method->input_type()->full_name()));
  }
  if (method->output_type()->full_name() != row.label_or_output) {
    failures.push_back(
        Mismatch(row, "output", row.label_or_output, method->output_type()->full_name()));
  }
  return failures;
}

// The TSV names a map field's entry type Outer.XxxEntry (proto/wire/README.md), so a nested
// *Entry message must be a real map entry, or clients would see a repeated message, not a map.
std::vector<std::string> CheckMessage(const Row& row, const DescriptorPool& pool) {
  const Descriptor* message = pool.FindMessageTypeByName(row.scope);
  if (message == nullptr) return {NotFound(row, "message")};
  const std::string& simple = message->name();
  const bool named_as_entry =
      simple.size() > 5 && simple.compare(simple.size() - 5, 5, "Entry") == 0;
  if (message->containing_type() != nullptr && named_as_entry && !message->options().map_entry()) {
    return {RowName(row) + ": expected a map entry, got a plain nested message"};
  }
  return {};
}

std::vector<std::string> CheckField(const Row& row, const DescriptorPool& pool) {
  const Descriptor* message = pool.FindMessageTypeByName(row.scope);
  if (message == nullptr) return {NotFound(row, "message")};
  const FieldDescriptor* field = message->FindFieldByName(row.name);
  if (field == nullptr) return {NotFound(row, "field")};
  std::vector<std::string> failures;
  const std::optional<int> number = ParseNumber(row.number_or_kind);
  if (!number.has_value() || *number != field->number()) {
    failures.push_back(
        Mismatch(row, "number", row.number_or_kind, std::to_string(field->number())));
  }
  if (FieldType(*field) != row.type_or_input) {
    failures.push_back(Mismatch(row, "type", row.type_or_input, FieldType(*field)));
  }
  if (FieldLabel(*field) != row.label_or_output) {
    failures.push_back(Mismatch(row, "label", row.label_or_output, FieldLabel(*field)));
  }
  return failures;
}

std::vector<std::string> CheckEnumValue(const Row& row, const DescriptorPool& pool) {
  const EnumDescriptor* enum_type = pool.FindEnumTypeByName(row.scope);
  if (enum_type == nullptr) return {NotFound(row, "enum")};
  const EnumValueDescriptor* value = enum_type->FindValueByName(row.name);
  if (value == nullptr) return {NotFound(row, "enum value")};
  const std::optional<int> number = ParseNumber(row.number_or_kind);
  if (!number.has_value() || *number != value->number()) {
    return {Mismatch(row, "number", row.number_or_kind, std::to_string(value->number()))};
  }
  return {};
}

// Every way `row` differs from `pool`, one readable line each; empty when the row is served.
std::vector<std::string> CheckRow(const Row& row, const DescriptorPool& pool) {
  if (row.kind == "service") {
    if (pool.FindServiceByName(row.scope) == nullptr) return {NotFound(row, "service")};
    return {};
  }
  if (row.kind == "method") return CheckMethod(row, pool);
  if (row.kind == "message") return CheckMessage(row, pool);
  if (row.kind == "field") return CheckField(row, pool);
  if (row.kind == "enum") {
    if (pool.FindEnumTypeByName(row.scope) == nullptr) return {NotFound(row, "enum")};
    return {};
  }
  if (row.kind == "enum_value") return CheckEnumValue(row, pool);
  return {RowName(row) + ": unknown row kind '" + row.kind + "'"};
}

// Lines that are not rows: blank lines, '#' comments and the column-name header.
bool IsRow(const std::string& line) {
  return !line.empty() && line[0] != '#' && line.rfind("kind\t", 0) != 0;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> columns;
  std::string::size_type start = 0;
  while (true) {
    const std::string::size_type tab = line.find('\t', start);
    columns.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return columns;
    start = tab + 1;
  }
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// Parses every row; a line that is not exactly six columns is reported, never skipped.
std::vector<Row> ParseRows(const std::vector<std::string>& lines,
                           std::vector<std::string>* errors) {
  std::vector<Row> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!IsRow(lines[i])) continue;
    std::vector<std::string> c = SplitTabs(lines[i]);
    if (c.size() != kColumns) {
      errors->push_back("line " + std::to_string(i + 1) + ": expected " + std::to_string(kColumns) +
                        " tab-separated columns, got " + std::to_string(c.size()));
      continue;
    }
    rows.push_back(Row{c[0], c[1], c[2], c[3], c[4], c[5]});
  }
  return rows;
}

// Rows per kind counted from the raw lines alone, independently of ParseRows.
std::map<std::string, int> CountKinds(const std::vector<std::string>& lines) {
  std::map<std::string, int> counts;
  for (const std::string& line : lines) {
    if (IsRow(line)) ++counts[line.substr(0, line.find('\t'))];
  }
  return counts;
}

// The project's copy of the contract (proto/wire/; wire_copy_test keeps it equal to the shared
// one). Under `bazel test` it is in the runfiles tree; a binary run by hand from the workspace
// root finds it by its source path.
std::optional<std::string> FindContract(std::vector<std::string>* tried) {
  std::vector<std::string> candidates;
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* dir = std::getenv(var);
    if (dir == nullptr || *dir == '\0') continue;
    candidates.push_back(std::string(dir) + "/sochdb_grpc/proto/wire/" + kContractFile);
  }
  candidates.push_back(std::string("proto/wire/") + kContractFile);
  for (const std::string& path : candidates) {
    tried->push_back(path);
    if (std::ifstream(path).good()) return path;
  }
  return std::nullopt;
}

TEST_CASE("every generated sochdb.v1 file is registered in the generated pool", "[wire]") {
  const DescriptorPool& pool = *DescriptorPool::generated_pool();
  std::set<std::string> names;
  for (const FileDescriptor* file : LinkedContractFiles()) {
    REQUIRE(file != nullptr);
    CAPTURE(file->name());
    CHECK(file->name().rfind("sochdb/v1/", 0) == 0);
    CHECK(pool.FindFileByName(file->name()) == file);
    names.insert(file->name());
  }
  CHECK(names.size() == LinkedContractFiles().size());
}

TEST_CASE("every row of the sochdb.v1 wire contract is served", "[wire]") {
  LinkedContractFiles();
  std::vector<std::string> tried;
  const std::optional<std::string> path = FindContract(&tried);
  if (!path.has_value()) {
    FAIL("the contract " << kContractFile << " was not at any of:\n" << Join(tried));
  }

  const std::vector<std::string> lines = ReadLines(*path);
  std::vector<std::string> parse_errors;
  const std::vector<Row> rows = ParseRows(lines, &parse_errors);
  if (!parse_errors.empty()) FAIL("unreadable rows in " << *path << ":\n" << Join(parse_errors));

  std::map<std::string, int> checked;
  std::vector<std::string> failures;
  for (const Row& row : rows) {
    const std::vector<std::string> row_failures = CheckRow(row, *DescriptorPool::generated_pool());
    failures.insert(failures.end(), row_failures.begin(), row_failures.end());
    ++checked[row.kind];
  }
  {
    INFO(failures.size() << " contract rows are not served as written:\n" << Join(failures));
    REQUIRE(failures.empty());
  }

  std::map<std::string, int> in_file = CountKinds(lines);
  CHECK(in_file.size() == ExpectedRowCounts().size());
  for (const auto& [kind, expected] : ExpectedRowCounts()) {
    CAPTURE(kind);
    CHECK(checked[kind] > 0);
    CHECK(checked[kind] == in_file[kind]);
    CHECK(checked[kind] == expected);
  }
}

TEST_CASE("the checker reports rows that do not match", "[wire]") {
  LinkedContractFiles();
  const DescriptorPool& pool = *DescriptorPool::generated_pool();
  // The unmodified row passes, so each failure below comes from the one column changed.
  REQUIRE(
      CheckRow({"field", "sochdb.v1.KvPutRequest", "ttl_seconds", "4", "uint64", "singular"}, pool)
          .empty());

  struct BadRow {
    Row row;
    std::string expected_failure;
  };
  const std::string ttl = "field sochdb.v1.KvPutRequest ttl_seconds: ";
  const std::vector<BadRow> bad_rows = {
      {{"field", "sochdb.v1.KvPutRequest", "ttl_seconds", "5", "uint64", "singular"},
       ttl + "expected number 5 got 4"},
      {{"field", "sochdb.v1.KvPutRequest", "ttl_seconds", "4", "uint32", "singular"},
       ttl + "expected type uint32 got uint64"},
      {{"field", "sochdb.v1.KvPutRequest", "ttl_seconds", "4", "uint64", "repeated"},
       ttl + "expected label repeated got singular"},
      {{"field", "sochdb.v1.VectorMetadata", "parent_id", "1", "uint64", "singular"},
       "expected label singular got optional"},
      {{"field", "sochdb.v1.CreateIndexRequest", "metric", "4", "enum:sochdb.v1.GroupBy",
        "singular"},
       "expected type enum:sochdb.v1.GroupBy got enum:sochdb.v1.DistanceMetric"},
      {{"field", "sochdb.v1.KvPutRequest", "expires_at", "5", "uint64", "singular"},
       "field sochdb.v1.KvPutRequest expires_at: field not found"},
      {{"method", "sochdb.v1.KvService", "Rename", "unary", "sochdb.v1.KvGetRequest",
        "sochdb.v1.KvGetResponse"},
       "method sochdb.v1.KvService Rename: method not found"},
      {{"method", "sochdb.v1.KvService", "Scan", "unary", "sochdb.v1.KvScanRequest",
        "sochdb.v1.KvScanResponse"},
       "expected streaming kind unary got server_stream"},
      {{"method", "sochdb.v1.KvService", "Get", "unary", "sochdb.v1.KvPutRequest",
        "sochdb.v1.KvGetResponse"},
       "expected input sochdb.v1.KvPutRequest got sochdb.v1.KvGetRequest"},
      {{"service", "sochdb.v1.LedgerService", "", "", "", ""}, "service not found"},
      {{"message", "sochdb.v1.KvPutRequest.Missing", "", "", "", ""}, "message not found"},
      {{"enum", "sochdb.v1.Colour", "", "", "", ""}, "enum not found"},
      {{"enum_value", "sochdb.v1.DistanceMetric", "DISTANCE_METRIC_COSINE", "7", "", ""},
       "expected number 7 got 2"},
      {{"table", "sochdb.v1.KvPutRequest", "", "", "", ""}, "unknown row kind"},
  };
  for (const BadRow& bad : bad_rows) {
    CAPTURE(RowName(bad.row));
    const std::vector<std::string> failures = CheckRow(bad.row, pool);
    CAPTURE(Join(failures));
    REQUIRE(failures.size() == 1u);
    CHECK_THAT(failures[0], Catch::Matchers::Contains(bad.expected_failure));
  }
}

TEST_CASE("the checker reports a nested *Entry message that is not a map entry", "[wire]") {
  google::protobuf::FileDescriptorProto file;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        name: "fake.proto"
        package: "fake"
        syntax: "proto3"
        message_type {
          name: "Outer"
          nested_type {
            name: "TagsEntry"
            field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
          }
        }
      )pb",
      &file));
  DescriptorPool pool;
  REQUIRE(pool.BuildFile(file) != nullptr);
  const std::vector<std::string> failures =
      CheckRow({"message", "fake.Outer.TagsEntry", "", "", "", ""}, pool);
  CAPTURE(Join(failures));
  REQUIRE(failures.size() == 1u);
  CHECK_THAT(failures[0], Catch::Matchers::Contains("expected a map entry"));
}

}  // namespace
