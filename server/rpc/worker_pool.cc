#include "server/rpc/worker_pool.h"

#include <algorithm>
#include <utility>

namespace sochdb::server {

WorkerPool::WorkerPool(size_t threads, size_t max_queued)
    : max_queued_(max_queued < 1 ? 1 : max_queued) {
  if (threads < 1) threads = 1;
  long_limit_ = threads > 1 ? threads - std::max<size_t>(1, threads / 4) : 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  Drain();
  for (std::thread& worker : workers_) worker.join();
}

void WorkerPool::Drain() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  mu_.Await(absl::Condition(
      +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
        return pool->short_queue_.empty() && pool->long_queue_.empty() && pool->running_ == 0;
      },
      this));
}

bool WorkerPool::TrySubmit(std::function<void()> task, Lane lane) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || short_queue_.size() + long_queue_.size() >= max_queued_) return false;
  (lane == Lane::kLong ? long_queue_ : short_queue_).push_back(std::move(task));
  return true;
}

size_t WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return short_queue_.size() + long_queue_.size();
}

size_t WorkerPool::running_long() const {
  absl::MutexLock lock(&mu_);
  return running_long_;
}

bool WorkerPool::HasWork() const {
  if (!short_queue_.empty()) return true;
  if (!long_queue_.empty()) return running_long_ < long_limit_;
  return stopping_;
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> task;
    bool is_long = false;
    {
      absl::MutexLock lock(&mu_);
      // Drain the queues even when stopping: a queued call must still be answered.
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->HasWork();
          },
          this));
      if (!short_queue_.empty()) {
        task = std::move(short_queue_.front());
        short_queue_.pop_front();
      } else if (!long_queue_.empty()) {
        task = std::move(long_queue_.front());
        long_queue_.pop_front();
        is_long = true;
        ++running_long_;
      } else {
        return;  // stopping, and nothing left
      }
      ++running_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --running_;
    if (is_long) --running_long_;
  }
}

}  // namespace sochdb::server
