// `batchnorm`: per channel, normalises over the samples of a minibatch and all sites, with
// training-mode statistics (biased variance, as a framework's BatchNorm1d/2d in training
// mode); with `affine = true` an `affine` layer (a scale and a shift per channel, weights of
// its own: src/nn/layers/affine.cpp) follows it, as a framework's affine batch norm. The statistics are per channel and over every site, so
// the layer is equivariant for any group permuting the sites. Each (minibatch, channel)
// is gathered into one row and normalised by layer norm's arithmetic over that row
// (nn/ops.hpp with one "sample" of count·S "channels"), so the gradients and R-operators
// are layer norm's too.
#include <algorithm>
#include <vector>

#include "eqaug/nn/layers.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

struct BatchNorm {
  /// f(first, count, channel) for every minibatch of the chunk and channel.
  template <typename T, typename F>
  static void each(const LayerBuffers<T>& b, const F& f) {
    const std::size_t m = b.layer->params.minibatch ? b.layer->params.minibatch : b.batch;
    for (std::size_t first = 0; first < b.batch; first += m)
      for (std::size_t c = 0; c < b.layer->in.channels; ++c) f(first, std::min(m, b.batch - first), c);
  }
  /// The row of channel c over samples [first, first + count): count·S values.
  template <typename T>
  static const T* gather(const LayerBuffers<T>& b, const T* a, std::size_t first, std::size_t count, std::size_t c,
                         std::vector<T>& row) {
    const std::size_t C = b.layer->in.channels, S = b.layer->in.sites;
    row.resize(count * S);
    for (std::size_t k = 0; k < count; ++k) std::copy_n(a + ((first + k) * C + c) * S, S, row.data() + k * S);
    return row.data();
  }
  template <typename T>
  static void scatter(const LayerBuffers<T>& b, const std::vector<T>& row, std::size_t first, std::size_t count,
                      std::size_t c, T* a) {
    const std::size_t C = b.layer->in.channels, S = b.layer->in.sites;
    for (std::size_t k = 0; k < count; ++k) std::copy_n(row.data() + k * S, S, a + ((first + k) * C + c) * S);
  }

  template <typename T>
  static void forward(const LayerBuffers<T>& b, T* y) {
    std::vector<T> x_row, y_row;
    each(b, [&](std::size_t first, std::size_t count, std::size_t c) {
      const T* x = gather(b, b.x, first, count, c, x_row);
      y_row.resize(x_row.size());
      ops::layer_norm_forward(x, y_row.data(), 1, x_row.size(), 1, b.layer->params.eps);
      scatter(b, y_row, first, count, c, y);
    });
  }
  template <typename T>
  static void backward(const LayerBuffers<T>& b, T* gx, T*, bool) {
    if (!gx) return;
    std::vector<T> x_row, y_row, gy_row, gx_row;
    each(b, [&](std::size_t first, std::size_t count, std::size_t c) {
      const T* x = gather(b, b.x, first, count, c, x_row);
      const T* y = gather(b, b.y, first, count, c, y_row);
      const T* gy = gather(b, b.gy, first, count, c, gy_row);
      gx_row.resize(x_row.size());
      ops::layer_norm_backward(x, y, gy, gx_row.data(), 1, x_row.size(), 1, b.layer->params.eps);
      scatter(b, gx_row, first, count, c, gx);
    });
  }
  template <typename T>
  static void rop_forward(const LayerBuffers<T>& b, T* ry) {  // the Jacobian is symmetric: the backward map
    std::vector<T> x_row, y_row, rx_row, ry_row;
    each(b, [&](std::size_t first, std::size_t count, std::size_t c) {
      const T* x = gather(b, b.x, first, count, c, x_row);
      const T* y = gather(b, b.y, first, count, c, y_row);
      const T* rx = gather(b, b.rx, first, count, c, rx_row);
      ry_row.resize(x_row.size());
      ops::layer_norm_backward(x, y, rx, ry_row.data(), 1, x_row.size(), 1, b.layer->params.eps);
      scatter(b, ry_row, first, count, c, ry);
    });
  }
  template <typename T>
  static void rop_backward(const LayerBuffers<T>& b, T* rgx, T*, bool) {
    if (!rgx) return;
    std::vector<T> x_row, y_row, gy_row, rx_row, ry_row, rgy_row, rgx_row;
    each(b, [&](std::size_t first, std::size_t count, std::size_t c) {
      const T* x = gather(b, b.x, first, count, c, x_row);
      const T* y = gather(b, b.y, first, count, c, y_row);
      const T* gy = gather(b, b.gy, first, count, c, gy_row);
      const T* rx = gather(b, b.rx, first, count, c, rx_row);
      const T* ry = gather(b, b.ry, first, count, c, ry_row);
      const T* rgy = gather(b, b.rgy, first, count, c, rgy_row);
      rgx_row.resize(x_row.size());
      ops::layer_norm_rop_backward(x, y, gy, rx, ry, rgy, rgx_row.data(), 1, x_row.size(), 1, b.layer->params.eps);
      scatter(b, rgx_row, first, count, c, rgx);
    });
  }
};

class BatchNormType final : public LayerTypeOf<BatchNorm> {
 public:
  LayerKind kind() const override { return LayerKind::BatchNorm; }
  std::string name() const override { return "batchnorm"; }
  std::string summary() const override {
    return "normalises each channel over the samples of a minibatch (train.batch) and all sites, with training-mode "
           "statistics, followed by an `affine` layer where `affine = true`; the model is then evaluated in "
           "minibatches (CPU only)";
  }
  std::vector<FieldDoc> fields() const override {
    return {{"eps", "number", "`1e-05`", "> 0", "layernorm, batchnorm: added to the variance."},
            {"affine", "boolean", "`false`", "", "batchnorm: followed by an `affine` layer (a scale and a shift per channel)."}};
  }
  void parse(Fields& f, json& out) const override {
    const double eps = f.num("eps", 1e-5);
    if (eps <= 0) f.fail(f.at("eps"), "must be positive");
    out["eps"] = eps;
    out["affine"] = f.flag("affine", false);
  }
  void build(ModelSpec& spec, const json& l) const override {
    spec.add(LayerKind::BatchNorm, {.eps = l.at("eps").get<double>(), .minibatch = spec.minibatch()});
    if (l.value("affine", false)) layer_type(LayerKind::Affine).build(spec, json::object());
  }
  bool couples_samples() const override { return true; }
  HvpReads hvp_reads() const override { return {.input = true, .output = true, .grad = true}; }
};

}  // namespace

const LayerType& batch_norm_layer_type() {
  static const BatchNormType t;
  return t;
}

}  // namespace eqaug
