// The cached state of one namespace's agent memory (MemoryStore::Space), shared by the store's
// write path (memory_store.cc) and its search (memory_search.cc).
#ifndef SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_
#define SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/memory/memory_records.h"
#include "engine/memory/memory_store.h"
#include "engine/memory/text_index.h"
#include "engine/vector/vector_space.h"

namespace sochdb::memory {

struct MemoryStore::Space {
  // Serialises the namespace's writes: the next id and the counts are rewritten whole by each,
  // and the text index takes them in commit order (taken before vectors_mu).
  absl::Mutex write_mu ABSL_ACQUIRED_BEFORE(vectors_mu);
  internal::Meta meta ABSL_GUARDED_BY(write_mu);
  // DeleteNamespaceData ran: writes must reload the namespace.
  bool dropped ABSL_GUARDED_BY(write_mu) = false;
  // The BM25 and trigram lanes (built from the records by LoadSpace, then updated after each
  // commit) and every episode's t_valid_from, for the lanes' as_of filter. Locks itself.
  internal::EpisodeTextIndex text;

  // The vector lane, from the first embedded episode on; searches take it shared.
  mutable absl::Mutex vectors_mu;
  std::shared_ptr<vector::VectorSpace> vectors ABSL_GUARDED_BY(vectors_mu);

  std::shared_ptr<vector::VectorSpace> Vectors() const {
    absl::ReaderMutexLock lock(&vectors_mu);
    return vectors;
  }
};

}  // namespace sochdb::memory

#endif  // SOCHDB_ENGINE_MEMORY_MEMORY_SPACE_H_
