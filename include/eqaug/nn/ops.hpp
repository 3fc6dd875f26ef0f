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

}  // namespace eqaug::ops
