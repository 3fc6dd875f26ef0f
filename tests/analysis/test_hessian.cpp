// Exact Hessian-vector products (forward-over-reverse through every layer and loss) against
// central finite differences of the gradient, on models that between them use every layer
// and loss; symmetry of the products; the engine's sum over chunks and passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../support/small_models.hpp"

#include "eqaug/analysis/hessian.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/train/engine.hpp"

namespace eqaug {
namespace {

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

/// `count` augmentation passes (a random element per sample) over the case's data.
std::vector<Pass> random_passes(const testing::Case& c, std::size_t count, Rng& rng) {
  Strategy s;
  s.mode = Mode::Aug;
  s.passes = count;
  return augmentation_passes(s, *c.group, c.data, rng);
}

std::vector<double> random_vector(std::size_t n, Rng& rng) {
  std::vector<double> v(n);
  for (auto& x : v) x = rng.normal();
  return v;
}

TEST(HessianVectorProducts, MatchFiniteDifferencesOfTheGradientForEveryLayerAndLoss) {
  for (const auto& c : testing::cases()) {
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, -0.5, 4, pool);  // several chunks per pass
    Rng rng(21);
    const auto a = c.spec->draw_init(rng);
    const auto v = random_vector(a.size(), rng);
    // Two passes (identity and a moved one): the product of the averaged risk.
    auto passes = random_passes(c, 1, rng);
    passes.insert(passes.begin(), Pass{});
    std::vector<double> hv(a.size());
    analysis::risk_hessian(engine, a, passes)(v.data(), hv.data(), 1);
    auto grad = [&](const std::vector<double>& p) {
      std::vector<GradientEngine<double>::Job> jobs;
      for (const auto& pass : passes) jobs.push_back({p.data(), &pass, true, 0});
      auto r = engine.run(jobs, 1)[0];
      for (auto& x : r.grad) x /= static_cast<double>(r.samples);
      return r.grad;
    };
    const double h = 1e-5;
    std::vector<double> ap(a), am(a);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ap[i] += h * v[i];
      am[i] -= h * v[i];
    }
    const auto gp = grad(ap), gm = grad(am);
    std::vector<double> diff(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) diff[i] = (gp[i] - gm[i]) / (2 * h) - hv[i];
    EXPECT_GT(norm(hv), 1e-6) << c.name;
    EXPECT_LE(norm(diff) / norm(hv), 1e-6) << c.name;
  }
}

TEST(HessianVectorProducts, AreSymmetric) {
  for (const auto& c : testing::cases()) {
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, -0.5, 5, pool);
    Rng rng(22);
    const auto a = c.spec->draw_init(rng);
    const auto u = random_vector(a.size(), rng), v = random_vector(a.size(), rng);
    const std::vector<Pass> identity(1);
    const auto H = analysis::risk_hessian(engine, a, identity);
    std::vector<double> hu(a.size()), hv(a.size());
    H(u.data(), hu.data(), 1);
    H(v.data(), hv.data(), 1);
    double uhv = 0, vhu = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      uhv += u[i] * hv[i];
      vhu += v[i] * hu[i];
    }
    EXPECT_NEAR(uhv, vhu, 1e-10 * (std::abs(uhv) + std::abs(vhu))) << c.name;
  }
}

TEST(HessianVectorProducts, DoNotDependOnChunksOrThreads) {
  const auto c = testing::cases()[1];
  Rng rng(23);
  const auto a = c.spec->draw_init(rng);
  const auto v = random_vector(a.size(), rng);
  const std::vector<Pass> identity(1);
  std::vector<std::vector<double>> out;
  for (std::size_t chunk : {1, 7, 100})
    for (std::size_t threads : {1, 2}) {
      ThreadPool pool(threads);
      GradientEngine<double> engine(*c.spec, c.data, -0.5, chunk, pool);
      std::vector<double> hv(a.size());
      analysis::risk_hessian(engine, a, identity)(v.data(), hv.data(), 1);
      out.push_back(hv);
    }
  for (const auto& hv : out) {
    double d = 0;
    for (std::size_t i = 0; i < hv.size(); ++i) d = std::max(d, std::abs(hv[i] - out[0][i]));
    EXPECT_LE(d, 1e-12 * norm(out[0]));
  }
}

TEST(HessianVectorProducts, KeptPrimalPassesGiveTheSameBits) {
  // The operator that keeps the primal passes (after its first product) and the one that
  // recomputes them, on blocks of products and single ones, over several chunks and passes.
  for (const auto& c : testing::cases()) {
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, -0.5, 3, pool);
    Rng rng(24);
    const auto a = c.spec->draw_init(rng);
    const std::size_t P = a.size();
    const auto passes = random_passes(c, 2, rng);
    const auto kept = analysis::risk_hessian(engine, a, passes);
    const auto recomputed = analysis::risk_hessian(engine, a, passes, 0);
    EXPECT_GT(analysis::hessian_cache_bytes(engine, passes.size()), 0u);
    for (std::size_t count : {3, 1, 2}) {
      const auto x = random_vector(P * count, rng);
      std::vector<double> y1(P * count), y2(P * count), y3(P);
      kept(x.data(), y1.data(), count);
      recomputed(x.data(), y2.data(), count);
      EXPECT_EQ(y1, y2) << c.name << " block of " << count;
      recomputed(x.data() + (count - 1) * P, y3.data(), 1);  // one product of the block alone
      EXPECT_TRUE(std::equal(y3.begin(), y3.end(), y1.begin() + static_cast<std::ptrdiff_t>((count - 1) * P)))
          << c.name;
    }
  }
}

TEST(HessianVectorProducts, InFloat32AgreeWithFloat64ToItsRounding) {
  // The mixed-precision Lanczos builds its basis with float32 products: the same operator
  // (same passes, kept primal passes) to float32's rounding, on blocks as on single products.
  for (const auto& c : testing::cases()) {
    ThreadPool pool(2);
    GradientEngine<double> engine(*c.spec, c.data, -0.5, 3, pool);
    GradientEngine<float> engine32(*c.spec, c.data, -0.5, 3, pool);
    Rng rng(25);
    const auto a = c.spec->draw_init(rng);
    const std::vector<float> a32(a.begin(), a.end());
    const std::size_t P = a.size();
    const auto passes = random_passes(c, 2, rng);
    const auto h64 = analysis::risk_hessian(engine, a, passes);
    const auto h32 = analysis::risk_hessian(engine32, a32, passes);
    for (std::size_t count : {2, 1}) {
      const auto x = random_vector(P * count, rng);
      std::vector<double> y64(P * count), y32(P * count);
      h64(x.data(), y64.data(), count);
      h32(x.data(), y32.data(), count);
      std::vector<double> diff(P * count);
      for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = y32[i] - y64[i];
      EXPECT_GT(norm(diff), 0.0) << c.name;  // float32 indeed
      EXPECT_LE(norm(diff), 1e-4 * norm(y64)) << c.name << " block of " << count;
    }
  }
}

}  // namespace
}  // namespace eqaug
