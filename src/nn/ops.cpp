#include "eqaug/nn/ops.hpp"
#include "eqaug/nn/site_ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "eqaug/core/blas.hpp"

namespace eqaug::ops {

using blas::Op;

template <typename T>
void linear_forward(const T* w, const T* x, T* y, std::size_t batch, std::size_t in, std::size_t out) {
  blas::gemm<T>(Op::N, Op::T, batch, out, in, T(1), x, in, w, in, T(0), y, out);
}

template <typename T>
void linear_weight_grad(const T* x, const T* gy, T* gw, std::size_t batch, std::size_t in, std::size_t out,
                        bool accumulate) {
  blas::gemm<T>(Op::T, Op::N, out, in, batch, T(1), gy, out, x, in, accumulate ? T(1) : T(0), gw, in);
}

template <typename T>
void linear_input_grad(const T* w, const T* gy, T* gx, std::size_t batch, std::size_t in, std::size_t out) {
  blas::gemm<T>(Op::N, Op::N, batch, in, out, T(1), gy, out, w, in, T(0), gx, in);
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, std::size_t n, T slope) {
  for (std::size_t i = 0; i < n; ++i) y[i] = site::leaky_relu(x[i], slope);
}

template <typename T>
void leaky_relu_backward(const T* y, const T* gy, T* gx, std::size_t n, T slope) {
  for (std::size_t i = 0; i < n; ++i) gx[i] = site::leaky_relu_grad(y[i], gy[i], slope);
}

template <typename T>
void layer_norm_forward(const T* x, T* y, std::size_t batch, std::size_t C, std::size_t S, double eps) {
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t s = 0; s < S; ++s) site::layer_norm_forward(x + b * C * S + s, y + b * C * S + s, C, S, eps);
}

template <typename T>
void layer_norm_backward(const T* x, const T* y, const T* gy, T* gx, std::size_t batch, std::size_t C, std::size_t S,
                         double eps) {
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t at = b * C * S + s;
      site::layer_norm_backward(x + at, y + at, gy + at, gx + at, C, S, eps);
    }
}

template <typename T>
void sigmoid_forward(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = site::sigmoid(x[i]);
}
template <typename T>
void sigmoid_backward(const T* y, const T* gy, T* gx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gx[i] = site::sigmoid_grad(y[i], gy[i]);
}
template <typename T>
void tanh_forward(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = site::tanh_act(x[i]);
}
template <typename T>
void tanh_backward(const T* y, const T* gy, T* gx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gx[i] = site::tanh_grad(y[i], gy[i]);
}

template <typename T>
ChunkStats bce_loss(const T* p, const T* y, std::size_t batch, std::size_t C, std::size_t S, T* gp) {
  ChunkStats st;
  const std::size_t n = batch * C * S;
  const double inv_s = 1.0 / static_cast<double>(S);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t = site::bce(p[i], y[i], inv_s, gp ? gp + i : nullptr);
    st.loss_sum += t.loss;
    st.correct += t.correct ? 1.0 : 0.0;
  }
  st.predictions = static_cast<double>(n);
  return st;
}

template <typename T>
ChunkStats softmax_cross_entropy(const T* z, const T* y, std::size_t batch, std::size_t C, std::size_t S, T* gz) {
  ChunkStats st;
  const double inv_s = 1.0 / static_cast<double>(S);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t at = b * C * S + s;
      const auto r = site::softmax_cross_entropy(z + at, y + at, C, S, inv_s, gz ? gz + at : nullptr);
      st.loss_sum += r.loss * inv_s;
      st.correct += r.correct ? 1.0 : 0.0;
    }
  st.predictions = static_cast<double>(batch * S);
  return st;
}

template <typename T>
void linear_rop_forward(const T* w, const T* v, const T* x, const T* rx, T* ry, std::size_t batch, std::size_t in,
                        std::size_t out) {
  blas::gemm<T>(Op::N, Op::T, batch, out, in, T(1), x, in, v, in, T(0), ry, out);
  if (rx) blas::gemm<T>(Op::N, Op::T, batch, out, in, T(1), rx, in, w, in, T(1), ry, out);
}

