// The layers and losses of the image experiments against central finite differences in
// float64: softmax cross-entropy (Trans, Groups), layer norm across channels at each pixel
// (C = 2 as in Rot, and more), BCE summed over the two masks (Rot), and whole tiny
// Trans- and Rot-shaped models through Network<double>::evaluate.
#include <gtest/gtest.h>

#include "../support/image_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"

namespace eqaug {
namespace {

using testing::central_differences;
using testing::expect_all_close;

std::vector<double> normal_vec(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

/// One-hot targets, layout b·C·S + c·S + s, with the class of each (b, s).
std::vector<double> one_hot(Rng& rng, std::size_t B, std::size_t C, std::size_t S,
                            std::vector<std::size_t>* cls = nullptr) {
  std::vector<double> y(B * C * S, 0.0);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const std::size_t c = rng.below(C);
      y[b * C * S + c * S + s] = 1.0;
      if (cls) cls->push_back(c);
    }
  return y;
}

double ce_loss(const std::vector<double>& z, const std::vector<double>& y, std::size_t B, std::size_t C,
               std::size_t S) {
  return ops::softmax_cross_entropy<double>(z.data(), y.data(), B, C, S, nullptr).loss_sum;
}

// ---------------------------------------------------------------------------------------
// Softmax cross-entropy.

TEST(ImageLayers, SoftmaxCrossEntropyValueMatchesDirectFormula) {
  Rng rng(1);
  for (const auto& [C, S] :
       std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {3, 1}, {10, 1}, {4, 3}, {10, 3}}) {
    SCOPED_TRACE("C=" + std::to_string(C) + " S=" + std::to_string(S));
    const std::size_t B = 3;
    const auto z = normal_vec(rng, B * C * S, 2.0);
    std::vector<std::size_t> cls;
    const auto y = one_hot(rng, B, C, S, &cls);
    // Direct: per sample mean over sites of log Σ_c e^{z_c} − z_target.
    double want = 0;
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        double se = 0;
        for (std::size_t c = 0; c < C; ++c) se += std::exp(z[b * C * S + c * S + s]);
        want += (std::log(se) - z[b * C * S + cls[b * S + s] * S + s]) / static_cast<double>(S);
      }
    const ChunkStats st = ops::softmax_cross_entropy<double>(z.data(), y.data(), B, C, S, nullptr);
    EXPECT_NEAR(st.loss_sum, want, 1e-12 * std::max(1.0, want));
    EXPECT_EQ(st.predictions, static_cast<double>(B * S));

    // A target distribution (not one-hot): −Σ_c y_c log softmax(z)_c.
    std::vector<double> soft(B * C * S);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        double tot = 0;
        for (std::size_t c = 0; c < C; ++c) tot += soft[b * C * S + c * S + s] = rng.uniform() + 0.1;
        for (std::size_t c = 0; c < C; ++c) soft[b * C * S + c * S + s] /= tot;
      }
    double want_soft = 0;
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        double se = 0;
        for (std::size_t c = 0; c < C; ++c) se += std::exp(z[b * C * S + c * S + s]);
        for (std::size_t c = 0; c < C; ++c)
          want_soft -= soft[b * C * S + c * S + s] * (z[b * C * S + c * S + s] - std::log(se)) / static_cast<double>(S);
      }
    EXPECT_NEAR(ce_loss(z, soft, B, C, S), want_soft, 1e-12 * std::max(1.0, want_soft));
  }
}

