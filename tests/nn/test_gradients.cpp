// Gradients against central finite differences: each op alone, then the whole model
// through the chunked, multi-threaded GradientEngine.
#include <gtest/gtest.h>

#include "../support/random_graphs.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <tuple>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/nn/ops.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {
namespace {

template <typename T>
std::vector<T> random_vec(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(scale * rng.normal());
  return v;
}

/// Central differences of f at x, one coordinate at a time.
std::vector<double> numeric_grad(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x,
                                 double h) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rel, double abs,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size());
  int failures = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = abs + rel * std::max(std::abs(got[i]), std::abs(want[i]));
    if (!(std::abs(got[i] - want[i]) <= tol) && ++failures <= 10)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << got[i] << " vs numeric " << want[i];
  }
  EXPECT_EQ(failures, 0) << what;
}

template <typename T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// ---------------------------------------------------------------------------------------
// Linear ops vs naive loops.

template <typename T>
void check_linear_ops(double tol) {
  Rng rng(100);
  const std::size_t B = 5, I = 7, O = 4;
  const auto w = random_vec<T>(rng, O * I), x = random_vec<T>(rng, B * I), gy = random_vec<T>(rng, B * O);
  std::vector<T> y(B * O), gw(O * I), gx(B * I);
  ops::linear_forward(w.data(), x.data(), y.data(), B, I, O);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t o = 0; o < O; ++o) {
      double s = 0;
      for (std::size_t i = 0; i < I; ++i) s += double(w[o * I + i]) * double(x[b * I + i]);
      EXPECT_NEAR(y[b * O + o], s, tol);
    }
  ops::linear_weight_grad(x.data(), gy.data(), gw.data(), B, I, O, false);
  std::vector<double> naive_gw(O * I, 0.0);
  for (std::size_t o = 0; o < O; ++o)
    for (std::size_t i = 0; i < I; ++i) {
      for (std::size_t b = 0; b < B; ++b) naive_gw[o * I + i] += double(gy[b * O + o]) * double(x[b * I + i]);
      EXPECT_NEAR(gw[o * I + i], naive_gw[o * I + i], tol);
    }
  // accumulate = true adds to what is there.
  ops::linear_weight_grad(x.data(), gy.data(), gw.data(), B, I, O, true);
  for (std::size_t k = 0; k < O * I; ++k) EXPECT_NEAR(gw[k], 2 * naive_gw[k], 2 * tol);
  ops::linear_input_grad(w.data(), gy.data(), gx.data(), B, I, O);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t i = 0; i < I; ++i) {
      double s = 0;
      for (std::size_t o = 0; o < O; ++o) s += double(gy[b * O + o]) * double(w[o * I + i]);
      EXPECT_NEAR(gx[b * I + i], s, tol);
    }
}

TEST(NnOps, LinearDouble) { check_linear_ops<double>(1e-13); }
TEST(NnOps, LinearFloat) { check_linear_ops<float>(1e-5); }

TEST(NnOps, LinearGradientsAgainstFiniteDifferences) {
  Rng rng(101);
  const std::size_t B = 3, I = 5, O = 2;
  const auto w = random_vec<double>(rng, O * I), x = random_vec<double>(rng, B * I), r = random_vec<double>(rng, B * O);
  auto loss = [&](const std::vector<double>& ww, const std::vector<double>& xx) {
    std::vector<double> y(B * O);
    ops::linear_forward(ww.data(), xx.data(), y.data(), B, I, O);
    double s = 0;
    for (std::size_t k = 0; k < y.size(); ++k) s += r[k] * y[k];
    return s;
  };
  std::vector<double> gw(O * I), gx(B * I);
  ops::linear_weight_grad(x.data(), r.data(), gw.data(), B, I, O, false);
  ops::linear_input_grad(w.data(), r.data(), gx.data(), B, I, O);
  expect_close(gw, numeric_grad([&](const std::vector<double>& v) { return loss(v, x); }, w, 1e-6), 1e-7, 1e-9,
               "linear dW");
  expect_close(gx, numeric_grad([&](const std::vector<double>& v) { return loss(w, v); }, x, 1e-6), 1e-7, 1e-9,
               "linear dx");
}

// ---------------------------------------------------------------------------------------
// Point-wise ops and layer norm: L = Σ r·y, dL/dx by the op's backward vs numerically.

