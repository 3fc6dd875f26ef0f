#pragma once
// The arithmetic of the point-wise layers, of layer norm and of the losses, shared by the
// CPU ops (nn/ops.cpp) and the CUDA kernels (backend/cuda/dense_engine.cu): the same
// operations in the same order, so that both round alike. The point-wise functions work
// on one value; layer norm and softmax cross-entropy on one site of one sample, the C
// values at [c·S] (c < C) from the pointers given, in double.
#include <cmath>
#include <cstddef>

#ifdef __CUDACC__
#define EQAUG_HOST_DEVICE __host__ __device__
#else
#define EQAUG_HOST_DEVICE
#endif

namespace eqaug::site {

// exp and tanh of T's own precision: std:: on the host (float overloads), CUDA's on the device.
template <typename T>
EQAUG_HOST_DEVICE inline T exp_of(T x) {
#ifdef __CUDA_ARCH__
  return exp(x);
#else
  return std::exp(x);
#endif
}
template <typename T>
EQAUG_HOST_DEVICE inline T tanh_of(T x) {
#ifdef __CUDA_ARCH__
  return tanh(x);
#else
  return std::tanh(x);
#endif
}

template <typename T>
EQAUG_HOST_DEVICE inline T leaky_relu(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
/// d/dx from the output's sign (the input's for slope ≥ 0), applied to gy.
template <typename T>
EQAUG_HOST_DEVICE inline T leaky_relu_grad(T y, T gy, T slope) {
  return y > T(0) ? gy : slope * gy;
}
template <typename T>
EQAUG_HOST_DEVICE inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_of(-x));
}
template <typename T>
EQAUG_HOST_DEVICE inline T sigmoid_grad(T y, T gy) {
  return gy * y * (T(1) - y);
}
template <typename T>
EQAUG_HOST_DEVICE inline T tanh_act(T x) {
  return tanh_of(x);
}
template <typename T>
EQAUG_HOST_DEVICE inline T tanh_grad(T y, T gy) {
  return gy * (T(1) - y * y);
}

struct BceTerm {
  double loss = 0;       // −(y log p + (1 − y) log(1 − p)) / S: add it to the sample's loss
  bool correct = false;  // (p > ½) = (y > ½)
};

/// One output of binary cross-entropy with PyTorch's conventions (logs clamped at −100);
/// with gp, writes d(loss)/dp = (p − y)/max(p(1 − p), 1e-12) / S.
template <typename T>
EQAUG_HOST_DEVICE inline BceTerm bce(T p, T y, double inv_s, T* gp) {
  const double pi = static_cast<double>(p), yi = static_cast<double>(y);
  // std::max's comparisons (a NaN probability stays NaN, as on the host before).
  const double log_p = log(pi), log_q = log(1.0 - pi), pq = pi * (1.0 - pi);
  const double lp = log_p < -100.0 ? -100.0 : log_p, lq = log_q < -100.0 ? -100.0 : log_q;
  if (gp) *gp = static_cast<T>((pi - yi) / (pq < 1e-12 ? 1e-12 : pq) * inv_s);
  return {-((yi * lp + (1.0 - yi) * lq) * inv_s), (pi > 0.5) == (yi > 0.5)};
}

struct Moments {
  double mean = 0, inv = 0;  // mean and 1/σ, σ = sqrt(biased variance + eps)
};

template <typename T>
EQAUG_HOST_DEVICE inline Moments channel_moments(const T* x, std::size_t C, std::size_t S, double eps) {
  double mean = 0.0;
  for (std::size_t c = 0; c < C; ++c) mean += static_cast<double>(x[c * S]);
  mean /= static_cast<double>(C);
  double var = 0.0;
  for (std::size_t c = 0; c < C; ++c) {
    const double d = static_cast<double>(x[c * S]) - mean;
    var += d * d;
  }
  var /= static_cast<double>(C);  // biased, as in layer normalisation
  return {mean, 1.0 / sqrt(var + eps)};
}

template <typename T>
EQAUG_HOST_DEVICE inline void layer_norm_forward(const T* x, T* y, std::size_t C, std::size_t S, double eps) {
  const Moments m = channel_moments(x, C, S, eps);
  for (std::size_t c = 0; c < C; ++c) y[c * S] = static_cast<T>((static_cast<double>(x[c * S]) - m.mean) * m.inv);
}

/// gx = (gy − mean(gy) − y·mean(gy·y)) / σ, with σ recomputed from x.
template <typename T>
EQAUG_HOST_DEVICE inline void layer_norm_backward(const T* x, const T* y, const T* gy, T* gx, std::size_t C,
                                                  std::size_t S, double eps) {
  const double inv = channel_moments(x, C, S, eps).inv;
  double mg = 0.0, mgy = 0.0;
  for (std::size_t c = 0; c < C; ++c) {
    mg += static_cast<double>(gy[c * S]);
    mgy += static_cast<double>(gy[c * S]) * static_cast<double>(y[c * S]);
  }
  mg /= static_cast<double>(C);
  mgy /= static_cast<double>(C);
  for (std::size_t c = 0; c < C; ++c)
    gx[c * S] = static_cast<T>((static_cast<double>(gy[c * S]) - mg - static_cast<double>(y[c * S]) * mgy) * inv);
}

struct SoftmaxSite {
  double loss = 0;       // −Σ_c y_c log softmax(z)_c, not yet divided by the sites
  bool correct = false;  // argmax z = argmax y
};

/// Softmax cross-entropy from the logits z against the targets y at one site (one
/// log-sum-exp); with gz, writes d(loss · inv_s)/dz_c = (p_c Σ y − y_c) · inv_s.
template <typename T>
EQAUG_HOST_DEVICE inline SoftmaxSite softmax_cross_entropy(const T* z, const T* y, std::size_t C, std::size_t S,
                                                           double inv_s, T* gz) {
  double zmax = -INFINITY;
  std::size_t arg_z = 0, arg_y = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const double zc = static_cast<double>(z[c * S]);
    if (zc > zmax) {
      zmax = zc;
      arg_z = c;
    }
    if (y[c * S] > y[arg_y * S]) arg_y = c;
  }
  double sum = 0.0;
  for (std::size_t c = 0; c < C; ++c) sum += exp(static_cast<double>(z[c * S]) - zmax);
  const double lse = zmax + log(sum);
  double ysum = 0.0, loss = 0.0;
  for (std::size_t c = 0; c < C; ++c) {
    const double yc = static_cast<double>(y[c * S]);
    loss -= yc * (static_cast<double>(z[c * S]) - lse);
    ysum += yc;
  }
  if (gz)
    for (std::size_t c = 0; c < C; ++c) {
      const double p = exp(static_cast<double>(z[c * S]) - lse);
      gz[c * S] = static_cast<T>((p * ysum - static_cast<double>(y[c * S])) * inv_s);
    }
  return {loss, arg_z == arg_y};
}

}  // namespace eqaug::site
