// T5 of the reliability suite, through the real server: damaged files. A data directory with KV
// keys in a table and in the write-ahead log and a vector index with its snapshot is copied once
// per case; one file of one kind (CURRENT, MANIFEST, .log, .ldb, .snap) is truncated, has a byte
// flipped, or is deleted; then the server starts on it. Each case must end refused with every
// file as it was, or serving: every KV answer right or DATA_LOSS (a log cut short may lose only
// its tail, as a crash does), every search right (a damaged snapshot is rebuilt from the store).
// Never a wrong answer, never a file destroyed. One line of figures:
//   T5 damage: cases=.. refused=.. data_loss=.. rebuilt=.. tail_cut=.. wrong=0 destroyed=0
// Also: vectors/ with snapshots beside a missing store/ is refused, deleting nothing.
#include "tests/engine/storage/damage.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

namespace fs = std::filesystem;
using storage::testing::DirectoryContents;
using storage::testing::FileNamed;
using storage::testing::FlipByteAfter;
using storage::testing::FlipByteAt;
using storage::testing::NumberedValue;
using storage::testing::ReadFile;
using storage::testing::TruncateFile;
using storage::testing::WriteFile;

constexpr char kNs[] = "t5";
constexpr char kIndex[] = "vi";
constexpr uint32_t kDim = 8;
constexpr int kTableKeys = 100;  // a000..a099: in the table after the second start
constexpr int kLogKeys = 50;     // b000..b049: in the log when the server stops
constexpr int kVectors = 200;    // below the graph threshold: searches are exact
constexpr int kQueries = 5;

std::string KeyOf(char group, int i) {
  char key[16];
  std::snprintf(key, sizeof(key), "%c%03d", group, i);
  return key;
}

// Every key in write order, with its value (the log keys' values are numbered from 100, so the
// values' markers are unique across the two groups).
std::vector<std::pair<std::string, std::string>> ExpectedKeys() {
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < kTableKeys; ++i) keys.emplace_back(KeyOf('a', i), NumberedValue(i));
  for (int i = 0; i < kLogKeys; ++i) keys.emplace_back(KeyOf('b', i), NumberedValue(100 + i));
  return keys;
}

std::vector<float> Vectors(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> out(n * kDim);
  for (float& x : out) x = normal(rng);
  return out;
}

struct Clients {
  explicit Clients(const ServerProcess& server)
      : kv(v1::KvService::NewStub(server.Channel())),
        vectors(v1::VectorIndexService::NewStub(server.Channel())) {}

  grpc::Status Put(const std::string& key, const std::string& value) {
    v1::KvPutRequest req;
    req.set_namespace_(kNs);
    req.set_key(key);
    req.set_value(value);
    v1::KvPutResponse resp;
    return kv->Put(MakeContext().get(), req, &resp);
  }

  grpc::Status Get(const std::string& key, std::optional<std::string>* value) {
    v1::KvGetRequest req;
    req.set_namespace_(kNs);
    req.set_key(key);
    v1::KvGetResponse resp;
    grpc::Status status = kv->Get(MakeContext().get(), req, &resp);
    *value = resp.found() ? std::optional<std::string>(resp.value()) : std::nullopt;
    return status;
  }

  grpc::Status Scan(std::vector<std::pair<std::string, std::string>>* entries) {
    v1::KvScanRequest req;
    req.set_namespace_(kNs);
    auto ctx = MakeContext();
    auto reader = kv->Scan(ctx.get(), req);
    v1::KvScanResponse item;
    while (reader->Read(&item)) entries->emplace_back(item.key(), item.value());
    return reader->Finish();
  }

  // The ids of the k nearest neighbours of each query, or the failing status.
  grpc::Status Answers(std::vector<std::vector<uint64_t>>* answers) {
    const std::vector<float> queries = Vectors(kQueries, 77);
    for (int q = 0; q < kQueries; ++q) {
      v1::SearchRequest req;
      req.set_index_name(kIndex);
      for (uint32_t j = 0; j < kDim; ++j) req.add_query(queries[q * kDim + j]);
      req.set_k(5);
      v1::SearchResponse resp;
      grpc::Status status = vectors->Search(MakeContext().get(), req, &resp);
      if (!status.ok()) return status;
      if (!resp.error().empty()) return grpc::Status(grpc::StatusCode::UNKNOWN, resp.error());
      std::vector<uint64_t> ids;
      for (const auto& result : resp.results()) ids.push_back(result.id());
      answers->push_back(ids);
    }
    return grpc::Status::OK;
  }

  std::unique_ptr<v1::KvService::Stub> kv;
  std::unique_ptr<v1::VectorIndexService::Stub> vectors;
};

