// The paper's theory on a small S_4 model, in double: Lemma 3 (equivariance of the
// network under the lifted action), Lemma 4 (R^aug is the Haar average of R over the
// lifted action) and Proposition 1 (∇R^aug = Π_E ∇R on E).
#include <gtest/gtest.h>

#include "../support/random_graphs.hpp"

#include <cmath>
#include <set>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug {
namespace {

ModelSpec small_model(const GroupPtr& g) {
  ModelSpec spec(g, make_space(*g, 1, 2));
  spec.linear(3, 2, {InitSpec::Kind::Normal, 0.4})
      .leaky_relu(0.01)
      .linear(2, 2, {InitSpec::Kind::Normal, 0.4})
      .tanh()
      .linear(3, 0, {InitSpec::Kind::Normal, 0.5})
      .layer_norm()
      .linear(1, 0, {InitSpec::Kind::Normal, 0.5})
      .sigmoid()
      .loss(LossKind::BCE);
  return spec;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

double total(const std::vector<double>& per_layer) {
  double s = 0;
  for (double x : per_layer) s += x * x;
  return std::sqrt(s);
}

struct Fixture {
  GroupPtr group = symmetric_group(4);
  ModelSpec spec = small_model(group);
  Dataset data = testing::random_graph_data(*group, 9, 31);
  ThreadPool pool{2};
  GradientEngine<double> engine{spec, data, -0.5, 4, pool};
  Pass identity;

  GradientEngine<double>::GroupResult nominal(const std::vector<double>& a, bool grad) {
    return engine.run({{a.data(), &identity, grad, 0}}, 1)[0];
  }
  GradientEngine<double>::GroupResult exact_aug(const std::vector<double>& a, bool grad,
                                                std::vector<Pass>* keep = nullptr) {
    Strategy s;
    s.mode = Mode::Aug;
    s.exact = true;
    Rng rng(0);
    std::vector<Pass> passes = augmentation_passes(s, *group, data, rng);
    std::vector<GradientEngine<double>::Job> jobs;
    for (const auto& p : passes) jobs.push_back({a.data(), &p, grad, 0});
    auto r = engine.run(jobs, 1)[0];
    if (keep) *keep = std::move(passes);
    return r;
  }
};

TEST(TheoryAugmentation, ExactPassesEnumerateTheGroup) {
  Fixture f;
  Strategy s;
  s.mode = Mode::Aug;
  s.exact = true;
  Rng rng(0);
  const auto passes = augmentation_passes(s, *f.group, f.data, rng);
  ASSERT_EQ(passes.size(), 24u);
  std::set<std::vector<std::uint32_t>> distinct;
  for (const auto& p : passes) {
    // One permutation of the 16 node pairs, shared by every sample.
    ASSERT_EQ(p.in_sites.size(), 16u);
    EXPECT_TRUE(p.tgt_sites.empty());  // invariant targets never move
    EXPECT_NO_THROW(Permutation{p.in_sites});
    distinct.insert(p.in_sites);
  }
  EXPECT_EQ(distinct.size(), 24u);
}

TEST(TheoryLemma3, NetworkIsEquivariantUnderLiftedAction) {
  // Φ_A(ρ_X(g)x) = ρ_Y(g) Φ_{ρ̄(g)^{-1}A}(x), ρ_Y trivial here, at a random A ∉ E.
  Fixture f;
  Rng rng(1);
  const auto a = f.spec.draw_init(rng);
  Network<double> net(f.spec);
  std::vector<double> x(f.data.x);
  for (auto& v : x) v -= 0.5;
  const std::size_t n = f.data.size;
  for (const auto& g : f.group->elements()) {
    const Permutation gp = g.on_tuples(2);
    std::vector<double> gx(x.size());
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t s = 0; s < 16; ++s) gx[k * 16 + gp(s)] = x[k * 16 + s];
    const auto lhs = net.predict(a.data(), gx.data(), n);
    const auto ainv = f.spec.act(g.inverse(), a);
    const auto rhs = net.predict(ainv.data(), x.data(), n);
    for (std::size_t k = 0; k < n; ++k) ASSERT_NEAR(lhs[k], rhs[k], 1e-13);
  }
  // A ∈ E: Φ_A is invariant.
  auto pa = a;
  f.spec.project(pa.data());
  const auto base = net.predict(pa.data(), x.data(), n);
  const Permutation g({2, 3, 1, 0});
  const Permutation gp = g.on_tuples(2);
  std::vector<double> gx(x.size());
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t s = 0; s < 16; ++s) gx[k * 16 + gp(s)] = x[k * 16 + s];
  const auto moved = net.predict(pa.data(), gx.data(), n);
  const auto moved_a = net.predict(a.data(), gx.data(), n), base_a = net.predict(a.data(), x.data(), n);
  double diff_a = 0;
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_NEAR(moved[k], base[k], 1e-13);
    diff_a = std::max(diff_a, std::abs(moved_a[k] - base_a[k]));
  }
  EXPECT_GT(diff_a, 1e-4);  // not invariant off E
}

