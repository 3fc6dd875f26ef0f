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

RestrictedEigen smallest(Op& op, std::size_t k) {
  RestrictedEigen out;
  const auto n = static_cast<std::size_t>(op.n);
  if (n == 0) return out;
  k = std::min(k, n > 1 ? n - 1 : n);
  if (n <= 2 || k == 0)
    throw Error("restricted spectrum: the subspace has dimension " + std::to_string(n) + ", too small for Lanczos");
  const auto ncv = static_cast<Eigen::Index>(std::min(n, std::max<std::size_t>(2 * k + 1, 20)));
  Spectra::SymEigsSolver<Op> eigs(op, static_cast<Eigen::Index>(k), ncv);
  eigs.init();
  eigs.compute(Spectra::SortRule::SmallestAlge, 10000, 1e-12, Spectra::SortRule::SmallestAlge);
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

RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k) {
  const std::size_t P = spec.num_params();
  Op op{static_cast<Eigen::Index>(spec.dim_E()), {}};
  op.apply = [&, P](const double* c, double* y) {
    std::vector<double> a(P), ha(P);
    spec.from_coords(c, a.data());
    H(a.data(), ha.data());
    const auto hc = spec.to_coords(ha.data());
    std::copy(hc.begin(), hc.end(), y);
  };
  return smallest(op, k);
}

RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k) {
  const std::size_t P = spec.num_params();
  auto perp = [&](const double* x, double* y) {  // y = x − Π_E x
    std::vector<double> p(x, x + P);
    spec.project(p.data());
    for (std::size_t i = 0; i < P; ++i) y[i] = x[i] - p[i];
  };
  // ‖H‖ by power iteration: σ = 2‖H‖ + 1 lies above every eigenvalue of P⊥HP⊥.
  std::vector<double> v(P), w(P);
  Rng rng(1);
  for (auto& x : v) x = rng.normal();
  double norm = 0;
  for (int it = 0; it < 50; ++it) {
    double s = 0;
    for (double x : v) s += x * x;
    s = std::sqrt(s);
    for (auto& x : v) x /= s;
    H(v.data(), w.data());
    norm = 0;
    for (double x : w) norm += x * x;
    norm = std::sqrt(norm);
    v.swap(w);
    if (norm == 0) break;
  }
  const double sigma = 2 * norm + 1;
  Op op{static_cast<Eigen::Index>(P), {}};
  op.apply = [&, P, sigma](const double* x, double* y) {
    std::vector<double> px(P), hpx(P), e(x, x + P);
    perp(x, px.data());
    H(px.data(), hpx.data());
    perp(hpx.data(), y);
    spec.project(e.data());
    for (std::size_t i = 0; i < P; ++i) y[i] += sigma * e[i];
  };
  return smallest(op, k);
}

}  // namespace eqaug::analysis