template <typename T>
void linear_rop_weight_grad(const T* x, const T* rx, const T* gy, const T* rgy, T* rgw, std::size_t batch,
                            std::size_t in, std::size_t out, bool accumulate) {
  blas::gemm<T>(Op::T, Op::N, out, in, batch, T(1), rgy, out, x, in, accumulate ? T(1) : T(0), rgw, in);
  if (rx) blas::gemm<T>(Op::T, Op::N, out, in, batch, T(1), gy, out, rx, in, T(1), rgw, in);
}

template <typename T>
void linear_rop_input_grad(const T* w, const T* v, const T* gy, const T* rgy, T* rgx, std::size_t batch, std::size_t in,
                           std::size_t out) {
  blas::gemm<T>(Op::N, Op::N, batch, in, out, T(1), rgy, out, w, in, T(0), rgx, in);
  blas::gemm<T>(Op::N, Op::N, batch, in, out, T(1), gy, out, v, in, T(1), rgx, in);
}

template <typename T>
void layer_norm_rop_backward(const T* x, const T* y, const T* gy, const T* rx, const T* ry, const T* rgy, T* rgx,
                             std::size_t batch, std::size_t C, std::size_t S, double eps) {
  const double inv_c = 1.0 / static_cast<double>(C);
  for (std::size_t b = 0; b < batch; ++b) {
    const std::size_t base = b * C * S;
    for (std::size_t s = 0; s < S; ++s) {
      auto at = [&](const T* a, std::size_t c) { return static_cast<double>(a[base + c * S + s]); };
      const double inv = site::channel_moments(x + base + s, C, S, eps).inv;  // the forward's σ, to the bit
      double m_g = 0, m_yg = 0, m_rg = 0, m_yrg = 0, m_yrx = 0, m_ryg = 0;
      for (std::size_t c = 0; c < C; ++c) {
        m_g += at(gy, c);
        m_yg += at(y, c) * at(gy, c);
        m_rg += at(rgy, c);
        m_yrg += at(y, c) * at(rgy, c);
        m_yrx += at(y, c) * at(rx, c);
        m_ryg += at(ry, c) * at(gy, c);
      }
      m_g *= inv_c, m_yg *= inv_c, m_rg *= inv_c, m_yrg *= inv_c, m_yrx *= inv_c, m_ryg *= inv_c;
      // R(σ)/σ = mean(y·rx)·inv (var' = 2σ mean(y·rx), since Σ y = 0).
      const double rsig = m_yrx * inv;
      for (std::size_t c = 0; c < C; ++c) {
        const double gx = (at(gy, c) - m_g - at(y, c) * m_yg) * inv;
        const double jr = (at(rgy, c) - m_rg - at(y, c) * m_yrg) * inv;
        const double rm = -(at(ry, c) * m_yg + at(y, c) * m_ryg) * inv;
        rgx[base + c * S + s] = static_cast<T>(-rsig * gx + jr + rm);
      }
    }
  }
}

template <typename T>
void sigmoid_rop_backward(const T* y, const T* gy, const T* ry, const T* rgy, T* rgx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) rgx[i] = rgy[i] * y[i] * (T(1) - y[i]) + gy[i] * (T(1) - T(2) * y[i]) * ry[i];
}

template <typename T>
void tanh_rop_backward(const T* y, const T* gy, const T* ry, const T* rgy, T* rgx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) rgx[i] = rgy[i] * (T(1) - y[i] * y[i]) - T(2) * gy[i] * y[i] * ry[i];
}

template <typename T>
void bce_loss_rop(const T* p, const T* y, const T* rp, T* rgp, std::size_t batch, std::size_t C, std::size_t S) {
  const std::size_t n = batch * C * S;
  const double inv_s = 1.0 / static_cast<double>(S);
  for (std::size_t i = 0; i < n; ++i) {
    const double pi = static_cast<double>(p[i]), yi = static_cast<double>(y[i]), q = pi * (1.0 - pi);
    // gp = (p − y)/max(q, 1e-12)/S, differentiated as written (the clamp's branch too).
    const double d = q > 1e-12 ? (q - (pi - yi) * (1.0 - 2.0 * pi)) / (q * q) : 1.0 / 1e-12;
    rgp[i] = static_cast<T>(d * inv_s * static_cast<double>(rp[i]));
  }
}

