// Implementation of engine_model.h.
#include "tests/engine/reliability/engine_model.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/kv/kv_store.h"
#include "engine/vector/vector_index_store.h"

namespace sochdb::testing {
namespace {

constexpr char kTenant[] = "t";
constexpr uint32_t kDimension = 8;
constexpr int kPlainKeys = 24;   // k0..k23: Put and Delete
constexpr int kBatchGroups = 4;  // g0..g3, three keys each, always written whole by BatchPut
constexpr int kKeysPerGroup = 3;
constexpr uint64_t kVectorIds = 40;
constexpr size_t kIdsPerInsert = 4;
constexpr size_t kMaxProblems = 8;
constexpr size_t kMaxPadding = 1500;

void Problem(Tally* tally, std::string text) {
  if (tally->problems.size() < kMaxProblems) tally->problems.push_back(std::move(text));
}

std::string Show(const std::optional<std::string>& value) {
  return value.has_value() ? "\"" + value->substr(0, 40) + "\"" : "(absent)";
}

}  // namespace

bool LongProfile() {
  const char* profile = std::getenv("SOCHDB_RELIABILITY_PROFILE");
  return profile != nullptr && std::string(profile) == "long";
}

EngineOptions SimulatedEngineOptions(leveldb::Env* env, FileSystem* files) {
  EngineOptions options;
  options.data_dir = "/data";
  options.file_system = files;
  options.store.env = env;
  options.store.sync_mode = storage::SyncMode::kFull;
  options.store.write_buffer_bytes = 64 << 10;  // LevelDB's least
  options.store.block_cache_bytes = 1 << 20;
  options.vector_maintenance_interval = absl::Milliseconds(5);
  options.vector_snapshot_every_changes = 8;
  return options;
}

ModelActor::ModelActor(int number, uint32_t seed) : number_(number), rng_(seed) {}

std::string ModelActor::Ns() const { return absl::StrCat("a", number_); }

absl::Status ModelActor::Setup(Engine& engine) {
  vector::VectorIndexDefinition definition;
  definition.tenant = kTenant;
  definition.name = Ns();
  definition.spec.dimension = kDimension;
  definition.spec.metric = vector::Metric::kL2;
  return engine.vector_indexes().Create(definition).status();
}

std::string ModelActor::RandomKey() {
  return absl::StrCat("k", std::uniform_int_distribution<int>(0, kPlainKeys - 1)(rng_));
}

// Unique, and up to 1.5 KB long, so that a short run fills memtables: table files, compactions
// and manifest edits are part of every run.
std::string ModelActor::NewValue(const std::string& key) {
  const size_t padding = std::uniform_int_distribution<size_t>(0, kMaxPadding)(rng_);
  return absl::StrCat(Ns(), "/", key, "#", next_value_++, "/", std::string(padding, '.'));
}

// Deterministic, and distinct for every (actor, id, version): a match at distance 0 names both.
std::vector<float> ModelActor::VectorOf(uint64_t id, uint32_t version) const {
  std::mt19937 generator(static_cast<uint32_t>(number_ * 7919 + id * 104729 + version * 31));
  std::uniform_real_distribution<float> component(-1, 1);
  std::vector<float> vector(kDimension);
  for (float& x : vector) x = component(generator);
  return vector;
}

void ModelActor::Record(const std::string& key, std::optional<std::string> value, bool ok) {
  KeyHistory& history = keys_[key];
  if (value.has_value()) history.ever.insert(*value);
  if (ok) {
    history.acked = std::move(value);
    history.maybe.clear();
  } else {
    history.maybe.push_back(std::move(value));
  }
}

ModelActor::Outcome ModelActor::Step(Engine& engine, Tally* tally) {
  const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
  if (roll < 40) return Put(engine, tally);
  if (roll < 50) return Delete(engine, tally);
  if (roll < 65) return BatchPut(engine, tally);
  if (roll < 92) return Insert(engine, tally);
  engine.vector_indexes().MaintainAll();
  return Outcome::kNotAWrite;
}

ModelActor::Outcome ModelActor::Put(Engine& engine, Tally* tally) {
  const std::string key = RandomKey();
  const std::string value = NewValue(key);
  const uint64_t ttl = std::uniform_int_distribution<int>(0, 2)(rng_) == 0 ? 3600 : 0;
  const bool ok = engine.kv().Put(Ns(), key, value, ttl).ok();
  Record(key, value, ok);
  ++(ok ? tally->acked : tally->refused);
  return ok ? Outcome::kAcked : Outcome::kRefused;
}

ModelActor::Outcome ModelActor::Delete(Engine& engine, Tally* tally) {
  const std::string key = RandomKey();
  const bool ok = engine.kv().Delete(Ns(), key).ok();
  Record(key, std::nullopt, ok);
  ++(ok ? tally->acked : tally->refused);
  return ok ? Outcome::kAcked : Outcome::kRefused;
}

ModelActor::Outcome ModelActor::BatchPut(Engine& engine, Tally* tally) {
  const int group = std::uniform_int_distribution<int>(0, kBatchGroups - 1)(rng_);
  const std::string value = NewValue("batch");
  std::vector<std::string> keys;
  std::vector<kv::KvPutEntry> entries;
  for (int i = 0; i < kKeysPerGroup; ++i) keys.push_back(absl::StrCat("g", group, "/", i));
  for (const std::string& key : keys) entries.push_back({key, value, 0});
  const bool ok = engine.kv().BatchPut(Ns(), entries).ok();
  for (const std::string& key : keys) Record(key, value, ok);
  ++(ok ? tally->acked : tally->refused);
  return ok ? Outcome::kAcked : Outcome::kRefused;
}

ModelActor::Outcome ModelActor::Insert(Engine& engine, Tally* tally) {
  std::vector<uint64_t> ids;
  while (ids.size() < kIdsPerInsert) {
    const uint64_t id = std::uniform_int_distribution<uint64_t>(0, kVectorIds - 1)(rng_);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  const uint32_t version = next_version_++;
  std::vector<float> vectors;
  for (uint64_t id : ids) {
    const std::vector<float> v = VectorOf(id, version);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  const bool ok = engine.vector_indexes().Insert(kTenant, Ns(), ids, vectors, {}).ok();
  for (uint64_t id : ids) {
    VectorHistory& history = vectors_[id];
    if (ok) {
      history.acked = version;
      history.maybe.clear();
    } else {
      history.maybe.push_back(version);
    }
  }
  ++(ok ? tally->acked : tally->refused);
  return ok ? Outcome::kAcked : Outcome::kRefused;
}

void ModelActor::Verify(Engine& engine, Tally* tally) {
  VerifyKeys(engine, tally);
  VerifyVectors(engine, tally);
}

void ModelActor::VerifyKeys(Engine& engine, Tally* tally) {
  for (auto& [key, history] : keys_) {
    ++tally->verified;
    absl::StatusOr<std::optional<std::string>> read = engine.kv().Get(Ns(), key);
    if (!read.ok()) {
      ++tally->lost;
      Problem(tally, absl::StrCat(Ns(), "/", key, ": Get failed: ", read.status().ToString()));
      continue;
    }
    const std::optional<std::string>& seen = *read;
    const bool allowed =
        seen == history.acked ||
        std::find(history.maybe.begin(), history.maybe.end(), seen) != history.maybe.end();
    if (!allowed) {
      const bool written = !seen.has_value() || history.ever.count(*seen) > 0;
      ++(written ? tally->lost : tally->phantom);
      Problem(tally, absl::StrCat(Ns(), "/", key, ": ", written ? "lost" : "phantom", ": read ",
                                  Show(seen), ", last acknowledged ", Show(history.acked)));
    }
    history.acked = seen;
    history.maybe.clear();
  }
  // A BatchPut writes one value to all keys of its group: any difference is a torn batch.
  for (int group = 0; group < kBatchGroups; ++group) {
    std::set<std::optional<std::string>> values;
    for (int i = 0; i < kKeysPerGroup; ++i) {
      auto it = keys_.find(absl::StrCat("g", group, "/", i));
      values.insert(it == keys_.end() ? std::nullopt : it->second.acked);
    }
    if (values.size() > 1) {
      ++tally->torn;
      Problem(tally, absl::StrCat(Ns(), "/g", group, ": the keys of one BatchPut differ"));
    }
  }
}

void ModelActor::VerifyVectors(Engine& engine, Tally* tally) {
  vector::VectorSearchOptions search;
  search.k = 1;
  uint64_t present = 0;
  for (auto& [id, history] : vectors_) {
    ++tally->verified;
    std::vector<uint32_t> allowed = history.maybe;
    if (history.acked.has_value()) allowed.insert(allowed.begin(), *history.acked);
    std::optional<uint32_t> seen;
    for (uint32_t version : allowed) {
      absl::StatusOr<vector::VectorSearchOutcome> found =
          engine.vector_indexes().Search(kTenant, Ns(), VectorOf(id, version), search);
      if (found.ok() && !found->hits.empty() && found->hits[0].id == id &&
          found->hits[0].distance < 1e-4f) {
        seen = version;
        break;
      }
    }
    if (seen.has_value()) {
      ++present;
    } else if (history.acked.has_value()) {
      ++tally->lost;
      Problem(tally, absl::StrCat(Ns(), " vector ", id, ": version ", *history.acked,
                                  " acknowledged, not found"));
    }
    history.acked = seen;
    history.maybe.clear();
  }
  absl::StatusOr<vector::VectorIndexStats> stats = engine.vector_indexes().Stats(kTenant, Ns());
  if (!stats.ok()) {
    ++tally->lost;
    Problem(tally, absl::StrCat(Ns(), " index stats: ", stats.status().ToString()));
  } else if (stats->num_vectors != present) {
    ++tally->phantom;
    Problem(tally, absl::StrCat(Ns(), " index holds ", stats->num_vectors, " vectors; ", present,
                                " accounted for"));
  }
}

}  // namespace sochdb::testing
