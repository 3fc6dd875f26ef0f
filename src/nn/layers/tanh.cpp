// `tanh`: tanh, value by value.
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct Tanh {
  template <typename T>
  static std::size_t n(const LayerBuffers<T>& b) {
    return b.batch * b.layer->in.dim();
  }
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    ops::tanh_forward(b.x, y, n(b));
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    if (gx) ops::tanh_backward(b.y, b.gy, gx, n(b));
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {  // ry = f'(x) rx: the backward map
    ops::tanh_backward(b.y, b.rx, ry, n(b));
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {
    if (rgx) ops::tanh_rop_backward(b.y, b.gy, b.ry, b.rgy, rgx, n(b));
  }
};

class TanhType final : public LayerTypeOf<Tanh> {
 public:
  LayerKind kind() const override { return LayerKind::Tanh; }
  std::string name() const override { return "tanh"; }
  std::string summary() const override { return "tanh, value by value"; }
  std::vector<FieldDoc> fields() const override { return {}; }
  void parse(Fields&, json&) const override {}
  void build(ModelSpec& spec, const json&) const override { spec.add(LayerKind::Tanh); }
  bool on_gpu() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = false, .output = true, .grad = true}; }
};

}  // namespace

const LayerType& tanh_layer_type() {
  static const TanhType t;
  return t;
}

}  // namespace eqaug