TEST(ImageLayers, SoftmaxCrossEntropyGradientAgainstFiniteDifferences) {
  Rng rng(2);
  for (const auto& [C, S] :
       std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {3, 1}, {10, 1}, {3, 3}, {10, 3}}) {
    SCOPED_TRACE("C=" + std::to_string(C) + " S=" + std::to_string(S));
    const std::size_t B = 2;
    const auto z = normal_vec(rng, B * C * S, 1.5);
    const auto y = one_hot(rng, B, C, S);
    std::vector<double> gz(z.size());
    ops::softmax_cross_entropy(z.data(), y.data(), B, C, S, gz.data());
    const auto fd = central_differences([&](const std::vector<double>& v) { return ce_loss(v, y, B, C, S); }, z, 1e-6);
    expect_all_close(gz, fd, 1e-6, 1e-10, "softmax cross-entropy dz");
    // Closed form (softmax − y)/S, and the gradient of each site sums to 0 over classes.
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        double se = 0, sum = 0;
        for (std::size_t c = 0; c < C; ++c) se += std::exp(z[b * C * S + c * S + s]);
        for (std::size_t c = 0; c < C; ++c) {
          const std::size_t i = b * C * S + c * S + s;
          EXPECT_NEAR(gz[i], (std::exp(z[i]) / se - y[i]) / static_cast<double>(S), 1e-14);
          sum += gz[i];
        }
        EXPECT_NEAR(sum, 0.0, 1e-15);
      }
  }
}

TEST(ImageLayers, SoftmaxCrossEntropyIsStableForExtremeLogits) {
  // Logits of ±800: e^800 overflows a double, so only a shifted log-sum-exp is finite.
  const std::size_t B = 1, C = 3, S = 3;
  // Site 0: (800, −800, 0), target class 1 → loss 1600, gradient (1, −1, 0)/S.
  // Site 1: (800, 800, −800), target class 0 → loss log 2, gradient (−½, ½, 0)/S.
  // Site 2: (−800, −800, −800), target class 2 → loss log 3, gradient (⅓, ⅓, −⅔)/S.
  const std::vector<double> z = {800, 800, -800, -800, 800, -800, 0, -800, -800};
  const std::vector<double> y = {0, 1, 0, 1, 0, 0, 0, 0, 1};
  std::vector<double> gz(z.size());
  const ChunkStats st = ops::softmax_cross_entropy(z.data(), y.data(), B, C, S, gz.data());
  ASSERT_TRUE(std::isfinite(st.loss_sum));
  EXPECT_NEAR(st.loss_sum, (1600.0 + std::log(2.0) + std::log(3.0)) / 3.0, 1e-12 * 1600);
  for (double g : gz) ASSERT_TRUE(std::isfinite(g));
  const std::vector<double> want = {1.0 / 3, -0.5 / 3, 1.0 / 9, -1.0 / 3, 0.5 / 3, 1.0 / 9, 0.0, 0.0, -2.0 / 9};
  // (The shifted log-sum-exp at |z| = 800 is exact to a few ulp of 800, ~1e-13.)
  for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(gz[i], want[i], 1e-12) << i;
  // Finite differences still agree there (the loss is linear in the dominant logits).
  const auto fd = central_differences([&](const std::vector<double>& v) { return ce_loss(v, y, B, C, S); }, z, 1e-3);
  expect_all_close(gz, fd, 1e-6, 1e-9, "extreme logits dz");
  // Accuracy at ties: the first maximum is the prediction (site 1: class 0, right; site 2:
  // class 0 vs target 2, wrong; site 0: class 0 vs 1, wrong).
  EXPECT_EQ(st.correct, 1.0);
  EXPECT_EQ(st.predictions, 3.0);
  // Float: same, finite.
  const std::vector<float> zf(z.begin(), z.end()), yf(y.begin(), y.end());
  std::vector<float> gf(z.size());
  const ChunkStats sf = ops::softmax_cross_entropy(zf.data(), yf.data(), B, C, S, gf.data());
  EXPECT_NEAR(sf.loss_sum, st.loss_sum, 1e-3);
  for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(gf[i], want[i], 1e-6) << i;
  // Huge negative everywhere except the target: loss 0, gradient 0.
  const std::vector<double> z2 = {-800, 800, -800};
  const std::vector<double> y2 = {0, 1, 0};
  std::vector<double> g2(3);
  const ChunkStats s2 = ops::softmax_cross_entropy(z2.data(), y2.data(), 1, 3, 1, g2.data());
  EXPECT_EQ(s2.loss_sum, 0.0);
  for (double g : g2) EXPECT_EQ(g, 0.0);
  EXPECT_EQ(s2.correct, 1.0);
}

