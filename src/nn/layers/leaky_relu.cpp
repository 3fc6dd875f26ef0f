// `lrelu`: y = x for x > 0, slope·x otherwise, value by value (nn/site_ops.hpp).
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct LeakyReLU {
  template <typename T>
  static std::size_t n(const LayerBuffers<T>& b) {
    return b.batch * b.layer->in.dim();
  }
  template <typename T>
  static T slope(const LayerBuffers<T>& b) {
    return static_cast<T>(b.layer->params.slope);
  }
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    ops::leaky_relu_forward(b.x, y, n(b), slope(b));
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    if (gx) ops::leaky_relu_backward(b.y, b.gy, gx, n(b), slope(b));
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {  // ry = f'(x) rx: the backward map
    ops::leaky_relu_backward(b.y, b.rx, ry, n(b), slope(b));
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {  // piecewise linear: f'(x) R(gy)
    if (rgx) ops::leaky_relu_backward(b.y, b.rgy, rgx, n(b), slope(b));
  }
};

class LeakyReLUType final : public LayerTypeOf<LeakyReLU> {
 public:
  LayerKind kind() const override { return LayerKind::LeakyReLU; }
  std::string name() const override { return "lrelu"; }
  std::string summary() const override { return "leaky ReLU, value by value"; }
  std::vector<FieldDoc> fields() const override {
    return {{"slope", "number", "`0.01`", "≥ 0", "lrelu: slope for negative inputs."}};
  }
  void parse(Fields& f, json& out) const override {
    // The backward pass reads the sign of the output, which needs slope ≥ 0.
    const double slope = f.num("slope", 0.01);
    if (slope < 0) f.fail(f.at("slope"), "must be non-negative");
    out["slope"] = slope;
  }
  void build(ModelSpec& spec, const json& l) const override {
    spec.add(LayerKind::LeakyReLU, {.slope = l.at("slope").get<double>()});
  }
  // Piecewise linear: its R-passes need the mask (the output's sign) only.
  bool on_gpu() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = false, .output = true, .grad = false}; }
};

}  // namespace

const LayerType& leaky_relu_layer_type() {
  static const LeakyReLUType t;
  return t;
}

}  // namespace eqaug
