// `linear`: a dense map between two spaces of the model, y = x Wᵀ with W: out × in, its
// weights a slice of the parameter vector whose equivariant subspace E comes from the group
// (ModelSpec::linear). Every product is one GEMM over the whole chunk.
#include <algorithm>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct Linear {
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    ops::linear_forward(b.w, b.x, y, b.batch, b.layer->in.dim(), b.layer->out.dim());
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T* gw, bool accumulate) {
    const std::size_t in = b.layer->in.dim(), out = b.layer->out.dim();
    if (gw) ops::linear_weight_grad(b.x, b.gy, gw, b.batch, in, out, accumulate);
    if (gx) ops::linear_input_grad(b.w, b.gy, gx, b.batch, in, out);
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {
    ops::linear_rop_forward(b.w, b.v, b.x, b.rx, ry, b.batch, b.layer->in.dim(), b.layer->out.dim());
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T* rgw, bool accumulate) {
    const std::size_t in = b.layer->in.dim(), out = b.layer->out.dim();
    if (rgw) ops::linear_rop_weight_grad(b.x, b.rx, b.gy, b.rgy, rgw, b.batch, in, out, accumulate);
    if (rgx) ops::linear_rop_input_grad(b.w, b.v, b.gy, b.rgy, rgx, b.batch, in, out);
  }
};

class LinearType final : public LayerTypeOf<Linear> {
 public:
  LayerKind kind() const override { return LayerKind::Linear; }
  std::string name() const override { return "linear"; }
  std::string summary() const override {
    return "a dense map to `channels` × (tuples of `order` base points), its weights projected onto E";
  }
  std::vector<FieldDoc> fields() const override {
    return {
        {"channels", "integer", "required (linear)", "≥ 1", "Output channels of a linear layer."},
        {"order", "integer", "required (linear)", "0 … 4", "Output site order of a linear layer."},
        {"init", "string", "`normal`", "`normal`, `normal_per_channel_pair`",
         "How a linear layer is drawn before the projection onto E: N(0, std²) per entry, or one value per channel "
         "pair repeated over all sites."},
        {"std", "number", "required (linear)", "≥ 0", "Standard deviation of the initialisation."},
    };
  }
  void parse(Fields& f, json& out) const override {
    f.count("channels", 1);
    if (f.count("order") > 4) f.fail(f.at("order"), "tuples of more than 4 points are not supported");
    const auto init = f.str("init", "normal");
    if (init != "normal" && init != "normal_per_channel_pair")
      f.fail(f.at("init"), "unknown init '" + init + "' (expected normal or normal_per_channel_pair)");
    out["init"] = init;
    if (f.num("std") < 0) f.fail(f.at("std"), "must be non-negative");
  }
  void build(ModelSpec& spec, const json& l) const override {
    InitSpec init;
    init.kind =
        l.at("init").get<std::string>() == "normal" ? InitSpec::Kind::Normal : InitSpec::Kind::NormalPerChannelPair;
    init.std = l.at("std").get<double>();
    spec.linear(l.at("channels").get<std::size_t>(), l.at("order").get<std::size_t>(), init);
  }
  bool has_weights() const override { return true; }
  std::string weights_name() const override { return "A"; }
  void init(const LayerSpec& l, Rng& rng, double* w) const override {
    if (l.init.kind == InitSpec::Kind::Normal) {
      for (std::size_t j = 0; j < l.count; ++j) w[j] = l.init.std * rng.normal();
      return;
    }
    // One value per channel pair, repeated over all site pairs.
    const std::size_t Co = l.out.channels, Ci = l.in.channels, So = l.out.sites, Si = l.in.sites;
    std::vector<double> v(Co * Ci);
    for (auto& x : v) x = l.init.std * rng.normal();
    for (std::size_t co = 0; co < Co; ++co)
      for (std::size_t so = 0; so < So; ++so)
        for (std::size_t ci = 0; ci < Ci; ++ci) std::fill_n(w + ((co * So + so) * Ci + ci) * Si, Si, v[co * Ci + ci]);
  }
  bool on_gpu() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = true, .output = false, .grad = true}; }
};

}  // namespace

const LayerType& linear_layer_type() {
  static const LinearType t;
  return t;
}

}  // namespace eqaug