TEST(ImageLayers, SoftmaxCrossEntropyCountsArgmaxHits) {
  Rng rng(3);
  const std::size_t B = 7, C = 5, S = 3;
  auto z = normal_vec(rng, B * C * S);
  std::vector<std::size_t> cls;
  const auto y = one_hot(rng, B, C, S, &cls);
  std::size_t correct = 0;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      std::size_t arg = 0;
      for (std::size_t c = 1; c < C; ++c)
        if (z[b * C * S + c * S + s] > z[b * C * S + arg * S + s]) arg = c;
      correct += arg == cls[b * S + s];
    }
  const ChunkStats st = ops::softmax_cross_entropy<double>(z.data(), y.data(), B, C, S, nullptr);
  EXPECT_EQ(st.correct, static_cast<double>(correct));
  EXPECT_EQ(st.predictions, static_cast<double>(B * S));
  // Make every prediction right, then every one wrong.
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) z[b * C * S + cls[b * S + s] * S + s] = 10.0;
  EXPECT_EQ(ops::softmax_cross_entropy<double>(z.data(), y.data(), B, C, S, nullptr).correct,
            static_cast<double>(B * S));
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) z[b * C * S + cls[b * S + s] * S + s] = -10.0;
  EXPECT_EQ(ops::softmax_cross_entropy<double>(z.data(), y.data(), B, C, S, nullptr).correct, 0.0);
}

// ---------------------------------------------------------------------------------------
// Layer norm across channels at each pixel.

void check_layer_norm_fd(const std::vector<double>& x, std::size_t B, std::size_t C, std::size_t S, double eps,
                         std::uint64_t seed, const std::string& what) {
  Rng rng(seed);
  const auto r = normal_vec(rng, x.size());
  auto loss = [&](const std::vector<double>& xx) {
    std::vector<double> y(xx.size());
    ops::layer_norm_forward(xx.data(), y.data(), B, C, S, eps);
    double s = 0;
    for (std::size_t k = 0; k < y.size(); ++k) s += r[k] * y[k];
    return s;
  };
  std::vector<double> y(x.size()), gx(x.size());
  ops::layer_norm_forward(x.data(), y.data(), B, C, S, eps);
  ops::layer_norm_backward(x.data(), y.data(), r.data(), gx.data(), B, C, S, eps);
  expect_all_close(gx, central_differences(loss, x, 1e-6), 1e-6, 1e-9, what);
}

TEST(ImageLayers, LayerNormAcrossTwoChannelsPerPixel) {
  // Rot: LN across the 2 mask channels at each pixel maps (a, b) to ±d/√(d² + 4ε)·(1, −1)
  // with d = a − b.
  Rng rng(4);
  const std::size_t B = 3, C = 2, S = 9;
  const double eps = 1e-5;
  auto x = normal_vec(rng, B * C * S);
  // Half of the pixels with nearly tied channels, where LN is not saturated.
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; s += 2) x[b * C * S + S + s] = x[b * C * S + s] + 3e-3 * rng.normal();
  std::vector<double> y(x.size());
  ops::layer_norm_forward(x.data(), y.data(), B, C, S, eps);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      const double a = x[b * C * S + s], c1 = x[b * C * S + S + s], d = a - c1;
      const double want = d / std::sqrt(d * d + 4 * eps);
      EXPECT_NEAR(y[b * C * S + s], want, 1e-13);
      EXPECT_NEAR(y[b * C * S + S + s], -want, 1e-13);
    }
  check_layer_norm_fd(x, B, C, S, eps, 40, "layer norm C=2");
  check_layer_norm_fd(x, B, C, S, 0.3, 41, "layer norm C=2 eps=0.3");
}

