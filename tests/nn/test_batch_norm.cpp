// The batchnorm layer: training-mode statistics per channel over a minibatch and all sites,
// its gradient against finite differences (its Hessian-vector products are checked with every
// small model in tests/analysis/test_hessian.cpp), its equivariance, the engine's
// minibatch-aligned chunks, the configuration, and the GPU's refusal. Its affine form: the
// `affine` layer's weights (a layer's own slice of A) in gradients, in the equivariant
// parametrisation and in weight files. The softmax layer's gradient (reference.double_softmax).
#include <gtest/gtest.h>

#include "../support/small_models.hpp"

#include <cmath>
#include <filesystem>
#include <vector>

#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {
namespace {

testing::Case batchnorm_case(const std::string& name = "images_batchnorm") {
  for (auto& c : testing::cases())
    if (c.name == name) return c;
  throw Error("no case " + name);
}

/// A point with every affine weight moved off its initial 1 and 0.
std::vector<double> affine_point(const testing::Case& c, std::uint64_t seed) {
  Rng rng(seed);
  auto a = c.spec->draw_init(rng);
  const auto& l = c.spec->weight_layer(1);
  for (std::size_t i = 0; i < l.count; ++i) a[l.offset + i] += 0.3 * rng.normal();
  return a;
}

/// Layer 1's outputs (the batch norm) for the chunk of all samples.
std::vector<double> bn_outputs(const testing::Case& c, const std::vector<double>& a, const std::vector<double>& x) {
  Network<double> net(*c.spec);
  const std::size_t n = x.size() / c.spec->input().dim();
  auto ws = net.make_workspace(n);
  std::copy(x.begin(), x.end(), ws.act[0].begin());
  std::fill(ws.target.begin(), ws.target.end(), 0.0);
  net.evaluate(a.data(), n, ws, nullptr, false);
  return std::vector<double>(ws.act[2].begin(),
                             ws.act[2].begin() + static_cast<std::ptrdiff_t>(n * c.spec->layers()[1].out.dim()));
}

TEST(BatchNorm, NormalisesEachChannelOverItsMinibatchAndSites) {
  const auto c = batchnorm_case();
  Rng rng(1);
  const auto a = c.spec->draw_init(rng);
  const auto y = bn_outputs(c, a, c.data.x);
  const std::size_t C = 3, S = 16, n = c.data.size, m = 5;
  for (std::size_t first = 0; first < n; first += m)
    for (std::size_t ch = 0; ch < C; ++ch) {
      double sum = 0, sq = 0;
      const std::size_t count = std::min(m, n - first);
      for (std::size_t b = first; b < first + count; ++b)
        for (std::size_t s = 0; s < S; ++s) {
          sum += y[(b * C + ch) * S + s];
          sq += y[(b * C + ch) * S + s] * y[(b * C + ch) * S + s];
        }
      const double N = static_cast<double>(count * S);
      EXPECT_NEAR(sum / N, 0.0, 1e-12) << first << " " << ch;
      EXPECT_NEAR(sq / N, 1.0, 1e-3) << first << " " << ch;  // biased variance; eps shrinks it a little
    }
  // A sample's output depends on the others of its minibatch, and on no other sample.
  auto x = c.data.x;
  const std::size_t D = c.spec->input().dim();
  for (std::size_t i = 0; i < D; ++i) x[1 * D + i] += 0.3;  // sample 1: minibatch 0
  const auto y2 = bn_outputs(c, a, x);
  const std::size_t W = C * S;
  double in_batch = 0, outside = 0;
  for (std::size_t i = 0; i < W; ++i) {
    in_batch = std::max(in_batch, std::abs(y2[0 * W + i] - y[0 * W + i]));
    outside = std::max(outside, std::abs(y2[7 * W + i] - y[7 * W + i]));
  }
  EXPECT_GT(in_batch, 1e-6);
  EXPECT_EQ(outside, 0.0);
}

/// The summed loss's gradient at a over the indices `checked` against central
/// differences: the largest gradient entry seen and the worst disagreement.
struct FdCheck {
  std::vector<double> grad;
  double worst = 0, scale = 0;
};
FdCheck finite_differences(const testing::Case& c, const std::vector<double>& a,
                           const std::vector<std::size_t>& checked) {
  ThreadPool pool(2);
  GradientEngine<double> engine(*c.spec, c.data, -0.5, 10, pool);
  const Pass identity;
  auto run = [&](const std::vector<double>& p, bool grad) {
    return engine.run({{p.data(), &identity, grad, 0}}, 1)[0];
  };
  FdCheck r;
  r.grad = run(a, true).grad;
  const double h = 1e-6;
  for (std::size_t i : checked) {
    auto ap = a, am = a;
    ap[i] += h;
    am[i] -= h;
    const double fd = (run(ap, false).stats.loss_sum - run(am, false).stats.loss_sum) / (2 * h);
    r.worst = std::max(r.worst, std::abs(fd - r.grad[i]));
    r.scale = std::max(r.scale, std::abs(r.grad[i]));
  }
  return r;
}

TEST(BatchNorm, GradientAgainstFiniteDifferences) {
  const auto c = batchnorm_case();
  Rng rng(2);
  const auto a = c.spec->draw_init(rng);
  std::vector<std::size_t> checked;
  for (std::size_t i = 0; i < a.size(); i += 7) checked.push_back(i);
  const auto r = finite_differences(c, a, checked);
  EXPECT_GT(r.scale, 1e-3);
  EXPECT_LE(r.worst, 1e-6 * r.scale);
}

TEST(SoftmaxLayer, GradientOfTheDoubleSoftmaxAgainstFiniteDifferences) {
  const auto c = batchnorm_case("images_double_softmax");
  Rng rng(6);
  const auto a = c.spec->draw_init(rng);
  std::vector<std::size_t> checked;
  for (std::size_t i = 0; i < a.size(); i += 3) checked.push_back(i);
  const auto r = finite_differences(c, a, checked);
  EXPECT_GT(r.scale, 1e-3);
  EXPECT_LE(r.worst, 1e-6 * r.scale);
}

TEST(BatchNormAffine, HasWeightsOfItsOwnWithGradientsAgainstFiniteDifferences) {
  const auto c = batchnorm_case("images_batchnorm_affine");
  ASSERT_EQ(c.spec->weight_layers().size(), 3u);
  const auto& l = c.spec->weight_layer(1);
  EXPECT_EQ(l.name, "affine0");
  EXPECT_EQ(c.spec->weight_layer(2).name, "A1");  // linear layers keep their numbers
  EXPECT_EQ(l.count, 6u);
  EXPECT_EQ(l.subspace->dim(), 6u);  // E is all of it
  Rng rng(4);
  const auto a0 = c.spec->draw_init(rng);
  for (std::size_t ch = 0; ch < 3; ++ch) {
    EXPECT_EQ(a0[l.offset + 2 * ch], 1.0);
    EXPECT_EQ(a0[l.offset + 2 * ch + 1], 0.0);
  }
  const auto a = affine_point(c, 5);
  std::vector<std::size_t> checked;  // every affine weight, every fifth of the others
  for (std::size_t i = 0; i < a.size(); i += (i >= l.offset && i < l.offset + l.count) ? 1 : 5) checked.push_back(i);
  const auto r = finite_differences(c, a, checked);
  const auto& g = r.grad;
  double affine_grad = 0;
  for (std::size_t i = 0; i < l.count; ++i) affine_grad = std::max(affine_grad, std::abs(g[l.offset + i]));
  EXPECT_GT(affine_grad, 1e-3);
  EXPECT_LE(r.worst, 1e-6 * r.scale);
}

TEST(BatchNormAffine, EquivariantParametrisationReadsItsWeightsAsCoordinates) {
  const auto c = batchnorm_case("images_batchnorm_affine");
  auto a = affine_point(c, 6);
  c.spec->project(a.data());
  const auto coords = c.spec->to_coords(a.data());
  const auto& l = c.spec->weight_layer(1);
  for (std::size_t i = 0; i < l.count; ++i) EXPECT_EQ(coords[l.coord_offset + i], a[l.offset + i]);
  Network<double> dense(*c.spec), equi(*c.spec, Parametrisation::Equivariant);
  const std::size_t n = 10;  // two whole minibatches
  auto evaluate = [&](const Network<double>& net, const std::vector<double>& p, std::vector<double>& grad) {
    auto ws = net.make_workspace(n);
    std::copy_n(c.data.x.begin(), n * c.spec->input().dim(), ws.act[0].begin());
    std::copy_n(c.data.y.begin(), n * c.spec->output().dim(), ws.target.begin());
    grad.assign(p.size(), 0.0);
    return net.evaluate(p.data(), n, ws, grad.data(), false).loss_sum;
  };
  std::vector<double> g_dense, g_equi;
  const double f_dense = evaluate(dense, a, g_dense), f_equi = evaluate(equi, coords, g_equi);
  EXPECT_NEAR(f_equi, f_dense, 1e-12 * f_dense);
  // The coordinates' gradient is the dense gradient's coordinates (orthonormal coordinates).
  const auto want = c.spec->to_coords(g_dense.data());
  ASSERT_EQ(g_equi.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g_equi[i], want[i], 1e-10) << i;
}

TEST(BatchNormAffine, ConfigBuildsItAndItsWeightFilesAreNamedAfterIt) {
  auto j = io::apply_scale(io::load_toml(io::find_config("trans")), "small", "trans");
  auto& layers = j["model"]["layers"];
  layers.insert(layers.begin() + 1, nlohmann::json{{"type", "batchnorm"}, {"affine", true}});
  const auto cfg = io::resolve(j, "bn-test");
  const auto group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  EXPECT_EQ(spec->layers()[1].kind, LayerKind::BatchNorm);
  EXPECT_EQ(spec->layers()[2].kind, LayerKind::Affine);
  const std::size_t C = spec->layers()[2].in.channels;
  const auto& l = spec->weight_layer(1);
  EXPECT_EQ(l.name, "affine0");
  layers[1]["affine"] = "yes";
  EXPECT_THROW(io::resolve(j, "bn-test"), Error);

  Rng rng(7);
  auto a = spec->draw_init(rng);
  for (std::size_t i = 0; i < l.count; ++i) a[l.offset + i] = 0.25 * static_cast<double>(i) - 0.5;
  const auto dir = std::filesystem::path(::testing::TempDir()) / "eqaug-affine-weights";
  std::filesystem::remove_all(dir);
  io::save_layer_weights(dir, *spec, a);
  const auto file = io::read_npy(dir / "affine0.npy");
  EXPECT_EQ(file.shape, (std::vector<std::size_t>{C, 2}));
  EXPECT_EQ(file.data[0], a[l.offset]);              // scale of channel 0
  EXPECT_EQ(file.data[3], a[l.offset + 3]);          // shift of channel 1
  EXPECT_EQ(io::load_layer_weights(dir, *spec), a);  // back bit for bit
  std::filesystem::remove_all(dir);
}

TEST(BatchNorm, IsEquivariantAndChunksAreWholeMinibatches) {
  const auto c = batchnorm_case();
  Rng rng(3);
  auto a = c.spec->draw_init(rng);
  c.spec->project(a.data());  // an equivariant model: its outputs are invariant
  const Pass identity;
  // Every sample moved by the same element: batch statistics see the same values.
  const auto els = c.group->elements();
  const Pass moved = make_pass(c.data, {els[5]}, std::vector<std::size_t>(c.data.size, 0));
  std::vector<double> losses;
  for (std::size_t chunk : {5, 3, 10, 100}) {
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, -0.5, chunk, pool);
    EXPECT_EQ(engine.chunk_samples(0) % 5 == 0 || engine.chunk_samples(0) == c.data.size, true) << chunk;
    const auto r = engine.run({{a.data(), &identity, false, 0}, {a.data(), &moved, false, 1}}, 2);
    EXPECT_NEAR(r[0].stats.loss_sum, r[1].stats.loss_sum, 1e-12 * r[0].stats.loss_sum) << chunk;
    losses.push_back(r[0].stats.loss_sum);
  }
  for (double l : losses) EXPECT_NEAR(l, losses[0], 1e-12 * losses[0]);  // the same minibatches in every chunking
}

TEST(BatchNorm, ConfigSharesStatisticsOverTrainBatchAndTheGpuRefusesIt) {
  auto j = io::apply_scale(io::load_toml(io::find_config("trans")), "small", "trans");
  j["train"]["batch"] = 20;
  auto& layers = j["model"]["layers"];
  layers.insert(layers.begin() + 1, nlohmann::json{{"type", "batchnorm"}});
  const auto cfg = io::resolve(j, "bn-test");
  EXPECT_EQ(cfg.json["model"]["layers"][1]["eps"], 1e-5);
  const auto group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  EXPECT_TRUE(spec->couples_samples());
  EXPECT_EQ(spec->layers()[1].params.minibatch, 20u);
  j["model"]["layers"][1]["eps"] = 0;
  EXPECT_THROW(io::resolve(j, "bn-test"), Error);

  const auto c = batchnorm_case();
  ThreadPool pool(1);
  Device gpu;
  gpu.kind = Device::Kind::Cuda;
  try {
    GradientEngine<float> engine(*c.spec, c.data, 0.0, 5, pool, EquiEval::Structured, gpu);
    ADD_FAILURE() << "a model with batchnorm was accepted on the GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernels for layer type 'batchnorm'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace eqaug
