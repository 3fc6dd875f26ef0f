#include "eqaug/nn/equi_ops.hpp"

#include <cblas.h>
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {

namespace {

// ---------------------------------------------------------------------------------------
// Scratch carving: every region starts on a 64-byte boundary (the caller's pointer is only
// aligned for T), so each region costs 64 bytes of slack.

constexpr std::size_t kAlign = 64;

template <typename T, typename U>
constexpr std::size_t region_size(std::size_t count) {
  return (count * sizeof(U) + sizeof(T) - 1) / sizeof(T) + kAlign / sizeof(T);
}

class Carver {
public:
  explicit Carver(void* base) : p_(reinterpret_cast<std::uintptr_t>(base)) {}
  template <typename U>
  U* take(std::size_t count) {
    p_ = (p_ + kAlign - 1) & ~(std::uintptr_t{kAlign} - 1);
    U* r = reinterpret_cast<U*>(p_);
    p_ += count * sizeof(U);
    return r;
  }

private:
  std::uintptr_t p_;
};

// ---------------------------------------------------------------------------------------
// "trivial": one site in and out, one orbit of size 1 — the coordinates are the weights.

template <typename T>
class TrivialOp final : public EquiLinearOp<T> {
public:
  explicit TrivialOp(std::shared_ptr<const EquivariantSubspace> sub)
      : sub_(std::move(sub)), ci_(sub_->in().channels), co_(sub_->out().channels) {}
  std::string kind() const override { return "trivial"; }
  std::size_t scratch_size(std::size_t) const override { return 0; }
  void forward(const T* c, const T* x, T* y, std::size_t batch, T*) const override {
    ops::linear_forward(c, x, y, batch, ci_, co_);
  }
  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T*) const override {
    ops::linear_input_grad(c, gy, gx, batch, ci_, co_);
  }
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T*) const override {
    ops::linear_weight_grad(x, gy, gc, batch, ci_, co_, accumulate);
  }

private:
  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t ci_, co_;
};

// ---------------------------------------------------------------------------------------
// "pool": sites → the one trivial site. The orbit of the pair (0, s_i) is the G-orbit O_k
// of s_i, and |orbit of pairs| = |O_k|, so W x = c · P with P[c_i, k] = Σ_{s∈O_k} x[c_i, s]
// / √|O_k|: a (C_out × C_in·K) product on the pooled input.

template <typename T>
class PoolOp final : public EquiLinearOp<T> {
public:
  explicit PoolOp(std::shared_ptr<const EquivariantSubspace> sub)
      : sub_(std::move(sub)),
        ci_(sub_->in().channels),
        co_(sub_->out().channels),
        s_(sub_->in().sites),
        k_(sub_->orbits().count()),
        orbit_(sub_->orbits().orbit_of().begin(), sub_->orbits().orbit_of().begin() + static_cast<std::ptrdiff_t>(s_)),
        scale_(k_) {
    for (std::size_t k = 0; k < k_; ++k)
      scale_[k] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sub_->orbits().sizes()[k])));
  }
  std::string kind() const override { return "pool"; }
  std::size_t scratch_size(std::size_t batch) const override { return batch * ci_ * k_; }

  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    pool(x, scratch, batch);
    ops::linear_forward(c, scratch, y, batch, ci_ * k_, co_);
  }
  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    ops::linear_input_grad(c, gy, scratch, batch, ci_ * k_, co_);
    for (std::size_t r = 0; r < batch * ci_; ++r) {
      const T* gp = scratch + r * k_;
      T* g = gx + r * s_;
      for (std::size_t s = 0; s < s_; ++s) g[s] = gp[orbit_[s]] * scale_[orbit_[s]];
    }
  }
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate,
                  T* scratch) const override {
    pool(x, scratch, batch);
    ops::linear_weight_grad(scratch, gy, gc, batch, ci_ * k_, co_, accumulate);
  }

private:
  void pool(const T* x, T* p, std::size_t batch) const {
    for (std::size_t r = 0; r < batch * ci_; ++r) {
      const T* xr = x + r * s_;
      T* pr = p + r * k_;
      if (k_ == 1) {
        T acc = 0;
        for (std::size_t s = 0; s < s_; ++s) acc += xr[s];
        pr[0] = acc * scale_[0];
      } else {
        std::fill(pr, pr + k_, T(0));
        for (std::size_t s = 0; s < s_; ++s) pr[orbit_[s]] += xr[s];
        for (std::size_t k = 0; k < k_; ++k) pr[k] *= scale_[k];
      }
    }
  }

  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t ci_, co_, s_, k_;
  std::vector<std::uint32_t> orbit_;  // orbit of (0, s) for each input site s
  std::vector<T> scale_;              // 1/√|O_k|
};