// The data directory every case starts from, and the answers it gives undamaged.
struct Pristine {
  std::string dir;
  std::vector<std::vector<uint64_t>> answers;
};

Pristine BuildPristine() {
  Pristine pristine;
  ServerProcess server({});
  pristine.dir = server.data_dir();
  StartOrFail(server);
  {
    Clients c(server);
    for (int i = 0; i < kTableKeys; ++i) REQUIRE(c.Put(KeyOf('a', i), NumberedValue(i)).ok());
    v1::CreateIndexRequest create;
    create.set_name(kIndex);
    create.set_dimension(kDim);
    create.set_metric(v1::DISTANCE_METRIC_L2);
    v1::CreateIndexResponse created;
    REQUIRE(c.vectors->CreateIndex(MakeContext().get(), create, &created).ok());
    v1::InsertBatchRequest insert;
    insert.set_index_name(kIndex);
    for (int i = 0; i < kVectors; ++i) insert.add_ids(i);
    for (float x : Vectors(kVectors, 5)) insert.add_vectors(x);
    v1::InsertBatchResponse inserted;
    REQUIRE(c.vectors->InsertBatch(MakeContext().get(), insert, &inserted).ok());
  }
  REQUIRE(server.Stop(SIGTERM) == 0);  // snapshots the index
  StartOrFail(server);                 // the log becomes a table
  {
    Clients c(server);
    for (int i = 0; i < kLogKeys; ++i) REQUIRE(c.Put(KeyOf('b', i), NumberedValue(100 + i)).ok());
    REQUIRE(c.Answers(&pristine.answers).ok());
  }
  REQUIRE(server.Stop(SIGTERM) == 0);
  for (const char* suffix : {".ldb", ".log"}) {
    INFO(suffix);
    REQUIRE(storage::testing::FilesEndingWith(pristine.dir + "/store", suffix).size() == 1);
  }
  REQUIRE(storage::testing::FilesEndingWith(pristine.dir + "/vectors", ".snap").size() == 1);
  return pristine;
}

// store/ and vectors/, file by file; not LevelDB's info logs (LOG, LOG.old), which hold no data.
std::map<std::string, std::string> Contents(const std::string& data_dir) {
  std::map<std::string, std::string> contents;
  for (const char* sub : {"store", "vectors"}) {
    for (auto& [name, bytes] : DirectoryContents(data_dir + "/" + sub)) {
      if (name == "LOG" || name == "LOG.old") continue;
      contents[std::string(sub) + "/" + name] = std::move(bytes);
    }
  }
  return contents;
}

enum class Damage { kTruncate, kFlip, kDelete, kGarbageTail };

const char* DamageName(Damage damage) {
  switch (damage) {
    case Damage::kTruncate:
      return "truncate";
    case Damage::kFlip:
      return "flip";
    case Damage::kDelete:
      return "delete";
    case Damage::kGarbageTail:
      return "garbage-tail";
  }
  return "?";
}

// Damages `path`. A flip goes into a known value where there is one (so it hits data, not
// framing), else into the middle of the file.
void Apply(Damage damage, const std::string& path, const std::string& marker) {
  const uint64_t size = fs::file_size(path);
  switch (damage) {
    case Damage::kTruncate:
      TruncateFile(path, size / 2);
      return;
    case Damage::kFlip:
      if (marker.empty() || !FlipByteAfter(path, marker)) FlipByteAt(path, size / 2);
      return;
    case Damage::kDelete:
      fs::remove(path);
      return;
    case Damage::kGarbageTail: {
      std::string garbage(100, '\0');
      std::mt19937 rng(3);
      for (char& c : garbage) c = static_cast<char>(rng());
      WriteFile(path, ReadFile(path) + garbage);
      return;
    }
  }
}

struct Figures {
  int cases = 0, refused = 0, data_loss = 0, rebuilt = 0, tail_cut = 0, wrong = 0, destroyed = 0;
};

// What a started server answered: counts wrong answers into `figures` and says which
// acceptable outcomes it saw.
struct Served {
  bool data_loss = false;
  bool tail_cut = false;
  bool rebuilt = false;
};

