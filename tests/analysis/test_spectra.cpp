// Restricted spectra on E and E⊥ (Lanczos), against dense eigen-decompositions, and the
// converse of Proposition 3 failing (paper App. C): a form positive definite on E whose
// restriction to E⊥ is not, which the restricted spectra must tell apart.
#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "eqaug/analysis/spectra.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/model.hpp"

namespace eqaug::analysis {
namespace {

ModelSpec small_model(const GroupPtr& g) {
  ModelSpec spec(g, make_space(*g, 1, 2));
  spec.linear(2, 2).leaky_relu().linear(2, 0).sigmoid().loss(LossKind::BCE);
  return spec;
}

/// The dense matrix of x ↦ B x for a map given on vectors.
Eigen::MatrixXd dense(std::size_t rows, std::size_t cols, const std::function<void(const double*, double*)>& f) {
  Eigen::MatrixXd m(rows, cols);
  std::vector<double> x(cols), y(rows);
  for (std::size_t j = 0; j < cols; ++j) {
    std::fill(x.begin(), x.end(), 0.0);
    x[j] = 1;
    f(x.data(), y.data());
    for (std::size_t i = 0; i < rows; ++i) m(i, j) = y[i];
  }
  return m;
}

/// A random symmetric operator on L (Wigner: a semicircle spectrum), optionally perturbed.
struct RandomSymmetric {
  Eigen::MatrixXd h;
  explicit RandomSymmetric(std::size_t P, std::uint64_t seed) : h(P, P) {
    Rng rng(seed);
    for (std::size_t i = 0; i < P; ++i)
      for (std::size_t j = 0; j <= i; ++j) h(i, j) = h(j, i) = rng.normal();
  }
  SymmetricOperator op(double perturbation = 0, std::uint64_t seed = 0) const {
    Eigen::MatrixXd m = h;
    if (perturbation > 0) {  // a fixed symmetric error of relative size `perturbation`
      RandomSymmetric e(static_cast<std::size_t>(h.rows()), seed);
      m += perturbation * h.norm() / e.h.norm() * e.h;
    }
    return [m](const double* x, double* y, std::size_t count) {
      const auto n = m.rows(), c = static_cast<Eigen::Index>(count);
      Eigen::Map<Eigen::MatrixXd>(y, n, c) = m * Eigen::Map<const Eigen::MatrixXd>(x, n, c);
    };
  }
};

TEST(RestrictedSpectra, MatchDenseEigenvaluesOnEAndEPerp) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const std::size_t P = spec.num_params(), D = spec.dim_E();
  const RandomSymmetric random(P, 3);
  const Eigen::MatrixXd& h = random.h;
  const auto H = random.op();
  // B: E's orthonormal basis as columns; Q: a basis of E⊥ from the complement projector.
  const Eigen::MatrixXd B = dense(P, D, [&](const double* c, double* a) { spec.from_coords(c, a); });
  ASSERT_NEAR((B.transpose() * B - Eigen::MatrixXd::Identity(D, D)).norm(), 0.0, 1e-12);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> on_E(B.transpose() * h * B);
  const Eigen::MatrixXd perp = Eigen::MatrixXd::Identity(P, P) - B * B.transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> pp(perp);
  Eigen::MatrixXd Q(P, P - D);
  for (std::size_t j = 0; j < P - D; ++j) Q.col(j) = pp.eigenvectors().col(D + j);  // eigenvalue 1
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> on_perp(Q.transpose() * h * Q);

  // Spectra's single-vector Lanczos and the thick-restart solver, with blocks that divide
  // the basis or not (block 0: Spectra).
  for (std::size_t block : {0, 1, 2, 3, 5}) {
    LanczosOptions o;
    o.solver = block == 0 ? LanczosSolver::Spectra : LanczosSolver::Thick;
    o.block = std::max<std::size_t>(block, 1);
    const auto e = smallest_on_E(spec, H, 3, o);
    ASSERT_TRUE(e.converged) << block;
    ASSERT_EQ(e.values.size(), 3u);
    const auto p = smallest_on_E_perp(spec, H, 3, o);
    ASSERT_TRUE(p.converged) << block;
    ASSERT_EQ(p.values.size(), 3u);
    if (block > 1) {
      EXPECT_EQ(p.products, p.blocks * block);
    }
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(e.values[i], on_E.eigenvalues()(static_cast<Eigen::Index>(i)), 1e-8) << i << " block " << block;
      EXPECT_NEAR(p.values[i], on_perp.eigenvalues()(static_cast<Eigen::Index>(i)), 1e-8) << i << " block " << block;
      EXPECT_LT(e.residuals[i], 1e-8);
      EXPECT_LT(p.residuals[i], 1e-8);
    }
  }
}