// ---------------------------------------------------------------------------------------
// "dense": W = from_coords(c) materialised in scratch, then the dense GEMMs (the oracle).

template <typename T>
class DenseOp final : public EquiLinearOp<T> {
public:
  explicit DenseOp(std::shared_ptr<const EquivariantSubspace> sub)
      : sub_(std::move(sub)), in_(sub_->in().dim()), out_(sub_->out().dim()) {}
  std::string kind() const override { return "dense"; }
  std::size_t scratch_size(std::size_t) const override {
    return region_size<T, T>(sub_->ambient_dim()) + region_size<T, double>(sub_->dim());
  }
  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    ops::linear_forward(weights(c, scratch), x, y, batch, in_, out_);
  }
  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    ops::linear_input_grad(weights(c, scratch), gy, gx, batch, in_, out_);
  }
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate,
                  T* scratch) const override {
    Carver cv(scratch);
    T* gw = cv.take<T>(sub_->ambient_dim());
    double* cd = cv.take<double>(sub_->dim());
    ops::linear_weight_grad(x, gy, gw, batch, in_, out_, false);
    sub_->to_coords(gw, cd);
    const std::size_t n = sub_->dim();
    if (accumulate)
      for (std::size_t i = 0; i < n; ++i) gc[i] = static_cast<T>(static_cast<double>(gc[i]) + cd[i]);
    else
      for (std::size_t i = 0; i < n; ++i) gc[i] = static_cast<T>(cd[i]);
  }

private:
  const T* weights(const T* c, T* scratch) const {
    Carver cv(scratch);
    T* w = cv.take<T>(sub_->ambient_dim());
    double* cd = cv.take<double>(sub_->dim());
    std::copy(c, c + sub_->dim(), cd);
    sub_->from_coords(cd, w);
    return w;
  }

  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t in_, out_;
};

// ---------------------------------------------------------------------------------------
// "fft": pixels → pixels on an N×N grid, the orbit of (s_o, s_i) a function of the circular
// offset δ = s_o − s_i alone. Then W is a multi-channel circular convolution with kernels
// kern[c_o, c_i, δ] = c[(c_o·C_in + c_i)·K + k(δ)] / √|orbit k(δ)|, evaluated with real 2D
// FFTs and a complex GEMM per frequency that mixes channels.
//
// Layout in the Fourier domain: frequency-major. A batched r2c over n images writes the
// F = N·(N/2+1) coefficients of image j at [f·n + j], so for each f the images of a block
// form a row-major (batch × channels) complex matrix and the channel mixing is one GEMM
// per frequency with no transposes.

template <typename T>
struct Fftw;

template <>
struct Fftw<double> {
  using plan = fftw_plan;
  using cpx = fftw_complex;
  static plan r2c(int howmany, const int* n, const int* rembed, const int* cembed, int dist_r,
                  int stride_c, double* in, cpx* out, unsigned flags) {
    return fftw_plan_many_dft_r2c(2, n, howmany, in, rembed, 1, dist_r, out, cembed, stride_c, 1, flags);
  }
  static plan c2r(int howmany, const int* n, const int* rembed, const int* cembed, int dist_r,
                  int stride_c, cpx* in, double* out, unsigned flags) {
    return fftw_plan_many_dft_c2r(2, n, howmany, in, cembed, stride_c, 1, out, rembed, 1, dist_r, flags);
  }
  static void exec(plan p, double* in, cpx* out) { fftw_execute_dft_r2c(p, in, out); }
  static void exec(plan p, cpx* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void release(void* p) { fftw_free(p); }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t n, std::size_t k,
                   const void* a, std::size_t lda, const void* b, std::size_t ldb, bool beta_one, void* c,
                   std::size_t ldc) {
    static const double one[2] = {1, 0}, zero[2] = {0, 0};
    cblas_zgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), one, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta_one ? one : zero, c, static_cast<blasint>(ldc));
  }
};

