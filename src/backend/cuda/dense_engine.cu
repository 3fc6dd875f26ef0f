// CUDA implementation of cuda::DenseEngine (see eqaug/backend/cuda.hpp). Reads top to bottom:
// error checks, kernels (each the device twin of a function in nn/ops.cpp), then the
// engine that strings them together.
#include "eqaug/backend/cuda.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "eqaug/core/error.hpp"
#include "eqaug/nn/site_ops.hpp"

namespace eqaug::cuda {

namespace {

[[noreturn]] void fail(const char* what, const char* detail, const char* file, int line) {
  std::ostringstream s;
  s << "CUDA: " << what << " failed: " << detail << " (" << file << ":" << line << ")";
  throw RuntimeFailure(s.str());
}

#define EQAUG_CUDA(call)                                                                           \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) ::eqaug::cuda::fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
  } while (0)
#define EQAUG_CUBLAS(call)                                                                                      \
  do {                                                                                                          \
    cublasStatus_t s_ = (call);                                                                                 \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::eqaug::cuda::fail(#call, cublasGetStatusString(s_), __FILE__, __LINE__); \
  } while (0)
#define EQAUG_LAUNCHED() EQAUG_CUDA(cudaGetLastError())

constexpr int kThreads = 256;
unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(std::max<std::size_t>(1, (n + kThreads - 1) / kThreads));
}

// ---- kernels ---------------------------------------------------------------------------

/// dst[b, c, π_b(s)] = src[first + b, c, s]; table null: a copy. π_b is entry
/// element_of[first + b] of the table (entry 0 when element_of is null).
template <typename T>
__global__ void gather(const T* __restrict__ src, T* __restrict__ dst, std::size_t first, std::size_t count,
                       std::size_t C, std::size_t S, const std::uint32_t* __restrict__ table,
                       const std::uint32_t* __restrict__ element_of) {
  const std::size_t D = C * S;
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i >= count * D) return;
  const std::size_t b = i / D, r = i % D, c = r / S, s = r % S;
  const T v = src[(first + b) * D + r];
  if (!table) {
    dst[i] = v;
    return;
  }
  const std::uint32_t* p = table + (element_of ? std::size_t{element_of[first + b]} * S : 0);
  dst[b * D + c * S + p[s]] = v;
}

template <typename T>
__global__ void leaky_relu_forward(const T* x, T* y, std::size_t n, T slope) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = site::leaky_relu(x[i], slope);
}
template <typename T>
__global__ void leaky_relu_backward(const T* y, const T* gy, T* gx, std::size_t n, T slope) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) gx[i] = site::leaky_relu_grad(y[i], gy[i], slope);
}
template <typename T>
__global__ void sigmoid_forward(const T* x, T* y, std::size_t n) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = site::sigmoid(x[i]);
}
template <typename T>
__global__ void sigmoid_backward(const T* y, const T* gy, T* gx, std::size_t n) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) gx[i] = site::sigmoid_grad(y[i], gy[i]);
}
template <typename T>
__global__ void tanh_forward(const T* x, T* y, std::size_t n) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = site::tanh_act(x[i]);
}
template <typename T>
__global__ void tanh_backward(const T* y, const T* gy, T* gx, std::size_t n) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) gx[i] = site::tanh_grad(y[i], gy[i]);
}

/// One thread per (sample, site): normalise across the C channels, in double, by the CPU's
/// arithmetic (nn/site_ops.hpp).
template <typename T>
__global__ void layer_norm_forward(const T* x, T* y, std::size_t batch, std::size_t C, std::size_t S, double eps) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i >= batch * S) return;
  const std::size_t at = (i / S) * C * S + i % S;
  site::layer_norm_forward(x + at, y + at, C, S, eps);
}

template <typename T>
__global__ void layer_norm_backward(const T* x, const T* y, const T* gy, T* gx, std::size_t batch, std::size_t C,
                                    std::size_t S, double eps) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i >= batch * S) return;
  const std::size_t at = (i / S) * C * S + i % S;
  site::layer_norm_backward(x + at, y + at, gy + at, gx + at, C, S, eps);
}

