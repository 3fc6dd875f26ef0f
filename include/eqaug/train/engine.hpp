#pragma once
// Full-batch risk and gradient over many (parameters, pass) jobs at once. The work is
// cut into items (job × chunk of samples); items run in parallel, each writing its own
// gradient buffer, and buffers are added in item order — so the result is the same
// for every thread count.
#include <cstddef>
#include <vector>

#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {

template <typename T>
class GradientEngine {
public:
  /// `input_shift` is added to every input (the paper's −0.5); `chunk` is the number of
  /// samples per GEMM.
  GradientEngine(const ModelSpec& spec, const Dataset& data, double input_shift, std::size_t chunk,
                 ThreadPool& pool);

  struct Job {
    const T* params = nullptr;
    const Pass* pass = nullptr;
    bool grad = false;
    std::size_t group = 0;  // results of jobs with the same group are summed
  };
  struct GroupResult {
    std::vector<double> grad;  // Σ of per-sample loss gradients (empty without grad jobs)
    ChunkStats stats;          // Σ over samples and passes
    std::size_t samples = 0;   // samples × passes summed
  };

  std::vector<GroupResult> run(const std::vector<Job>& jobs, std::size_t groups);

  const Dataset& data() const { return *data_; }
  const ModelSpec& spec() const { return net_.spec(); }

private:
  void load_chunk(const Pass& pass, std::size_t first, std::size_t count, Workspace<T>& ws) const;

  Network<T> net_;
  const Dataset* data_;
  std::vector<T> x_, y_;
  std::size_t chunk_;
  ThreadPool* pool_;
  std::vector<Workspace<T>> workspaces_;
  std::vector<std::vector<T>> item_grads_;
};

}  // namespace eqaug