template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using cpx = fftwf_complex;
  static plan r2c(int howmany, const int* n, const int* rembed, const int* cembed, int dist_r,
                  int stride_c, float* in, cpx* out, unsigned flags) {
    return fftwf_plan_many_dft_r2c(2, n, howmany, in, rembed, 1, dist_r, out, cembed, stride_c, 1, flags);
  }
  static plan c2r(int howmany, const int* n, const int* rembed, const int* cembed, int dist_r,
                  int stride_c, cpx* in, float* out, unsigned flags) {
    return fftwf_plan_many_dft_c2r(2, n, howmany, in, cembed, stride_c, 1, out, rembed, 1, dist_r, flags);
  }
  static void exec(plan p, float* in, cpx* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void exec(plan p, cpx* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void release(void* p) { fftwf_free(p); }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t n, std::size_t k,
                   const void* a, std::size_t lda, const void* b, std::size_t ldb, bool beta_one, void* c,
                   std::size_t ldc) {
    static const float one[2] = {1, 0}, zero[2] = {0, 0};
    cblas_cgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), one, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta_one ? one : zero, c, static_cast<blasint>(ldc));
  }
};

// FFTW's planner (plan creation and destruction) shares global state; execution does not.
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

/// N when sites = N² and the orbit of every pair (s_o, s_i) equals the orbit of (δ, 0),
/// δ the circular 2D offset s_o − s_i (pixel p = row·N + col); 0 otherwise.
std::size_t circulant_grid(const EquivariantSubspace& sub) {
  const std::size_t S = sub.in().sites;
  if (sub.out().sites != S || S < 2) return 0;
  const auto N = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(S))));
  if (N * N != S) return 0;
  const auto& orb = sub.orbits().orbit_of();
  for (std::size_t ro = 0; ro < N; ++ro)
    for (std::size_t co = 0; co < N; ++co)
      for (std::size_t ri = 0; ri < N; ++ri)
        for (std::size_t ci = 0; ci < N; ++ci) {
          const std::size_t delta = ((ro + N - ri) % N) * N + (co + N - ci) % N;
          if (orb[(ro * N + co) * S + ri * N + ci] != orb[delta * S]) return 0;
        }
  return N;
}

template <typename T>
class FftOp final : public EquiLinearOp<T> {
  using F = Fftw<T>;
  using cpx = typename F::cpx;

public:
  FftOp(std::shared_ptr<const EquivariantSubspace> sub, std::size_t N, std::size_t block)
      : sub_(std::move(sub)),
        n_(N),
        s_(N * N),
        f_(N * (N / 2 + 1)),
        ci_(sub_->in().channels),
        co_(sub_->out().channels),
        k_(sub_->orbits().count()),
        block_(std::max<std::size_t>(1, block)),
        orbit_(s_),
        scale_(k_) {
    const auto& orb = sub_->orbits().orbit_of();
    for (std::size_t d = 0; d < s_; ++d) orbit_[d] = orb[d * s_];
    // 1/√|orbit| and the 1/N² of the unnormalised inverse FFT, folded into the kernel.
    for (std::size_t k = 0; k < k_; ++k)
      scale_[k] = 1.0 / (std::sqrt(static_cast<double>(sub_->orbits().sizes()[k])) * static_cast<double>(s_));
    std::vector<std::size_t> counts{ci_ * co_};
    for (std::size_t m = block_; m >= 1; m /= 2) {
      counts.push_back(m * ci_);
      counts.push_back(m * co_);
      if (m == 1) break;
    }
    std::lock_guard lock(fftw_planner_mutex());
    for (std::size_t n : counts) {
      if (plans_.count(n)) continue;
      // FFTW_ESTIMATE does not touch the arrays; FFTW_UNALIGNED lets every call run the
      // plan on the caller's (arbitrarily offset) arrays.
      void* re = F::alloc(n * s_ * sizeof(T));
      void* cx = F::alloc(n * f_ * sizeof(cpx));
      const int dims[2] = {int(n_), int(n_)}, cemb[2] = {int(n_), int(n_ / 2 + 1)};
      const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED;
      Plans p;
      p.r2c = F::r2c(int(n), dims, dims, cemb, int(s_), int(n), static_cast<T*>(re), static_cast<cpx*>(cx), flags);
      p.c2r = F::c2r(int(n), dims, dims, cemb, int(s_), int(n), static_cast<cpx*>(cx), static_cast<T*>(re), flags);
      F::release(re);
      F::release(cx);
      if (!p.r2c || !p.c2r) throw Error("FFTW could not plan a " + std::to_string(n_) + "x" + std::to_string(n_) + " transform");
      plans_.emplace(n, p);
    }
  }
  ~FftOp() override {
    std::lock_guard lock(fftw_planner_mutex());
    for (auto& [n, p] : plans_) {
      F::destroy(p.r2c);
      F::destroy(p.c2r);
    }
  }
  FftOp(const FftOp&) = delete;
  FftOp& operator=(const FftOp&) = delete;