TEST(RestrictedSpectra, BlockSolverResolvesAMultipleEigenvalue) {
  // H = I − 3 Σ_j v_j v_jᵀ for three orthonormal v_j in E⊥: the eigenvalue −2 three times
  // (as a multiplet of the group at A ∈ E), then 1. A single Krylov vector meets one vector
  // of the −2 eigenspace only; a block of three finds all three.
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const std::size_t P = spec.num_params();
  Rng rng(7);
  Eigen::MatrixXd V(P, 3);
  for (Eigen::Index j = 0; j < 3; ++j) {
    std::vector<double> v(P), pv(P);
    for (auto& x : v) x = rng.normal();
    pv = v;
    spec.project(pv.data());
    for (std::size_t i = 0; i < P; ++i) V(static_cast<Eigen::Index>(i), j) = v[i] - pv[i];
  }
  const Eigen::MatrixXd U = Eigen::HouseholderQR<Eigen::MatrixXd>(V).householderQ() *
                            Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(P), 3);
  const SymmetricOperator H = [&](const double* x, double* y, std::size_t count) {
    const auto n = static_cast<Eigen::Index>(P), c = static_cast<Eigen::Index>(count);
    const Eigen::Map<const Eigen::MatrixXd> X(x, n, c);
    Eigen::Map<Eigen::MatrixXd>(y, n, c) = X - 3 * U * (U.transpose() * X);
  };
  LanczosOptions o;
  o.block = 3;
  const auto p = smallest_on_E_perp(spec, H, 4, o);
  ASSERT_TRUE(p.converged);
  ASSERT_EQ(p.values.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(p.values[i], -2.0, 1e-10) << i;
  EXPECT_NEAR(p.values[3], 1.0, 1e-10);
}

TEST(RestrictedSpectra, StartVectorsThatAreEigenvectorsConvergeInTheFirstBlock) {
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const RandomSymmetric h(spec.num_params(), 5);
  const auto H = h.op();
  LanczosOptions o;
  o.vectors = 3;
  const auto first = smallest_on_E_perp(spec, H, 3, o);
  ASSERT_TRUE(first.converged);
  ASSERT_EQ(first.vectors.size(), 3u);
  for (const auto& v : first.vectors) {  // unit vectors of E⊥
    std::vector<double> pv(v);
    spec.project(pv.data());
    EXPECT_NEAR(Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size())).norm(), 1.0, 1e-12);
    EXPECT_LT(Eigen::Map<const Eigen::VectorXd>(pv.data(), static_cast<Eigen::Index>(pv.size())).norm(), 1e-12);
  }
  o.start = first.vectors;
  const auto again = smallest_on_E_perp(spec, H, 3, o);
  ASSERT_TRUE(again.converged);
  EXPECT_EQ(again.products, 3u);
  EXPECT_EQ(again.blocks, 1u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(again.values[i], first.values[i], 1e-10);
  // A block wider than the start vectors is filled with random ones.
  o.block = 4;
  const auto wide = smallest_on_E_perp(spec, H, 3, o);
  ASSERT_TRUE(wide.converged);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(wide.values[i], first.values[i], 1e-10);
  o.start.assign(1, std::vector<double>(5, 1.0));
  EXPECT_THROW(smallest_on_E_perp(spec, H, 3, o), std::logic_error);  // a caller's bug
}

TEST(RestrictedSpectra, MixedPrecisionValuesAreTheFloat64OperatorsWhateverTheRoughOne) {
  // The rough operator only chooses where the float64 Lanczos starts: values and residuals
  // are H's to tol, whether `rough` is H to float32's rounding (its Ritz vectors are then
  // H's eigenvectors to tol, and the first float64 block certifies them) or off by 1e-3
  // (float64 products refine further). On E and on E⊥.
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const RandomSymmetric h(spec.num_params(), 9);
  const auto H = h.op();
  LanczosOptions o;
  o.tol = 1e-6;
  const auto plain_E = smallest_on_E(spec, H, 3, o), plain_perp = smallest_on_E_perp(spec, H, 3, o);
  EXPECT_EQ(plain_perp.rough_products, 0u);
  for (const double error : {1e-9, 1e-3}) {
    const auto on_E = smallest_on_E(spec, H, 3, o, h.op(error, 11));
    const auto on_perp = smallest_on_E_perp(spec, H, 3, o, h.op(error, 12));
    for (const auto* r : {&on_E, &on_perp}) {
      const auto& plain = r == &on_E ? plain_E : plain_perp;
      ASSERT_TRUE(r->converged) << error;
      EXPECT_GT(r->rough_products, 3u) << error;
      for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_NEAR(r->values[i], plain.values[i], 2e-6 * std::abs(plain.values[i])) << error << " " << i;
        EXPECT_LE(r->residuals[i], 1e-6 * std::abs(r->values[i])) << error << " " << i;
      }
    }
    if (error < 1e-6) {
      EXPECT_EQ(on_perp.products, 3u);
    } else {
      EXPECT_GT(on_perp.products, 3u);
    }
  }
  // A tolerance that no pair could meet in float32 (below kFloat32Noise): float64 Lanczos
  // alone, from the same random start as without `rough`.
  o.tol = 1e-10;
  const auto fine = smallest_on_E_perp(spec, H, 3, o);
  const auto mixed = smallest_on_E_perp(spec, H, 3, o, h.op(1e-9, 13));
  EXPECT_EQ(mixed.rough_products, 0u);
  EXPECT_EQ(mixed.values, fine.values);
  EXPECT_EQ(mixed.products, fine.products);
  LanczosOptions spectra;
  spectra.solver = LanczosSolver::Spectra;
  spectra.tol = 1e-6;
  EXPECT_THROW(smallest_on_E_perp(spec, H, 3, spectra, h.op(1e-8, 1)), Error);
}

