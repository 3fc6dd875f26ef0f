// Training on the image presets' structures: the engine's one-item-at-a-time path for
// large models, Equi evaluated through E's structure against the dense oracle, and
// augmentation that moves images and masks together.
#include <gtest/gtest.h>

#include <cmath>
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

/// A Trans-shaped model on side×side images: two pixel layers, pooling, tanh, layer
/// norm, a classifier head with cross-entropy.
ModelSpec trans_like(const GroupPtr& g, std::size_t ch) {
  ModelSpec spec(g, make_space(*g, 1, 1));
  spec.linear(ch, 1, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu(0.01)
      .linear(ch, 1, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu(0.01)
      .linear(ch, 0, {InitSpec::Kind::NormalPerChannelPair, 0.4})
      .tanh()
      .layer_norm(1e-5)
      .linear(3, 0, {InitSpec::Kind::Normal, 0.5})
      .loss(LossKind::CrossEntropy);
  return spec;
}

Dataset random_images(const FiniteGroup& g, std::size_t n, std::size_t classes, std::uint64_t seed) {
  Dataset d;
  d.name = "random images";
  d.input = make_space(g, 1, 1);
  d.target = make_space(g, classes, 0);
  d.size = n;
  Rng rng(seed);
  for (std::size_t i = 0; i < n * d.input.dim(); ++i) d.x.push_back(rng.uniform());
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = rng.below(classes);
    for (std::size_t c = 0; c < classes; ++c) d.y.push_back(c == label ? 1.0 : 0.0);
  }
  return d;
}

template <typename T>
typename GradientEngine<T>::GroupResult nominal(GradientEngine<T>& e, const std::vector<T>& a, const Pass& p) {
  return e.run({{a.data(), &p, true, 0}}, 1)[0];
}

TEST(ImageTraining, SequentialLargeModelPathIsThreadIndependentAndAgreesWithTheParallelOne) {
  const auto g = pixel_group({5, true, true, false});
  const ModelSpec spec = trans_like(g, 3);
  const Dataset data = random_images(*g, 23, 3, 5);
  Rng rng(9);
  const auto a0 = spec.draw_init(rng);
  const std::vector<float> a(a0.begin(), a0.end());
  Rng prng(3);
  Strategy s;
  s.mode = Mode::Aug;
  s.passes = 1;
  s.per = AugPer::Batch;
  s.batch = 4;
  const Pass moved = augmentation_passes(s, *g, data, prng)[0];

  ThreadPool p1(1), p2(2);
  GradientEngine<float> parallel(spec, data, -0.5, 4, p2), seq1(spec, data, -0.5, 4, p1), seq2(spec, data, -0.5, 4, p2);
  seq1.set_sequential_threshold(0);
  seq2.set_sequential_threshold(0);
  for (const Pass* pass : {static_cast<const Pass*>(nullptr), &moved}) {
    const Pass id;
    const Pass& p = pass ? *pass : id;
    const auto r0 = nominal(parallel, a, p), r1 = nominal(seq1, a, p), r2 = nominal(seq2, a, p);
    ASSERT_EQ(r0.grad.size(), spec.num_params());
    // One item at a time with 1 or 2 BLAS threads: the same bits.
    EXPECT_EQ(r1.grad, r2.grad);
    EXPECT_EQ(r1.stats.loss_sum, r2.stats.loss_sum);
    // Against the parallel path (chunks summed in double rather than by the GEMMs in
    // float): the same gradient up to float rounding, the same statistics.
    double norm = 0, diff = 0;
    for (std::size_t k = 0; k < r0.grad.size(); ++k) {
      norm = std::max(norm, std::abs(r0.grad[k]));
      diff = std::max(diff, std::abs(r0.grad[k] - r2.grad[k]));
    }
    EXPECT_GT(norm, 0.0);
    EXPECT_LT(diff, 1e-5 * norm);
    EXPECT_EQ(r0.stats.loss_sum, r2.stats.loss_sum);
    EXPECT_EQ(r0.stats.correct, r2.stats.correct);
  }
}

TEST(ImageTraining, StructuredEquiFollowsTheDenseOracle) {
  // Z_5² has a Fourier path; the trajectories of Equi evaluated through it and on dense
  // weights must agree in float64.
  const auto g = pixel_group({5, true, true, false});
  const ModelSpec spec = trans_like(g, 3);
  const Dataset data = random_images(*g, 17, 3, 11);
  ThreadPool pool(2);
  GradientEngine<double> engine(spec, data, -0.5, 5, pool);
  EXPECT_EQ(engine.equi_network().layer_kinds()[0], "fft");
  EXPECT_EQ(engine.equi_network().layer_kinds()[1], "fft");
  EXPECT_EQ(engine.equi_network().layer_kinds()[2], "pool");
  EXPECT_EQ(engine.equi_network().layer_kinds()[3], "trivial");
  TrainOptions o;
  o.epochs = 4;
  o.lr = 0.5;  // large, so that the trajectory moves visibly in 4 steps
  Strategy structured, dense;
  structured.mode = dense.mode = Mode::Equi;
  structured.equi_eval = EquiEvalChoice::Structured;
  dense.equi_eval = EquiEvalChoice::Dense;
  o.strategies = {structured, dense};
  const auto a0 = initial_point(spec, 0, 0);
  const auto runs = Trainer<double>(engine, o).run(0, a0);
  EXPECT_EQ(runs[0].layer_eval, (std::vector<std::string>{"fft", "fft", "pool", "trivial"}));
  EXPECT_EQ(runs[1].layer_eval, std::vector<std::string>(4, "dense"));
  for (std::size_t s = 0; s <= o.epochs; ++s) {
    EXPECT_NEAR(runs[0].records[s].loss, runs[1].records[s].loss, 1e-10) << s;
    EXPECT_NEAR(runs[0].records[s].dist_init, runs[1].records[s].dist_init, 1e-10) << s;
    EXPECT_LT(runs[0].records[s].dist_E, 1e-12);
  }
  EXPECT_GT(runs[0].records.back().dist_init, 1e-3);
  double diff = 0;
  for (std::size_t p = 0; p < a0.size(); ++p)
    diff = std::max(diff, std::abs(runs[0].final_params[p] - runs[1].final_params[p]));
  EXPECT_LT(diff, 1e-10);
  // Auto picks the structured path where a Fourier layer exists, and the dense one for C_4.
  Strategy autoeq;
  autoeq.mode = Mode::Equi;
  EXPECT_TRUE(uses_structured_equi(autoeq, engine));
  const auto rot = pixel_group({5, false, false, true});
  const ModelSpec rspec = trans_like(rot, 2);
  const Dataset rdata = random_images(*rot, 4, 3, 1);
  GradientEngine<double> reng(rspec, rdata, -0.5, 4, pool);
  EXPECT_FALSE(uses_structured_equi(autoeq, reng));
  autoeq.equi_update = EquiUpdate::Dense;
  EXPECT_FALSE(uses_structured_equi(autoeq, engine));
}

TEST(ImageTraining, AugmentationPerBatchMovesImageAndMasksByTheSameElement) {
  const auto g = pixel_group({4, false, false, true});
  Dataset d;
  d.input = make_space(*g, 1, 1);
  d.target = make_space(*g, 2, 1);
  d.size = 10;
  d.x.assign(d.size * 16, 0.0);
  d.y.assign(d.size * 32, 0.0);
  Strategy s;
  s.mode = Mode::Aug;
  s.passes = 3;
  s.per = AugPer::Batch;
  s.batch = 4;
  Rng rng(1);
  const auto passes = augmentation_passes(s, *g, d, rng);
  ASSERT_EQ(passes.size(), 3u);
  for (const auto& p : passes) {
    // Three minibatches (4 + 4 + 2 samples), one element each, the same on image and masks.
    ASSERT_EQ(p.in_sites.size(), 3u * 16u);
    EXPECT_EQ(p.tgt_sites, p.in_sites);
    ASSERT_EQ(p.element_of.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(p.element_of[i], i / 4);
  }
  // Tables built in parallel: the same passes, per minibatch and per sample.
  for (AugPer per : {AugPer::Batch, AugPer::Sample}) {
    s.per = per;
    Rng r1(2), r2(2);
    ThreadPool pool(2);
    const auto serial = augmentation_passes(s, *g, d, r1);
    const auto parallel = augmentation_passes(s, *g, d, r2, &pool);
    ASSERT_EQ(serial.size(), parallel.size());
    for (std::size_t l = 0; l < serial.size(); ++l) {
      EXPECT_EQ(serial[l].in_sites, parallel[l].in_sites);
      EXPECT_EQ(serial[l].tgt_sites, parallel[l].tgt_sites);
      EXPECT_EQ(serial[l].element_of, parallel[l].element_of);
    }
    EXPECT_EQ(r1.next_u64(), r2.next_u64());  // the same draws from the stream
  }
}

}  // namespace
}  // namespace eqaug