  std::string kind() const override { return "fft"; }

  std::size_t scratch_size(std::size_t batch) const override {
    const std::size_t m = std::min(block_, std::max<std::size_t>(batch, 1));
    return region_size<T, cpx>(f_ * ci_ * co_) + region_size<T, T>(ci_ * co_ * s_) +
           region_size<T, cpx>(f_ * m * ci_) + region_size<T, cpx>(f_ * m * co_);
  }

  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    Buffers b = carve(scratch, batch);
    kernel_spectrum(c, b);
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      F::exec(plan(m * ci_).r2c, const_cast<T*>(x + b0 * ci_ * s_), b.xh);
      for (std::size_t f = 0; f < f_; ++f)
        F::gemm(CblasNoTrans, CblasTrans, m, co_, ci_, b.xh + f * m * ci_, ci_, b.kh + f * co_ * ci_, ci_, false,
                b.yh + f * m * co_, co_);
      F::exec(plan(m * co_).c2r, b.yh, y + b0 * co_ * s_);
    });
  }

  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    Buffers b = carve(scratch, batch);
    kernel_spectrum(c, b);
    // Wᵀ is the correlation with the same kernels: conj(K̂) in the Fourier domain.
    for (std::size_t i = 0; i < f_ * co_ * ci_; ++i) b.kh[i][1] = -b.kh[i][1];
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      F::exec(plan(m * co_).r2c, const_cast<T*>(gy + b0 * co_ * s_), b.yh);
      for (std::size_t f = 0; f < f_; ++f)
        F::gemm(CblasNoTrans, CblasNoTrans, m, ci_, co_, b.yh + f * m * co_, co_, b.kh + f * co_ * ci_, ci_, false,
                b.xh + f * m * ci_, ci_);
      F::exec(plan(m * ci_).c2r, b.xh, gx + b0 * ci_ * s_);
    });
  }

  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate,
                  T* scratch) const override {
    Buffers b = carve(scratch, batch);
    // gkern[c_o, c_i, δ] = Σ_b Σ_s gy[b, c_o, s] x[b, c_i, s − δ]: per frequency
    // Σ_b GY·conj(X), accumulated as its transpose Xᴴ·GY (C_in × C_out) over the blocks.
    std::fill(b.kh[0], b.kh[0] + 2 * f_ * ci_ * co_, T(0));
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      F::exec(plan(m * ci_).r2c, const_cast<T*>(x + b0 * ci_ * s_), b.xh);
      F::exec(plan(m * co_).r2c, const_cast<T*>(gy + b0 * co_ * s_), b.yh);
      for (std::size_t f = 0; f < f_; ++f)
        F::gemm(CblasConjTrans, CblasNoTrans, ci_, co_, m, b.xh + f * m * ci_, ci_, b.yh + f * m * co_, co_, true,
                b.kh + f * ci_ * co_, co_);
    });
    F::exec(plan(ci_ * co_).c2r, b.kh, b.kern);  // image ci·C_out + co, times N²
    // gc_k = Σ_{δ ∈ orbit k} gkern[δ] / √|orbit k| (scale_ also holds the 1/N²).
    std::vector<double> acc(k_);
    for (std::size_t co = 0; co < co_; ++co)
      for (std::size_t ci = 0; ci < ci_; ++ci) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const T* g = b.kern + (ci * co_ + co) * s_;
        for (std::size_t d = 0; d < s_; ++d) acc[orbit_[d]] += static_cast<double>(g[d]);
        T* out = gc + (co * ci_ + ci) * k_;
        for (std::size_t k = 0; k < k_; ++k) {
          const double v = acc[k] * scale_[k];
          out[k] = static_cast<T>(accumulate ? static_cast<double>(out[k]) + v : v);
        }
      }
  }

