#pragma once
// Linear layers restricted to the equivariant subspace E, evaluated through E's structure
// instead of as dense matrices. The parameters of such a layer are its orthonormal orbit
// coordinates (EquivariantSubspace::to_coords layout: c[(c_o·C_in + c_i)·K + k], K the
// number of orbits of site pairs), so W = from_coords(c) and the gradient w.r.t. c is
// to_coords(dense weight gradient). The dense layer built from c stays the oracle: every
// structured op must agree with it (tests/nn/test_equi_ops.cpp).
//
// Structures recognised (from the orbit partition itself, not from the group's name):
//  - "fft":   pixels → pixels on an N×N grid where the orbit of a site pair (s_o, s_i)
//             depends only on the circular offset s_o − s_i (any group containing both
//             circular shifts: Z_N², C_4 ⋉ Z_N²): a multi-channel circular convolution,
//             evaluated with FFTW, channels mixed per frequency;
//  - "pool":  sites → the trivial site: sum each input orbit of sites (scaled), then a
//             small dense product;
//  - "trivial": trivial site → trivial site: the coordinates are the weights;
//  - "dense": anything else: W materialised from c, one GEMM (the fallback).
//
// Activations are row-major batch × features, feature index c·S + s, as in Network.
#include <cstddef>
#include <memory>
#include <string>

#include "eqaug/equivariance/subspace.hpp"

namespace eqaug {

template <typename T>
class EquiLinearOp {
 public:
  virtual ~EquiLinearOp() = default;
  /// "fft", "pool", "trivial" or "dense".
  virtual std::string kind() const = 0;
  /// Elements of T scratch memory one call with up to `batch` samples needs.
  virtual std::size_t scratch_size(std::size_t batch) const = 0;
  /// y = W x for `batch` samples (W = from_coords(c)).
  virtual void forward(const T* c, const T* x, T* y, std::size_t batch, T* scratch) const = 0;
  /// gx = Wᵀ gy.
  virtual void input_grad(const T* c, const T* gy, T* gx, std::size_t batch, T* scratch) const = 0;
  /// gc = to_coords(Σ_b gy_b x_bᵀ), written (accumulate = false) or added.
  virtual void coord_grad(const T* x, const T* gy, T* gc, std::size_t batch, bool accumulate, T* scratch) const = 0;
  /// input_grad (skipped when gx is null) and coord_grad in one call; ops that transform gy
  /// (fft) do it once for both.
  virtual void backward(const T* c, const T* x, const T* gy, T* gx, T* gc, std::size_t batch, bool accumulate,
                        T* scratch) const {
    if (gx) input_grad(c, gy, gx, batch, scratch);
    coord_grad(x, gy, gc, batch, accumulate, scratch);
  }
};

enum class EquiEval {
  Structured,  // the fastest op recognised for each layer
  Dense,       // always the dense fallback (the oracle)
};

/// The op for a layer with subspace `sub`. Ops are immutable after construction and may
/// be called from several threads at once (each with its own scratch).
template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub,
                                              EquiEval eval = EquiEval::Structured);

/// Knobs of the structured ops, for benchmarks; the defaults are the measured best.
struct EquiOpTuning {
  /// Samples per batched FFT block of the "fft" op (the channel-mixing GEMMs are
  /// block × channels); a batch's tail runs in descending powers of two.
  std::size_t fft_block = 16;
};

template <typename T>
std::unique_ptr<EquiLinearOp<T>> make_equi_op(std::shared_ptr<const EquivariantSubspace> sub, EquiEval eval,
                                              const EquiOpTuning& tuning);

}  // namespace eqaug
