// Full-batch training of the three strategies on a tiny S_4 model, in double.
#include <gtest/gtest.h>

#include "../support/random_graphs.hpp"
#include "../support/small_models.hpp"

#include <cmath>
#include <vector>

#include "eqaug/core/error.hpp"
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

Strategy nom() { return Strategy{}; }
Strategy aug(std::size_t passes) {
  Strategy s;
  s.mode = Mode::Aug;
  s.passes = passes;
  s.per = AugPer::Sample;
  return s;
}
Strategy aug_exact() {
  Strategy s;
  s.mode = Mode::Aug;
  s.exact = true;
  return s;
}
Strategy equi(EquiUpdate u) {
  Strategy s;
  s.mode = Mode::Equi;
  s.equi_update = u;
  return s;
}

struct TinySetup {
  GroupPtr group = symmetric_group(4);
  ModelSpec spec = testing::tiny_graph_model(group);
  Dataset data = testing::random_graph_data(*group, 10, 77, testing::Labels::Connectivity);
  ThreadPool pool{2};
  GradientEngine<double> engine{spec, data, -0.5, 4, pool};
};

TEST(TrainerBasics, RejectsBadOptions) {
  TinySetup s;
  TrainOptions o;
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);  // no strategy
  o.strategies = {nom()};
  o.lr = 0;
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);
  o.lr = -1;
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);
  o.lr = 0.1;
  EXPECT_NO_THROW(Trainer<double>(s.engine, o));
}

TEST(TrainerStrategies, RecordsAndSubspaceBehaviour) {
  TinySetup s;
  TrainOptions o;
  o.epochs = 6;
  o.lr = 0.5;
  o.seed = 9;
  o.strategies = {nom(), aug(3), equi(EquiUpdate::Orbit), equi(EquiUpdate::Dense)};
  Trainer<double> trainer(s.engine, o);
  const auto a0 = initial_point(s.spec, o.seed, 0);
  std::size_t calls = 0;
  const auto runs = trainer.run(0, a0, [&](std::size_t step, const std::vector<StrategyRun>& r) {
    EXPECT_EQ(step, calls);
    EXPECT_EQ(r[0].records.size(), step + 1);
    ++calls;
  });
  EXPECT_EQ(calls, o.epochs + 1);
  ASSERT_EQ(runs.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    ASSERT_EQ(runs[k].records.size(), o.epochs + 1) << k;
    EXPECT_EQ(runs[k].final_params.size(), s.spec.num_params());
    for (std::size_t t = 0; t <= o.epochs; ++t) EXPECT_EQ(runs[k].records[t].step, t);
    const auto& r0 = runs[k].records[0];
    EXPECT_EQ(r0.dist_init, 0.0) << k;
    EXPECT_LT(r0.dist_E, 1e-13) << k;
    ASSERT_EQ(r0.dist_E_layer.size(), 3u);
    ASSERT_EQ(r0.dist_init_layer.size(), 3u);
    // All start at the same point: same nominal risk at step 0.
    EXPECT_NEAR(r0.loss, runs[0].records[0].loss, 1e-14);
    EXPECT_EQ(std::isnan(r0.loss_aug), runs[k].strategy.mode != Mode::Aug);
    // Where the time went: every phase measured, and only Aug draws passes.
    const auto& t = runs[k].seconds;
    EXPECT_GT(t.gradients, 0.0) << k;
    EXPECT_GT(t.measures, 0.0) << k;
    EXPECT_GT(t.updates, 0.0) << k;
    EXPECT_GE(t.passes, 0.0) << k;
  }
  EXPECT_GT(runs[1].seconds.passes, 0.0);
  // Equi: exactly in E at every step, per layer too; orbit and dense agree.
  for (std::size_t k : {2u, 3u}) {
    for (const auto& rec : runs[k].records) {
      EXPECT_LE(rec.dist_E, 1e-12) << "step " << rec.step;
      for (double d : rec.dist_E_layer) EXPECT_LE(d, 1e-12);
      double sum2 = 0;
      for (double d : rec.dist_init_layer) sum2 += d * d;
      EXPECT_NEAR(rec.dist_init, std::sqrt(sum2), 1e-14);
    }
    EXPECT_GT(runs[k].records.back().dist_init, 1e-3);  // it did move
  }
  for (std::size_t t = 0; t <= o.epochs; ++t) {
    const auto& a = runs[2].records[t];
    const auto& b = runs[3].records[t];
    EXPECT_NEAR(a.loss, b.loss, 1e-10);
    EXPECT_NEAR(a.dist_init, b.dist_init, 1e-10);
    EXPECT_EQ(a.accuracy, b.accuracy);
  }
  for (std::size_t p = 0; p < s.spec.num_params(); ++p)
    ASSERT_NEAR(runs[2].final_params[p], runs[3].final_params[p], 1e-10) << p;
  // Nom leaves E; Aug (finite passes) too, but both keep moving.
  EXPECT_GT(runs[0].records.back().dist_E, 1e-3);
  EXPECT_GT(runs[0].records[1].dist_E, 0.0);
  EXPECT_GT(runs[1].records.back().dist_E, 1e-8);
  EXPECT_TRUE(std::isfinite(runs[1].records[0].loss_aug));
  // Descent on a smooth risk with a moderate step: Equi lowers the risk over the run.
  EXPECT_LT(runs[2].records.back().loss, runs[2].records[0].loss);
  EXPECT_LT(runs[0].records.back().loss, runs[0].records[0].loss);
}