private:
  struct Plans {
    typename F::plan r2c, c2r;
  };
  struct Buffers {
    cpx* kh;   // f_ × C_out × C_in: the kernels' spectra (or their gradient)
    T* kern;   // C_out·C_in images N×N
    cpx* xh;   // f_ × block × C_in
    cpx* yh;   // f_ × block × C_out
  };

  Buffers carve(T* scratch, std::size_t batch) const {
    const std::size_t m = std::min(block_, std::max<std::size_t>(batch, 1));
    Carver cv(scratch);
    Buffers b;
    b.kh = cv.take<cpx>(f_ * ci_ * co_);
    b.kern = cv.take<T>(ci_ * co_ * s_);
    b.xh = cv.take<cpx>(f_ * m * ci_);
    b.yh = cv.take<cpx>(f_ * m * co_);
    return b;
  }

  const Plans& plan(std::size_t n) const {
    const auto it = plans_.find(n);
    EQAUG_CHECK(it != plans_.end(), "no FFT plan for this block");
    return it->second;
  }

  /// Blocks of `block_` samples, then the rest in descending powers of two (each has a plan).
  template <typename Fn>
  void for_blocks(std::size_t batch, Fn&& fn) const {
    std::size_t b0 = 0;
    while (batch - b0 >= block_) {
      fn(b0, block_);
      b0 += block_;
    }
    for (std::size_t m = block_ / 2; m >= 1 && b0 < batch; m /= 2)
      while (batch - b0 >= m) {
        fn(b0, m);
        b0 += m;
      }
  }

  /// K̂ (frequency-major, C_out × C_in per frequency) from the coordinates, 1/N² included.
  void kernel_spectrum(const T* c, const Buffers& b) const {
    std::vector<T> vals(k_);
    for (std::size_t j = 0; j < co_ * ci_; ++j) {
      const T* cj = c + j * k_;
      for (std::size_t k = 0; k < k_; ++k) vals[k] = static_cast<T>(static_cast<double>(cj[k]) * scale_[k]);
      T* kern = b.kern + j * s_;
      for (std::size_t d = 0; d < s_; ++d) kern[d] = vals[orbit_[d]];
    }
    F::exec(plan(ci_ * co_).r2c, b.kern, b.kh);
  }

  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t n_, s_, f_, ci_, co_, k_, block_;
  std::vector<std::uint32_t> orbit_;  // k(δ)
  std::vector<double> scale_;         // 1 / (√|orbit k| · N²)
  std::map<std::size_t, Plans> plans_;
};

}  // namespace

template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub,
                                              EquiEval eval, const EquiOpTuning& tuning) {
  EQAUG_CHECK(sub != nullptr, "make_equi_op needs a subspace");
  if (eval == EquiEval::Dense) return std::make_unique<DenseOp<T>>(std::move(sub));
  const std::size_t si = sub->in().sites, so = sub->out().sites;
  if (si == 1 && so == 1) return std::make_unique<TrivialOp<T>>(std::move(sub));
  if (so == 1) return std::make_unique<PoolOp<T>>(std::move(sub));
  if (const std::size_t N = circulant_grid(*sub); N > 0)
    return std::make_unique<FftOp<T>>(std::move(sub), N, tuning.fft_block);
  return std::make_unique<DenseOp<T>>(std::move(sub));
}

template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub, EquiEval eval) {
  return make_equi_op<T>(std::move(sub), eval, EquiOpTuning{});
}

template std::unique_ptr<EquiLinearOp<float>> make_equi_op<float>(std::shared_ptr<const EquivariantSubspace>,
                                                                  EquiEval);
template std::unique_ptr<EquiLinearOp<double>> make_equi_op<double>(std::shared_ptr<const EquivariantSubspace>,
                                                                    EquiEval);
template std::unique_ptr<EquiLinearOp<float>> make_equi_op<float>(std::shared_ptr<const EquivariantSubspace>,
                                                                  EquiEval, const EquiOpTuning&);
template std::unique_ptr<EquiLinearOp<double>> make_equi_op<double>(std::shared_ptr<const EquivariantSubspace>,
                                                                    EquiEval, const EquiOpTuning&);

}  // namespace eqaug
