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

#include "eqaug/core/blas.hpp"
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
// / √|O_k|: P = X M for the fixed S_in × K pooling matrix M[s, k] = [s ∈ O_k] / √|O_k|,
// then a (C_out × C_in·K) product. Both are GEMMs (a plain summation loop would not
// vectorise without reassociating the sum).

template <typename T>
class PoolOp final : public EquiLinearOp<T> {
 public:
  explicit PoolOp(std::shared_ptr<const EquivariantSubspace> sub)
      : sub_(std::move(sub)),
        ci_(sub_->in().channels),
        co_(sub_->out().channels),
        s_(sub_->in().sites),
        k_(sub_->orbits().count()),
        pool_(s_ * k_, T(0)) {
    const auto& orb = sub_->orbits().orbit_of();
    for (std::size_t s = 0; s < s_; ++s)
      pool_[s * k_ + orb[s]] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sub_->orbits().sizes()[orb[s]])));
  }
  std::string kind() const override { return "pool"; }
  std::size_t scratch_size(std::size_t batch) const override { return batch * ci_ * k_; }

  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    pool(x, scratch, batch);
    ops::linear_forward(c, scratch, y, batch, ci_ * k_, co_);
  }
  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    ops::linear_input_grad(c, gy, scratch, batch, ci_ * k_, co_);
    // gx = GP Mᵀ, rows (sample, c_in).
    blas::gemm<T>(blas::Op::N, blas::Op::T, batch * ci_, s_, k_, T(1), scratch, k_, pool_.data(), k_, T(0), gx, s_);
  }
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T* scratch) const override {
    pool(x, scratch, batch);
    ops::linear_weight_grad(scratch, gy, gc, batch, ci_ * k_, co_, accumulate);
  }

 private:
  void pool(const T* x, T* p, std::size_t batch) const {
    blas::gemm<T>(blas::Op::N, blas::Op::N, batch * ci_, k_, s_, T(1), x, s_, pool_.data(), k_, T(0), p, k_);
  }

  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t ci_, co_, s_, k_;
  std::vector<T> pool_;  // M, S_in × K
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
  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T* scratch) const override {
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
// kern[c_o, c_i, δ] = c[(c_o·C_in + c_i)·K + k(δ)] / √|orbit k(δ)|, evaluated with 2D
// FFTs and a complex GEMM per frequency that mixes channels.
//
// Spectra are kept for the half grid of frequencies h = k_r·(N/2+1) + k_c, k_c ≤ N/2 (the
// rest follow by Hermitian symmetry), frequency-major: the coefficient h of image j of a
// block of n images at [h·n + j]. For each h the images of a block then form a row-major
// (batch × channels) complex matrix, and channel mixing is one GEMM per frequency.
//
// FFTW's real-data codelets are scalar; its complex ones are SIMD and about 2.5× faster
// here per real image. So two real images a, b go through one complex transform of
// a + i·b and are separated with A[f] = (Z[f] + conj Z[−f])/2, B[f] = (Z[f] − conj Z[−f])/2i;
// the inverse assembles Z = A + i·B on the full grid and reads a, b off the real and
// imaginary parts. FFTW only ever sees our own (aligned) scratch buffers.

template <typename T>
struct Fftw;

// howmany N×N complex transforms; `freq_major` picks which side is frequency-major
// (coefficient f of transform j at [f·howmany + j]); the other side is contiguous.
template <>
struct Fftw<double> {
  using plan = fftw_plan;
  using cpx = fftw_complex;
  static plan dft(int howmany, const int* n, cpx* in, cpx* out, int sign, unsigned flags) {
    const int S = n[0] * n[1];
    return sign == FFTW_FORWARD ? fftw_plan_many_dft(2, n, howmany, in, n, 1, S, out, n, howmany, 1, sign, flags)
                                : fftw_plan_many_dft(2, n, howmany, in, n, howmany, 1, out, n, 1, S, sign, flags);
  }
  static void exec(plan p, cpx* in, cpx* out) { fftw_execute_dft(p, in, out); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftw_malloc(bytes); }
  static void release(void* p) { fftw_free(p); }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t n, std::size_t k, const void* a,
                   std::size_t lda, const void* b, std::size_t ldb, bool beta_one, void* c, std::size_t ldc) {
    static const double one[2] = {1, 0}, zero[2] = {0, 0};
    cblas_zgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), one,
                a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta_one ? one : zero, c,
                static_cast<blasint>(ldc));
  }
};