template <typename T>
void softmax_cross_entropy_rop(const T* z, const T* y, const T* rz, T* rgz, std::size_t batch, std::size_t C,
                               std::size_t S) {
  const double inv_s = 1.0 / static_cast<double>(S);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t base = b * C * S + s;
      double zmax = -std::numeric_limits<double>::infinity(), ysum = 0.0;
      for (std::size_t c = 0; c < C; ++c) {
        zmax = std::max(zmax, static_cast<double>(z[base + c * S]));
        ysum += static_cast<double>(y[base + c * S]);
      }
      double sum = 0.0;
      for (std::size_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(z[base + c * S]) - zmax);
      double prz = 0.0;
      for (std::size_t c = 0; c < C; ++c)
        prz += std::exp(static_cast<double>(z[base + c * S]) - zmax) / sum * static_cast<double>(rz[base + c * S]);
      for (std::size_t c = 0; c < C; ++c) {
        const double pc = std::exp(static_cast<double>(z[base + c * S]) - zmax) / sum;
        rgz[base + c * S] = static_cast<T>(ysum * pc * (static_cast<double>(rz[base + c * S]) - prz) * inv_s);
      }
    }
}

#define EQAUG_INSTANTIATE(T)                                                                                    \
  template void linear_forward<T>(const T*, const T*, T*, std::size_t, std::size_t, std::size_t);               \
  template void linear_weight_grad<T>(const T*, const T*, T*, std::size_t, std::size_t, std::size_t, bool);     \
  template void linear_input_grad<T>(const T*, const T*, T*, std::size_t, std::size_t, std::size_t);            \
  template void leaky_relu_forward<T>(const T*, T*, std::size_t, T);                                            \
  template void leaky_relu_backward<T>(const T*, const T*, T*, std::size_t, T);                                 \
  template void layer_norm_forward<T>(const T*, T*, std::size_t, std::size_t, std::size_t, double);             \
  template void layer_norm_backward<T>(const T*, const T*, const T*, T*, std::size_t, std::size_t, std::size_t, \
                                       double);                                                                 \
  template void sigmoid_forward<T>(const T*, T*, std::size_t);                                                  \
  template void sigmoid_backward<T>(const T*, const T*, T*, std::size_t);                                       \
  template void tanh_forward<T>(const T*, T*, std::size_t);                                                     \
  template void tanh_backward<T>(const T*, const T*, T*, std::size_t);                                          \
  template ChunkStats bce_loss<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, T*);               \
  template ChunkStats softmax_cross_entropy<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, T*);  \
  template void linear_rop_forward<T>(const T*, const T*, const T*, const T*, T*, std::size_t, std::size_t,     \
                                      std::size_t);                                                             \
  template void linear_rop_weight_grad<T>(const T*, const T*, const T*, const T*, T*, std::size_t, std::size_t, \
                                          std::size_t, bool);                                                   \
  template void linear_rop_input_grad<T>(const T*, const T*, const T*, const T*, T*, std::size_t, std::size_t,  \
                                         std::size_t);                                                          \
  template void layer_norm_rop_backward<T>(const T*, const T*, const T*, const T*, const T*, const T*, T*,      \
                                           std::size_t, std::size_t, std::size_t, double);                      \
  template void sigmoid_rop_backward<T>(const T*, const T*, const T*, const T*, T*, std::size_t);               \
  template void tanh_rop_backward<T>(const T*, const T*, const T*, const T*, T*, std::size_t);                  \
  template void bce_loss_rop<T>(const T*, const T*, const T*, T*, std::size_t, std::size_t, std::size_t);       \
  template void softmax_cross_entropy_rop<T>(const T*, const T*, const T*, T*, std::size_t, std::size_t, std::size_t);
EQAUG_INSTANTIATE(float)
EQAUG_INSTANTIATE(double)
#undef EQAUG_INSTANTIATE

}  // namespace eqaug::ops
