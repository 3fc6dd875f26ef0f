#include "eqaug/core/thread_pool.hpp"

#include <sched.h>

#include <algorithm>

namespace eqaug {

ThreadPool::ThreadPool(std::size_t threads) {
  const std::size_t extra = threads > 1 ? threads - 1 : 0;
  try {
    for (std::size_t i = 0; i < extra; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
  } catch (...) {
    shutdown();  // join the workers already started, or their destructors terminate
    throw;
  }
}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

std::size_t ThreadPool::available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::drain(std::size_t worker) {
  for (;;) {
    std::size_t item;
    {
      std::lock_guard lock(mutex_);
      if (next_item_ >= n_items_ || error_) return;
      item = next_item_++;
    }
    try {
      (*job_)(item, worker);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::worker_loop(std::size_t id) {
  std::size_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_;
    }
    drain(id);
    {
      std::lock_guard lock(mutex_);
      --active_;
    }
    done_cv_.notify_all();
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& f) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (std::size_t i = 0; i < n; ++i) f(i, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &f;
    n_items_ = n;
    next_item_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  start_cv_.notify_all();
  drain(0);
  std::exception_ptr err;
  {
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return active_ == 0 && (next_item_ >= n_items_ || error_); });
    // Workers that have not woken yet must not pick up a stale job.
    n_items_ = 0;
    job_ = nullptr;
    err = error_;
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace eqaug