using Forward = std::function<void(const double*, double*)>;
using Backward = std::function<void(const double* x, const double* y, const double* gy, double* gx)>;

void check_op_fd(std::size_t n, const Forward& fwd, const Backward& bwd, std::vector<double> x, const char* what,
                 double rel = 1e-6, double abs = 1e-8) {
  Rng rng(7);
  const auto r = random_vec<double>(rng, n);
  auto loss = [&](const std::vector<double>& xx) {
    std::vector<double> y(n);
    fwd(xx.data(), y.data());
    double s = 0;
    for (std::size_t k = 0; k < n; ++k) s += r[k] * y[k];
    return s;
  };
  std::vector<double> y(n), gx(n);
  fwd(x.data(), y.data());
  bwd(x.data(), y.data(), r.data(), gx.data());
  expect_close(gx, numeric_grad(loss, x, 1e-6), rel, abs, what);
}

TEST(NnOps, LeakyReluValuesAndGradient) {
  const std::vector<double> x = {-2.0, -0.5, 0.25, 3.0, -1e-3, 1e-3};
  std::vector<double> y(x.size());
  ops::leaky_relu_forward(x.data(), y.data(), x.size(), 0.1);
  const std::vector<double> want = {-0.2, -0.05, 0.25, 3.0, -1e-4, 1e-3};
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_DOUBLE_EQ(y[i], want[i]);
  Rng rng(8);
  auto xs = random_vec<double>(rng, 40);
  for (auto& v : xs)
    if (std::abs(v) < 1e-3) v = 0.5;  // stay away from the kink
  check_op_fd(
      xs.size(), [&](const double* a, double* b) { ops::leaky_relu_forward(a, b, xs.size(), 0.01); },
      [&](const double*, const double* yy, const double* gy, double* gx) {
        ops::leaky_relu_backward(yy, gy, gx, xs.size(), 0.01);
      },
      xs, "leaky_relu");
}

TEST(NnOps, SigmoidAndTanh) {
  Rng rng(9);
  const auto x = random_vec<double>(rng, 30, 2.0);
  std::vector<double> y(x.size());
  ops::sigmoid_forward(x.data(), y.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], 1.0 / (1.0 + std::exp(-x[i])), 1e-15);
  ops::tanh_forward(x.data(), y.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], std::tanh(x[i]), 1e-15);
  check_op_fd(
      x.size(), [&](const double* a, double* b) { ops::sigmoid_forward(a, b, x.size()); },
      [&](const double*, const double* yy, const double* gy, double* gx) {
        ops::sigmoid_backward(yy, gy, gx, x.size());
      },
      x, "sigmoid");
  check_op_fd(
      x.size(), [&](const double* a, double* b) { ops::tanh_forward(a, b, x.size()); },
      [&](const double*, const double* yy, const double* gy, double* gx) { ops::tanh_backward(yy, gy, gx, x.size()); },
      x, "tanh");
}

TEST(NnOps, LayerNormForwardNormalisesAcrossChannelsPerSite) {
  Rng rng(10);
  const std::size_t B = 3, C = 4, S = 5;
  auto x = random_vec<double>(rng, B * C * S, 3.0);
  for (auto& v : x) v += 1.5;
  std::vector<double> y(x.size());
  ops::layer_norm_forward(x.data(), y.data(), B, C, S, 1e-5);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t s = 0; s < S; ++s) {
      double m = 0, v = 0, mx = 0, vx = 0;
      for (std::size_t c = 0; c < C; ++c) mx += x[b * C * S + c * S + s] / C;
      for (std::size_t c = 0; c < C; ++c) vx += std::pow(x[b * C * S + c * S + s] - mx, 2) / C;
      for (std::size_t c = 0; c < C; ++c) {
        const double yy = y[b * C * S + c * S + s];
        EXPECT_NEAR(yy, (x[b * C * S + c * S + s] - mx) / std::sqrt(vx + 1e-5), 1e-13);
        m += yy / C;
      }
      for (std::size_t c = 0; c < C; ++c) v += std::pow(y[b * C * S + c * S + s] - m, 2) / C;
      EXPECT_NEAR(m, 0.0, 1e-14);
      EXPECT_NEAR(v, vx / (vx + 1e-5), 1e-13);
    }
}

