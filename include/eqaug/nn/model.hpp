#pragma once
// The MLP of the paper: a chain of layers between spaces X_0 → … → X_L, built from a
// description (ModelSpec, precision-free) and evaluated by Network<T> on chunks of many
// samples at once. All parameters live in one flat vector A; each layer with weights of
// its own (linear, affine) views the slice [offset, offset + count), so norms and Π_E over
// all of L are one call.
//
// Activations are row-major batch × features, feature index c·S + s (channel, site).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/nn/equi_ops.hpp"
#include "eqaug/nn/layer_kind.hpp"
#include "eqaug/nn/layers.hpp"

namespace eqaug {

/// How a linear layer is drawn before the projection onto E.
struct InitSpec {
  enum class Kind { Normal, NormalPerChannelPair } kind = Kind::Normal;
  double std = 1.0;  // N(0, std²) per entry, or one value per channel pair for all sites
};

struct LayerSpec {
  LayerKind kind = LayerKind::Linear;
  Space in, out;       // its input and output activations
  LayerParams params;  // the numbers of the kinds that read them (slope, eps, minibatch)
  // Kinds with weights of their own (LayerType::has_weights):
  std::string name;   // LayerType::weights_name() and its number among the layers of its kind: "A0", "affine0"
  Space w_in, w_out;  // the weights are a map w_in → w_out (linear: in → out), E = Hom_G(w_in, w_out)
  std::shared_ptr<const EquivariantSubspace> subspace;
  std::size_t offset = 0, count = 0;
  std::size_t coord_offset = 0;  // where its coordinates start in the E-coordinate vector
  InitSpec init;                 // linear: how its weights are drawn
};

class ModelSpec {
 public:
  ModelSpec(GroupPtr group, Space input);

  ModelSpec& linear(std::size_t out_channels, std::size_t out_order, InitSpec init = {});
  /// A scale and a shift per channel, the same at every site (weights (C, 2): scale, shift;
  /// drawn as 1 and 0). Equivariant for every group, so its E is all of its weights.
  ModelSpec& affine();
  /// Appends a layer without weights of its own, of any kind (nn/layers.hpp), after the
  /// kind's checks of its input space and numbers.
  ModelSpec& add(LayerKind kind, const LayerParams& params = {});
  /// Appends a layer of a kind with weights of its own (LayerType::has_weights) that keeps
  /// its input space: its weights are a map w_in → w_out with its own slice of A and its
  /// own E = Hom_G(w_in, w_out).
  ModelSpec& add(LayerKind kind, const LayerParams& params, const Space& w_in, const Space& w_out);
  ModelSpec& leaky_relu(double slope = 0.01);
  /// Normalises across channels at each site, no affine parameters.
  ModelSpec& layer_norm(double eps = 1e-5);
  ModelSpec& sigmoid();
  ModelSpec& tanh();
  ModelSpec& loss(LossKind kind);
  /// The minibatch of layers with batch statistics (LayerParams::minibatch); set before
  /// adding them. 0: the whole chunk.
  ModelSpec& set_minibatch(std::size_t samples);
  std::size_t minibatch() const { return minibatch_; }
  /// Whether some layer couples the samples of a minibatch (LayerType::couples_samples):
  /// chunks of the data are then multiples of minibatch() samples.
  bool couples_samples() const;

  const GroupPtr& group() const { return cache_.group(); }
  const Space& input() const { return input_; }
  const Space& output() const { return layers_.empty() ? input_ : layers_.back().out; }
  const std::vector<LayerSpec>& layers() const { return layers_; }
  /// Indices (into layers()) of the layers with weights of their own, in model order: each
  /// holds a slice of the parameter vector and has its own E.
  const std::vector<std::size_t>& weight_layers() const { return weighted_; }
  const LayerSpec& weight_layer(std::size_t j) const { return layers_[weighted_[j]]; }
  std::size_t num_params() const { return num_params_; }
  std::size_t dim_E() const;
  LossKind loss_kind() const { return loss_; }
  /// Width of the widest activation (features per sample).
  std::size_t max_width() const;

  /// A random point drawn per layer by its kind (LayerType::init; in double; not projected).
  std::vector<double> draw_init(Rng& rng) const;
  // Π_E and its relatives run on `pool`'s threads for image-sized layers
  // (EquivariantSubspace), on the calling thread without one.

  /// Orthonormal orbit coordinates of every layer, concatenated (length dim_E()).
  template <typename T>
  std::vector<double> to_coords(const T* params, ThreadPool* pool = nullptr) const;
  /// The point of E with coordinates c, written into the dense parameter vector.
  template <typename T>
  void from_coords(const double* c, T* params, ThreadPool* pool = nullptr) const;
  /// out = ρ̄(g)A: every layer acted on by g on its output and input sites.
  template <typename T>
  std::vector<T> act(const Permutation& g, const std::vector<T>& params) const;
  /// Π_E over all layers, in place.
  template <typename T>
  void project(T* params, ThreadPool* pool = nullptr) const;
  /// ‖A − Π_E A‖ per layer with weights.
  template <typename T>
  std::vector<double> distance_to_E(const T* params, ThreadPool* pool = nullptr) const;

