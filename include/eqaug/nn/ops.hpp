#pragma once
// The numerical kernels behind the layers, on row-major batch × features blocks.
// Linear layers are single GEMMs over the whole chunk (OpenBLAS); the rest is
// point-wise or per-site work. Feature index: c·S + s.
#include <cstddef>

#include "eqaug/nn/model.hpp"

namespace eqaug::ops {

/// y = x Wᵀ, W: out × in.
template <typename T>
void linear_forward(const T* w, const T* x, T* y, std::size_t batch, std::size_t in, std::size_t out);
/// gW (+)= gyᵀ x.
template <typename T>
void linear_weight_grad(const T* x, const T* gy, T* gw, std::size_t batch, std::size_t in, std::size_t out,
                        bool accumulate);
/// gx = gy W.
template <typename T>
void linear_input_grad(const T* w, const T* gy, T* gx, std::size_t batch, std::size_t in, std::size_t out);

template <typename T>
void leaky_relu_forward(const T* x, T* y, std::size_t n, T slope);
/// Uses the output's sign (same as the input's for slope > 0).
template <typename T>
void leaky_relu_backward(const T* y, const T* gy, T* gx, std::size_t n, T slope);

/// Normalise across the C channels at each of the S sites of every sample.
template <typename T>
void layer_norm_forward(const T* x, T* y, std::size_t batch, std::size_t channels, std::size_t sites, double eps);
template <typename T>
void layer_norm_backward(const T* x, const T* y, const T* gy, T* gx, std::size_t batch, std::size_t channels,
                         std::size_t sites, double eps);

template <typename T>
void sigmoid_forward(const T* x, T* y, std::size_t n);
template <typename T>
void sigmoid_backward(const T* y, const T* gy, T* gx, std::size_t n);
template <typename T>
void tanh_forward(const T* x, T* y, std::size_t n);
template <typename T>
void tanh_backward(const T* y, const T* gy, T* gx, std::size_t n);

/// Binary cross-entropy on probabilities p, per sample Σ_channels mean_sites, with
/// PyTorch's conventions (log clamped at −100; gradient (p − y)/max(p(1 − p), 1e-12)).
/// Writes d(per-sample loss)/dp into gp when non-null.
template <typename T>
ChunkStats bce_loss(const T* p, const T* y, std::size_t batch, std::size_t channels, std::size_t sites, T* gp);

/// Cross-entropy of softmax(z) over the C channels at each site against the target
/// distribution y (one-hot for classification): per sample the mean over sites of
/// −Σ_c y_c log softmax(z)_c, from the logits with the log-sum-exp shift (stable for any
/// z). Correct: argmax z = argmax y (first maximum), one prediction per site. Writes
/// d(per-sample loss)/dz = (softmax(z) − y)/S into gz when non-null.
template <typename T>
ChunkStats softmax_cross_entropy(const T* z, const T* y, std::size_t batch, std::size_t channels, std::size_t sites,
                                 T* gz);

// ---- R-operator (forward-over-reverse) twins, for exact Hessian-vector products ----------
// R(f) is the directional derivative of f along a direction v of the parameters.

/// ry (+)= x Vᵀ + rx Wᵀ (rx may be null: the layer's input does not depend on A).
template <typename T>
void linear_rop_forward(const T* w, const T* v, const T* x, const T* rx, T* ry, std::size_t batch, std::size_t in,
                        std::size_t out);
/// R(gW) = R(gy)ᵀ x + gyᵀ rx, written or added into rgw.
template <typename T>
void linear_rop_weight_grad(const T* x, const T* rx, const T* gy, const T* rgy, T* rgw, std::size_t batch,
                            std::size_t in, std::size_t out, bool accumulate);
/// R(gx) = R(gy) W + gy V.
template <typename T>
void linear_rop_input_grad(const T* w, const T* v, const T* gy, const T* rgy, T* rgx, std::size_t batch, std::size_t in,
                           std::size_t out);
/// Layer norm: R(y) = J rx, J = (I − 11ᵀ/C − y yᵀ/C)/σ (the backward's map: J is symmetric);
/// R(gx) = −mean(y·rx)/σ · gx + (J rgy − (ry mean(y·gy) + y mean(ry·gy))/σ).
template <typename T>
void layer_norm_rop_backward(const T* x, const T* y, const T* gy, const T* rx, const T* ry, const T* rgy, T* rgx,
                             std::size_t batch, std::size_t channels, std::size_t sites, double eps);
/// σ: R(gx) = rgy y(1 − y) + gy (1 − 2y) ry.
template <typename T>
void sigmoid_rop_backward(const T* y, const T* gy, const T* ry, const T* rgy, T* rgx, std::size_t n);
/// tanh: R(gx) = rgy (1 − y²) − 2 gy y ry.
template <typename T>
void tanh_rop_backward(const T* y, const T* gy, const T* ry, const T* rgy, T* rgx, std::size_t n);
/// R of bce_loss's gp: d gp/dp · rp (the same clamps).
template <typename T>
void bce_loss_rop(const T* p, const T* y, const T* rp, T* rgp, std::size_t batch, std::size_t channels,
                  std::size_t sites);
/// R of softmax_cross_entropy's gz: Σy (P ⊙ rz − P (P·rz)) / S at each site.
template <typename T>
void softmax_cross_entropy_rop(const T* z, const T* y, const T* rz, T* rgz, std::size_t batch, std::size_t channels,
                               std::size_t sites);

}  // namespace eqaug::ops