TEST(NnOps, LayerNormGradientSeveralChannelsAndSites) {
  Rng rng(11);
  for (const auto& shape :
       std::vector<std::tuple<std::size_t, std::size_t, std::size_t>>{{3, 4, 5}, {2, 2, 3}, {1, 7, 1}}) {
    const std::size_t B = std::get<0>(shape), C = std::get<1>(shape), S = std::get<2>(shape);
    const auto x = random_vec<double>(rng, B * C * S, 1.3);
    for (double eps : {1e-5, 0.5}) {
      check_op_fd(
          x.size(), [&](const double* a, double* b) { ops::layer_norm_forward(a, b, B, C, S, eps); },
          [&](const double* xx, const double* yy, const double* gy, double* gx) {
            ops::layer_norm_backward(xx, yy, gy, gx, B, C, S, eps);
          },
          x, "layer_norm", 1e-6, 1e-8);
    }
  }
}

TEST(NnOps, BceValueAgainstHandComputation) {
  // batch 2, channels 2, sites 3: per sample Σ_c mean_s.
  const std::vector<double> p = {0.9, 0.2, 0.6, 0.3, 0.7, 0.5, 0.1, 0.8, 0.4, 0.99, 0.05, 0.5};
  const std::vector<double> y = {1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0};
  double want = 0;
  int correct = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    want -= (y[i] * std::log(p[i]) + (1 - y[i]) * std::log(1 - p[i])) / 3.0;
    correct += ((p[i] > 0.5) == (y[i] > 0.5));
  }
  std::vector<double> gp(p.size());
  const ChunkStats st = ops::bce_loss(p.data(), y.data(), 2, 2, 3, gp.data());
  EXPECT_NEAR(st.loss_sum, want, 1e-14);
  EXPECT_EQ(st.correct, correct);
  EXPECT_EQ(st.predictions, 12.0);
  // Spot value: −(log 0.9 + log 0.8 + log 0.6)/3 + −(log 0.7 + log 0.3 + log 0.5)/3 for sample 0.
  const double s0 =
      -(std::log(0.9) + std::log(0.8) + std::log(0.6)) / 3 - (std::log(0.7) + std::log(0.3) + std::log(0.5)) / 3;
  std::vector<double> gp0(6);
  EXPECT_NEAR(ops::bce_loss(p.data(), y.data(), 1, 2, 3, gp0.data()).loss_sum, s0, 1e-14);
  // Gradient: (p − y)/(p(1 − p)) / S.
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(gp[i], (p[i] - y[i]) / (p[i] * (1 - p[i])) / 3.0, 1e-12);
  // Gradient against finite differences of the loss.
  auto loss = [&](const std::vector<double>& pp) {
    return ops::bce_loss<double>(pp.data(), y.data(), 2, 2, 3, nullptr).loss_sum;
  };
  expect_close(gp, numeric_grad(loss, p, 1e-7), 1e-6, 1e-8, "bce");
}

TEST(NnOps, BceClampsLogsLikePyTorch) {
  const std::vector<double> p = {0.0, 1.0, 0.0, 1.0};
  const std::vector<double> y = {1.0, 0.0, 0.0, 1.0};
  std::vector<double> gp(4);
  const ChunkStats st = ops::bce_loss(p.data(), y.data(), 4, 1, 1, gp.data());
  EXPECT_DOUBLE_EQ(st.loss_sum, 200.0);  // two maximally wrong predictions at −log = 100 each
  EXPECT_EQ(st.correct, 2.0);            // p = 0 vs y = 0 and p = 1 vs y = 1
  EXPECT_DOUBLE_EQ(gp[0], -1e12);
  EXPECT_DOUBLE_EQ(gp[1], 1e12);
  EXPECT_TRUE(std::isfinite(gp[2]) && std::isfinite(gp[3]));
}

