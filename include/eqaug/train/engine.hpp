#pragma once
// Full-batch risk and gradient over many (parameters, pass) jobs at once. The work is
// cut into items (job × chunk of samples); each item writes its own gradient buffer and
// buffers are added in item order — so the result is the same for every thread count.
// Small models run items in parallel, one per thread, with a single-threaded BLAS, and add
// the per-item gradients in double. Large ones (a gradient of more than 128 MB, where a
// buffer per thread would multiply the memory of the parameters) run one item at a time
// with a multi-threaded BLAS, whose products are split over output blocks, never over the
// summed dimension, so the bits do not change either; there the chunks of a job are summed
// by the GEMMs in the working precision and added in double once per job. Which path a
// model takes depends on its size only.
//
// With a CUDA device (Device, chosen here and nowhere else) the same jobs run on the GPU
// (backend/cuda.hpp): dense layers only, the whole pass per chunk where it fits.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "eqaug/backend/cuda.hpp"
#include "eqaug/backend/device.hpp"

#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {

/// Thrown by GradientEngine::run between items once the stop flag holds a signal number.
struct StopRequested {
  int signal;
};

template <typename T>
class GradientEngine {
 public:
  /// `input_shift` is added to every input (the paper's −0.5); `chunk` is the number of
  /// samples per GEMM.
  GradientEngine(const ModelSpec& spec, const Dataset& data, double input_shift, std::size_t chunk, ThreadPool& pool,
                 EquiEval equi_eval = EquiEval::Structured, const Device& device = {});
  ~GradientEngine();

  struct Job {
    const T* params = nullptr;
    const Pass* pass = nullptr;
    bool grad = false;
    std::size_t group = 0;  // results of jobs with the same group are summed
    // params are E coordinates (ModelSpec::to_coords layout) and the layers are evaluated
    // through E's structure; the gradient is then w.r.t. those coordinates.
    bool equi = false;
    // With grad: the job yields H·direction instead of the gradient, H the Hessian of the
    // summed loss (Network::hvp; dense parameters, CPU only).
    const T* direction = nullptr;
    // With direction: optional states, one per chunk (chunks()), kept between products at
    // the same params and pass (Network::hvp). Jobs of one run() that share states must
    // find them ready.
    HvpState<T>* hvp_states = nullptr;
    // Return the network's outputs on the pass's samples (GroupResult::outputs; without
    // grad, one such job per group; CPU only).
    bool outputs = false;
  };
  struct GroupResult {
    std::vector<double> grad;  // Σ of per-sample loss gradients (empty without grad jobs)
    // With an `outputs` job: the network's outputs for every sample of its pass, sample by
    // sample (samples × output features), in double (empty otherwise).
    std::vector<double> outputs;
    ChunkStats stats;         // Σ over samples and passes
    std::size_t samples = 0;  // samples × passes summed
  };

  std::vector<GroupResult> run(const std::vector<Job>& jobs, std::size_t groups);

  /// Hands the gradient of an earlier result back for the next run() to fill: a
  /// 40 M-parameter model's gradient is 326 MB, and fresh memory costs page faults at
  /// every step.
  void recycle(std::vector<double>&& buffer);
  /// The engine's workers, for the trainer's loops over all parameters between runs.
  ThreadPool& pool() const { return *pool_; }

  const Dataset& data() const { return *data_; }
  /// The chunks a pass over the data is cut into, and the samples of chunk c.
  std::size_t chunks() const { return (data_->size + chunk_ - 1) / chunk_; }
  std::size_t chunk_samples(std::size_t c) const { return std::min(chunk_, data_->size - c * chunk_); }
  const ModelSpec& spec() const { return net_.spec(); }
  const Network<T>& network() const { return net_; }
  const Network<T>& equi_network() const { return equi_net_; }
  const Device& device() const { return device_; }
  /// The GPU engine (benchmarks); null on the CPU.
  cuda::DenseEngine<T>* gpu() const { return gpu_.get(); }
  /// Gradient bytes above which a job's items run one at a time (multi-threaded BLAS).
  void set_sequential_threshold(std::size_t bytes) { sequential_bytes_ = bytes; }
  /// Checked between items: a nonzero value (a signal number) abandons run() with
  /// StopRequested, leaving the engine usable.
  void set_stop_flag(const std::atomic<int>* stop) { stop_ = stop; }

 private:
  /// One run() on the CPU: its jobs cut into items (a job's chunk), their statistics and
  /// the results they add up to.
  struct Item {
    std::size_t job, chunk;
  };
  struct Work {
    const std::vector<Job>& jobs;
    std::vector<Item> items;
    std::vector<ChunkStats> stats;  // per item
    std::vector<GroupResult> out;
  };
  /// Checks the jobs and sizes the results' gradients and outputs.
  Work prepare(const std::vector<Job>& jobs, std::size_t groups);
  std::size_t params_of(const Job& j) const { return j.equi ? equi_net_.num_params() : net_.num_params(); }
  /// Whether an item runs alone, every core inside its BLAS calls (a large gradient).
  bool sequential(const Work& w, const Item& it) const;
  /// Evaluates item `index` on `worker`'s workspace, its gradient into item_grads_[slot]
  /// (written, or added with `accumulate`), its outputs into the result.
  void evaluate(Work& w, std::size_t index, std::size_t slot, std::size_t worker, bool accumulate);
  /// The items of the job starting at item i, one at a time, every core in BLAS; returns
  /// the item after them.
  std::size_t run_sequential(Work& w, std::size_t i);
  /// A wave of consecutive parallel items from i, bounded in buffer memory; returns the
  /// item after it.
  std::size_t run_wave(Work& w, std::size_t i);
  /// Adds item_grads_[0 …) of items [i0, i1) to their groups' gradients in item order,
  /// split over parameter blocks.
  void reduce(Work& w, std::size_t i0, std::size_t i1);
  void check_stop() const;
  void load_chunk(const Pass& pass, std::size_t first, std::size_t count, Workspace<T>& ws) const;
  std::vector<GroupResult> run_on_gpu(const std::vector<Job>& jobs, std::size_t groups);
  std::vector<double> take_buffer(std::size_t size);  // a recycled buffer, resized (contents unspecified)

  Network<T> net_, equi_net_;
  const Dataset* data_;
  std::vector<T> x_, y_;
  std::size_t chunk_;
  ThreadPool* pool_;
  std::vector<Workspace<T>> workspaces_;
  std::vector<std::vector<T>> item_grads_;
  std::size_t sequential_bytes_;
  const std::atomic<int>* stop_ = nullptr;
  Device device_;
  std::unique_ptr<cuda::DenseEngine<T>> gpu_;
  std::vector<std::vector<double>> spare_;
};

}  // namespace eqaug