 private:
  SubspaceCache cache_;
  Space input_;
  std::vector<LayerSpec> layers_;
  /// Appends l (kind, in, out, params, init and w_in/w_out set) with its slice and its E.
  void add_weighted(LayerSpec l);
  std::vector<std::size_t> weighted_;
  std::size_t num_params_ = 0;
  std::size_t minibatch_ = 0;
  LossKind loss_ = LossKind::BCE;
};

/// Per-thread buffers for one chunk: the activation after each layer and two gradient
/// buffers used in turn.
template <typename T>
struct Workspace {
  std::size_t capacity = 0;
  std::vector<std::vector<T>> act;  // act[0] input, act[i+1] output of layer i
  std::vector<T> grad_a, grad_b;
  std::vector<T> target;
  std::vector<T> scratch;  // structured (Equi) layers
  // Hessian-vector products (Network::hvp), allocated on first use: the loss gradient at
  // every layer's output, and the directional derivatives of the activations and of the
  // two gradient buffers.
  std::vector<std::vector<T>> gy;
  std::vector<std::vector<T>> ract;
  std::vector<T> rgrad_a, rgrad_b;
};

/// What a Network's parameter vector holds: the dense weights of every layer (a point
/// of L), or the orthonormal orbit coordinates of a point of E (dim_E() numbers), each
/// layer then evaluated through E's structure (nn/equi_ops.hpp).
enum class Parametrisation { Dense, Equivariant };

struct ChunkStats {
  double loss_sum = 0.0;  // Σ over samples of the per-sample loss
  double correct = 0.0;   // correctly predicted outputs
  double predictions = 0.0;
};

/// What Hessian-vector products at fixed parameters and data share, for one chunk: the
/// activations and the loss gradients of the primal passes, where the R-passes read them.
/// The first Network::hvp given a state fills it; later ones (other directions) skip the
/// primal forward and backward passes, about a third of a product's work (docs/benchmarks.md).
/// The products do not change by a bit.
template <typename T>
struct HvpState {
  bool ready = false;
  std::size_t batch = 0;
  ChunkStats stats;
  std::vector<std::vector<T>> act;  // act[i], i ≥ 1, where read (else empty)
  std::vector<std::vector<T>> gy;   // gradient w.r.t. layer i's output, where read (else empty)
};

template <typename T>
class Network {
 public:
  explicit Network(const ModelSpec& spec, Parametrisation p = Parametrisation::Dense,
                   EquiEval eval = EquiEval::Structured);
  const ModelSpec& spec() const { return *spec_; }
  Parametrisation parametrisation() const { return param_; }
  std::size_t num_params() const;
  /// How each layer with weights is evaluated: "dense" (weights), or the op kind in E.
  std::vector<std::string> layer_kinds() const;

  Workspace<T> make_workspace(std::size_t batch) const;

  /// Forward the `batch` samples already in ws.act[0], targets in ws.target; return
  /// the loss statistics and, when grad != nullptr, write (accumulate = false) or add
  /// (accumulate = true) the gradient of the *summed* loss w.r.t. all parameters.
  ChunkStats evaluate(const T* params, std::size_t batch, Workspace<T>& ws, T* grad, bool accumulate) const;

  /// Exact Hessian-vector product by forward-over-reverse (Pearlmutter's R-operator) through
  /// every layer and the loss: writes (accumulate = false) or adds H v into hv, H the
  /// Hessian of the *summed* loss of the batch w.r.t. the dense parameters. Same inputs as
  /// evaluate(); returns the loss statistics. Dense parametrisation only.
  /// With `state`: filled when not ready, read when ready (same params, batch and data).
  ChunkStats hvp(const T* params, const T* v, std::size_t batch, Workspace<T>& ws, T* hv, bool accumulate,
                 HvpState<T>* state = nullptr) const;
  /// Numbers an HvpState of `batch` samples holds.
  std::size_t hvp_state_size(std::size_t batch) const;

  /// Convenience: the network's outputs for `batch` inputs (row-major batch × in-dim).
  std::vector<T> predict(const T* params, const T* inputs, std::size_t batch) const;

 private:
  void forward(const T* params, std::size_t batch, Workspace<T>& ws) const;
  /// Layer i's buffers on a chunk, its weights set where the layer reads them itself (not
  /// through an op in E).
  LayerBuffers<T> buffers(std::size_t i, const T* params, std::size_t batch) const;
  /// Where layer i's weights (or coordinates) start in the parameter vector.
  std::size_t weights_at(std::size_t i) const;
  /// Sizes the buffers of Hessian-vector products in ws (once).
  void hvp_workspace(Workspace<T>& ws) const;
  /// The primal passes of a Hessian-vector product (activations and the loss gradient at
  /// every layer's output), kept in `state` where given.
  ChunkStats hvp_primal(const T* params, std::size_t batch, Workspace<T>& ws, HvpState<T>* state) const;
  /// The loss statistics of a chunk's outputs and, with g, d(summed loss)/d(outputs).
  ChunkStats loss(const T* out, const T* target, std::size_t batch, T* g) const;
  const ModelSpec* spec_;
  Parametrisation param_;
  // Equivariant only: per layer, the op in E of a linear layer (else null).
  std::vector<std::shared_ptr<const EquiLinearOp<T>>> ops_;
};

}  // namespace eqaug