TEST(RestrictedSpectra, MixedPrecisionWithProductsWorseThanAssumedStallsThenRefines) {
  // A rough operator with fresh noise of 1e-5 · ‖H‖ in every product, a hundred times what
  // kFloat32Noise assumes: its Lanczos cannot meet tol 1e-7 and stalls. It must stop once a
  // basis of products brought no progress (not run to its restart limit), and float64
  // Lanczos must still deliver H's pairs to tol.
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const RandomSymmetric h(spec.num_params(), 17);
  const auto H = h.op();
  const double noise = 1e-5 * h.h.operatorNorm();
  auto rng = std::make_shared<Rng>(19);
  LanczosOptions o;
  o.tol = 1e-7;
  o.ncv = 40;
  const std::size_t P = spec.num_params();
  const SymmetricOperator rough = [&H, noise, rng, P](const double* x, double* y, std::size_t count) {
    H(x, y, count);
    for (std::size_t j = 0; j < count; ++j) {
      double xn = 0;
      for (std::size_t i = 0; i < P; ++i) xn += x[j * P + i] * x[j * P + i];
      std::vector<double> e(P);
      double en = 0;
      for (auto& v : e) {
        v = rng->normal();
        en += v * v;
      }
      for (std::size_t i = 0; i < P; ++i) y[j * P + i] += noise * std::sqrt(xn / en) * e[i];
    }
  };
  const auto plain = smallest_on_E_perp(spec, H, 3, o);
  const auto mixed = smallest_on_E_perp(spec, H, 3, o, rough);
  ASSERT_TRUE(mixed.converged);
  // It stopped on the stall (111 products here), well before the 9 restart cycles' limit
  // of 40 + 9 · 20 + 1 = 221, and after at least a basis of products without progress.
  EXPECT_GT(mixed.rough_products, 40u);
  EXPECT_LT(mixed.rough_products, 160u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(mixed.values[i], plain.values[i], 2e-7 * std::abs(plain.values[i])) << i;
    EXPECT_LE(mixed.residuals[i], 1e-7 * std::abs(mixed.values[i])) << i;
  }
}

TEST(RestrictedSpectra, ConverseOfProposition3Fails) {
  // H = I − 3 v vᵀ with v a unit vector in E⊥: on E it is the identity (positive definite:
  // a strict minimum of R^eq); on E⊥ it has the eigenvalue −2, so E is not stable there.
  const auto g = symmetric_group(4);
  const ModelSpec spec = small_model(g);
  const std::size_t P = spec.num_params();
  Rng rng(5);
  std::vector<double> v(P);
  for (auto& x : v) x = rng.normal();
  std::vector<double> pv(v);
  spec.project(pv.data());
  double n = 0;
  for (std::size_t i = 0; i < P; ++i) {
    v[i] -= pv[i];
    n += v[i] * v[i];
  }
  for (auto& x : v) x /= std::sqrt(n);
  const SymmetricOperator H = [&](const double* x, double* y, std::size_t count) {
    for (std::size_t j = 0; j < count; ++j, x += P, y += P) {
      double dot = 0;
      for (std::size_t i = 0; i < P; ++i) dot += v[i] * x[i];
      for (std::size_t i = 0; i < P; ++i) y[i] = x[i] - 3 * v[i] * dot;
    }
  };
  const auto e = smallest_on_E(spec, H, 2);
  const auto p = smallest_on_E_perp(spec, H, 2);
  ASSERT_TRUE(e.converged && p.converged);
  EXPECT_NEAR(e.values[0], 1.0, 1e-10);   // positive definite on E
  EXPECT_NEAR(p.values[0], -2.0, 1e-10);  // not on E⊥
  EXPECT_NEAR(p.values[1], 1.0, 1e-10);
}

}  // namespace
}  // namespace eqaug::analysis
