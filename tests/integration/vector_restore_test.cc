// A vector snapshot newer than the store, through the real binary: store/ put back from an older
// copy beside the vectors/ of later, and a write-ahead log whose vectors (its last, or ones in
// its middle) are dropped at a start with --accept-log-loss. Either way the snapshot covers vectors
// the store does not hold; the index must be rebuilt from the store (the snapshot logged and
// deleted), never serve them, and never serve them later either, once the store's change sequence
// has passed the snapshot's again.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/engine/storage/damage.h"
#include "tests/integration/server_process.h"
#include "tests/integration/vector_client.h"

namespace sochdb::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kIndex[] = "restored";
constexpr uint32_t kDim = 8;

// Vector `id`: every component 1000 + id, so a vector's bytes can be found in the log and the
// nearest neighbour of vector `id` is `id` itself when the index holds it.
std::vector<float> VectorOf(uint64_t id) {
  return std::vector<float>(kDim, 1000.f + static_cast<float>(id));
}

void InsertRange(VectorClient& c, uint64_t first, uint64_t count) {
  std::vector<float> flat;
  for (uint64_t id = first; id < first + count; ++id) {
    const std::vector<float> v = VectorOf(id);
    flat.insert(flat.end(), v.begin(), v.end());
  }
  v1::InsertBatchResponse resp;
  const grpc::Status s = c.Insert(kIndex, first, flat, kDim, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.inserted_count() == count);
}

// The id nearest to vector `id` (-1 when there is none or the call fails).
int64_t NearestTo(VectorClient& c, uint64_t id) {
  v1::SearchResponse resp;
  if (!c.Search(kIndex, VectorOf(id), 1, &resp).ok() || resp.results_size() == 0) return -1;
  return static_cast<int64_t>(resp.results(0).id());
}

// A server on a fresh data directory with index `kIndex` holding ids 0..9, stopped (so its
// snapshot covers them). Returns the data directory.
std::string IndexWithTenVectors() {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create(kIndex, kDim, v1::DISTANCE_METRIC_L2, &created).ok());
  InsertRange(c, 0, 10);
  REQUIRE(server.Stop(SIGTERM) == 0);
  return server.data_dir();
}

// Ids 10..19 added and snapshotted at a clean stop: the snapshot covers 20 changes.
void AddTenMoreAndStop(const std::string& dir) {
  ServerProcess server({dir});
  StartOrFail(server);
  VectorClient c(server);
  InsertRange(c, 10, 10);
  REQUIRE(c.Count(kIndex) == 20);
  REQUIRE(server.Stop(SIGTERM) == 0);
  REQUIRE(storage::testing::FilesEndingWith(dir + "/vectors", ".snap").size() == 1);
}

// What a server on `dir` (started with `args`) answers: the store's ten vectors, not 10..19;
// then, after 30 more writes and a kill -9 (no snapshot), still none of 10..19.
// `logged` is what the server says about the snapshot it does not use.
void ExpectStoreNotSnapshot(const std::string& dir, const std::vector<std::string>& args,
                            const std::string& logged) {
  ServerProcess server({dir, args});
  StartOrFail(server);
  VectorClient c(server);
  CHECK(server.log().find(logged) != std::string::npos);
  // Before: 20 vectors, and vector 15 found as itself.
  CHECK(c.Count(kIndex) == 10);
  CHECK(NearestTo(c, 15) == 9);
  CHECK(NearestTo(c, 3) == 3);
  CHECK(storage::testing::FilesEndingWith(dir + "/vectors", ".snap").empty());

  // The store's sequence passes the old snapshot's; a kill -9 leaves no newer snapshot. Had the
  // old file stayed, this start would take it for current.
  InsertRange(c, 100, 30);
  server.Kill9();
  StartOrFail(server);
  VectorClient after(server);  // the restarted server listens on another port
  CHECK(after.Count(kIndex) == 40);
  CHECK(NearestTo(after, 15) == 9);
  CHECK(NearestTo(after, 120) == 120);
}

TEST_CASE("store/ restored from an older copy beside newer snapshots: rebuilt, no ghosts") {
  const std::string dir = IndexWithTenVectors();
  fs::copy(dir + "/store", dir + "/store-backup", fs::copy_options::recursive);
  AddTenMoreAndStop(dir);
  fs::remove_all(dir + "/store");
  fs::rename(dir + "/store-backup", dir + "/store");
  ExpectStoreNotSnapshot(dir, {}, "holds changes the store does not");
}

TEST_CASE(
    "vectors dropped from a damaged log (--accept-log-loss) are not served from the snapshot") {
  const std::string dir = IndexWithTenVectors();
  {
    ServerProcess server({dir});  // the log of the first run becomes a table
    StartOrFail(server);
    REQUIRE(server.Stop(SIGTERM) == 0);
  }
  AddTenMoreAndStop(dir);
  // Damage the batch of ids 10..19 in the write-ahead log: a byte inside vector 15's record.
  const std::vector<float> v15 = VectorOf(15);
  std::string marker(sizeof(float) * 2, '\0');
  std::memcpy(marker.data(), v15.data(), marker.size());
  const std::string log = storage::testing::FileNamed(dir + "/store", ".log");
  REQUIRE(storage::testing::FlipByteAfter(log, marker));
  // The accepting start removes the snapshots before it drops the batch (the check of a snapshot
  // newer than the store would catch this tail loss too).
  ExpectStoreNotSnapshot(dir, {"--accept-log-loss"}, "removed 1 vector snapshots");
}

// A batch lost from the middle of a log: a later batch of the same index survives it, so the
// store's log still reaches the snapshot's sequence and the snapshot does not look newer than
// the store. The accepting start removes every snapshot before it drops anything.
TEST_CASE("vectors dropped from the middle of a damaged log are not served from the snapshot") {
  const std::string dir = IndexWithTenVectors();
  {
    ServerProcess server({dir});  // the log of the first run becomes a table
    StartOrFail(server);
    VectorClient c(server);
    InsertRange(c, 10, 10);      // the batch to damage
    InsertRange(c, 1000, 2000);  // 64 KB: what follows starts two log blocks later
    InsertRange(c, 30, 10);      // survives the damage, ends the log at the snapshot's sequence
    REQUIRE(server.Stop(SIGTERM) == 0);
    REQUIRE(storage::testing::FilesEndingWith(dir + "/vectors", ".snap").size() == 1);
  }
  const std::vector<float> v15 = VectorOf(15);
  std::string marker(sizeof(float) * 2, '\0');
  std::memcpy(marker.data(), v15.data(), marker.size());
  const std::string log = storage::testing::FileNamed(dir + "/store", ".log");
  REQUIRE(storage::testing::FlipByteAfter(log, marker));

  ServerProcess server({dir, {"--accept-log-loss"}});
  StartOrFail(server);
  VectorClient c(server);
  CHECK(server.log().find("removed 1 vector snapshots") != std::string::npos);
  // Before: 10..19 (and the filler) served from the snapshot though the store lost them.
  CHECK(NearestTo(c, 15) == 9);
  CHECK(NearestTo(c, 35) == 35);
  CHECK(NearestTo(c, 3) == 3);
  const uint64_t count = c.Count(kIndex);
  INFO(count << " vectors served");
  CHECK(count >= 20);  // 0..9 and 30..39; the filler's fragments in the damaged block are gone
  CHECK(count < 2020);
}

}  // namespace
}  // namespace sochdb::testing
