// The table of layer kinds: one line a kind, in the order of LayerKind.
#include "eqaug/core/error.hpp"
#include "eqaug/nn/layers.hpp"

namespace eqaug {

// The built-in kinds, one file each in src/nn/layers/.
const LayerType& linear_layer_type();
const LayerType& leaky_relu_layer_type();
const LayerType& layer_norm_layer_type();
const LayerType& sigmoid_layer_type();
const LayerType& tanh_layer_type();
const LayerType& batch_norm_layer_type();
const LayerType& affine_layer_type();
const LayerType& softmax_layer_type();

const std::vector<const LayerType*>& layer_types() {
  static const std::vector<const LayerType*> types = [] {
    std::vector<const LayerType*> t = {&linear_layer_type(),  &leaky_relu_layer_type(), &layer_norm_layer_type(),
                                       &sigmoid_layer_type(), &tanh_layer_type(),       &batch_norm_layer_type(),
                                       &affine_layer_type(),  &softmax_layer_type()};
    for (std::size_t i = 0; i < t.size(); ++i)
      EQAUG_CHECK(static_cast<std::size_t>(t[i]->kind()) == i, "layer_types() out of the order of LayerKind");
    return t;
  }();
  return types;
}

const LayerType& layer_type(LayerKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  EQAUG_CHECK(i < layer_types().size(), "a layer kind without a definition");
  return *layer_types()[i];
}

const LayerType& layer_type(const std::string& name) {
  std::string names;
  for (const auto* t : layer_types()) {
    if (t->name() == name) return *t;
    names += (names.empty() ? "" : ", ") + t->name();
  }
  throw Error("unknown layer type '" + name + "' (expected " + names + ")");
}

}  // namespace eqaug
