#pragma once
// One definition per layer kind: its configuration name and fields, how it joins a model,
// its forward and backward passes, its R-operator twins for exact Hessian-vector products
// and what the Hessian pass must keep of the primal passes. Network (nn/model.hpp) and
// the configuration parser (config/config.cpp) reach every kind through this interface; the
// definitions live in src/nn/layers/, one file a kind (docs/extending.md).
//
// Activations are row-major batch × features, feature index c·S + s (channel, site).
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/core/fields.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/nn/layer_kind.hpp"

namespace eqaug {

class ModelSpec;
struct LayerSpec;

/// The buffers of one layer on a chunk of `batch` samples. Which ones are set depends on
/// the call (see LayerType); w and v are the layer's own slices of the parameter vector and
/// of the direction (null for kinds without parameters).
template <typename T>
struct LayerBuffers {
  const LayerSpec* layer = nullptr;
  std::size_t batch = 0;
  const T* w = nullptr;    // the layer's weights
  const T* v = nullptr;    // R-ops: the direction's slice
  const T* x = nullptr;    // input activations
  const T* y = nullptr;    // output activations
  const T* gy = nullptr;   // gradient of the summed loss w.r.t. the output
  const T* rx = nullptr;   // R-ops: R(x), or null where the input does not depend on A (the first layer)
  const T* ry = nullptr;   // R-ops: R(y)
  const T* rgy = nullptr;  // R-ops: R(gy)
};

/// What the R-passes read of the primal passes (kept between Hessian-vector products).
struct HvpReads {
  bool input = false;   // x
  bool output = false;  // y
  bool grad = false;    // gy
};

class LayerType {
 public:
  virtual ~LayerType() = default;
  virtual LayerKind kind() const = 0;
  /// `type` in a configuration's model.layers.
  virtual std::string name() const = 0;
  /// One sentence for the configuration reference.
  virtual std::string summary() const = 0;
  /// The keys of its model.layers[] table besides `type`, for the configuration reference.
  struct FieldDoc {
    std::string key, type, default_value, allowed, meaning;
  };
  virtual std::vector<FieldDoc> fields() const = 0;
  /// Reads its fields of a model.layers[] table (errors name the field) and writes them,
  /// every default filled in, into `out`.
  virtual void parse(Fields& f, nlohmann::json& out) const = 0;
  /// Appends the layer that a resolved table describes.
  virtual void build(ModelSpec& spec, const nlohmann::json& layer) const = 0;
  /// Whether it has weights of its own: a slice of the parameter vector, a map between the
  /// spaces LayerSpec::w_in → w_out with its own E (ModelSpec::add_weighted).
  virtual bool has_weights() const { return false; }
  /// Kinds with weights: the prefix of their names ("A" gives A0, A1, …): weight files
  /// <name>.npy, the columns dist_E_<name>, the manifest's model.layers.
  virtual std::string weights_name() const { return {}; }
  /// Kinds with weights: draws layer l's count weights into w (dense layout, in double).
  virtual void init(const LayerSpec& l, Rng& rng, double* w) const {
    (void)l;
    (void)rng;
    (void)w;
  }
  /// Throws eqaug::Error when a layer of this kind cannot follow `in` with these numbers
  /// (ModelSpec::add calls it for kinds without weights).
  virtual void check(const Space& in, const LayerParams& params) const {
    (void)in;
    (void)params;
  }
  virtual HvpReads hvp_reads() const = 0;
  /// Whether its output for a sample depends on the other samples of its minibatch (batch
  /// statistics): the model is then evaluated in minibatches of ModelSpec::minibatch().
  virtual bool couples_samples() const { return false; }
  /// Whether the CUDA backend (backend/cuda/dense_engine.cu) has its kernels; a run on a GPU
  /// refuses a model with a kind that has none.
  virtual bool on_gpu() const { return false; }

  /// y from x (and w).
  virtual void forward(const LayerBuffers<float>& b, float* y) const = 0;
  virtual void forward(const LayerBuffers<double>& b, double* y) const = 0;
  /// The gradient w.r.t. the input into gx (when not null) and, for kinds with weights,
  /// w.r.t. the weights into gw (when not null; written, or added with `accumulate`).
  virtual void backward(const LayerBuffers<float>& b, float* gx, float* gw, bool accumulate) const = 0;
  virtual void backward(const LayerBuffers<double>& b, double* gx, double* gw, bool accumulate) const = 0;
  /// R(y) from R(x) (and v): reads what hvp_reads() names.
  virtual void rop_forward(const LayerBuffers<float>& b, float* ry) const = 0;
  virtual void rop_forward(const LayerBuffers<double>& b, double* ry) const = 0;
  /// R(gx) into rgx (when not null) and R(gw) into rgw (kinds with weights).
  virtual void rop_backward(const LayerBuffers<float>& b, float* rgx, float* rgw, bool accumulate) const = 0;
  virtual void rop_backward(const LayerBuffers<double>& b, double* rgx, double* rgw, bool accumulate) const = 0;
};

/// Every kind, in the order of LayerKind.
const std::vector<const LayerType*>& layer_types();
const LayerType& layer_type(LayerKind kind);
/// By configuration name; throws eqaug::Error listing the available ones.
const LayerType& layer_type(const std::string& name);

/// Implements LayerType's float and double entry points from one template per call:
/// `K` provides `template <typename T> static void forward(const LayerBuffers<T>&, T* y)`
/// and likewise backward, rop_forward and rop_backward.
template <class K>
class LayerTypeOf : public LayerType {
 public:
  void forward(const LayerBuffers<float>& b, float* y) const override { K::forward(b, y); }
  void forward(const LayerBuffers<double>& b, double* y) const override { K::forward(b, y); }
  void backward(const LayerBuffers<float>& b, float* gx, float* gw, bool acc) const override {
    K::backward(b, gx, gw, acc);
  }
  void backward(const LayerBuffers<double>& b, double* gx, double* gw, bool acc) const override {
    K::backward(b, gx, gw, acc);
  }
  void rop_forward(const LayerBuffers<float>& b, float* ry) const override { K::rop_forward(b, ry); }
  void rop_forward(const LayerBuffers<double>& b, double* ry) const override { K::rop_forward(b, ry); }
  void rop_backward(const LayerBuffers<float>& b, float* rgx, float* rgw, bool acc) const override {
    K::rop_backward(b, rgx, rgw, acc);
  }
  void rop_backward(const LayerBuffers<double>& b, double* rgx, double* rgw, bool acc) const override {
    K::rop_backward(b, rgx, rgw, acc);
  }
};

}  // namespace eqaug
