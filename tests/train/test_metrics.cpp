// Per-step metrics (train/metrics.hpp): equiv_error against a direct computation of its
// formula, at rounding level for an equivariant model and above it otherwise, its own
// random stream (no other number changes), and its columns in the result files.
#include <gtest/gtest.h>

#include "../support/small_models.hpp"

#include <cmath>

#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/train/metrics.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug {
namespace {

/// Φ(x) for every sample, straight from the network.
std::vector<double> outputs(const Network<double>& net, const std::vector<double>& a, const std::vector<double>& x,
                            std::size_t n) {
  const auto y = net.predict(a.data(), x.data(), n);
  return {y.begin(), y.begin() + static_cast<std::ptrdiff_t>(n * net.spec().output().dim())};
}

TEST(Metrics, EquivErrorIsItsFormula) {
  for (const auto& c : testing::cases()) {
    if (c.spec->couples_samples()) continue;  // its formula below evaluates samples alone
    SCOPED_TRACE(c.name);
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, 0.0, 4, pool);
    Rng init(3);
    const auto a = c.spec->draw_init(init);
    Rng rng = Rng::stream(11, "metrics", {0, 0});
    const MetricInput<double> in{&engine, a.data(), &rng, 3};
    const auto got = metric("equiv_error").compute(in);
    ASSERT_EQ(got.size(), metric("equiv_error").columns(*c.spec).size());

    // The same three elements, by hand: move the inputs, run the network, move the outputs.
    Rng again = Rng::stream(11, "metrics", {0, 0});
    Network<double> net(*c.spec);
    const std::size_t n = c.data.size, D = c.spec->output().dim();
    const Space in_space = c.data.input, out_space = c.spec->output();
    const auto y = outputs(net, a, c.data.x, n);
    double err = 0, same = 0;
    for (int k = 0; k < 3; ++k) {
      const Permutation g = c.group->sample(again);
      const Permutation gi = g.on_tuples(in_space.order), go = g.on_tuples(out_space.order);
      std::vector<double> xm(c.data.x.size());
      for (std::size_t b = 0; b < n; ++b)
        for (std::size_t ch = 0; ch < in_space.channels; ++ch)
          for (std::size_t s = 0; s < in_space.sites; ++s)
            xm[(b * in_space.channels + ch) * in_space.sites + gi(s)] =
                c.data.x[(b * in_space.channels + ch) * in_space.sites + s];
      const auto ym = outputs(net, a, xm, n);
      for (std::size_t b = 0; b < n; ++b) {
        double num = 0, den = 0;
        std::size_t best_m = 0, best = 0;
        for (std::size_t ch = 0; ch < out_space.channels; ++ch)
          for (std::size_t s = 0; s < out_space.sites; ++s) {
            const double want = y[b * D + ch * out_space.sites + s];
            const double d = ym[b * D + ch * out_space.sites + go(s)] - want;
            num += d * d;
            den += want * want;
          }
        for (std::size_t i = 1; i < D; ++i) {
          if (ym[b * D + i] > ym[b * D + best_m]) best_m = i;
          if (y[b * D + i] > y[b * D + best]) best = i;
        }
        err += num / den;
        same += best_m == best ? 1 : 0;
      }
    }
    EXPECT_NEAR(got[0], err / static_cast<double>(3 * n), 1e-12 * (got[0] + 1e-300));
    EXPECT_GT(got[0], 1e-8) << "a random model is not equivariant";
    if (got.size() == 2) {
      EXPECT_DOUBLE_EQ(got[1], same / static_cast<double>(3 * n));
    }
  }
}

TEST(Metrics, EquiIsEquivariantToRoundingNomAndAugAreNotAndNoOtherNumberChanges) {
  const auto c = testing::cases()[1];  // images, softmax classifier
  ThreadPool pool(2);
  GradientEngine<double> engine(*c.spec, c.data, -0.5, 5, pool);
  TrainOptions o;
  o.epochs = 3;
  o.lr = 0.5;
  Strategy nom, aug, equi;
  aug.mode = Mode::Aug;
  aug.passes = 2;
  equi.mode = Mode::Equi;
  o.strategies = {nom, aug, equi};
  const auto a0 = initial_point(*c.spec, 0, 0);
  const auto plain = Trainer<double>(engine, o).run(0, a0);
  o.metrics = {"equiv_error"};
  const auto with = Trainer<double>(engine, o).run(0, a0);
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t s = 0; s <= o.epochs; ++s) {
      EXPECT_EQ(plain[k].records[s].loss, with[k].records[s].loss);
      EXPECT_EQ(plain[k].records[s].dist_E, with[k].records[s].dist_E);
      ASSERT_EQ(with[k].records[s].metrics.size(), 2u);
    }
  const auto& last = [&](std::size_t k) { return with[k].records.back().metrics; };
  EXPECT_LT(last(2)[0], 1e-26);  // Equi: rounding (float64)
  EXPECT_EQ(last(2)[1], 1.0);
  EXPECT_GT(last(0)[0], 1e-8);  // Nom left E
  EXPECT_GT(last(1)[0], 1e-12);
  EXPECT_LT(last(1)[0], last(0)[0]);  // Aug closer than Nom
  EXPECT_EQ(with[2].records.front().metrics[0], with[0].records.front().metrics[0]) << "the same draws at step 0";

  // The columns in the files.
  const auto names = metric_columns(o, *c.spec);
  EXPECT_EQ(names, (std::vector<std::string>{"equiv_error", "orbit_agreement"}));
  const auto csv = io::records_csv(with[0], 4, {"A0", "A1", "A2"}, names);
  EXPECT_NE(csv.find(",dist_E_A2,equiv_error,orbit_agreement\nnom,4,0,"), std::string::npos) << csv.substr(0, 200);
  EXPECT_THROW(metric("equivariance"), Error);
}

}  // namespace
}  // namespace eqaug
