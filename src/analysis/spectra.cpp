#include "eqaug/analysis/spectra.hpp"

// Eigen's dense products on n × basis blocks (n = the parameters) through OpenBLAS's
// kernels: the block solver's Gram–Schmidt, Rayleigh–Ritz and restarts.
#define EIGEN_USE_BLAS
#include <Spectra/SymEigsSolver.h>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"

namespace eqaug::analysis {

namespace {

using Index = Eigen::Index;
using Mat = Eigen::MatrixXd;

/// The operator restricted to a subspace, on vectors of length n: `apply` maps blocks of
/// vectors (column-major, one after the other), `into` puts a vector of R^n into the
/// subspace in place (null where the subspace is all of R^n).
struct Restricted {
  Index n = 0;
  std::function<void(const double*, double*, std::size_t)> apply;
  std::function<void(double*)> into;
  std::size_t products = 0, blocks = 0;
  bool rough = false;  // float32 products (mixed precision's first stage)
  void operator()(const double* x, double* y, std::size_t count) {
    apply(x, y, count);
    products += count;
    ++blocks;
  }
};

/// A random vector of the subspace.
void random_vector(Restricted& op, Rng& rng, double* x) {
  for (Index i = 0; i < op.n; ++i) x[i] = rng.normal();
  if (op.into) op.into(x);
}

/// Spectra's interface: one vector at a time.
struct SpectraOp {
  using Scalar = double;
  Restricted* op;
  Index rows() const { return op->n; }
  Index cols() const { return op->n; }
  void perform_op(const double* x, double* y) const { (*op)(x, y, 1); }
};

double tolerance(double theta, double tol) {
  return tol * std::max(std::abs(theta), std::pow(std::numeric_limits<double>::epsilon(), 2.0 / 3.0));
}

/// Implicitly restarted single-vector Lanczos (Spectra), from a random vector of the subspace.
RestrictedEigen single_vector(Restricted& op, std::size_t k, const LanczosOptions& o) {
  RestrictedEigen out;
  const auto n = static_cast<std::size_t>(op.n);
  const auto ncv =
      static_cast<Index>(std::min(n, o.ncv ? std::max(o.ncv, k + 2) : std::max<std::size_t>(2 * k + 1, 20)));
  SpectraOp sop{&op};
  Spectra::SymEigsSolver<SpectraOp> eigs(sop, static_cast<Index>(k), ncv);
  Rng rng(1);
  Eigen::VectorXd start(op.n);
  random_vector(op, rng, start.data());
  eigs.init(start.data());
  eigs.compute(Spectra::SortRule::SmallestAlge, static_cast<Index>(o.max_restarts), o.tol,
               Spectra::SortRule::SmallestAlge);
  out.converged = eigs.info() == Spectra::CompInfo::Successful;
  const Eigen::VectorXd values = eigs.eigenvalues();
  const Mat vectors = eigs.eigenvectors();
  Eigen::VectorXd hv(op.n);
  for (Index i = 0; i < values.size(); ++i) {
    op(vectors.col(i).data(), hv.data(), 1);
    out.values.push_back(values(i));
    out.residuals.push_back((hv - values(i) * vectors.col(i)).norm());
  }
  return out;
}

/// Makes the columns of W orthonormal and orthogonal to Q's first `cur` columns: block
/// classical Gram–Schmidt against Q, then Gram–Schmidt within W, each column projected a
/// second time only where the first pass cancelled more than 1/√2 of its norm ("twice is
/// enough"). Each pass reads the whole basis, which costs more than the small eigenproblems
/// of a step. A column that (nearly) vanishes, being already in the span, is replaced by a
/// random vector of the subspace.
void orthonormalise(Mat& W, const Mat& Q, Index cur, Restricted& op, Rng& rng) {
  const double twice = std::sqrt(0.5);
  const Eigen::VectorXd before = W.colwise().norm();
  if (cur) W.noalias() -= Q.leftCols(cur) * (Q.leftCols(cur).transpose() * W);
  for (Index j = 0; j < W.cols(); ++j) {
    double ref = before(j);
    for (int attempt = 0;; ++attempt) {
      auto w = W.col(j);
      if (j) w.noalias() -= W.leftCols(j) * (W.leftCols(j).transpose() * w);
      double norm = w.norm();
      if (norm < twice * ref) {
        if (cur) w.noalias() -= Q.leftCols(cur) * (Q.leftCols(cur).transpose() * w);
        if (j) w.noalias() -= W.leftCols(j) * (W.leftCols(j).transpose() * w);
        norm = w.norm();
      }
      if (norm > 1e-10 * ref && norm > 0) {
        w /= norm;
        break;
      }
      EQAUG_CHECK(attempt < 8, "block Lanczos: no new direction left in the subspace");
      random_vector(op, rng, w.data());
      ref = w.norm();
      if (cur) w.noalias() -= Q.leftCols(cur) * (Q.leftCols(cur).transpose() * w);
    }
  }
}

/// Thick-restart block Lanczos by Rayleigh–Ritz on a stored basis Q and its image HQ: each
/// step applies H to a block of b orthonormal vectors — the residuals of the b lowest
/// unconverged Ritz pairs, which span the next block of the block Krylov space — and when
/// the basis is full keeps the lowest Ritz vectors and their images (no products). The
/// residuals are exact ‖H v − θ v‖ from the stored images, up to rounding.
RestrictedEigen block(Restricted& op, std::size_t k, const LanczosOptions& o) {
  const Index n = op.n;
  const auto K = static_cast<Index>(k);
  const Index b = std::min<Index>(static_cast<Index>(std::max<std::size_t>(o.block, 1)), n - K);
  const Index m = std::min<Index>(
      n, o.ncv ? std::max<Index>(static_cast<Index>(o.ncv), K + 2 * b) : std::max<Index>(2 * K + 20, K + 4 * b));
  EQAUG_CHECK(b >= 1 && K + b <= m, "block Lanczos: the subspace is too small for k and the block");
  Mat Q(n, m), HQ(n, m), T = Mat::Zero(m, m);
  Rng rng(1);
  Mat W(n, b);
  for (Index j = 0; j < b; ++j) random_vector(op, rng, W.col(j).data());
  if (!o.start.empty()) {  // the start vectors make the first block (random ones fill it to b)
    const Index s = std::min<Index>(static_cast<Index>(o.start.size()), m - b);
    Mat S(n, std::max(s, b));
    for (Index j = 0; j < S.cols(); ++j) {
      if (j >= s) {
        S.col(j) = W.col(j - s);
        continue;
      }
      const auto& v = o.start[static_cast<std::size_t>(j)];
      EQAUG_CHECK(static_cast<Index>(v.size()) == n, "Lanczos start vector of the wrong size");
      S.col(j) = Eigen::Map<const Eigen::VectorXd>(v.data(), n);
      if (op.into) op.into(S.col(j).data());
    }
    W = std::move(S);
  }
  Index cur = 0;
  std::size_t restarts = 0;
  double norm_estimate = 0;  // max |θ| so far: ‖H‖ from below (a restart drops the upper Ritz values)
  // noise > 0: the lowest `worst` (below) that halved the one before, and when it came.
  double mark = std::numeric_limits<double>::infinity();
  std::size_t mark_products = 0;
  RestrictedEigen out;
  for (;;) {
    orthonormalise(W, Q, cur, op, rng);
    const Index w = W.cols();
    Q.middleCols(cur, w) = W;
    op(W.data(), HQ.col(cur).data(), static_cast<std::size_t>(w));
    T.block(0, cur, cur + w, w).noalias() = Q.leftCols(cur + w).transpose() * HQ.middleCols(cur, w);
    T.block(cur, 0, w, cur) = T.block(0, cur, cur, w).transpose();
    cur += w;
    const Mat Ts = 0.5 * (T.topLeftCorner(cur, cur) + T.topLeftCorner(cur, cur).transpose());
    Eigen::SelfAdjointEigenSolver<Mat> ritz(Ts);
    const Eigen::VectorXd& theta = ritz.eigenvalues();
    const Index nr = std::min<Index>(cur, K + b);
    const Mat Y = ritz.eigenvectors().leftCols(nr);
    Mat R = HQ.leftCols(cur) * Y;
    R.noalias() -= Q.leftCols(cur) * (Y * theta.head(nr).asDiagonal());
    const Eigen::VectorXd res = R.colwise().norm();
    // Within tol, or within the products' own rounding (‖H‖ ≥ the extreme Ritz values).
    norm_estimate = std::max({norm_estimate, std::abs(theta(0)), std::abs(theta(cur - 1))});
    const double floor = o.noise * norm_estimate;
    const auto target = [&](Index i) { return std::max(tolerance(theta(i), o.tol), floor); };
    const auto ok = [&](Index i) { return res(i) <= target(i); };
    std::size_t converged = 0;
    double worst = 0;  // the largest residual of a wanted pair, relative to its target
    for (Index i = 0; i < std::min(K, nr); ++i) {
      converged += ok(i);
      worst = std::max(worst, res(i) / target(i));
    }
    const bool done = static_cast<Index>(converged) == K;
    if (o.progress) o.progress(op.products, converged, theta(0), op.rough);
    // Imprecise products (noise > 0) that have not halved `worst` in a basis's worth of
    // products have stalled above their assumed rounding: the float64 stage takes over.
    if (worst <= 0.5 * mark) {
      mark = worst;
      mark_products = op.products;
    }
    const bool restarting = cur + b > m;
    const bool stalled = o.noise > 0 && op.products >= mark_products + static_cast<std::size_t>(m);
    if (done || stalled || restarts > o.max_restarts) {
      out.converged = done;
      for (Index i = 0; i < std::min(K, nr); ++i) {
        out.values.push_back(theta(i));
        out.residuals.push_back(res(i));
      }
      if (const Index nv = std::min<Index>(static_cast<Index>(o.vectors), cur); nv > 0) {
        const Mat V = Q.leftCols(cur) * ritz.eigenvectors().leftCols(nv);
        for (Index j = 0; j < nv; ++j) out.vectors.emplace_back(V.col(j).data(), V.col(j).data() + n);
      }
      return out;
    }
    // The next block: residuals of the lowest unconverged pairs first.
    std::vector<Index> pick;
    for (Index i = 0; i < nr && static_cast<Index>(pick.size()) < b; ++i)
      if (!ok(i)) pick.push_back(i);
    for (Index i = 0; i < nr && static_cast<Index>(pick.size()) < b; ++i)
      if (ok(i)) pick.push_back(i);
    W.resize(n, b);
    for (Index j = 0; j < b; ++j) W.col(j) = R.col(pick[static_cast<std::size_t>(j)]);
    if (restarting) {  // thick restart: the lowest Ritz vectors and their images
      const Index keep = std::max<Index>(nr, m / 2);
      const Mat Z = ritz.eigenvectors().leftCols(keep);
      Mat tmp = Q.leftCols(cur) * Z;
      Q.leftCols(keep) = tmp;
      tmp.noalias() = HQ.leftCols(cur) * Z;
      HQ.leftCols(keep) = tmp;
      T.setZero();
      T.topLeftCorner(keep, keep) = theta.head(keep).asDiagonal();
      cur = keep;
      ++restarts;
    }
  }
}

/// Restricts an operator on L to the subspace (the operator must outlive the result).
using Restrictor = std::function<Restricted(const SymmetricOperator&)>;

RestrictedEigen smallest(const Restrictor& restrict, const SymmetricOperator& H, SymmetricOperator rough, std::size_t k,
                         const LanczosOptions& o) {
  Restricted op = restrict(H);
  const auto n = static_cast<std::size_t>(op.n);
  if (n == 0) return {};
  k = std::min(k, n > 1 ? n - 1 : n);
  if (n <= 2 || k == 0)
    throw Error("restricted spectrum: the subspace has dimension " + std::to_string(n) + ", too small for Lanczos");
  if (o.solver == LanczosSolver::Spectra && o.block > 1)
    throw Error("Spectra's Lanczos takes one vector at a time: use the thick-restart solver for blocks");
  // A pair's tolerance is tol · |θ| ≤ tol · ‖H‖, float32 products are accurate to
  // kFloat32Noise · ‖H‖ at best: for tol < kFloat32Noise no pair could meet tol in float32,
  // and refining from float32's floor costs about as many float64 products as Lanczos from
  // scratch.
  if (rough && o.tol < kFloat32Noise) rough = nullptr;
  if (o.solver == LanczosSolver::Spectra && rough)
    throw Error("mixed-precision products need the thick-restart solver; Spectra's uses float64 products only");
  if (o.solver == LanczosSolver::Spectra) {
    auto r = single_vector(op, k, o);
    r.products = op.products;
    r.blocks = op.blocks;
    return r;
  }
  LanczosOptions fine = o;
  std::size_t rough_products = 0;
  if (rough) {  // the Krylov space from float32 products, then float64 from its Ritz vectors
    LanczosOptions first = o;
    first.vectors = k;
    first.noise = std::max(o.noise, kFloat32Noise);
    first.max_restarts = std::min<std::size_t>(o.max_restarts, 8);
    Restricted op32 = restrict(rough);
    op32.rough = true;
    fine.start = block(op32, k, first).vectors;
    rough_products = op32.products;
    op32 = {};
    rough = nullptr;  // frees the float32 operator's kept passes before the float64 ones fill
  }
  auto r = block(op, k, fine);
  r.products = op.products;
  r.blocks = op.blocks;
  r.rough_products = rough_products;
  return r;
}

}  // namespace

RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                              const LanczosOptions& options, SymmetricOperator rough) {
  const std::size_t P = spec.num_params(), D = spec.dim_E();
  const Restrictor restrict = [&spec, P, D](const SymmetricOperator& h) {
    Restricted op;
    op.n = static_cast<Index>(D);
    op.apply = [&spec, &h, P, D](const double* c, double* y, std::size_t count) {
      std::vector<double> a(P * count), ha(P * count);
      for (std::size_t j = 0; j < count; ++j) spec.from_coords(c + j * D, a.data() + j * P);
      h(a.data(), ha.data(), count);
      for (std::size_t j = 0; j < count; ++j) {
        const auto hc = spec.to_coords(ha.data() + j * P);
        std::copy(hc.begin(), hc.end(), y + j * D);
      }
    };
    return op;
  };
  return smallest(restrict, H, std::move(rough), k, options);
}

RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                                   const LanczosOptions& options, SymmetricOperator rough) {
  const std::size_t P = spec.num_params();
  const auto perp = [&spec, P](double* x) {  // x ← x − Π_E x
    std::vector<double> p(x, x + P);
    spec.project(p.data());
    for (std::size_t i = 0; i < P; ++i) x[i] -= p[i];
  };
  // P⊥ H P⊥ from start vectors in E⊥: every Lanczos vector is then a combination of vectors
  // of E⊥ (each product ends with P⊥), so the null space E of this operator never enters
  // and needs no shift — no estimate of ‖H‖, and the spectrum to resolve is H's own.
  const Restrictor restrict = [perp, P](const SymmetricOperator& h) {
    Restricted op;
    op.n = static_cast<Index>(P);
    op.into = perp;
    op.apply = [perp, &h, P](const double* x, double* y, std::size_t count) {
      std::vector<double> px(x, x + P * count);
      for (std::size_t j = 0; j < count; ++j) perp(px.data() + j * P);
      h(px.data(), y, count);
      for (std::size_t j = 0; j < count; ++j) perp(y + j * P);
    };
    return op;
  };
  return smallest(restrict, H, std::move(rough), k, options);
}

}  // namespace eqaug::analysis
