// `affine`: a scale and a shift per channel, the same at every site: y = γ_c x + β_c. Its
// weights are a layer's own slice of the parameter vector, laid out (C, 2) = (γ_c, β_c) per
// channel, and drawn as γ = 1, β = 0 (as a framework's affine batch norm). A map constant
// over the sites commutes with every permutation of them, so its E is all of its weights
// (Hom_G between spaces of order 0). `batchnorm` with `affine = true`
// builds a batch norm followed by this layer.
#include <algorithm>

#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct Affine {
  /// f(n, c, offset of the S sites of sample n, channel c) over the chunk.
  template <typename T, typename F>
  static void each(const LayerBuffers<T>& b, const F& f) {
    const std::size_t C = b.layer->in.channels, S = b.layer->in.sites;
    for (std::size_t n = 0; n < b.batch; ++n)
      for (std::size_t c = 0; c < C; ++c) f(c, (n * C + c) * S, S);
  }

  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    each(b, [&](std::size_t c, std::size_t at, std::size_t S) {
      const T g = b.w[2 * c], s = b.w[2 * c + 1];
      for (std::size_t k = at; k < at + S; ++k) y[k] = g * b.x[k] + s;
    });
  }
  /// Zeroes gw unless it accumulates.
  template <typename T>
  static void start(const LayerBuffers<T>& b, T* gw, bool accumulate) {
    if (gw && !accumulate) std::fill_n(gw, 2 * b.layer->in.channels, T(0));
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T* gw, bool accumulate) {
    start(b, gw, accumulate);
    each(b, [&](std::size_t c, std::size_t at, std::size_t S) {
      const T g = b.w[2 * c];
      T gg = 0, gs = 0;
      for (std::size_t k = at; k < at + S; ++k) {
        if (gx) gx[k] = g * b.gy[k];
        gg += b.gy[k] * b.x[k];
        gs += b.gy[k];
      }
      if (gw) {
        gw[2 * c] += gg;
        gw[2 * c + 1] += gs;
      }
    });
  }
  // R(y) = γ R(x) + v_γ x + v_β (R(x) = 0 where the input does not depend on A).
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {
    each(b, [&](std::size_t c, std::size_t at, std::size_t S) {
      const T g = b.w[2 * c], vg = b.v[2 * c], vs = b.v[2 * c + 1];
      for (std::size_t k = at; k < at + S; ++k) ry[k] = (b.rx ? g * b.rx[k] : T(0)) + vg * b.x[k] + vs;
    });
  }
  // R(gx) = γ R(gy) + v_γ gy; R(gγ) = Σ R(gy) x + gy R(x); R(gβ) = Σ R(gy).
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T* rgw, bool accumulate) {
    start(b, rgw, accumulate);
    each(b, [&](std::size_t c, std::size_t at, std::size_t S) {
      const T g = b.w[2 * c], vg = b.v[2 * c];
      T rgg = 0, rgs = 0;
      for (std::size_t k = at; k < at + S; ++k) {
        if (rgx) rgx[k] = g * b.rgy[k] + vg * b.gy[k];
        rgg += b.rgy[k] * b.x[k] + (b.rx ? b.gy[k] * b.rx[k] : T(0));
        rgs += b.rgy[k];
      }
      if (rgw) {
        rgw[2 * c] += rgg;
        rgw[2 * c + 1] += rgs;
      }
    });
  }
};

class AffineType final : public LayerTypeOf<Affine> {
 public:
  LayerKind kind() const override { return LayerKind::Affine; }
  std::string name() const override { return "affine"; }
  std::string summary() const override {
    return "a scale and a shift per channel, the same at every site, its weights (C, 2) drawn as 1 and 0 (named "
           "affine0, affine1, …; E is all of them) (CPU only)";
  }
  std::vector<FieldDoc> fields() const override { return {}; }
  void parse(Fields&, json&) const override {}
  void build(ModelSpec& spec, const json&) const override {
    // (C, 2): a map from the order-0 space of 2 channels to that of C, fixed by every group.
    const GroupPtr& g = spec.group();
    spec.add(LayerKind::Affine, {}, make_space(*g, 2, 0), make_space(*g, spec.output().channels, 0));
  }
  bool has_weights() const override { return true; }
  std::string weights_name() const override { return "affine"; }
  void init(const LayerSpec& l, Rng&, double* w) const override {
    for (std::size_t c = 0; c < l.in.channels; ++c) {
      w[2 * c] = 1.0;
      w[2 * c + 1] = 0.0;
    }
  }
  HvpReads hvp_reads() const override { return {.input = true, .output = false, .grad = true}; }
};

}  // namespace

const LayerType& affine_layer_type() {
  static const AffineType t;
  return t;
}

}  // namespace eqaug