TEST(ImageLayers, LayerNormAcrossFiveChannelsSeveralSites) {
  Rng rng(5);
  for (const auto& [B, S] : std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {3, 4}, {2, 9}}) {
    const std::size_t C = 5;
    auto x = normal_vec(rng, B * C * S, 1.7);
    for (auto& v : x) v += 0.8;
    std::vector<double> y(x.size());
    ops::layer_norm_forward(x.data(), y.data(), B, C, S, 1e-5);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < S; ++s) {
        double m = 0, v = 0;
        for (std::size_t c = 0; c < C; ++c) m += x[b * C * S + c * S + s] / static_cast<double>(C);
        for (std::size_t c = 0; c < C; ++c) v += std::pow(x[b * C * S + c * S + s] - m, 2) / static_cast<double>(C);
        for (std::size_t c = 0; c < C; ++c)
          EXPECT_NEAR(y[b * C * S + c * S + s], (x[b * C * S + c * S + s] - m) / std::sqrt(v + 1e-5), 1e-13);
      }
    check_layer_norm_fd(x, B, C, S, 1e-5, 50 + S, "layer norm C=5 S=" + std::to_string(S));
  }
}

// ---------------------------------------------------------------------------------------
// BCE over the two masks.

TEST(ImageLayers, BceSumsTheTwoMaskChannels) {
  Rng rng(6);
  const std::size_t B = 3, C = 2, S = 9;
  std::vector<double> p(B * C * S), y(B * C * S);
  for (auto& v : p) v = 0.05 + 0.9 * rng.uniform();
  for (auto& v : y) v = rng.bernoulli(0.4) ? 1.0 : 0.0;
  // loss = Σ_b [ mean_s BCE(mask 0) + mean_s BCE(mask 1) ].
  double want = 0, correct = 0;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t c = 0; c < C; ++c) {
      double mean = 0;
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t i = b * C * S + c * S + s;
        mean -= (y[i] * std::log(p[i]) + (1 - y[i]) * std::log(1 - p[i])) / static_cast<double>(S);
        correct += (p[i] > 0.5) == (y[i] > 0.5);
      }
      want += mean;
    }
  std::vector<double> gp(p.size());
  const ChunkStats st = ops::bce_loss(p.data(), y.data(), B, C, S, gp.data());
  EXPECT_NEAR(st.loss_sum, want, 1e-13);
  EXPECT_EQ(st.correct, correct);
  EXPECT_EQ(st.predictions, static_cast<double>(B * C * S));
  // One mask alone: the per-channel terms add up.
  std::vector<double> p0, y0, p1, y1;
  for (std::size_t b = 0; b < B; ++b) {
    p0.insert(p0.end(), p.begin() + static_cast<std::ptrdiff_t>(b * C * S),
              p.begin() + static_cast<std::ptrdiff_t>(b * C * S + S));
    y0.insert(y0.end(), y.begin() + static_cast<std::ptrdiff_t>(b * C * S),
              y.begin() + static_cast<std::ptrdiff_t>(b * C * S + S));
    p1.insert(p1.end(), p.begin() + static_cast<std::ptrdiff_t>(b * C * S + S),
              p.begin() + static_cast<std::ptrdiff_t>((b + 1) * C * S));
    y1.insert(y1.end(), y.begin() + static_cast<std::ptrdiff_t>(b * C * S + S),
              y.begin() + static_cast<std::ptrdiff_t>((b + 1) * C * S));
  }
  const double l0 = ops::bce_loss<double>(p0.data(), y0.data(), B, 1, S, nullptr).loss_sum;
  const double l1 = ops::bce_loss<double>(p1.data(), y1.data(), B, 1, S, nullptr).loss_sum;
  EXPECT_NEAR(st.loss_sum, l0 + l1, 1e-13);
  auto loss = [&](const std::vector<double>& pp) {
    return ops::bce_loss<double>(pp.data(), y.data(), B, C, S, nullptr).loss_sum;
  };
  expect_all_close(gp, central_differences(loss, p, 1e-7), 1e-6, 1e-10, "bce two masks dp");
}

// ---------------------------------------------------------------------------------------
// Whole tiny models: parameter gradients by Network<double>::evaluate vs central FD.