/// One thread per sample: its loss and correct count (summed on the host in sample order)
/// and, when gp is set, d(loss)/dp. PyTorch's BCE conventions, as ops::bce_loss.
template <typename T>
__global__ void bce_loss(const T* p, const T* y, std::size_t batch, std::size_t C, std::size_t S, T* gp, double* loss,
                         double* correct) {
  const std::size_t b = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (b >= batch) return;
  const double inv_s = 1.0 / static_cast<double>(S);
  double l = 0.0, ok = 0.0;
  for (std::size_t k = b * C * S; k < (b + 1) * C * S; ++k) {
    const site::BceTerm t = site::bce(p[k], y[k], inv_s, gp ? gp + k : nullptr);
    l += t.loss;
    ok += t.correct ? 1.0 : 0.0;
  }
  loss[b] = l;
  correct[b] = ok;
}

/// Softmax cross-entropy from the logits across the channels at each site, as
/// ops::softmax_cross_entropy.
template <typename T>
__global__ void softmax_cross_entropy(const T* z, const T* y, std::size_t batch, std::size_t C, std::size_t S, T* gz,
                                      double* loss, double* correct) {
  const std::size_t b = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (b >= batch) return;
  const double inv_s = 1.0 / static_cast<double>(S);
  double total = 0.0, ok = 0.0;
  for (std::size_t s = 0; s < S; ++s) {
    const std::size_t at = b * C * S + s;
    const auto r = site::softmax_cross_entropy(z + at, y + at, C, S, inv_s, gz ? gz + at : nullptr);
    total += r.loss * inv_s;
    ok += r.correct ? 1.0 : 0.0;
  }
  loss[b] = total;
  correct[b] = ok;
}

/// acc[i] += g[i] in double: a job's gradient added to its group's sum.
template <typename T>
__global__ void accumulate(double* acc, const T* g, std::size_t n) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i < n) acc[i] += static_cast<double>(g[i]);
}

// ---- cuBLAS on row-major blocks ----------------------------------------------------------

/// Row-major C (m × n) = alpha op(A) op(B) + beta C, as cuBLAS's column-major
/// Cᵀ = op(B)ᵀ op(A)ᵀ.
template <typename T>
void gemm(cublasHandle_t h, bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  const auto opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  const int la = static_cast<int>(lda), lb = static_cast<int>(ldb), lc = static_cast<int>(ldc);
  if constexpr (sizeof(T) == 4)
    EQAUG_CUBLAS(cublasSgemm(h, opb, opa, N, M, K, &alpha, b, lb, a, la, &beta, c, lc));
  else
    EQAUG_CUBLAS(cublasDgemm(h, opb, opa, N, M, K, &alpha, b, lb, a, la, &beta, c, lc));
}

template <typename T>
T* device_alloc(std::size_t count, const char* what, int device) {
  if (count == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, count * sizeof(T));
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it
    std::size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    std::ostringstream s;
    s << "GPU " << device << ": cannot allocate " << what << " (" << count * sizeof(T) / 1e9 << " GB; " << free / 1e9
      << " GB of " << total / 1e9 << " GB free): " << cudaGetErrorString(e);
    throw RuntimeFailure(s.str());
  }
  return static_cast<T*>(p);
}

}  // namespace

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

DeviceInfo device_info(int index) {
  DeviceInfo d;
  d.index = index;
  cudaDeviceProp p{};
  EQAUG_CUDA(cudaGetDeviceProperties(&p, index));
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  d.memory_bytes = p.totalGlobalMem;
  EQAUG_CUDA(cudaDriverGetVersion(&d.driver_version));
  EQAUG_CUDA(cudaRuntimeGetVersion(&d.runtime_version));
  EQAUG_CUDA(cudaSetDevice(index));
  cublasHandle_t h;
  EQAUG_CUBLAS(cublasCreate(&h));
  cublasGetVersion(h, &d.cublas_version);
  cublasDestroy(h);
  return d;
}

