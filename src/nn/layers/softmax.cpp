// `softmax`: softmax across the C channels at each site of every sample. The reference's
// translation model ended in one before a cross-entropy loss that applies log-softmax again
// (docs/reference.md, defect 5; the switch reference.double_softmax appends it).
#include <algorithm>
#include <cmath>

#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

// Feature index c·S + s: the C values of one site are S apart.
struct Softmax {
  template <typename T, class F>
  static void each_site(const LayerBuffers<T>& b, F&& f) {
    const std::size_t C = b.layer->in.channels, S = b.layer->in.sites;
    for (std::size_t i = 0; i < b.batch; ++i)
      for (std::size_t s = 0; s < S; ++s) f(i * C * S + s, C, S);
  }
  // Σ_c a_c b_c over one site.
  template <typename T>
  static double dot(const T* a, const T* b, std::size_t at, std::size_t C, std::size_t S) {
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += static_cast<double>(a[at + c * S]) * static_cast<double>(b[at + c * S]);
    return sum;
  }
  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    each_site(b, [&](std::size_t at, std::size_t C, std::size_t S) {
      double top = -INFINITY;
      for (std::size_t c = 0; c < C; ++c) top = std::max(top, static_cast<double>(b.x[at + c * S]));
      double sum = 0;
      for (std::size_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(b.x[at + c * S]) - top);
      for (std::size_t c = 0; c < C; ++c)
        y[at + c * S] = static_cast<T>(std::exp(static_cast<double>(b.x[at + c * S]) - top) / sum);
    });
  }
  // J = diag(y) − y yᵀ, symmetric: gx = y ⊙ (gy − ⟨y, gy⟩).
  template <typename T>
  static void jacobian(const T* y, const T* in, T* out, std::size_t at, std::size_t C, std::size_t S) {
    const double m = dot(y, in, at, C, S);
    for (std::size_t c = 0; c < C; ++c)
      out[at + c * S] = static_cast<T>(static_cast<double>(y[at + c * S]) * (static_cast<double>(in[at + c * S]) - m));
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    if (gx) each_site(b, [&](std::size_t at, std::size_t C, std::size_t S) { jacobian(b.y, b.gy, gx, at, C, S); });
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {
    each_site(b, [&](std::size_t at, std::size_t C, std::size_t S) { jacobian(b.y, b.rx, ry, at, C, S); });
  }
  // R(gx) = ry ⊙ (gy − ⟨y, gy⟩) + y ⊙ (rgy − ⟨ry, gy⟩ − ⟨y, rgy⟩).
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {
    if (!rgx) return;
    each_site(b, [&](std::size_t at, std::size_t C, std::size_t S) {
      const double m = dot(b.y, b.gy, at, C, S);
      const double rm = dot(b.ry, b.gy, at, C, S) + dot(b.y, b.rgy, at, C, S);
      for (std::size_t c = 0; c < C; ++c) {
        const std::size_t k = at + c * S;
        rgx[k] = static_cast<T>(static_cast<double>(b.ry[k]) * (static_cast<double>(b.gy[k]) - m) +
                                static_cast<double>(b.y[k]) * (static_cast<double>(b.rgy[k]) - rm));
      }
    });
  }
};

class SoftmaxType final : public LayerTypeOf<Softmax> {
 public:
  LayerKind kind() const override { return LayerKind::Softmax; }
  std::string name() const override { return "softmax"; }
  std::string summary() const override {
    return "softmax across the channels at each site (before a cross-entropy loss: the reference's double softmax)";
  }
  std::vector<FieldDoc> fields() const override { return {}; }
  void parse(Fields&, json&) const override {}
  void build(ModelSpec& spec, const json&) const override { spec.add(LayerKind::Softmax); }
  HvpReads hvp_reads() const override { return {.input = false, .output = true, .grad = true}; }
};

}  // namespace

const LayerType& softmax_layer_type() {
  static const SoftmaxType t;
  return t;
}

}  // namespace eqaug