struct ModelCase {
  const ModelSpec* spec;
  std::vector<double> x, target;
  std::size_t batch;
};

/// Checks every parameter of every linear layer against fourth-order central differences
/// with step h: truncation is O(h⁴) and rounding of a loss of size ~10 costs ~3e-15/h
/// absolute (h = 1e-4 for smooth models; smaller where the 2-channel LN varies on the
/// scale √ε ≈ 3e-3 of the channel difference, scaled down by the LeakyReLU slope). Every
/// perturbed evaluation must leave the sign of every LeakyReLU input unchanged (no kink
/// crossed), which is checked rather than assumed.
void check_model_gradient(const ModelCase& mc, const std::vector<double>& params, const std::string& what,
                          double step) {
  const ModelSpec& spec = *mc.spec;
  Network<double> net(spec);
  auto ws = net.make_workspace(mc.batch);
  ASSERT_EQ(ws.act[0].size(), mc.x.size());
  ASSERT_EQ(ws.target.size(), mc.target.size());
  std::copy(mc.x.begin(), mc.x.end(), ws.act[0].begin());
  std::copy(mc.target.begin(), mc.target.end(), ws.target.begin());
  std::vector<double> grad(spec.num_params(), std::nan(""));
  const ChunkStats st = net.evaluate(params.data(), mc.batch, ws, grad.data(), false);
  ASSERT_TRUE(std::isfinite(st.loss_sum));
  std::vector<std::size_t> lrelu;
  std::vector<std::vector<bool>> sign;  // per LeakyReLU layer: its inputs' signs at `params`
  for (std::size_t i = 0; i < spec.layers().size(); ++i)
    if (spec.layers()[i].kind == LayerKind::LeakyReLU) {
      lrelu.push_back(i);
      std::vector<bool> sg;
      for (double v : ws.act[i]) sg.push_back(v > 0);
      sign.push_back(std::move(sg));
    }
  ASSERT_FALSE(lrelu.empty());
  // accumulate = true adds.
  {
    std::vector<double> twice = grad;
    net.evaluate(params.data(), mc.batch, ws, twice.data(), true);
    for (std::size_t i = 0; i < grad.size(); ++i) ASSERT_NEAR(twice[i], 2 * grad[i], 1e-12 * (1 + std::abs(grad[i])));
  }
  std::size_t kinks_crossed = 0;
  auto loss = [&](const std::vector<double>& a) {
    const double v = net.evaluate(a.data(), mc.batch, ws, nullptr, false).loss_sum;
    for (std::size_t j = 0; j < lrelu.size(); ++j)
      for (std::size_t k = 0; k < sign[j].size(); ++k) kinks_crossed += (ws.act[lrelu[j]][k] > 0) != sign[j][k];
    return v;
  };
  const auto fd = central_differences(loss, params, step, nullptr, true);
  ASSERT_EQ(kinks_crossed, 0u) << what << ": a finite-difference step crossed a LeakyReLU kink";
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    std::vector<std::size_t> which(l.count);
    for (std::size_t k = 0; k < l.count; ++k) which[k] = l.offset + k;
    const double worst = expect_all_close(grad, fd, 1e-6, 1e-9, what + " layer " + l.name, &which);
    double nrm = 0;
    for (std::size_t k : which) nrm += grad[k] * grad[k];
    EXPECT_GT(std::sqrt(nrm), 1e-3) << what << ": the gradient hardly reaches layer " << l.name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", worst);
    ::testing::Test::RecordProperty(what + "_" + l.name + "_worst_rel", buf);
  }
  EXPECT_EQ(spec.layers().size() + 1, ws.act.size());
}

