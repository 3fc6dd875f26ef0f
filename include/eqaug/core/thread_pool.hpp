#pragma once
// A fixed pool of workers for data-parallel loops. parallel_for(n, f) calls
// f(item, worker) for item in [0, n), each item exactly once, worker in [0, size()).
// Callers make results independent of scheduling by writing per-item outputs and
// reducing them in item order.
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eqaug {

class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const { return workers_.size() + 1; }  // the caller works too
  void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& f);

  /// Cores this process may run on (its CPU affinity), at least 1.
  static std::size_t available_cores();

 private:
  void worker_loop(std::size_t id);
  void shutdown();
  void drain(std::size_t worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(std::size_t, std::size_t)>* job_ = nullptr;
  std::size_t n_items_ = 0, next_item_ = 0, active_ = 0, generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace eqaug