Served Examine(ServerProcess& server, const Pristine& pristine, bool log_cut, Figures* figures) {
  Served served;
  Clients c(server);
  const auto expected = ExpectedKeys();
  // Point reads: the right value or DATA_LOSS; absent only for a tail of the log's keys.
  bool absent_seen = false;
  for (const auto& [key, value] : expected) {
    std::optional<std::string> got;
    const grpc::Status status = c.Get(key, &got);
    INFO(key << ": " << status.error_code() << " " << status.error_message());
    if (status.error_code() == grpc::StatusCode::DATA_LOSS) {
      served.data_loss = true;
    } else if (!status.ok()) {
      CHECK(status.ok());
      ++figures->wrong;
    } else if (got.has_value()) {
      const bool right = *got == value && !absent_seen;  // nothing present after a gap
      CHECK(right);
      if (!right) ++figures->wrong;
    } else if (log_cut && key[0] == 'b') {
      absent_seen = served.tail_cut = true;
    } else {
      CHECK(got.has_value());
      ++figures->wrong;
    }
  }
  // A scan: what it streams is the expected sequence's prefix (gaps only where the log was cut),
  // ending OK or DATA_LOSS.
  std::vector<std::pair<std::string, std::string>> scanned;
  const grpc::Status scan = c.Scan(&scanned);
  INFO("scan: " << scan.error_code() << " " << scan.error_message());
  const bool scan_ended_well = scan.ok() || scan.error_code() == grpc::StatusCode::DATA_LOSS;
  CHECK(scan_ended_well);
  bool scan_right = scan_ended_well && scanned.size() <= expected.size();
  for (size_t i = 0; scan_right && i < scanned.size(); ++i) scan_right = scanned[i] == expected[i];
  if (scan.ok() && !log_cut) scan_right = scan_right && scanned.size() == expected.size();
  CHECK(scan_right);
  if (!scan_right) ++figures->wrong;
  if (scan.error_code() == grpc::StatusCode::DATA_LOSS) served.data_loss = true;
  // Searches: the undamaged answers, or an error (never other neighbours).
  std::vector<std::vector<uint64_t>> answers;
  const grpc::Status search = c.Answers(&answers);
  if (search.ok()) {
    CHECK(answers == pristine.answers);
    if (answers != pristine.answers) ++figures->wrong;
  } else {
    served.data_loss = true;
  }
  served.rebuilt = server.log().find("rebuilt from records") != std::string::npos;
  return served;
}

// The file of `kind` in a copy of the pristine directory.
std::string FileOf(const std::string& data_dir, const std::string& kind) {
  if (kind == "CURRENT") return data_dir + "/store/CURRENT";
  if (kind == ".snap") return FileNamed(data_dir + "/vectors", ".snap");
  return FileNamed(data_dir + "/store", kind);
}

std::string ManifestOf(const std::string& data_dir) {
  for (const auto& [name, bytes] : DirectoryContents(data_dir + "/store")) {
    if (name.rfind("MANIFEST-", 0) == 0) return data_dir + "/store/" + name;
  }
  return "";
}

