#include "tests/engine/graph/graph_fixture.h"

#include <catch2/catch.hpp>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"

namespace sochdb::graph::testing {
namespace {

using storage::KeyFamily;
using storage::KeyReader;

constexpr char kFirstGraphFamily = static_cast<char>(KeyFamily::kGraphNode);
constexpr char kLastGraphFamily = static_cast<char>(KeyFamily::kGraphTemporalInEdge);

bool IsInFamily(KeyFamily family) {
  return family == KeyFamily::kGraphInEdge || family == KeyFamily::kGraphTemporalInEdge;
}

bool IsTemporal(KeyFamily family) {
  return family == KeyFamily::kGraphTemporalEdge || family == KeyFamily::kGraphTemporalInEdge;
}

// Decodes one key of the graph families (layouts in keys.h); false when it does not decode.
bool Decode(std::string_view key, RawGraphKey* out) {
  KeyReader reader(key);
  std::string_view ns, first, type, second;
  if (!reader.Family(&out->family) || !reader.Name(&ns)) return false;
  out->ns = std::string(ns);
  if (out->family == KeyFamily::kGraphNode) {
    out->first = std::string(reader.Rest());
    return true;
  }
  if (!reader.Name(&first) || !reader.Name(&type)) return false;
  out->first = std::string(first);
  out->type = std::string(type);
  if (!IsTemporal(out->family)) {
    out->second = std::string(reader.Rest());
    return true;
  }
  if (!reader.Name(&second) || !reader.U64(&out->valid_from)) return false;
  out->second = std::string(second);
  return reader.Rest().empty();
}

}  // namespace

std::tuple<std::string, std::string, std::string, std::string, uint64_t> RawGraphKey::Identity()
    const {
  if (IsInFamily(family)) return {ns, second, type, first, valid_from};
  return {ns, first, type, second, valid_from};
}

std::string RawGraphKey::ToString() const {
  return absl::StrCat("family 0x", absl::Hex(static_cast<int>(family)), " ns '", ns, "' [",
                      storage::QuotedKey(first), " ", storage::QuotedKey(type), " ",
                      storage::QuotedKey(second), " ", valid_from, "]");
}

std::vector<RawGraphKey> ScanGraphKeys(const storage::Store& store) {
  std::vector<RawGraphKey> keys;
  std::unique_ptr<storage::Iterator> it = store.NewIterator();
  for (it->Seek(std::string(1, kFirstGraphFamily)); it->Valid(); it->Next()) {
    if (it->key()[0] > kLastGraphFamily) break;
    RawGraphKey decoded;
    INFO("key " << storage::QuotedKey(it->key()));
    REQUIRE(Decode(it->key(), &decoded));
    keys.push_back(std::move(decoded));
  }
  REQUIRE_OK(it->status());
  return keys;
}

std::vector<std::string> HalfEdges(const storage::Store& store) {
  // Per identity: which of its two entries were seen (bit 0 forward, bit 1 reverse), for the
  // plain and the temporal set apart.
  std::map<std::pair<bool, decltype(RawGraphKey().Identity())>, int> seen;
  std::map<std::pair<bool, decltype(RawGraphKey().Identity())>, std::string> shown;
  for (const RawGraphKey& key : ScanGraphKeys(store)) {
    if (key.family == KeyFamily::kGraphNode) continue;
    const auto id = std::make_pair(IsTemporal(key.family), key.Identity());
    seen[id] |= IsInFamily(key.family) ? 2 : 1;
    shown[id] = key.ToString();
  }
  std::vector<std::string> half;
  for (const auto& [id, bits] : seen) {
    if (bits != 3)
      half.push_back(absl::StrCat(
          shown[id], bits == 1 ? " lacks its reverse entry" : " lacks its forward entry"));
  }
  return half;
}

std::vector<std::string> KeysMentioning(const storage::Store& store, std::string_view ns,
                                        std::string_view id) {
  std::vector<std::string> found;
  for (const RawGraphKey& key : ScanGraphKeys(store)) {
    if (key.ns == ns && (key.first == id || key.second == id)) found.push_back(key.ToString());
  }
  return found;
}

std::string Name(const Edge& edge) {
  return absl::StrCat(edge.from, "-", edge.type, "->", edge.to);
}

std::vector<std::string> Names(const std::vector<Edge>& edges) {
  std::vector<std::string> names;
  for (const Edge& edge : edges) names.push_back(Name(edge));
  return names;
}

std::vector<std::string> Ids(const std::vector<Node>& nodes) {
  std::vector<std::string> ids;
  for (const Node& node : nodes) ids.push_back(node.id);
  return ids;
}

GraphFixture::GraphFixture(GraphLimits limits)
    : own_env_(leveldb::NewMemEnv(leveldb::Env::Default())), path_("/mem/graph"), limits_(limits) {
  options_.env = own_env_.get();
  Open();
}

GraphFixture::GraphFixture(std::string path, storage::StoreOptions options, GraphLimits limits)
    : path_(std::move(path)), options_(std::move(options)), limits_(limits) {
  Open();
}

GraphFixture::~GraphFixture() { Close(); }

void GraphFixture::Open() {
  absl::StatusOr<std::unique_ptr<storage::Store>> opened = storage::Store::Open(path_, options_);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  store_ = std::move(opened).value();
  graph_ = std::make_unique<GraphStore>(store_.get(), &clock_, limits_);
}

void GraphFixture::Close() {
  graph_.reset();
  store_.reset();
}

void GraphFixture::Reopen() {
  Close();
  Open();
}

void GraphFixture::AddNode(std::string_view ns, std::string id, std::string type,
                           Properties properties) {
  REQUIRE_OK(graph_->AddNode(ns, Node{std::move(id), std::move(type), std::move(properties)}));
}

void GraphFixture::AddEdge(std::string_view ns, std::string from, std::string type, std::string to,
                           Properties properties) {
  REQUIRE_OK(graph_->AddEdge(
      ns, Edge{std::move(from), std::move(type), std::move(to), std::move(properties)}));
}

}  // namespace sochdb::graph::testing