// Float ops agree with the (finite-difference-checked) double ops.
TEST(NnOps, FloatOpsMatchDouble) {
  Rng rng(12);
  const std::size_t B = 2, C = 3, S = 4, n = B * C * S;
  const auto xd = random_vec<double>(rng, n), gyd = random_vec<double>(rng, n);
  std::vector<float> xf(xd.begin(), xd.end()), gyf(gyd.begin(), gyd.end());
  auto cmp = [&](auto fwd_d, auto fwd_f, auto bwd_d, auto bwd_f, const char* what) {
    std::vector<double> yd(n), gxd(n);
    std::vector<float> yf(n), gxf(n);
    fwd_d(xd.data(), yd.data());
    fwd_f(xf.data(), yf.data());
    bwd_d(xd.data(), yd.data(), gyd.data(), gxd.data());
    bwd_f(xf.data(), yf.data(), gyf.data(), gxf.data());
    expect_close(to_double(yf), yd, 1e-5, 1e-6, what);
    expect_close(to_double(gxf), gxd, 1e-5, 1e-5, what);
  };
  cmp([&](const double* a, double* b) { ops::sigmoid_forward(a, b, n); },
      [&](const float* a, float* b) { ops::sigmoid_forward(a, b, n); },
      [&](const double*, const double* y, const double* g, double* o) { ops::sigmoid_backward(y, g, o, n); },
      [&](const float*, const float* y, const float* g, float* o) { ops::sigmoid_backward(y, g, o, n); }, "sigmoid");
  cmp([&](const double* a, double* b) { ops::tanh_forward(a, b, n); },
      [&](const float* a, float* b) { ops::tanh_forward(a, b, n); },
      [&](const double*, const double* y, const double* g, double* o) { ops::tanh_backward(y, g, o, n); },
      [&](const float*, const float* y, const float* g, float* o) { ops::tanh_backward(y, g, o, n); }, "tanh");
  cmp([&](const double* a, double* b) { ops::leaky_relu_forward(a, b, n, 0.01); },
      [&](const float* a, float* b) { ops::leaky_relu_forward(a, b, n, 0.01f); },
      [&](const double*, const double* y, const double* g, double* o) { ops::leaky_relu_backward(y, g, o, n, 0.01); },
      [&](const float*, const float* y, const float* g, float* o) { ops::leaky_relu_backward(y, g, o, n, 0.01f); },
      "leaky_relu");
  cmp([&](const double* a, double* b) { ops::layer_norm_forward(a, b, B, C, S, 1e-5); },
      [&](const float* a, float* b) { ops::layer_norm_forward(a, b, B, C, S, 1e-5); },
      [&](const double* x, const double* y, const double* g, double* o) {
        ops::layer_norm_backward(x, y, g, o, B, C, S, 1e-5);
      },
      [&](const float* x, const float* y, const float* g, float* o) {
        ops::layer_norm_backward(x, y, g, o, B, C, S, 1e-5);
      },
      "layer_norm");
  // BCE in float.
  std::vector<double> pd(n), yd(n);
  for (std::size_t i = 0; i < n; ++i) {
    pd[i] = 0.05 + 0.9 * rng.uniform();
    yd[i] = rng.bernoulli(0.5) ? 1.0 : 0.0;
  }
  std::vector<float> pf(pd.begin(), pd.end()), yf(yd.begin(), yd.end()), gpf(n);
  std::vector<double> gpd(n);
  const auto sd = ops::bce_loss(pd.data(), yd.data(), B, C, S, gpd.data());
  const auto sf = ops::bce_loss(pf.data(), yf.data(), B, C, S, gpf.data());
  EXPECT_NEAR(sf.loss_sum, sd.loss_sum, 1e-5 * sd.loss_sum);
  expect_close(to_double(gpf), gpd, 1e-5, 1e-6, "bce float");
}

// ---------------------------------------------------------------------------------------
// The whole model.

ModelSpec test_model(const GroupPtr& g) {
  ModelSpec spec(g, make_space(*g, 1, 2));
  spec.linear(3, 2, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu(0.01)
      .linear(4, 0, {InitSpec::Kind::Normal, 0.3})
      .leaky_relu()
      .layer_norm()
      .linear(3, 0, {InitSpec::Kind::Normal, 0.5})
      .tanh()
      .linear(1, 0, {InitSpec::Kind::Normal, 0.5})
      .sigmoid()
      .loss(LossKind::BCE);
  return spec;
}

template <typename T>
typename GradientEngine<T>::GroupResult nominal(GradientEngine<T>& eng, const std::vector<T>& params, bool grad) {
  static const Pass identity;
  return eng.run({{params.data(), &identity, grad, 0}}, 1)[0];
}

TEST(NnModel, Structure) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  EXPECT_EQ(spec.layers().size(), 9u);
  ASSERT_EQ(spec.weight_layers().size(), 4u);
  EXPECT_EQ(spec.num_params(), 48u * 16u + 4u * 48u + 3u * 4u + 1u * 3u);
  EXPECT_EQ(spec.dim_E(), 3u * 15u + 4u * 3u * 2u + 12u + 3u);
  EXPECT_EQ(spec.max_width(), 48u);
  EXPECT_EQ(spec.weight_layer(1).offset, 768u);
  EXPECT_EQ(spec.weight_layer(3).name, "A3");
  EXPECT_EQ(spec.output().dim(), 1u);
  ModelSpec bad(g, make_space(*g, 1, 2));
  EXPECT_THROW(bad.layer_norm(), Error);  // one channel
}

