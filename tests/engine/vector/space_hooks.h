// SpaceHooks: a VectorSpaceObserver made of functions, so that a test sets only the steps it
// needs (`hooks.in_index_chunk = [&](size_t) {...}`). An unset step does nothing. Set the
// functions while no write or snapshot runs; they are read each time a step is reached.
#ifndef SOCHDB_TESTS_ENGINE_VECTOR_SPACE_HOOKS_H_
#define SOCHDB_TESTS_ENGINE_VECTOR_SPACE_HOOKS_H_

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "engine/vector/vector_space_observer.h"

namespace sochdb::vector {

struct SpaceHooks final : VectorSpaceObserver {
  std::function<void()> before_commit;
  std::function<absl::Status()> before_index_apply;
  std::function<void(size_t)> in_index_chunk;
  std::function<void()> in_snapshot_read;
  std::function<void()> between_snapshot_pieces;

  void BeforeCommit() override {
    if (before_commit) before_commit();
  }
  absl::Status BeforeIndexApply() override {
    return before_index_apply ? before_index_apply() : absl::OkStatus();
  }
  void InIndexChunk(size_t vectors) override {
    if (in_index_chunk) in_index_chunk(vectors);
  }
  void InSnapshotRead() override {
    if (in_snapshot_read) in_snapshot_read();
  }
  void BetweenSnapshotPieces() override {
    if (between_snapshot_pieces) between_snapshot_pieces();
  }
};

}  // namespace sochdb::vector

#endif  // SOCHDB_TESTS_ENGINE_VECTOR_SPACE_HOOKS_H_
