// T4 of the reliability suite (../shared/RELIABILITY.md): disk full, through the real server.
// The test moves itself into a private mount namespace (so nothing it mounts is seen outside it
// or outlives it; the server it starts inherits it) and mounts a 16 MiB tmpfs, with a 2 MiB
// filler file, for the server's data directory. It creates a vector index, then writes 32 KiB
// KV values (and a vector batch every tenth write) with --sync full until the first error, and
// checks:
//   - the first error is UNAVAILABLE and says the disk is full;
//   - OK replies after it, before the restart, = 0 (Put, Delete, BatchPut, InsertBatch,
//     CreateIndex, 10 rounds);
//   - reads keep working (every acknowledged key, and a search for acknowledged vectors);
//   - after a restart on a freed disk (the filler removed) nothing acknowledged is lost, and
//     writes are accepted again.
// Mounting needs root or an unprivileged user namespace: when both are refused the test prints
// why and passes without checking anything ("T4 diskfull: skipped (...)"). Prints one line:
//   T4 diskfull: acked=... first_error=UNAVAILABLE ok_after_error=0 reads_ok=.../... lost=0
// One profile: a run takes a few seconds.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace sochdb::testing {
namespace {

constexpr char kTmpfsSize[] = "size=16m";
constexpr size_t kFillerBytes = 2 << 20;
constexpr size_t kValueBytes = 32 << 10;
constexpr uint32_t kDimension = 8;
constexpr int kMaxFillWrites = 5000;  // 16 MiB / 32 KiB is ~500: a bound, not an expectation

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// Enters a private mount namespace (creating a user namespace first when not privileged) and
// mounts a small tmpfs under a new temporary directory. Returns its path, or "" with the reason
// in `*why`. Call before any thread is started (a user namespace requires it).
std::string MountSmallTmpfs(std::string* why) {
  if (unshare(CLONE_NEWNS) != 0) {
    const uid_t uid = getuid();
    const gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      *why = absl::StrCat("cannot create a mount namespace: ", std::strerror(errno));
      return "";
    }
    if (!WriteText("/proc/self/setgroups", "deny") ||
        !WriteText("/proc/self/uid_map", absl::StrCat("0 ", uid, " 1")) ||
        !WriteText("/proc/self/gid_map", absl::StrCat("0 ", gid, " 1"))) {
      *why = "cannot map the user into a user namespace";
      return "";
    }
  }
  // Mounts made here must not propagate to the namespace the test came from.
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *why = absl::StrCat("cannot make the mount namespace private: ", std::strerror(errno));
    return "";
  }
  const std::string dir = NewTempDir("t4-tmpfs");
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, kTmpfsSize) != 0) {
    *why = absl::StrCat("mount -t tmpfs refused: ", std::strerror(errno));
    return "";
  }
  return dir;
}

struct Clients {
  explicit Clients(const ServerProcess& server)
      : kv(v1::KvService::NewStub(server.Channel())),
        vectors(v1::VectorIndexService::NewStub(server.Channel())) {}

  grpc::Status Put(const std::string& key, const std::string& value) {
    v1::KvPutRequest req;
    req.set_namespace_("t4");
    req.set_key(key);
    req.set_value(value);
    v1::KvPutResponse resp;
    return kv->Put(MakeContext().get(), req, &resp);
  }
  grpc::Status Delete(const std::string& key) {
    v1::KvDeleteRequest req;
    req.set_namespace_("t4");
    req.set_key(key);
    v1::KvDeleteResponse resp;
    return kv->Delete(MakeContext().get(), req, &resp);
  }
  grpc::Status BatchPut(const std::vector<std::string>& keys, const std::string& value) {
    v1::KvBatchPutRequest req;
    req.set_namespace_("t4");
    for (const std::string& key : keys) {
      v1::KvPutEntry* entry = req.add_entries();
      entry->set_key(key);
      entry->set_value(value);
    }
    v1::KvBatchPutResponse resp;
    return kv->BatchPut(MakeContext().get(), req, &resp);
  }
  // The value, "<missing>", or "<error CODE>".
  std::string Get(const std::string& key) {
    v1::KvGetRequest req;
    req.set_namespace_("t4");
    req.set_key(key);
    v1::KvGetResponse resp;
    grpc::Status s = kv->Get(MakeContext().get(), req, &resp);
    if (!s.ok()) return absl::StrCat("<error ", s.error_code(), ">");
    return resp.found() ? resp.value() : "<missing>";
  }
  grpc::Status CreateIndex(const std::string& name) {
    v1::CreateIndexRequest req;
    req.set_name(name);
    req.set_dimension(kDimension);
    req.set_metric(v1::DISTANCE_METRIC_L2);
    v1::CreateIndexResponse resp;
    grpc::Status s = vectors->CreateIndex(MakeContext().get(), req, &resp);
    if (s.ok() && !resp.success()) return grpc::Status(grpc::StatusCode::UNKNOWN, resp.error());
    return s;
  }
  grpc::Status Insert(uint64_t first_id, int count) {
    v1::InsertBatchRequest req;
    req.set_index_name("v");
    for (int i = 0; i < count; ++i) {
      req.add_ids(first_id + i);
      for (uint32_t d = 0; d < kDimension; ++d) req.add_vectors(VectorComponent(first_id + i, d));
    }
    v1::InsertBatchResponse resp;
    return vectors->InsertBatch(MakeContext().get(), req, &resp);
  }
  // Whether a search for vector `id` finds it first, at distance 0.
  bool Finds(uint64_t id) {
    v1::SearchRequest req;
    req.set_index_name("v");
    for (uint32_t d = 0; d < kDimension; ++d) req.add_query(VectorComponent(id, d));
    req.set_k(1);
    v1::SearchResponse resp;
    grpc::Status s = vectors->Search(MakeContext().get(), req, &resp);
    return s.ok() && resp.results_size() == 1 && resp.results(0).id() == id &&
           resp.results(0).distance() < 1e-4f;
  }
  // Distinct for every id (splitmix64 of id and component).
  static float VectorComponent(uint64_t id, uint32_t d) {
    uint64_t x = id * 0x9E3779B97F4A7C15ull + d + 1;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return static_cast<float>(x % 1'000'000) / 1'000'000.0f;
  }

