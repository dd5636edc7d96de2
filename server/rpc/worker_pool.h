// WorkerPool: a fixed set of threads with a bounded queue, for calls that may block (synced writes,
// index builds, large exports) so they never stall a completion-queue poller. When the queue is
// full TrySubmit refuses the task and the caller answers RESOURCE_EXHAUSTED: overload turns into
// a fast, retryable error instead of an unbounded backlog.
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
  // Starts `threads` (>= 1) workers; at most `max_queued` (>= 1) tasks wait for a worker.
  WorkerPool(size_t threads, size_t max_queued);
  // Drain(), then joins the workers.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (task dropped) when the queue is full or the pool is stopping.
  bool TrySubmit(std::function<void()> task);

  // Refuses new tasks from now on and returns once every queued and running task has finished.
  // Idempotent.
  void Drain();

  size_t threads() const { return workers_.size(); }
  size_t max_queued() const { return max_queued_; }
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_WORKER_POOL_H_