template <typename T>
struct DenseEngine<T>::Impl {
  ModelDesc m;
  int device = 0;
  std::size_t n = 0, chunk = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cudaEvent_t ev0 = nullptr, ev1 = nullptr;
  T *x = nullptr, *y = nullptr;          // the data, resident
  T *params = nullptr, *grad = nullptr;  // one job's parameters and gradient
  std::vector<double*> acc;              // per group, its gradient sum
  std::vector<T*> act;                   // act[0] input, act[i + 1] output of layer i
  T *ga = nullptr, *gb = nullptr, *target = nullptr;
  std::uint32_t *in_sites = nullptr, *tgt_sites = nullptr, *element_of = nullptr;
  std::size_t in_cap = 0, tgt_cap = 0, elem_cap = 0;
  double *loss = nullptr, *correct = nullptr;  // per sample of the job in flight
  double* host_stats = nullptr;                // pinned: 2 n doubles per job
  std::size_t host_stats_jobs = 0;
  // Pinned copies of a job list's pass tables: uploads from pageable memory would make the
  // host wait for the stream to drain before each job; from here they are asynchronous.
  std::uint32_t* staging = nullptr;
  std::size_t staging_len = 0;
  T* pinned_params = nullptr;
  std::vector<double*> pinned_grads;  // per group
  Copier copier = [](void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); };
  std::vector<void*> owned;

  template <typename U>
  U* alloc(std::size_t count, const char* what) {
    U* p = device_alloc<U>(count, what, device);
    if (p) owned.push_back(p);
    return p;
  }
  ~Impl() {
    if (device >= 0) cudaSetDevice(device);
    if (stream) cudaStreamSynchronize(stream);
    for (void* p : owned) cudaFree(p);
    if (host_stats) cudaFreeHost(host_stats);
    if (staging) cudaFreeHost(staging);
    if (pinned_params) cudaFreeHost(pinned_params);
    for (double* p : pinned_grads)
      if (p) cudaFreeHost(p);
    if (ev0) cudaEventDestroy(ev0);
    if (ev1) cudaEventDestroy(ev1);
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }

  std::size_t out_dim() const { return m.tgt_channels * m.tgt_sites; }
  std::size_t in_dim() const { return m.in_channels * m.in_sites; }

  void upload_table(const std::uint32_t* src, std::size_t len, std::uint32_t*& dst, std::size_t& cap,
                    const char* what) {
    if (len > cap) {
      if (dst) {
        cudaFree(dst);
        owned.erase(std::find(owned.begin(), owned.end(), static_cast<void*>(dst)));
      }
      dst = alloc<std::uint32_t>(len, what);
      cap = len;
    }
    if (len) EQAUG_CUDA(cudaMemcpyAsync(dst, src, len * sizeof(std::uint32_t), cudaMemcpyHostToDevice, stream));
  }

  void check_pass(const PassView& p) const {
    auto check = [&](std::size_t len, std::size_t S, const char* which) {
      if (len == 0) return;
      EQAUG_CHECK(len % S == 0, std::string("pass ") + which + " table does not match the data");
      const std::size_t entries = len / S;
      if (!p.element_of) {
        EQAUG_CHECK(entries == 1, "pass without element_of has more than one permutation");
        return;
      }
      EQAUG_CHECK(p.elem_len == n, "pass element_of does not cover the data");
      for (std::size_t i = 0; i < n; ++i) EQAUG_CHECK(p.element_of[i] < entries, "pass table too short");
    };
    check(p.in_len, m.in_sites, "input");
    check(p.tgt_len, m.tgt_sites, "target");
  }

  /// Queues one job (all its chunks) on the stream: gathers, forward, loss, backward, and
  /// the gradient added to acc[group]. Per-sample losses land in loss/correct.
  void enqueue(const PassView& pass, bool want_grad, double* group_acc) {
    const bool in_perm = pass.in_len > 0, tgt_perm = pass.tgt_len > 0;
    if (in_perm) upload_table(pass.in_sites, pass.in_len, in_sites, in_cap, "input site table");
    if (tgt_perm) upload_table(pass.tgt_sites, pass.tgt_len, tgt_sites, tgt_cap, "target site table");
    const bool per_sample = pass.element_of != nullptr && (in_perm || tgt_perm);
    if (per_sample) upload_table(pass.element_of, pass.elem_len, element_of, elem_cap, "element table");
    for (std::size_t first = 0; first < n; first += chunk) {
      const std::size_t count = std::min(chunk, n - first);
      gather<T><<<blocks_for(count * in_dim()), kThreads, 0, stream>>>(x, act[0], first, count, m.in_channels,
                                                                       m.in_sites, in_perm ? in_sites : nullptr,
                                                                       per_sample ? element_of : nullptr);
      EQAUG_LAUNCHED();
      gather<T><<<blocks_for(count * out_dim()), kThreads, 0, stream>>>(y, target, first, count, m.tgt_channels,
                                                                        m.tgt_sites, tgt_perm ? tgt_sites : nullptr,
                                                                        per_sample ? element_of : nullptr);
      EQAUG_LAUNCHED();
      forward(count);
      T* gy = want_grad ? ga : nullptr;
      const T* out = act.back();
      if (m.loss == LossKind::CrossEntropy)
        softmax_cross_entropy<T><<<blocks_for(count), kThreads, 0, stream>>>(
            out, target, count, m.tgt_channels, m.tgt_sites, gy, loss + first, correct + first);
      else
        bce_loss<T><<<blocks_for(count), kThreads, 0, stream>>>(out, target, count, m.tgt_channels, m.tgt_sites, gy,
                                                                loss + first, correct + first);
      EQAUG_LAUNCHED();
      if (want_grad) backward(count, first > 0);
    }
    if (want_grad) {
      accumulate<T><<<blocks_for(m.num_params), kThreads, 0, stream>>>(group_acc, grad, m.num_params);
      EQAUG_LAUNCHED();
    }
  }

  void forward(std::size_t batch) {
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const LayerDesc& l = m.layers[i];
      const T* xi = act[i];
      T* yi = act[i + 1];
      const std::size_t len = batch * l.in_dim;
      switch (l.kind) {
        case LayerKind::Linear:
          gemm<T>(blas, false, true, batch, l.out_dim, l.in_dim, T(1), xi, l.in_dim, params + l.offset, l.in_dim, T(0),
                  yi, l.out_dim);
          continue;
        case LayerKind::LeakyReLU:
          leaky_relu_forward<T><<<blocks_for(len), kThreads, 0, stream>>>(xi, yi, len, static_cast<T>(l.params.slope));
          break;
        case LayerKind::LayerNorm:
          layer_norm_forward<T>
              <<<blocks_for(batch * l.sites), kThreads, 0, stream>>>(xi, yi, batch, l.channels, l.sites, l.params.eps);
          break;
        case LayerKind::Sigmoid:
          sigmoid_forward<T><<<blocks_for(len), kThreads, 0, stream>>>(xi, yi, len);
          break;
        case LayerKind::Tanh:
          tanh_forward<T><<<blocks_for(len), kThreads, 0, stream>>>(xi, yi, len);
          break;
        default:  // refused before the engine is built (LayerType::on_gpu)
          throw RuntimeFailure("CUDA: no kernels for layer kind " + std::to_string(static_cast<int>(l.kind)));
      }
      EQAUG_LAUNCHED();
    }
  }

  /// Backward from the loss gradient in ga; weight gradients written (first chunk) or
  /// added (later chunks, beta = 1 in the GEMM) into grad, as the CPU's sequential path.
  void backward(std::size_t batch, bool accumulate_grad) {
    T *gy = ga, *gx = gb;
    for (std::size_t i = m.layers.size(); i-- > 0;) {
      const LayerDesc& l = m.layers[i];
      const T* xi = act[i];
      const T* yi = act[i + 1];
      const bool need_gx = i > 0;
      const std::size_t len = batch * l.in_dim;
      switch (l.kind) {
        case LayerKind::Linear:
          gemm<T>(blas, true, false, l.out_dim, l.in_dim, batch, T(1), gy, l.out_dim, xi, l.in_dim,
                  accumulate_grad ? T(1) : T(0), grad + l.offset, l.in_dim);
          if (need_gx)
            gemm<T>(blas, false, false, batch, l.in_dim, l.out_dim, T(1), gy, l.out_dim, params + l.offset, l.in_dim,
                    T(0), gx, l.in_dim);
          break;
        case LayerKind::LeakyReLU:
          if (need_gx)
            leaky_relu_backward<T><<<blocks_for(len), kThreads, 0, stream>>>(yi, gy, gx, len, static_cast<T>(l.params.slope));
          break;
        case LayerKind::LayerNorm:
          if (need_gx)
            layer_norm_backward<T><<<blocks_for(batch * l.sites), kThreads, 0, stream>>>(xi, yi, gy, gx, batch,
                                                                                         l.channels, l.sites, l.params.eps);
          break;
        case LayerKind::Sigmoid:
          if (need_gx) sigmoid_backward<T><<<blocks_for(len), kThreads, 0, stream>>>(yi, gy, gx, len);
          break;
        case LayerKind::Tanh:
          if (need_gx) tanh_backward<T><<<blocks_for(len), kThreads, 0, stream>>>(yi, gy, gx, len);
          break;
        default:
          throw RuntimeFailure("CUDA: no kernels for layer kind " + std::to_string(static_cast<int>(l.kind)));
      }
      EQAUG_LAUNCHED();
      if (!need_gx) break;
      std::swap(gy, gx);
    }
  }
};

