// The reliability suite's workload and its checker (after etcd's robustness tests and RocksDB's
// crash test, at small scale): actors issue mixed writes through one Engine — KV Put (with and
// without TTL), Delete, BatchPut, vector InsertBatch that replaces earlier vectors, and vector
// snapshots — and keep, for every key and vector id they own, the last acknowledged state and
// the states attempted since (which may or may not have reached the disk). After a reopen,
// Verify reads everything back: a state older than the last acknowledged one is LOST, one never
// written is a PHANTOM, a BatchPut seen in part is TORN. Then the observed state becomes the new
// baseline, so cycles can follow each other on the same data.
//
// Each actor owns its namespace "a<n>" and its vector index "a<n>" (8 dimensions, L2, below
// the exact-search threshold so a search is a lookup), so its history is sequential. An actor
// is used by one thread at a time.
#ifndef SOCHDB_TESTS_ENGINE_RELIABILITY_ENGINE_MODEL_H_
#define SOCHDB_TESTS_ENGINE_RELIABILITY_ENGINE_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/engine.h"

namespace sochdb::testing {

// SOCHDB_RELIABILITY_PROFILE=long selects the long local profile (e.g.
// `bazel test --test_env=SOCHDB_RELIABILITY_PROFILE=long //tests/engine/reliability:all`);
// anything else, the bounded CI profile.
bool LongProfile();

struct Tally {
  int64_t acked = 0;    // writes acknowledged (OK)
  int64_t refused = 0;  // writes answered with an error
  int64_t lost = 0;
  int64_t phantom = 0;
  int64_t torn = 0;
  int64_t verified = 0;               // keys and vector ids checked
  std::vector<std::string> problems;  // the first few, for the failure message
};

class ModelActor {
 public:
  enum class Outcome { kAcked, kRefused, kNotAWrite };

  // `number` names the actor's namespace and index; `seed` its choices.
  ModelActor(int number, uint32_t seed);

  // Creates the actor's vector index (once, before any Step).
  absl::Status Setup(Engine& engine);

  // One random operation: 40% Put, 10% Delete, 15% BatchPut (all three keys of one of four
  // groups, one value), 27% InsertBatch (4 of 40 ids, a new version of each), 8% a snapshot
  // pass (MaintainAll). Records it; returns whether it was a write and how it was answered.
  Outcome Step(Engine& engine, Tally* tally);

  // Reads back every key and vector id the actor ever wrote, adds what is wrong to `tally`, and
  // makes what it saw the new baseline.
  void Verify(Engine& engine, Tally* tally);

 private:
  struct KeyHistory {
    std::optional<std::string> acked;               // nullopt: absent
    std::vector<std::optional<std::string>> maybe;  // attempted since, unacknowledged
    std::set<std::string> ever;                     // every value ever written
  };
  struct VectorHistory {
    std::optional<uint32_t> acked;  // version; nullopt: never acknowledged
    std::vector<uint32_t> maybe;
  };

  std::string Ns() const;
  std::string RandomKey();
  std::string NewValue(const std::string& key);
  std::vector<float> VectorOf(uint64_t id, uint32_t version) const;
  void Record(const std::string& key, std::optional<std::string> value, bool ok);

  Outcome Put(Engine& engine, Tally* tally);
  Outcome Delete(Engine& engine, Tally* tally);
  Outcome BatchPut(Engine& engine, Tally* tally);
  Outcome Insert(Engine& engine, Tally* tally);
  void VerifyKeys(Engine& engine, Tally* tally);
  void VerifyVectors(Engine& engine, Tally* tally);

  const int number_;
  std::mt19937 rng_;
  uint64_t next_value_ = 0;
  uint32_t next_version_ = 1;
  std::map<std::string, KeyHistory> keys_;
  std::map<uint64_t, VectorHistory> vectors_;
};

// Options for an Engine on a simulated disk (both faces), in sync mode full, with small
// memtables (table files and compactions within a short run) and frequent vector snapshots.
EngineOptions SimulatedEngineOptions(leveldb::Env* env, FileSystem* files);

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_ENGINE_RELIABILITY_ENGINE_MODEL_H_