  std::unique_ptr<v1::KvService::Stub> kv;
  std::unique_ptr<v1::VectorIndexService::Stub> vectors;
};

std::string ValueFor(int i) {
  std::string value = absl::StrCat("value-", i, "-");
  value.resize(kValueBytes, static_cast<char>('a' + i % 26));
  return value;
}

// Writes after the first storage error; returns how many were answered OK.
int WritesAfterError(Clients& c, const std::map<std::string, std::string>& acked) {
  int ok = 0;
  for (int round = 0; round < 10; ++round) {
    const std::string key = absl::StrCat("after-", round);
    ok += c.Put(key, "small").ok();
    ok += c.Put(key, ValueFor(round)).ok();
    ok += c.Delete(acked.begin()->first).ok();
    ok += c.Delete("never-written").ok();
    ok += c.BatchPut({key, key + "-b"}, "batched").ok();
    ok += c.Insert(1'000'000 + round * 10, 10).ok();
    ok += c.CreateIndex(absl::StrCat("late-", round)).ok();
  }
  return ok;
}

TEST_CASE("T4 disk full: UNAVAILABLE, no OK after it, reads go on, nothing acknowledged lost",
          "[reliability]") {
  std::string why;
  const std::string mount = MountSmallTmpfs(&why);
  if (mount.empty()) {
    std::printf("T4 diskfull: skipped (%s)\n", why.c_str());
    SUCCEED("skipped: " << why);
    return;
  }
  const std::string filler = mount + "/filler";
  REQUIRE(WriteText(filler, std::string(kFillerBytes, 'f')));

  ServerProcessOptions options;
  options.data_dir = mount + "/data";
  options.args = {"--sync", "full"};
  ServerProcess server(options);
  std::string error;
  const bool started = server.Start(&error);
  INFO(error);  // after Start: INFO takes the text as it is when it runs
  REQUIRE(started);
  Clients c(server);
  REQUIRE(c.CreateIndex("v").ok());

  std::map<std::string, std::string> acked;
  std::vector<uint64_t> acked_vectors;
  grpc::Status first_error;
  for (int i = 0; i < kMaxFillWrites && first_error.ok(); ++i) {
    const std::string key = absl::StrCat("fill-", i);
    grpc::Status s = c.Put(key, ValueFor(i));
    if (s.ok()) acked[key] = ValueFor(i);
    if (s.ok() && i % 10 == 0) {
      s = c.Insert(static_cast<uint64_t>(i) * 10, 10);
      for (int j = 0; s.ok() && j < 10; ++j) acked_vectors.push_back(i * 10 + j);
    }
    if (!s.ok()) first_error = s;
  }
  INFO("first error: " << first_error.error_code() << " " << first_error.error_message());
  REQUIRE(!first_error.ok());
  REQUIRE(!acked.empty());
  CHECK(first_error.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(absl::StrContains(first_error.error_message(), "disk full"));

  const int ok_after_error = WritesAfterError(c, acked);
  int reads_ok = 0;
  for (const auto& [key, value] : acked) reads_ok += c.Get(key) == value;
  int vectors_found = 0;
  for (uint64_t id : acked_vectors) vectors_found += c.Finds(id);
  CHECK(ok_after_error == 0);
  CHECK(reads_ok == static_cast<int>(acked.size()));
  CHECK(vectors_found == static_cast<int>(acked_vectors.size()));

  server.Stop(SIGTERM);
  REQUIRE(std::filesystem::remove(filler));
  const bool restarted_ok = server.Start(&error);
  INFO(error);
  REQUIRE(restarted_ok);
  Clients restarted(server);  // on the new port
  int lost = 0;
  for (const auto& [key, value] : acked) lost += restarted.Get(key) != value;
  for (uint64_t id : acked_vectors) lost += !restarted.Finds(id);
  CHECK(lost == 0);
  CHECK(restarted.Put("after-restart", "accepted").ok());

  std::printf(
      "T4 diskfull: acked=%zu vectors=%zu first_error=%s ok_after_error=%d reads_ok=%d/%zu "
      "lost=%d\n",
      acked.size(), acked_vectors.size(),
      first_error.error_code() == grpc::StatusCode::UNAVAILABLE ? "UNAVAILABLE" : "other",
      ok_after_error, reads_ok, acked.size(), lost);
}

}  // namespace
}  // namespace sochdb::testing