TEST(TrainerStrategies, OneNomStepIsManualGradientStep) {
  TinySetup s;
  TrainOptions o;
  o.epochs = 1;
  o.lr = 0.3;
  o.seed = 4;
  o.strategies = {nom(), equi(EquiUpdate::Dense), equi(EquiUpdate::Orbit)};
  Trainer<double> trainer(s.engine, o);
  const auto a0 = initial_point(s.spec, o.seed, 2);
  const auto runs = trainer.run(2, a0);

  const Pass id;
  const auto res = s.engine.run({{a0.data(), &id, true, 0}}, 1)[0];
  std::vector<double> g = res.grad;
  for (auto& x : g) x /= static_cast<double>(s.data.size);
  std::vector<double> want(a0.size()), want_eq(a0.size());
  auto pg = g;
  s.spec.project(pg.data());
  for (std::size_t p = 0; p < a0.size(); ++p) {
    want[p] = a0[p] - o.lr * g[p];
    want_eq[p] = a0[p] - o.lr * pg[p];
  }
  double diff = 0, step = 0;
  for (std::size_t p = 0; p < a0.size(); ++p) {
    EXPECT_NEAR(runs[0].final_params[p], want[p], 1e-14) << p;
    EXPECT_NEAR(runs[1].final_params[p], want_eq[p], 1e-14) << p;
    EXPECT_NEAR(runs[2].final_params[p], want_eq[p], 1e-12) << p;
    diff += std::pow(runs[0].final_params[p] - a0[p], 2);
    step += std::pow(o.lr * g[p], 2);
  }
  EXPECT_NEAR(std::sqrt(diff), std::sqrt(step), 1e-13);
  EXPECT_NEAR(runs[0].records[1].dist_init, std::sqrt(step), 1e-12);
  // Recorded risks: the mean loss at A⁰ and at A¹.
  EXPECT_NEAR(runs[0].records[0].loss, res.stats.loss_sum / static_cast<double>(s.data.size), 1e-14);
  EXPECT_NEAR(runs[0].records[0].accuracy, res.stats.correct / static_cast<double>(s.data.size), 1e-15);
  const auto res1 = s.engine.run({{want.data(), &id, false, 0}}, 1)[0];
  EXPECT_NEAR(runs[0].records[1].loss, res1.stats.loss_sum / static_cast<double>(s.data.size), 1e-12);
  // Nom's step left E by exactly the non-equivariant part of the step.
  auto gE = s.spec.distance_to_E(g.data());
  double ge2 = 0;
  for (double d : gE) ge2 += d * d;
  EXPECT_NEAR(runs[0].records[1].dist_E, o.lr * std::sqrt(ge2), 1e-12);
  EXPECT_GT(runs[0].records[1].dist_E, 1e-6);
}

