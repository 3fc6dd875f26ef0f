#pragma once
// The CUDA backend of GradientEngine: the same dense computation
// as the CPU ops — gathers of the augmentation passes, linear layers as cuBLAS GEMMs on
// row-major batch × features blocks, point-wise layers, layer norm and losses as kernels —
// over data kept on the device for the whole sweep. Only the parameters (once per job
// list) and the per-pass permutation tables travel to the device; the summed gradient
// and per-sample losses travel back.
//
// Reproducible by construction: one stream, no atomics, cuBLAS in its default
// (deterministic) atomics mode, per-sample losses summed on the host in sample order,
// job gradients added into a float64 accumulator in job order. Same inputs and the same
// GPU model give the same bits.
//
// This header is plain C++ (no CUDA headers), so that the rest of eqaug is compiled by
// the host compiler alone: src/backend/cuda/dense_engine.cu is compiled by nvcc when the
// build has CUDA (EQAUG_HAVE_CUDA); otherwise src/backend/no_cuda.cpp defines the same
// functions to report that this build has no CUDA.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eqaug/nn/layer_kind.hpp"

namespace eqaug::cuda {

struct LayerDesc {
  LayerKind kind = LayerKind::Linear;
  std::size_t in_dim = 0, out_dim = 0;
  std::size_t channels = 0, sites = 0;  // of the layer's input (point-wise layers, layer norm)
  std::size_t offset = 0;               // Linear: where its out × in weights start in A
  LayerParams params;
};

struct ModelDesc {
  std::vector<LayerDesc> layers;
  std::size_t num_params = 0;
  std::size_t in_channels = 0, in_sites = 0;    // the data's input space
  std::size_t tgt_channels = 0, tgt_sites = 0;  // the data's target space (= the model's output)
  LossKind loss = LossKind::BCE;
};

/// A pass (train/strategy.hpp) by pointer: site tables (empty: the identity) and, per
/// sample, its entry of the table (empty: one entry for every sample).
struct PassView {
  const std::uint32_t* in_sites = nullptr;
  std::size_t in_len = 0;
  const std::uint32_t* tgt_sites = nullptr;
  std::size_t tgt_len = 0;
  const std::uint32_t* element_of = nullptr;
  std::size_t elem_len = 0;
};

struct JobView {
  const void* params = nullptr;  // host, T[num_params]
  PassView pass;
  bool grad = false;
  std::size_t group = 0;
};

/// Copies `bytes` from src to dst (host memory): the engine's pinned transfer buffers are
/// filled and emptied with it, so that a caller with threads can copy in parallel.
using Copier = std::function<void(void* dst, const void* src, std::size_t bytes)>;

struct Stats {
  double loss_sum = 0, correct = 0, predictions = 0;
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  std::size_t memory_bytes = 0;
  int driver_version = 0;   // CUDA version the driver supports (cudaDriverGetVersion), e.g. 13000
  int runtime_version = 0;  // cudaRuntimeGetVersion
  int cublas_version = 0;   // cublasGetVersion, e.g. 130100
};

/// Number of CUDA devices; 0 when there is none or no driver (`why` says which).
int device_count(std::string* why = nullptr);
DeviceInfo device_info(int index);

template <typename T>
class DenseEngine {
 public:
  /// x: samples × in_channels·in_sites, y: samples × tgt_channels·tgt_sites (host; copied
  /// to the device once). Throws eqaug::Error naming the device and the CUDA error when
  /// the device is missing or its memory too small.
  DenseEngine(const ModelDesc& model, const T* x, const T* y, std::size_t samples, int device, bool tf32);
  ~DenseEngine();
  DenseEngine(const DenseEngine&) = delete;
  DenseEngine& operator=(const DenseEngine&) = delete;

  void set_copier(Copier copier);

  /// Samples per chunk: the whole data set where its activations fit in 8 GiB (a rule of
  /// the model and data only, so that the bits do not depend on the free memory).
  std::size_t chunk() const;

  /// Runs the jobs; grads[g] (host, num_params doubles, or null for groups without
  /// gradient jobs) is overwritten with the sum over the group's gradient jobs of the
  /// summed-loss gradient; stats[j] gets job j's loss statistics.
  void run(const JobView* jobs, std::size_t count, std::size_t groups, double* const* grads, Stats* stats);

  /// Benchmarks (device time only, CUDA events, after one untimed warm-up): seconds of one
  /// full gradient pass over all samples at `params`, and of the bare GEMMs of that pass
  /// (the same shapes and order, nothing else).
  double time_pass(const T* params, int reps);
  double time_gemms(int reps);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eqaug::cuda
