#pragma once
// The kinds of layers and losses, one list shared by the CPU network (nn/layers.hpp) and
// the CUDA backend (backend/cuda.hpp). Plain C++: the CUDA sources include it too. A new
// kind is one entry here and one definition in src/nn/layers/ (docs/extending.md).

namespace eqaug {

enum class LayerKind : int { Linear, LeakyReLU, LayerNorm, Sigmoid, Tanh, BatchNorm, Affine, Softmax };

/// BCE: binary cross-entropy on probabilities (after a sigmoid), per sample Σ over
/// channels of the mean over sites. CrossEntropy: softmax over the channels at each site
/// computed from the logits (one log-sum-exp, no separate softmax layer), mean over sites.
enum class LossKind : int { BCE, CrossEntropy };

/// The numbers of a layer besides its shapes, each read by the kinds that name it.
struct LayerParams {
  double slope = 0.01;  // lrelu: slope for negative inputs
  double eps = 1e-5;    // layernorm, batchnorm: added to the variance
  // batchnorm: the samples that share statistics (a minibatch, train.batch), consecutive in
  // every chunk from its first sample on; 0: the whole chunk.
  std::size_t minibatch = 0;
};

}  // namespace eqaug