TEST(TrainerStrategies, ExactAugmentationFollowsEqui) {
  // Corollary 1 in discrete time: at A ∈ E the exact augmented gradient is Π_E ∇R(A),
  // so exact Aug and Equi take the same steps and Aug stays in E.
  TinySetup s;
  TrainOptions o;
  o.epochs = 3;
  o.lr = 0.5;
  o.seed = 5;
  o.strategies = {aug_exact(), equi(EquiUpdate::Dense)};
  Trainer<double> trainer(s.engine, o);
  const auto runs = trainer.run(0, initial_point(s.spec, o.seed, 0));
  for (std::size_t t = 0; t <= o.epochs; ++t) {
    EXPECT_LT(runs[0].records[t].dist_E, 1e-10) << t;
    EXPECT_NEAR(runs[0].records[t].loss, runs[1].records[t].loss, 1e-10);
    EXPECT_NEAR(runs[0].records[t].loss_aug, runs[1].records[t].loss, 1e-10);
  }
  for (std::size_t p = 0; p < s.spec.num_params(); ++p)
    ASSERT_NEAR(runs[0].final_params[p], runs[1].final_params[p], 1e-10) << p;
}

bool same_records(const StrategyRun& a, const StrategyRun& b) {
  if (a.records.size() != b.records.size() || a.final_params != b.final_params) return false;
  for (std::size_t t = 0; t < a.records.size(); ++t) {
    const auto& x = a.records[t];
    const auto& y = b.records[t];
    const bool aug_same = (std::isnan(x.loss_aug) && std::isnan(y.loss_aug)) || x.loss_aug == y.loss_aug;
    if (x.loss != y.loss || x.accuracy != y.accuracy || !aug_same || x.dist_init != y.dist_init ||
        x.dist_E != y.dist_E || x.dist_E_layer != y.dist_E_layer || x.dist_init_layer != y.dist_init_layer)
      return false;
  }
  return true;
}

TEST(TrainerStrategies, ReproducibleAndRunIndexChangesAugDraws) {
  TinySetup s;
  TrainOptions o;
  o.epochs = 3;
  o.lr = 0.2;
  o.seed = 12;
  o.strategies = {nom(), aug(3)};
  Trainer<double> trainer(s.engine, o);
  const auto a0 = initial_point(s.spec, o.seed, 0);
  const auto r1 = trainer.run(0, a0);
  const auto r2 = trainer.run(0, a0);
  EXPECT_TRUE(same_records(r1[0], r2[0]));
  EXPECT_TRUE(same_records(r1[1], r2[1]));
  // Same start, another run index: Nom is unchanged, Aug draws other elements.
  const auto r3 = trainer.run(1, a0);
  EXPECT_TRUE(same_records(r1[0], r3[0]));
  EXPECT_FALSE(same_records(r1[1], r3[1]));
  EXPECT_NE(r1[1].final_params, r3[1].final_params);
  EXPECT_NE(r1[1].records[1].dist_E, r3[1].records[1].dist_E);
  // A fresh trainer with the same options reproduces the first run bit for bit.
  ThreadPool other(3);
  GradientEngine<double> engine3(s.spec, s.data, -0.5, 3, other);
  Trainer<double> trainer3(engine3, o);
  const auto r4 = trainer3.run(0, a0);
  EXPECT_EQ(r4[1].records.size(), r1[1].records.size());
  for (std::size_t t = 0; t < r4[1].records.size(); ++t)
    EXPECT_NEAR(r4[1].records[t].loss_aug, r1[1].records[t].loss_aug, 1e-12);
  // Initial points differ between runs and are deterministic.
  EXPECT_EQ(initial_point(s.spec, 12, 0), a0);
  EXPECT_NE(initial_point(s.spec, 12, 1), a0);
  EXPECT_NE(initial_point(s.spec, 13, 0), a0);
}

