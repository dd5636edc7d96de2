// VectorSpaceObserver: the seam through which a caller sees a VectorSpace at chosen steps of its
// writes and snapshots, and may hold it there. Tests pass one (through VectorSpace::Open,
// VectorIndexStore::Open or Engine::Open) to line up a race at a known point instead of sleeping
// until it probably happened; the server passes none, and every step is then a no-op. Each
// method runs on the thread doing the work, at the point named, holding the locks named: an
// observer that blocks holds the work (and those locks) there.
#ifndef SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_OBSERVER_H_
#define SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_OBSERVER_H_

#include <cstddef>

#include "absl/status/status.h"

namespace sochdb::vector {

class VectorSpaceObserver {
 public:
  virtual ~VectorSpaceObserver() = default;

  // At the start of every write (Upsert, Delete, Apply), before it takes the space's write lock.
  virtual void BeforeCommit() {}
  // After a write is committed, before the in-memory index is updated, holding the index lock.
  // An error stands for the update failing (FAISS throwing, memory running out).
  virtual absl::Status BeforeIndexApply() { return absl::OkStatus(); }
  // With the index lock held as each chunk of a write's upserts goes into the in-memory index,
  // with the chunk's number of vectors.
  virtual void InIndexChunk(size_t vectors) {}
  // While a snapshot reads the index (holding it in reader mode), before it encodes it.
  virtual void InSnapshotRead() {}
  // With no lock held, before each piece of a snapshot's vectors is copied.
  virtual void BetweenSnapshotPieces() {}

  // The observer that does nothing: what a space without one uses.
  static VectorSpaceObserver* None() {
    static VectorSpaceObserver none;
    return &none;
  }
};

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_VECTOR_SPACE_OBSERVER_H_
