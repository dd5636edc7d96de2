// The cached state of one namespace's agent memory (MemoryStore::Space), shared by the store's
// write path (memory_store.cc) and its search (memory_search.cc).
#ifndef SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_
#define SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/memory/memory_records.h"
#include "engine/memory/memory_store.h"
#include "engine/text/bm25_index.h"
#include "engine/vector/vector_space.h"

namespace sochdb::memory {

struct MemoryStore::Space {
  // Serialises the namespace's writes: the next id, the counts and the BM25 statistics record
  // are rewritten whole by each (taken before vectors_mu).
  absl::Mutex write_mu ABSL_ACQUIRED_BEFORE(vectors_mu);
  internal::Meta meta ABSL_GUARDED_BY(write_mu);
  // DeleteNamespaceData ran: writes must reload the namespace.
  bool dropped ABSL_GUARDED_BY(write_mu) = false;
  // Opened with the space; searches read it from a snapshot, writers add to the caller's batch.
  std::unique_ptr<text::Bm25Index> bm25;

  // The vector lane, from the first embedded episode on; searches take it shared.
  mutable absl::Mutex vectors_mu;
  std::shared_ptr<vector::VectorSpace> vectors ABSL_GUARDED_BY(vectors_mu);
  // t_valid_from of every embedded episode, for the lane's as_of filter (it sees only ids).
  absl::flat_hash_map<uint64_t, uint64_t> valid_from ABSL_GUARDED_BY(vectors_mu);

  std::shared_ptr<vector::VectorSpace> Vectors() const {
    absl::ReaderMutexLock lock(&vectors_mu);
    return vectors;
  }
};

}  // namespace sochdb::memory

#endif  // SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_