TEST(TrainerWeightDecay, EveryStrategyStepsAlsoByMinusEtaLambdaA) {
  // R + λ/2 ‖A‖²: one step from A⁰ ∈ E is the step without decay plus −ηλA⁰, for every
  // strategy (A⁰ ∈ E, so Equi's projected λA⁰ is λA⁰); the recorded risks stay R's.
  TinySetup s;
  TrainOptions o;
  o.epochs = 1;
  o.lr = 0.3;
  Strategy structured = equi(EquiUpdate::Orbit);
  structured.equi_eval = EquiEvalChoice::Structured;
  o.strategies = {nom(), aug(3), equi(EquiUpdate::Dense), equi(EquiUpdate::Orbit), structured};
  const auto a0 = initial_point(s.spec, 0, 1);
  const auto plain = Trainer<double>(s.engine, o).run(1, a0);
  o.weight_decay = 0.7;
  const auto decayed = Trainer<double>(s.engine, o).run(1, a0);
  for (std::size_t k = 0; k < o.strategies.size(); ++k) {
    EXPECT_EQ(decayed[k].records[0].loss, plain[k].records[0].loss) << k;
    double moved = 0;
    for (std::size_t i = 0; i < a0.size(); ++i) {
      EXPECT_NEAR(decayed[k].final_params[i], plain[k].final_params[i] - o.lr * o.weight_decay * a0[i], 1e-13)
          << k << " " << i;
      moved += std::abs(decayed[k].final_params[i] - plain[k].final_params[i]);
    }
    EXPECT_GT(moved, 1e-3) << k;
  }
  // Equi stays in E; the decay shrinks A towards 0, which lies in E.
  EXPECT_LT(decayed[3].records[1].dist_E, 1e-12);
  o.weight_decay = -1;
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);
  o.weight_decay = std::nan("");
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);
}

}  // namespace
}  // namespace eqaug

namespace eqaug {
namespace {

TEST(TrainerPenalty, AugPenIsAugPlusTheGradientOfTheDistancePenalty) {
  TinySetup s;
  TrainOptions o;
  o.epochs = 1;
  o.lr = 0.2;
  o.raw_start = true;  // off E, so that the penalty acts from the first step
  Strategy pen = aug(3), plain = aug(3);
  pen.mode = Mode::AugPen;
  pen.penalty = 2.5;
  o.strategies = {plain, pen};
  const auto a0 = initial_point(s.spec, 0, 1, /*project=*/false);
  ASSERT_GT(s.spec.distance_to_E(a0.data())[0], 0.1);
  const auto runs = Trainer<double>(s.engine, o).run(1, a0);
  // The same draws: the same augmented risk at A⁰; one step apart by η γ (A⁰ − Π_E A⁰).
  EXPECT_EQ(runs[0].records[0].loss_aug, runs[1].records[0].loss_aug);
  std::vector<double> p(a0);
  s.spec.project(p.data());
  for (std::size_t i = 0; i < a0.size(); ++i)
    EXPECT_NEAR(runs[1].final_params[i], runs[0].final_params[i] - o.lr * pen.penalty * (a0[i] - p[i]), 1e-13) << i;
  EXPECT_LT(runs[1].records[1].dist_E, runs[0].records[1].dist_E);
  // γ must be positive.
  pen.penalty = 0;
  o.strategies = {pen};
  EXPECT_THROW(Trainer<double>(s.engine, o), Error);
}

}  // namespace
}  // namespace eqaug