TEST(TheoryLemma4, AugmentedRiskIsHaarAverageOfLiftedRisk) {
  Fixture f;
  Rng rng(2);
  const auto a = f.spec.draw_init(rng);  // not in E
  ASSERT_GT(total(f.spec.distance_to_E(a.data())), 1.0);
  const auto aug = f.exact_aug(a, false);
  EXPECT_EQ(aug.samples, 24 * f.data.size);
  const double r_aug = aug.stats.loss_sum / static_cast<double>(aug.samples);
  double avg = 0;
  const auto els = f.group->elements();
  for (const auto& g : els) {
    const auto ga = f.spec.act(g, a);
    avg += f.nominal(ga, false).stats.loss_sum / static_cast<double>(f.data.size);
  }
  avg /= static_cast<double>(els.size());
  EXPECT_NEAR(r_aug, avg, 1e-12 * avg);
  // Not trivially equal to the nominal risk.
  const double r = f.nominal(a, false).stats.loss_sum / static_cast<double>(f.data.size);
  EXPECT_GT(std::abs(r - r_aug), 1e-4);
}

TEST(TheoryProposition1, ExactAugmentedGradientIsProjectedNominalGradient) {
  Fixture f;
  for (std::size_t run = 0; run < 3; ++run) {
    const auto a = initial_point(f.spec, 17, run);
    ASSERT_LT(total(f.spec.distance_to_E(a.data())), 1e-12);
    // Nominal gradient of R (mean over samples).
    const auto nom = f.nominal(a, true);
    std::vector<double> gnom = nom.grad;
    for (auto& x : gnom) x /= static_cast<double>(nom.samples);
    const double off_E = total(f.spec.distance_to_E(gnom.data())) / norm(gnom);
    EXPECT_GT(off_E, 1e-3) << "the nominal gradient should leave E";
    std::vector<double> proj = gnom;
    f.spec.project(proj.data());

    std::vector<Pass> passes;
    const auto aug = f.exact_aug(a, true, &passes);
    ASSERT_EQ(passes.size(), 24u);
    ASSERT_EQ(aug.samples, 24 * f.data.size);
    std::vector<double> gaug = aug.grad;
    for (auto& x : gaug) x /= static_cast<double>(aug.samples);

    std::vector<double> diff(gaug.size());
    for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = gaug[i] - proj[i];
    EXPECT_LT(norm(diff), 1e-10 * norm(proj)) << "run " << run;
    EXPECT_LT(total(f.spec.distance_to_E(gaug.data())), 1e-10 * norm(gaug));
    // At A ∈ E the augmented risk equals the nominal one (Φ_A is invariant).
    EXPECT_NEAR(aug.stats.loss_sum / static_cast<double>(aug.samples),
                nom.stats.loss_sum / static_cast<double>(nom.samples), 1e-12);
  }
}

TEST(TheoryProposition1, FailsOffE) {
  // Off E the identity does not hold: ∇R^aug(A) = Π_E ∇R(A) only for A ∈ E.
  Fixture f;
  Rng rng(3);
  const auto a = f.spec.draw_init(rng);
  auto gnom = f.nominal(a, true).grad;
  f.spec.project(gnom.data());
  for (auto& x : gnom) x /= static_cast<double>(f.data.size);
  const auto aug = f.exact_aug(a, true);
  std::vector<double> diff(gnom.size());
  for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = aug.grad[i] / static_cast<double>(aug.samples) - gnom[i];
  EXPECT_GT(norm(diff), 1e-4 * norm(gnom));
}

}  // namespace
}  // namespace eqaug