template <typename T>
DenseEngine<T>::DenseEngine(const ModelDesc& model, const T* x, const T* y, std::size_t samples, int device, bool tf32)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.m = model;
  d.n = samples;
  d.device = device;
  std::string why;
  const int count = device_count(&why);
  if (count == 0) throw Error("--device cuda:" + std::to_string(device) + ": no CUDA device available (" + why + ")");
  if (device < 0 || device >= count)
    throw Error("--device cuda:" + std::to_string(device) + ": no such GPU (this machine has " + std::to_string(count) +
                ", numbered 0 to " + std::to_string(count - 1) + ")");
  EQAUG_CUDA(cudaSetDevice(device));
  EQAUG_CUDA(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  EQAUG_CUBLAS(cublasCreate(&d.blas));
  EQAUG_CUBLAS(cublasSetStream(d.blas, d.stream));
  // No TF32 unless asked: its 10-bit mantissa is too coarse for distances of 1e-6 to E.
  // Atomics stay disallowed (the default), which keeps every cuBLAS result reproducible.
  EQAUG_CUBLAS(cublasSetMathMode(d.blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  EQAUG_CUBLAS(cublasSetAtomicsMode(d.blas, CUBLAS_ATOMICS_NOT_ALLOWED));
  EQAUG_CUDA(cudaEventCreate(&d.ev0));
  EQAUG_CUDA(cudaEventCreate(&d.ev1));

  std::size_t widths = d.in_dim() + d.out_dim(), widest = std::max(d.in_dim(), d.out_dim());
  for (const auto& l : model.layers) {
    widths += l.out_dim;
    widest = std::max({widest, l.in_dim, l.out_dim});
  }
  const std::size_t per_sample = (widths + 2 * widest) * sizeof(T) + 2 * sizeof(double);
  constexpr std::size_t kActivationBytes = std::size_t{8} << 30;
  d.chunk = std::clamp<std::size_t>(kActivationBytes / per_sample, 1, samples);

  d.x = d.template alloc<T>(samples * d.in_dim(), "the inputs");
  d.y = d.template alloc<T>(samples * d.out_dim(), "the targets");
  EQAUG_CUDA(cudaMemcpy(d.x, x, samples * d.in_dim() * sizeof(T), cudaMemcpyHostToDevice));
  EQAUG_CUDA(cudaMemcpy(d.y, y, samples * d.out_dim() * sizeof(T), cudaMemcpyHostToDevice));
  d.params = d.template alloc<T>(model.num_params, "the parameters");
  d.grad = d.template alloc<T>(model.num_params, "a gradient");
  d.act.push_back(d.template alloc<T>(d.chunk * d.in_dim(), "activations"));
  for (const auto& l : model.layers) d.act.push_back(d.template alloc<T>(d.chunk * l.out_dim, "activations"));
  d.ga = d.template alloc<T>(d.chunk * widest, "activation gradients");
  d.gb = d.template alloc<T>(d.chunk * widest, "activation gradients");
  d.target = d.template alloc<T>(d.chunk * d.out_dim(), "targets");
  d.loss = d.template alloc<double>(samples, "losses");
  d.correct = d.template alloc<double>(samples, "losses");
}

template <typename T>
DenseEngine<T>::~DenseEngine() = default;

template <typename T>
void DenseEngine<T>::set_copier(Copier copier) {
  impl_->copier = std::move(copier);
}

template <typename T>
std::size_t DenseEngine<T>::chunk() const {
  return impl_->chunk;
}

template <typename T>
void DenseEngine<T>::run(const JobView* jobs, std::size_t count, std::size_t groups, double* const* grads,
                         Stats* stats) {
  Impl& d = *impl_;
  EQAUG_CUDA(cudaSetDevice(d.device));
  for (std::size_t j = 0; j < count; ++j) {
    EQAUG_CHECK(jobs[j].group < groups, "job group out of range");
    EQAUG_CHECK(!jobs[j].grad || grads[jobs[j].group], "gradient job without a gradient buffer");
    d.check_pass(jobs[j].pass);
  }
  if (d.acc.size() < groups) d.acc.resize(groups, nullptr);
  for (std::size_t g = 0; g < groups; ++g)
    if (grads[g]) {
      if (!d.acc[g]) d.acc[g] = d.template alloc<double>(d.m.num_params, "a gradient sum");
      EQAUG_CUDA(cudaMemsetAsync(d.acc[g], 0, d.m.num_params * sizeof(double), d.stream));
    }
  if (d.host_stats_jobs < count) {
    if (d.host_stats) cudaFreeHost(d.host_stats);
    d.host_stats = nullptr;
    EQAUG_CUDA(cudaMallocHost(&d.host_stats, count * 2 * d.n * sizeof(double)));
    d.host_stats_jobs = count;
  }
  std::size_t table_len = 0;
  for (std::size_t j = 0; j < count; ++j)
    table_len += jobs[j].pass.in_len + jobs[j].pass.tgt_len + (jobs[j].pass.element_of ? jobs[j].pass.elem_len : 0);
  if (d.staging_len < table_len) {
    if (d.staging) cudaFreeHost(d.staging);
    d.staging = nullptr;
    d.staging_len = 0;
    EQAUG_CUDA(cudaMallocHost(&d.staging, table_len * sizeof(std::uint32_t)));
    d.staging_len = table_len;
  }
  std::size_t staged = 0;
  auto stage = [&](const std::uint32_t* src, std::size_t len) -> const std::uint32_t* {
    if (!src || len == 0) return src;
    std::uint32_t* dst = d.staging + staged;
    std::copy_n(src, len, dst);
    staged += len;
    return dst;
  };
  // Parameters and gradients travel through pinned buffers (DMA at full speed, without
  // the driver's staging), filled and emptied by the caller's copier (its threads).
  if (!d.pinned_params) EQAUG_CUDA(cudaMallocHost(&d.pinned_params, d.m.num_params * sizeof(T)));
  const void* loaded = nullptr;
  for (std::size_t j = 0; j < count; ++j) {
    JobView job = jobs[j];
    job.pass.in_sites = stage(job.pass.in_sites, job.pass.in_len);
    job.pass.tgt_sites = stage(job.pass.tgt_sites, job.pass.tgt_len);
    job.pass.element_of = stage(job.pass.element_of, job.pass.elem_len);
    if (job.params != loaded) {
      // The pinned buffer may still feed the upload of earlier parameters.
      if (loaded) EQAUG_CUDA(cudaStreamSynchronize(d.stream));
      d.copier(d.pinned_params, job.params, d.m.num_params * sizeof(T));
      EQAUG_CUDA(
          cudaMemcpyAsync(d.params, d.pinned_params, d.m.num_params * sizeof(T), cudaMemcpyHostToDevice, d.stream));
      loaded = job.params;
    }
    d.enqueue(job.pass, job.grad, job.grad ? d.acc[job.group] : nullptr);
    double* hs = d.host_stats + j * 2 * d.n;
    EQAUG_CUDA(cudaMemcpyAsync(hs, d.loss, d.n * sizeof(double), cudaMemcpyDeviceToHost, d.stream));
    EQAUG_CUDA(cudaMemcpyAsync(hs + d.n, d.correct, d.n * sizeof(double), cudaMemcpyDeviceToHost, d.stream));
  }
  if (d.pinned_grads.size() < groups) d.pinned_grads.resize(groups, nullptr);
  for (std::size_t g = 0; g < groups; ++g)
    if (grads[g]) {
      if (!d.pinned_grads[g]) EQAUG_CUDA(cudaMallocHost(&d.pinned_grads[g], d.m.num_params * sizeof(double)));
      EQAUG_CUDA(cudaMemcpyAsync(d.pinned_grads[g], d.acc[g], d.m.num_params * sizeof(double), cudaMemcpyDeviceToHost,
                                 d.stream));
    }
  EQAUG_CUDA(cudaStreamSynchronize(d.stream));
  for (std::size_t g = 0; g < groups; ++g)
    if (grads[g]) d.copier(grads[g], d.pinned_grads[g], d.m.num_params * sizeof(double));
  const double per_sample =
      d.m.loss == LossKind::CrossEntropy ? static_cast<double>(d.m.tgt_sites) : static_cast<double>(d.out_dim());
  for (std::size_t j = 0; j < count; ++j) {
    const double* hs = d.host_stats + j * 2 * d.n;
    Stats s;
    for (std::size_t i = 0; i < d.n; ++i) s.loss_sum += hs[i];
    for (std::size_t i = 0; i < d.n; ++i) s.correct += hs[d.n + i];
    s.predictions = per_sample * static_cast<double>(d.n);
    stats[j] = s;
  }
}

template <typename T>
double DenseEngine<T>::time_pass(const T* params, int reps) {
  Impl& d = *impl_;
  EQAUG_CUDA(cudaSetDevice(d.device));
  if (d.acc.empty()) d.acc.push_back(nullptr);
  if (!d.acc[0]) d.acc[0] = d.template alloc<double>(d.m.num_params, "a gradient sum");
  EQAUG_CUDA(cudaMemcpy(d.params, params, d.m.num_params * sizeof(T), cudaMemcpyHostToDevice));
  const PassView identity;
  d.enqueue(identity, true, d.acc[0]);  // warm-up
  EQAUG_CUDA(cudaEventRecord(d.ev0, d.stream));
  for (int r = 0; r < reps; ++r) d.enqueue(identity, true, d.acc[0]);
  EQAUG_CUDA(cudaEventRecord(d.ev1, d.stream));
  EQAUG_CUDA(cudaEventSynchronize(d.ev1));
  float ms = 0;
  EQAUG_CUDA(cudaEventElapsedTime(&ms, d.ev0, d.ev1));
  return ms / 1e3 / reps;
}

template <typename T>
double DenseEngine<T>::time_gemms(int reps) {
  Impl& d = *impl_;
  EQAUG_CUDA(cudaSetDevice(d.device));
  auto pass = [&] {
    for (std::size_t first = 0; first < d.n; first += d.chunk) {
      const std::size_t batch = std::min(d.chunk, d.n - first);
      for (std::size_t i = 0; i < d.m.layers.size(); ++i) {
        const LayerDesc& l = d.m.layers[i];
        if (l.kind == LayerKind::Linear)
          gemm<T>(d.blas, false, true, batch, l.out_dim, l.in_dim, T(1), d.act[i], l.in_dim, d.params + l.offset,
                  l.in_dim, T(0), d.act[i + 1], l.out_dim);
      }
      for (std::size_t i = d.m.layers.size(); i-- > 0;) {
        const LayerDesc& l = d.m.layers[i];
        if (l.kind != LayerKind::Linear) continue;
        gemm<T>(d.blas, true, false, l.out_dim, l.in_dim, batch, T(1), d.ga, l.out_dim, d.act[i], l.in_dim,
                first > 0 ? T(1) : T(0), d.grad + l.offset, l.in_dim);
        if (i > 0)
          gemm<T>(d.blas, false, false, batch, l.in_dim, l.out_dim, T(1), d.ga, l.out_dim, d.params + l.offset,
                  l.in_dim, T(0), d.gb, l.in_dim);
      }
    }
  };
  pass();
  EQAUG_CUDA(cudaEventRecord(d.ev0, d.stream));
  for (int r = 0; r < reps; ++r) pass();
  EQAUG_CUDA(cudaEventRecord(d.ev1, d.stream));
  EQAUG_CUDA(cudaEventSynchronize(d.ev1));
  float ms = 0;
  EQAUG_CUDA(cudaEventElapsedTime(&ms, d.ev0, d.ev1));
  return ms / 1e3 / reps;
}

template class DenseEngine<float>;
template class DenseEngine<double>;

}  // namespace eqaug::cuda