TEST(NnModel, FullGradientAgainstFiniteDifferences) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  const Dataset data = testing::random_graph_data(*g, 7, 42);
  Rng rng(43);
  const std::vector<double> params = spec.draw_init(rng);  // not projected
  ASSERT_GT(spec.distance_to_E(params.data())[0], 1.0);

  // No LeakyReLU input near its kink: the pre-activations of both LeakyReLUs, by
  // evaluating prefixes of the model on the shifted inputs.
  std::vector<double> shifted(data.x);
  for (auto& v : shifted) v -= 0.5;
  {
    ModelSpec p1(g, make_space(*g, 1, 2));
    p1.linear(3, 2);
    ModelSpec p2(g, make_space(*g, 1, 2));
    p2.linear(3, 2).leaky_relu(0.01).linear(4, 0);
    for (const ModelSpec* p : {&p1, &p2}) {
      const auto pre = Network<double>(*p).predict(params.data(), shifted.data(), data.size);
      double m = 1e9;
      for (double v : pre) m = std::min(m, std::abs(v));
      ASSERT_GT(m, 1e-4) << "a LeakyReLU input is too close to 0 for finite differences";
    }
  }

  ThreadPool pool(2);
  GradientEngine<double> eng(spec, data, -0.5, 3, pool);
  const auto res = nominal(eng, params, true);
  EXPECT_EQ(res.samples, 7u);
  EXPECT_EQ(res.stats.predictions, 7.0);
  ASSERT_EQ(res.grad.size(), spec.num_params());

  // Loss value by the plain network on one chunk of all samples.
  {
    Network<double> net(spec);
    auto ws = net.make_workspace(7);
    std::copy(shifted.begin(), shifted.end(), ws.act[0].begin());
    std::copy(data.y.begin(), data.y.end(), ws.target.begin());
    const auto st = net.evaluate(params.data(), 7, ws, nullptr, false);
    EXPECT_NEAR(res.stats.loss_sum, st.loss_sum, 1e-12);
    const auto out = net.predict(params.data(), shifted.data(), 7);
    double bce = 0;
    for (std::size_t i = 0; i < 7; ++i) bce -= data.y[i] * std::log(out[i]) + (1 - data.y[i]) * std::log(1 - out[i]);
    EXPECT_NEAR(res.stats.loss_sum, bce, 1e-12);
  }

  auto loss = [&](const std::vector<double>& a) { return nominal(eng, a, false).stats.loss_sum; };
  const auto fd = numeric_grad(loss, params, 1e-6);
  expect_close(res.grad, fd, 1e-6, 1e-8, "model gradient");
  // The gradient reaches every layer.
  for (std::size_t j = 0; j < 4; ++j) {
    const auto& l = spec.weight_layer(j);
    double nrm = 0;
    for (std::size_t p = l.offset; p < l.offset + l.count; ++p) nrm += res.grad[p] * res.grad[p];
    EXPECT_GT(std::sqrt(nrm), 1e-4) << "layer " << j;
  }
}

TEST(NnModel, ChunkedParallelEqualsSingleChunk) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  const Dataset data = testing::random_graph_data(*g, 7, 5);
  Rng rng(6);
  const auto params = spec.draw_init(rng);
  ThreadPool pool2(2), pool1(1);
  GradientEngine<double> chunked(spec, data, -0.5, 3, pool2);
  GradientEngine<double> whole(spec, data, -0.5, 100, pool1);
  const auto a = nominal(chunked, params, true), b = nominal(whole, params, true);
  EXPECT_NEAR(a.stats.loss_sum, b.stats.loss_sum, 1e-12);
  EXPECT_EQ(a.stats.correct, b.stats.correct);
  EXPECT_EQ(a.samples, b.samples);
  expect_close(a.grad, b.grad, 0.0, 1e-12, "chunked vs whole");
}

