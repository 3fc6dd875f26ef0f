// `sigmoid`: the logistic function 1/(1 + e^(−x)), value by value (the output of the bce loss).
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct Sigmoid {
  template <typename T>
  static std::size_t n(const LayerBuffers<T>& b) {
    return b.batch * b.layer->in.dim();
  }
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    ops::sigmoid_forward(b.x, y, n(b));
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    if (gx) ops::sigmoid_backward(b.y, b.gy, gx, n(b));
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {  // ry = f'(x) rx: the backward map
    ops::sigmoid_backward(b.y, b.rx, ry, n(b));
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {
    if (rgx) ops::sigmoid_rop_backward(b.y, b.gy, b.ry, b.rgy, rgx, n(b));
  }
};

class SigmoidType final : public LayerTypeOf<Sigmoid> {
 public:
  LayerKind kind() const override { return LayerKind::Sigmoid; }
  std::string name() const override { return "sigmoid"; }
  std::string summary() const override { return "the logistic function 1/(1 + e^(−x)), value by value (the output of the bce loss)"; }
  std::vector<FieldDoc> fields() const override { return {}; }
  void parse(Fields&, json&) const override {}
  void build(ModelSpec& spec, const json&) const override { spec.add(LayerKind::Sigmoid); }
  bool on_gpu() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = false, .output = true, .grad = true}; }
};

}  // namespace

const LayerType& sigmoid_layer_type() {
  static const SigmoidType t;
  return t;
}

}  // namespace eqaug