template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using cpx = fftwf_complex;
  static plan dft(int howmany, const int* n, cpx* in, cpx* out, int sign, unsigned flags) {
    const int S = n[0] * n[1];
    return sign == FFTW_FORWARD ? fftwf_plan_many_dft(2, n, howmany, in, n, 1, S, out, n, howmany, 1, sign, flags)
                                : fftwf_plan_many_dft(2, n, howmany, in, n, howmany, 1, out, n, 1, S, sign, flags);
  }
  static void exec(plan p, cpx* in, cpx* out) { fftwf_execute_dft(p, in, out); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static void* alloc(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void release(void* p) { fftwf_free(p); }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t n, std::size_t k, const void* a,
                   std::size_t lda, const void* b, std::size_t ldb, bool beta_one, void* c, std::size_t ldc) {
    static const float one[2] = {1, 0}, zero[2] = {0, 0};
    cblas_cgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), one,
                a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta_one ? one : zero, c,
                static_cast<blasint>(ldc));
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
        scale_(k_),
        half_(f_),
        neg_(f_),
        full_src_(s_),
        full_conj_(s_) {
    const auto& orb = sub_->orbits().orbit_of();
    for (std::size_t d = 0; d < s_; ++d) orbit_[d] = orb[d * s_];
    // 1/√|orbit| and the 1/N² of the unnormalised inverse FFT, folded into the kernel.
    for (std::size_t k = 0; k < k_; ++k)
      scale_[k] = 1.0 / (std::sqrt(static_cast<double>(sub_->orbits().sizes()[k])) * static_cast<double>(s_));
    const std::size_t hc = N / 2 + 1;
    for (std::size_t kr = 0; kr < N; ++kr)
      for (std::size_t kc = 0; kc < N; ++kc) {
        const std::size_t g = kr * N + kc, nr = (N - kr) % N, nc = (N - kc) % N;
        if (kc < hc) {
          half_[kr * hc + kc] = static_cast<std::uint32_t>(g);
          neg_[kr * hc + kc] = static_cast<std::uint32_t>(nr * N + nc);
          full_src_[g] = static_cast<std::uint32_t>(kr * hc + kc);
          full_conj_[g] = 0;
        } else {
          full_src_[g] = static_cast<std::uint32_t>(nr * hc + nc);
          full_conj_[g] = 1;
        }
      }
    std::vector<std::size_t> pairs{pairs_of(ci_ * co_)};
    for (std::size_t m = block_; m >= 1; m /= 2) {
      pairs.push_back(pairs_of(m * ci_));
      pairs.push_back(pairs_of(m * co_));
    }
    std::lock_guard lock(fftw_planner_mutex());
    try {
      for (std::size_t np : pairs)
        if (!plans_.count(np)) plans_.emplace(np, make_plans(np));
    } catch (...) {
      destroy_plans();
      throw;
    }
  }
  ~FftOp() override {
    std::lock_guard lock(fftw_planner_mutex());
    destroy_plans();
  }
  FftOp(const FftOp&) = delete;
  FftOp& operator=(const FftOp&) = delete;

  std::string kind() const override { return "fft"; }

  std::size_t scratch_size(std::size_t batch) const override {
    const std::size_t m = std::min(block_, std::max<std::size_t>(batch, 1));
    const std::size_t np = max_pairs(m);
    return 2 * region_size<T, cpx>(f_ * ci_ * co_) + region_size<T, T>(ci_ * co_ * s_) +
           region_size<T, cpx>(f_ * m * ci_) + region_size<T, cpx>(f_ * m * co_) + 2 * region_size<T, cpx>(np * s_);
  }

  void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const override {
    const Buffers b = carve(scratch, batch);
    kernel_spectrum(c, b, false);
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      spectra(m * ci_, x + b0 * ci_ * s_, b.xh, b);
      mix_forward(m, b);
      images(m * co_, b.yh, y + b0 * co_ * s_, b);
    });
  }

  void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const override {
    const Buffers b = carve(scratch, batch);
    kernel_spectrum(c, b, true);
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      spectra(m * co_, gy + b0 * co_ * s_, b.yh, b);
      mix_input_grad(m, b);
      images(m * ci_, b.xh, gx + b0 * ci_ * s_, b);
    });
  }

  void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T* scratch) const override {
    backward(nullptr, x, gy, nullptr, gc, batch, accumulate, scratch);
  }

  void backward(const T* c, const T* x, const T* gy, T* gx, T* gc, std::size_t batch, bool accumulate,
                T* scratch) const override {
    const Buffers b = carve(scratch, batch);
    if (gx) kernel_spectrum(c, b, true);
    std::fill(b.gk[0], b.gk[0] + 2 * f_ * ci_ * co_, T(0));
    for_blocks(batch, [&](std::size_t b0, std::size_t m) {
      spectra(m * co_, gy + b0 * co_ * s_, b.yh, b);
      spectra(m * ci_, x + b0 * ci_ * s_, b.xh, b);
      // gkern[c_o, c_i, δ] = Σ_b Σ_s gy[b, c_o, s] x[b, c_i, s − δ]: per frequency
      // Σ_b GY·conj(X), accumulated as its transpose Xᴴ·GY (C_in × C_out).
      for (std::size_t f = 0; f < f_; ++f)
        F::gemm(CblasConjTrans, CblasNoTrans, ci_, co_, m, b.xh + f * m * ci_, ci_, b.yh + f * m * co_, co_, true,
                b.gk + f * ci_ * co_, co_);
      if (gx) {
        mix_input_grad(m, b);
        images(m * ci_, b.xh, gx + b0 * ci_ * s_, b);
      }
    });
    images(ci_ * co_, b.gk, b.kern, b);  // image c_i·C_out + c_o, times N²
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
    typename F::plan fwd = nullptr, bwd = nullptr;
  };
  struct Buffers {
    cpx* kh;  // f_ × C_out × C_in: the kernels' spectra (conjugated for Wᵀ)
    cpx* gk;  // f_ × C_in × C_out: the kernel gradient's spectrum
    T* kern;  // C_out·C_in images N×N
    cpx* xh;  // f_ × block × C_in
    cpx* yh;  // f_ × block × C_out
    cpx* zs;  // pairs of images packed as complex images, contiguous
    cpx* zf;  // their full spectra, frequency-major
  };

  static std::size_t pairs_of(std::size_t images) { return (images + 1) / 2; }
  std::size_t max_pairs(std::size_t m) const { return pairs_of(std::max({m * ci_, m * co_, ci_ * co_})); }

  Plans make_plans(std::size_t np) {
    cpx* a = static_cast<cpx*>(F::alloc(np * s_ * sizeof(cpx)));
    cpx* z = static_cast<cpx*>(F::alloc(np * s_ * sizeof(cpx)));
    const int dims[2] = {int(n_), int(n_)};
    Plans p;
    // FFTW_ESTIMATE leaves the arrays alone and plans in microseconds; FFTW_MEASURE
    // found nothing faster for these sizes.
    p.fwd = F::dft(int(np), dims, a, z, FFTW_FORWARD, FFTW_ESTIMATE);
    p.bwd = F::dft(int(np), dims, z, a, FFTW_BACKWARD, FFTW_ESTIMATE);
    F::release(a);
    F::release(z);
    if (!p.fwd || !p.bwd) {
      destroy(p);
      throw Error("FFTW could not plan " + std::to_string(np) + " transforms of " + std::to_string(n_) + "x" +
                  std::to_string(n_));
    }
    return p;
  }
  static void destroy(Plans& p) {
    if (p.fwd) F::destroy(p.fwd);
    if (p.bwd) F::destroy(p.bwd);
  }
  void destroy_plans() {
    for (auto& [np, p] : plans_) destroy(p);
    plans_.clear();
  }
  const Plans& plan(std::size_t np) const {
    const auto it = plans_.find(np);
    EQAUG_CHECK(it != plans_.end(), "no FFT plan for this block");
    return it->second;
  }

  /// n real images (contiguous) → their half-grid spectra, frequency-major, in `out`.
  void spectra(std::size_t n, const T* in, cpx* out, const Buffers& b) const {
    const std::size_t np = pairs_of(n);
    for (std::size_t p = 0; p < np; ++p) {
      const T* a = in + 2 * p * s_;
      T* z = b.zs[p * s_];
      if (2 * p + 1 < n) {
        const T* bb = a + s_;
        for (std::size_t s = 0; s < s_; ++s) {
          z[2 * s] = a[s];
          z[2 * s + 1] = bb[s];
        }
      } else {
        for (std::size_t s = 0; s < s_; ++s) {
          z[2 * s] = a[s];
          z[2 * s + 1] = T(0);
        }
      }
    }
    F::exec(plan(np).fwd, b.zs, b.zf);
    const T half = T(0.5);
    for (std::size_t h = 0; h < f_; ++h) {
      const T* z1 = b.zf[half_[h] * np];
      const T* z2 = b.zf[neg_[h] * np];
      T* o = out[h * n];
      const std::size_t full = n / 2;
      for (std::size_t p = 0; p < full; ++p) {
        const T r1 = z1[2 * p], i1 = z1[2 * p + 1], r2 = z2[2 * p], i2 = -z2[2 * p + 1];
        o[4 * p] = half * (r1 + r2);
        o[4 * p + 1] = half * (i1 + i2);
        o[4 * p + 2] = half * (i1 - i2);
        o[4 * p + 3] = -half * (r1 - r2);
      }
      if (n % 2) {
        const std::size_t p = full;
        o[4 * p] = half * (z1[2 * p] + z2[2 * p]);
        o[4 * p + 1] = half * (z1[2 * p + 1] - z2[2 * p + 1]);
      }
    }
  }

  /// Half-grid spectra of n images, frequency-major (left intact) → the real images.
  void images(std::size_t n, const cpx* in, T* out, const Buffers& b) const {
    const std::size_t np = pairs_of(n), full = n / 2;
    for (std::size_t g = 0; g < s_; ++g) {
      const T* a = in[full_src_[g] * n];
      T* z = b.zf[g * np];
      const T sign = full_conj_[g] ? T(-1) : T(1);
      // z = A + i·B with A, B the spectra of images 2p, 2p+1 at g (conjugated off the half grid).
      for (std::size_t p = 0; p < full; ++p) {
        const T ar = a[4 * p], ai = sign * a[4 * p + 1], br = a[4 * p + 2], bi = sign * a[4 * p + 3];
        z[2 * p] = ar - bi;
        z[2 * p + 1] = ai + br;
      }
      if (n % 2) {
        z[2 * full] = a[4 * full];
        z[2 * full + 1] = sign * a[4 * full + 1];
      }
    }
    F::exec(plan(np).bwd, b.zf, b.zs);
    for (std::size_t p = 0; p < np; ++p) {
      const T* z = b.zs[p * s_];
      T* a = out + 2 * p * s_;
      if (2 * p + 1 < n) {
        T* bb = a + s_;
        for (std::size_t s = 0; s < s_; ++s) {
          a[s] = z[2 * s];
          bb[s] = z[2 * s + 1];
        }
      } else {
        for (std::size_t s = 0; s < s_; ++s) a[s] = z[2 * s];
      }
    }
  }

  /// Y_f (m × C_out) = X_f (m × C_in) · K_fᵀ.
  void mix_forward(std::size_t m, const Buffers& b) const {
    for (std::size_t f = 0; f < f_; ++f)
      F::gemm(CblasNoTrans, CblasTrans, m, co_, ci_, b.xh + f * m * ci_, ci_, b.kh + f * co_ * ci_, ci_, false,
              b.yh + f * m * co_, co_);
  }
  /// GX_f (m × C_in) = GY_f (m × C_out) · conj(K_f); kh must hold conj(K̂).
  void mix_input_grad(std::size_t m, const Buffers& b) const {
    for (std::size_t f = 0; f < f_; ++f)
      F::gemm(CblasNoTrans, CblasNoTrans, m, ci_, co_, b.yh + f * m * co_, co_, b.kh + f * co_ * ci_, ci_, false,
              b.xh + f * m * ci_, ci_);
  }

  Buffers carve(T* scratch, std::size_t batch) const {
    const std::size_t m = std::min(block_, std::max<std::size_t>(batch, 1));
    const std::size_t np = max_pairs(m);
    Carver cv(scratch);
    Buffers b;
    b.kh = cv.take<cpx>(f_ * ci_ * co_);
    b.gk = cv.take<cpx>(f_ * ci_ * co_);
    b.kern = cv.take<T>(ci_ * co_ * s_);
    b.xh = cv.take<cpx>(f_ * m * ci_);
    b.yh = cv.take<cpx>(f_ * m * co_);
    b.zs = cv.take<cpx>(np * s_);
    b.zf = cv.take<cpx>(np * s_);
    return b;
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

  /// K̂ (frequency-major, C_out × C_in per frequency) from the coordinates, 1/N² included;
  /// its complex conjugate (the spectra of Wᵀ's kernels) when `conjugate`.
  void kernel_spectrum(const T* c, const Buffers& b, bool conjugate) const {
    std::vector<T> vals(k_);
    for (std::size_t j = 0; j < co_ * ci_; ++j) {
      const T* cj = c + j * k_;
      for (std::size_t k = 0; k < k_; ++k) vals[k] = static_cast<T>(static_cast<double>(cj[k]) * scale_[k]);
      T* kern = b.kern + j * s_;
      for (std::size_t d = 0; d < s_; ++d) kern[d] = vals[orbit_[d]];
    }
    spectra(ci_ * co_, b.kern, b.kh, b);
    if (conjugate)
      for (std::size_t i = 0; i < f_ * co_ * ci_; ++i) b.kh[i][1] = -b.kh[i][1];
  }

  std::shared_ptr<const EquivariantSubspace> sub_;
  std::size_t n_, s_, f_, ci_, co_, k_, block_;
  std::vector<std::uint32_t> orbit_;       // k(δ)
  std::vector<double> scale_;              // 1 / (√|orbit k| · N²)
  std::vector<std::uint32_t> half_, neg_;  // half-grid h → full index of f and of −f
  std::vector<std::uint32_t> full_src_;    // full g → half-grid index of g or of −g
  std::vector<std::uint8_t> full_conj_;    // … and whether it is −g (conjugate)
  std::map<std::size_t, Plans> plans_;     // by number of packed pairs
};

}  // namespace

template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub, EquiEval eval,
                                              const EquiOpTuning& tuning) {
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

template std::unique_ptr<EquiLinearOp<float>> make_equi_op<float>(std::shared_ptr<const EquivariantSubspace>, EquiEval);
template std::unique_ptr<EquiLinearOp<double>> make_equi_op<double>(std::shared_ptr<const EquivariantSubspace>,
                                                                    EquiEval);
template std::unique_ptr<EquiLinearOp<float>> make_equi_op<float>(std::shared_ptr<const EquivariantSubspace>, EquiEval,
                                                                  const EquiOpTuning&);
template std::unique_ptr<EquiLinearOp<double>> make_equi_op<double>(std::shared_ptr<const EquivariantSubspace>,
                                                                    EquiEval, const EquiOpTuning&);

}  // namespace eqaug
