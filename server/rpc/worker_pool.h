// WorkerPool: a fixed set of threads with a bounded queue, for calls that may block (synced writes,
// index builds, large exports) so they never stall a completion-queue poller. When the queue is
// full TrySubmit refuses the task and the caller answers RESOURCE_EXHAUSTED: overload turns into
// a fast, retryable error instead of an unbounded backlog.
//
// Two lanes. Long work (searches of many queries, batches, builds, scans: seconds each) may hold
// at most long_limit() workers at once; the rest are kept for short work (a synced KV write),
// which also runs first whenever a worker frees. Before the lanes, a few heavy searches filled
// every worker and a KV Put waited up to 16 s behind them.
#ifndef SOCHDB_SERVER_RPC_WORKER_POOL_H_
#define SOCHDB_SERVER_RPC_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sochdb::server {

class WorkerPool {
 public:
  enum class Lane { kShort, kLong };

  // Starts `threads` (>= 1) workers; at most `max_queued` (>= 1) tasks, of both lanes, wait for
  // a worker. Long tasks run on at most threads - max(1, threads / 4) workers (all of one).
  WorkerPool(size_t threads, size_t max_queued);
  // Drain(), then joins the workers.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (task dropped) when the queue is full or the pool is stopping.
  bool TrySubmit(std::function<void()> task, Lane lane = Lane::kShort);

  // Refuses new tasks from now on and returns once every queued and running task has finished.
  // Idempotent.
  void Drain();

  size_t threads() const { return workers_.size(); }
  size_t long_limit() const { return long_limit_; }
  size_t max_queued() const { return max_queued_; }
  size_t queued() const;
  // Long tasks running now.
  size_t running_long() const;

 private:
  void Run();
  // A worker has something to do: a short task, a long one with room in the long lane, or, when
  // stopping, nothing left to run.
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  size_t long_limit_ = 1;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> short_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> long_queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  size_t running_long_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_WORKER_POOL_H_