TEST(ImageLayers, TransShapedModelGradient) {
  // Z_4² on 4×4 pixels: 1→2→2 channel pixel layers, pool to the trivial site, tanh, LN,
  // linear to 3 classes, cross-entropy from the logits.
  const auto g = pixel_group(PixelGroupSpec{4, true, true, false});
  ModelSpec spec(g, make_space(*g, 1, 1));
  spec.linear(2, 1, {InitSpec::Kind::Normal, 0.5})
      .leaky_relu(0.01)
      .linear(2, 1, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu(0.01)
      .linear(3, 0, {InitSpec::Kind::Normal, 0.3})
      .tanh()
      .layer_norm(1e-5)
      .linear(3, 0, {InitSpec::Kind::Normal, 1.0})
      .loss(LossKind::CrossEntropy);
  ASSERT_EQ(spec.output().dim(), 3u);
  ASSERT_EQ(spec.num_params(), 32u * 16u + 32u * 32u + 3u * 32u + 3u * 3u);
  Rng rng(7);
  const auto params = spec.draw_init(rng);  // a generic point (not in E)
  ModelCase mc{&spec, {}, {}, 5};
  for (std::size_t i = 0; i < 5 * 16; ++i) mc.x.push_back(rng.uniform() - 0.5);
  mc.target = one_hot(rng, 5, 3, 1);
  check_model_gradient(mc, params, "trans-shaped", 1e-4);
  // And at a point of E.
  auto pa = params;
  spec.project(pa.data());
  check_model_gradient(mc, pa, "trans-shaped in E", 1e-4);
}

TEST(ImageLayers, RotShapedModelGradient) {
  // C_4 on 4×4 pixels: 1→2→2 channel pixel layers, LeakyReLU, LN across the 2 channels
  // at each pixel, sigmoid, BCE(mask 0) + BCE(mask 1).
  const auto g = pixel_group(PixelGroupSpec{4, false, false, true});
  ModelSpec spec(g, make_space(*g, 1, 1));
  spec.linear(2, 1, {InitSpec::Kind::Normal, 0.5})
      .leaky_relu(0.01)
      .linear(2, 1, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu(0.01)
      .layer_norm(1e-5)
      .sigmoid()
      .loss(LossKind::BCE);
  ASSERT_EQ(spec.output().channels, 2u);
  ASSERT_EQ(spec.output().sites, 16u);
  Rng rng(8);
  auto params = spec.draw_init(rng);
  // Output channel 1 of the last layer = channel 0 + a small perturbation, so that the two
  // channels nearly tie at every pixel: there the 2-channel LN is not saturated and the
  // gradient is not negligible (docs/reference.md's note on Rot). Channel c_o's block of the
  // layer is contiguous: S_out·C_in·S_in = 16·2·16 entries.
  {
    const auto& l = spec.weight_layer(1);
    const std::size_t block = 16 * 2 * 16;
    ASSERT_EQ(l.count, 2 * block);
    for (std::size_t k = 0; k < block; ++k) params[l.offset + block + k] = params[l.offset + k] + 0.003 * rng.normal();
  }
  ModelCase mc{&spec, {}, {}, 4};
  for (std::size_t i = 0; i < 4 * 16; ++i) mc.x.push_back(rng.uniform() - 0.5);
  for (std::size_t i = 0; i < 4 * 2 * 16; ++i) mc.target.push_back(rng.bernoulli(0.3) ? 1.0 : 0.0);
  check_model_gradient(mc, params, "rot-shaped", 2e-5);
  auto pa = params;
  spec.project(pa.data());
  check_model_gradient(mc, pa, "rot-shaped in E", 2e-5);
  // The loss is BCE of the two masks, each a mean over the 16 pixels, summed over samples.
  Network<double> net(spec);
  const auto out = net.predict(params.data(), mc.x.data(), 4);
  double want = 0;
  for (std::size_t i = 0; i < out.size(); ++i)
    want -= (mc.target[i] * std::log(out[i]) + (1 - mc.target[i]) * std::log(1 - out[i])) / 16.0;
  auto ws = net.make_workspace(4);
  std::copy(mc.x.begin(), mc.x.end(), ws.act[0].begin());
  std::copy(mc.target.begin(), mc.target.end(), ws.target.begin());
  EXPECT_NEAR(net.evaluate(params.data(), 4, ws, nullptr, false).loss_sum, want, 1e-12);
}

}  // namespace
}  // namespace eqaug