TEST(NnModel, FloatResultIndependentOfThreadCount) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  const Dataset data = testing::random_graph_data(*g, 11, 15);
  Rng rng(16);
  const auto pd = spec.draw_init(rng);
  const std::vector<float> params(pd.begin(), pd.end());
  // Several jobs in two groups, one permuted, to exercise the item-order reduction.
  const auto els = g->elements();
  std::vector<std::size_t> which(data.size);
  for (std::size_t i = 0; i < data.size; ++i) which[i] = (i * 7) % els.size();
  const Pass identity, moved = make_pass(data, els, which);
  std::vector<GradientEngine<float>::Job> jobs = {
      {params.data(), &identity, true, 0}, {params.data(), &moved, true, 0}, {params.data(), &moved, true, 1}};
  ThreadPool p1(1), p3(3);
  GradientEngine<float> e1(spec, data, -0.5, 3, p1), e3(spec, data, -0.5, 3, p3);
  const auto r1 = e1.run(jobs, 2), r3 = e3.run(jobs, 2);
  for (std::size_t k = 0; k < 2; ++k) {
    ASSERT_EQ(r1[k].grad.size(), spec.num_params());
    EXPECT_EQ(std::memcmp(r1[k].grad.data(), r3[k].grad.data(), r1[k].grad.size() * sizeof(double)), 0);
    EXPECT_EQ(r1[k].stats.loss_sum, r3[k].stats.loss_sum);
    EXPECT_EQ(r1[k].stats.correct, r3[k].stats.correct);
  }
  EXPECT_EQ(r1[0].samples, 22u);
  EXPECT_EQ(r1[1].samples, 11u);
  // The float gradient is close to the double one.
  ThreadPool pd1(1);
  GradientEngine<double> ed(spec, data, -0.5, 3, pd1);
  const auto rd = nominal(ed, pd, true);
  const auto rf = nominal(e3, params, true);
  expect_close(rf.grad, rd.grad, 1e-3, 1e-5, "float vs double");
}

TEST(NnModel, PassEqualsPermutedDataset) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  const Dataset data = testing::random_graph_data(*g, 6, 25);
  Rng rng(26);
  const auto params = spec.draw_init(rng);
  const auto els = g->elements();
  std::vector<std::size_t> which = {3, 17, 0, 9, 23, 5};
  const Pass pass = make_pass(data, els, which);
  Dataset moved = data;
  for (std::size_t k = 0; k < data.size; ++k) {
    const Permutation gp = els[which[k]].on_tuples(2);
    for (std::size_t s = 0; s < 16; ++s) moved.x[k * 16 + gp(s)] = data.x[k * 16 + s];
  }
  ThreadPool pool(2);
  GradientEngine<double> e1(spec, data, -0.5, 4, pool), e2(spec, moved, -0.5, 4, pool);
  const auto a = e1.run({{params.data(), &pass, true, 0}}, 1)[0];
  const auto b = nominal(e2, params, true);
  EXPECT_NEAR(a.stats.loss_sum, b.stats.loss_sum, 1e-13);
  expect_close(a.grad, b.grad, 0.0, 1e-13, "pass vs permuted data");
  // And it differs from the un-permuted data (params not in E).
  const auto c = nominal(e1, params, false);
  EXPECT_GT(std::abs(c.stats.loss_sum - a.stats.loss_sum), 1e-6);
}

}  // namespace
}  // namespace eqaug

namespace eqaug {
namespace {

// An empty data set must be refused at the edge: otherwise the engine's chunk size
// becomes min(chunk, 0) = 0 and run() divides by it.
TEST(NnEngine, EmptyDatasetIsRejected) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  Dataset empty;
  empty.name = "empty";
  empty.input = make_space(*g, 1, 2);
  empty.target = make_space(*g, 1, 0);
  empty.size = 0;
  ThreadPool pool(1);
  EXPECT_THROW(GradientEngine<double>(spec, empty, -0.5, 4, pool), Error);
}

TEST(NnEngine, ZeroChunkIsRejected) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = test_model(g);
  const Dataset data = testing::random_graph_data(*g, 3, 1);
  ThreadPool pool(1);
  EXPECT_THROW(GradientEngine<double>(spec, data, -0.5, 0, pool), Error);
}

}  // namespace
}  // namespace eqaug
