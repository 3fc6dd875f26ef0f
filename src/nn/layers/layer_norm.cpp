// `layernorm`: normalises across the C channels at each site of every sample, without
// affine parameters (nn/site_ops.hpp holds the arithmetic, shared with the CUDA kernels).
#include "eqaug/core/error.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct LayerNorm {
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    const auto& l = *b.layer;
    ops::layer_norm_forward(b.x, y, b.batch, l.in.channels, l.in.sites, l.params.eps);
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    const auto& l = *b.layer;
    if (gx) ops::layer_norm_backward(b.x, b.y, b.gy, gx, b.batch, l.in.channels, l.in.sites, l.params.eps);
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {  // its Jacobian is symmetric: the backward map
    const auto& l = *b.layer;
    ops::layer_norm_backward(b.x, b.y, b.rx, ry, b.batch, l.in.channels, l.in.sites, l.params.eps);
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {
    const auto& l = *b.layer;
    if (rgx)
      ops::layer_norm_rop_backward(b.x, b.y, b.gy, b.rx, b.ry, b.rgy, rgx, b.batch, l.in.channels, l.in.sites,
                                   l.params.eps);
  }
};

class LayerNormType final : public LayerTypeOf<LayerNorm> {
 public:
  LayerKind kind() const override { return LayerKind::LayerNorm; }
  std::string name() const override { return "layernorm"; }
  std::string summary() const override {
    return "normalises across the channels at each site, without affine parameters";
  }
  std::vector<FieldDoc> fields() const override {
    return {{"eps", "number", "`1e-05`", "> 0", "layernorm, batchnorm: added to the variance."}};
  }
  void parse(Fields& f, json& out) const override {
    const double eps = f.num("eps", 1e-5);
    if (eps <= 0) f.fail(f.at("eps"), "must be positive");
    out["eps"] = eps;
  }
  void build(ModelSpec& spec, const json& l) const override {
    spec.add(LayerKind::LayerNorm, {.eps = l.at("eps").get<double>()});
  }
  void check(const Space& in, const LayerParams&) const override {
    if (in.channels < 2) throw Error("layer norm across channels needs at least 2 channels");
  }
  bool on_gpu() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = true, .output = true, .grad = true}; }
};

}  // namespace

const LayerType& layer_norm_layer_type() {
  static const LayerNormType t;
  return t;
}

}  // namespace eqaug