TEST_CASE("T5: a damaged file is refused or answered DATA_LOSS, never served wrong or destroyed") {
  const Pristine pristine = BuildPristine();
  struct Case {
    std::string kind;
    Damage damage;
    std::string expect;  // "refused", "served", "data_loss", "tail_cut", "rebuilt"; "a|b": either
  };
  const std::vector<Case> cases = {
      {"CURRENT", Damage::kTruncate, "refused"},
      {"CURRENT", Damage::kFlip, "refused"},
      {"CURRENT", Damage::kDelete, "refused"},
      {"MANIFEST", Damage::kTruncate, "refused"},
      {"MANIFEST", Damage::kFlip, "refused"},
      {"MANIFEST", Damage::kDelete, "refused"},
      {".log", Damage::kTruncate, "tail_cut"},
      {".log", Damage::kFlip, "refused"},
      {".log", Damage::kDelete, "refused"},
      {".log", Damage::kGarbageTail, "refused|served"},
      {".ldb", Damage::kTruncate, "refused|data_loss"},
      {".ldb", Damage::kFlip, "data_loss"},
      {".ldb", Damage::kDelete, "refused"},
      {".snap", Damage::kTruncate, "rebuilt"},
      {".snap", Damage::kFlip, "rebuilt"},
      {".snap", Damage::kDelete, "rebuilt"},
  };
  Figures figures;
  for (const Case& c : cases) {
    const std::string name = c.kind + " " + DamageName(c.damage);
    INFO("case " << name);
    const std::string dir = NewTempDir("t5") + "/data";
    fs::copy(pristine.dir, dir, fs::copy_options::recursive);
    const std::string path = c.kind == "MANIFEST" ? ManifestOf(dir) : FileOf(dir, c.kind);
    REQUIRE(fs::exists(path));
    // Flip inside a value of each group where the file holds one: a050 in the table, b010 in
    // the log.
    const std::string marker = c.kind == ".ldb"   ? NumberedValue(50).substr(0, 12)
                               : c.kind == ".log" ? NumberedValue(110).substr(0, 12)
                                                  : std::string();
    Apply(c.damage, path, marker);
    const std::map<std::string, std::string> damaged = Contents(dir);
    ++figures.cases;

    ServerProcess server({dir});
    std::string error;
    std::string outcome;
    if (!server.Start(&error)) {
      outcome = "refused";
      ++figures.refused;
      INFO(error);
      CHECK(error.find("cannot open the database") != std::string::npos);
      const bool unchanged = Contents(dir) == damaged;
      CHECK(unchanged);
      if (!unchanged) ++figures.destroyed;
    } else {
      const Served served =
          Examine(server, pristine, c.kind == ".log" && c.damage == Damage::kTruncate, &figures);
      CHECK(server.Stop(SIGTERM) == 0);
      if (c.kind == ".snap") {
        // A snapshot is derived data: damaged, it is rebuilt from the store and every answer,
        // KV and search, is right. A failed search or a DATA_LOSS here is not an outcome.
        outcome = served.data_loss ? "data_loss" : served.rebuilt ? "rebuilt" : "served";
        if (outcome == "rebuilt") ++figures.rebuilt;
      } else if (served.data_loss) {
        outcome = "data_loss";
        ++figures.data_loss;
        // The damaged table is still there for an operator to look at.
        if (c.kind == ".ldb" && !fs::exists(path)) ++figures.destroyed;
      } else if (served.tail_cut) {
        outcome = "tail_cut";
        ++figures.tail_cut;
      } else {
        outcome = "served";
      }
    }
    INFO("outcome " << outcome);
    std::cout << "T5 case " << name << ": " << outcome << std::endl;
    const std::string expect = "|" + c.expect + "|";
    CHECK(expect.find("|" + outcome + "|") != std::string::npos);
  }
  std::cout << "T5 damage: cases=" << figures.cases << " refused=" << figures.refused
            << " data_loss=" << figures.data_loss << " rebuilt=" << figures.rebuilt
            << " tail_cut=" << figures.tail_cut << " wrong=" << figures.wrong
            << " destroyed=" << figures.destroyed << std::endl;
  CHECK(figures.wrong == 0);
  CHECK(figures.destroyed == 0);
}

TEST_CASE("a damaged log stops the start; --accept-log-loss starts, keeps a copy, logs the loss") {
  const Pristine pristine = BuildPristine();
  const std::string dir = NewTempDir("accept_log_loss") + "/data";
  fs::copy(pristine.dir, dir, fs::copy_options::recursive);
  const std::string log = FileNamed(dir + "/store", ".log");
  REQUIRE(FlipByteAfter(log, NumberedValue(110).substr(0, 12)));
  {
    ServerProcess refused({dir});
    std::string error;
    REQUIRE_FALSE(refused.Start(&error));
    INFO(error);
    CHECK(error.find("damaged write-ahead log") != std::string::npos);
    CHECK(error.find("--accept-log-loss") != std::string::npos);
  }
  ServerProcess server({dir, {"--accept-log-loss"}});
  StartOrFail(server);
  CHECK(server.log().find("accepted loss (--accept-log-loss)") != std::string::npos);
  CHECK(fs::exists(log + ".damaged"));
  Clients c(server);
  std::optional<std::string> value;
  REQUIRE(c.Get(KeyOf('a', 0), &value).ok());
  CHECK(value == NumberedValue(0));
  REQUIRE(c.Get(KeyOf('b', 9), &value).ok());  // before the damaged record
  CHECK(value == NumberedValue(109));
  REQUIRE(c.Get(KeyOf('b', 10), &value).ok());  // in the dropped stretch
  CHECK_FALSE(value.has_value());
}

TEST_CASE("vector snapshots beside a missing store are refused; nothing is deleted") {
  const Pristine pristine = BuildPristine();
  const std::string dir = NewTempDir("orphan_snapshots") + "/data";
  fs::copy(pristine.dir, dir, fs::copy_options::recursive);
  fs::remove_all(dir + "/store");
  const std::map<std::string, std::string> before = DirectoryContents(dir + "/vectors");
  REQUIRE(before.size() == 1);

  ServerProcess server({dir});
  std::string error;
  // Before: it started with an empty store and deleted the snapshot.
  CHECK_FALSE(server.Start(&error));
  INFO(error);
  CHECK(error.find("inconsistent data directory") != std::string::npos);
  CHECK(error.find("holds 1 vector snapshot files") != std::string::npos);
  CHECK(DirectoryContents(dir + "/vectors") == before);
}

}  // namespace
}  // namespace sochdb::testing
