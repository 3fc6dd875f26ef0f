#include "eqaug/analysis/spectra.hpp"

#include <Spectra/SymEigsSolver.h>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"

namespace eqaug::analysis {

namespace {

/// A matrix-free operator as Spectra wants it.
struct Op {
  using Scalar = double;
  Eigen::Index n;
  std::function<void(const double*, double*)> apply;
  Eigen::Index rows() const { return n; }
  Eigen::Index cols() const { return n; }
  void perform_op(const double* x, double* y) const { apply(x, y); }
};

/// `start`: the Lanczos start vector (null: Spectra's random one).
RestrictedEigen smallest(Op& op, std::size_t k, const LanczosOptions& o, const double* start = nullptr) {
  RestrictedEigen out;
  const auto n = static_cast<std::size_t>(op.n);
  if (n == 0) return out;
  k = std::min(k, n > 1 ? n - 1 : n);
  if (n <= 2 || k == 0)
    throw Error("restricted spectrum: the subspace has dimension " + std::to_string(n) + ", too small for Lanczos");
  const auto ncv =
      static_cast<Eigen::Index>(std::min(n, o.ncv ? std::max(o.ncv, k + 2) : std::max<std::size_t>(2 * k + 1, 20)));
  Spectra::SymEigsSolver<Op> eigs(op, static_cast<Eigen::Index>(k), ncv);
  if (start)
    eigs.init(start);
  else
    eigs.init();
  eigs.compute(Spectra::SortRule::SmallestAlge, static_cast<Eigen::Index>(o.max_restarts), o.tol,
               Spectra::SortRule::SmallestAlge);
  out.converged = eigs.info() == Spectra::CompInfo::Successful;
  const Eigen::VectorXd values = eigs.eigenvalues();
  const Eigen::MatrixXd vectors = eigs.eigenvectors();
  Eigen::VectorXd hv(op.n);
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    op.perform_op(vectors.col(i).data(), hv.data());
    out.values.push_back(values(i));
    out.residuals.push_back((hv - values(i) * vectors.col(i)).norm());
  }
  return out;
}

}  // namespace

RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                              const LanczosOptions& options) {
  const std::size_t P = spec.num_params();
  Op op{static_cast<Eigen::Index>(spec.dim_E()), {}};
  op.apply = [&, P](const double* c, double* y) {
    std::vector<double> a(P), ha(P);
    spec.from_coords(c, a.data());
    H(a.data(), ha.data());
    const auto hc = spec.to_coords(ha.data());
    std::copy(hc.begin(), hc.end(), y);
  };
  std::size_t products = 0;
  auto counted = op.apply;
  op.apply = [&](const double* x, double* y) {
    ++products;
    counted(x, y);
  };
  auto r = smallest(op, k, options);
  r.products = products;
  return r;
}

RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                                   const LanczosOptions& options) {
  const std::size_t P = spec.num_params();
  std::size_t products = 0;
  auto perp = [&](const double* x, double* y) {  // y = x − Π_E x
    std::vector<double> p(x, x + P);
    spec.project(p.data());
    for (std::size_t i = 0; i < P; ++i) y[i] = x[i] - p[i];
  };
  // P⊥ H P⊥ from a start vector in E⊥: every Lanczos vector is then a combination of
  // vectors of E⊥ (each product ends with P⊥), so the null space E of this operator never
  // enters and needs no shift — no estimate of ‖H‖, and the spectrum to resolve is H's own.
  Op op{static_cast<Eigen::Index>(P), {}};
  op.apply = [&, P](const double* x, double* y) {
    std::vector<double> px(P), hpx(P);
    perp(x, px.data());
    H(px.data(), hpx.data());
    ++products;
    perp(hpx.data(), y);
  };
  std::vector<double> start(P), v(P);
  Rng rng(1);
  for (auto& x : v) x = rng.normal();
  perp(v.data(), start.data());
  auto r = smallest(op, k, options, start.data());
  r.products = products;
  return r;
}

}  // namespace eqaug::analysis
