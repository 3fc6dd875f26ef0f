// `equiv_error`: how far the network is from equivariant as a function, on the training data.
// For K Haar-random group elements g (the same for every strategy at a step), the mean over
// samples and elements of ‖Φ(ρ(g)x) − ρ'(g)Φ(x)‖² / ‖Φ(x)‖², Φ the network's outputs
// (logits for cross-entropy, probabilities after the sigmoid for BCE) and ρ' the action on
// the output sites; and for classifiers (one output site) the rate at which the prediction
// is the same on the moved sample, argmax Φ(ρ(g)x) = argmax Φ(x). An equivariant model
// gives rounding-level errors and a rate of 1.
#include <cmath>

#include "eqaug/train/metrics.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {
namespace {

bool classifier(const ModelSpec& spec) { return spec.output().sites == 1 && spec.output().channels > 1; }

std::size_t argmax(const double* y, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (y[i] > y[best]) best = i;
  return best;
}

struct EquivError {
  template <typename T>
  static std::vector<double> compute(const MetricInput<T>& in) {
    GradientEngine<T>& engine = *in.engine;
    const ModelSpec& spec = engine.spec();
    const Dataset& data = engine.data();
    const std::size_t n = data.size, D = spec.output().dim();
    const Pass identity;
    std::vector<Pass> moved;
    for (std::size_t k = 0; k < in.samples; ++k)
      moved.push_back(make_pass(data, {spec.group()->sample(*in.rng)}, std::vector<std::size_t>(n, 0)));
    std::vector<typename GradientEngine<T>::Job> jobs;
    jobs.push_back({in.params, &identity, false, 0});
    jobs.back().outputs = true;
    for (std::size_t k = 0; k < moved.size(); ++k) {
      jobs.push_back({in.params, &moved[k], false, k + 1});
      jobs.back().outputs = true;
    }
    const auto results = engine.run(jobs, moved.size() + 1);
    const std::vector<double>& y = results[0].outputs;
    const bool classes = classifier(spec);
    double error = 0, same = 0;
    const std::size_t C = spec.output().channels, S = spec.output().sites;
    std::vector<double> expected(D);
    for (std::size_t k = 0; k < moved.size(); ++k) {
      const std::vector<double>& ym = results[k + 1].outputs;
      const auto& table = moved[k].tgt_sites;  // ρ'(g) on the output sites (empty: every site stays)
      for (std::size_t b = 0; b < n; ++b) {
        const double* yb = y.data() + b * D;
        for (std::size_t c = 0; c < C; ++c)
          for (std::size_t s = 0; s < S; ++s) expected[c * S + (table.empty() ? s : table[s])] = yb[c * S + s];
        double num = 0, den = 0;
        for (std::size_t i = 0; i < D; ++i) {
          const double d = ym[b * D + i] - expected[i];
          num += d * d;
          den += yb[i] * yb[i];
        }
        error += den > 0 ? num / den : 0.0;
        if (classes) same += argmax(ym.data() + b * D, D) == argmax(yb, D) ? 1.0 : 0.0;
      }
    }
    const double count = static_cast<double>(n * moved.size());
    std::vector<double> out = {error / count};
    if (classes) out.push_back(same / count);
    return out;
  }
};

class EquivErrorMetric final : public MetricOf<EquivError> {
 public:
  std::string name() const override { return "equiv_error"; }
  std::string summary() const override {
    return "`equiv_error`: mean over samples and train.metric_samples Haar-random elements g of "
           "‖Φ(ρ(g)x) − ρ'(g)Φ(x)‖² / ‖Φ(x)‖² on the training data, and for classifiers `orbit_agreement`, the rate "
           "of argmax Φ(ρ(g)x) = argmax Φ(x) (its own random stream; CPU only)";
  }
  std::vector<std::string> columns(const ModelSpec& spec) const override {
    if (classifier(spec)) return {"equiv_error", "orbit_agreement"};
    return {"equiv_error"};
  }
};

}  // namespace

const Metric& equiv_error_metric() {
  static const EquivErrorMetric m;
  return m;
}

}  // namespace eqaug
