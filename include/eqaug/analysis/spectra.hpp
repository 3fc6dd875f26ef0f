#pragma once
// Extreme eigenvalues of a symmetric operator on the parameter space L (a Hessian, given
// as products H·x), restricted to the equivariant subspace E or to its complement E⊥, by
// Lanczos. This is what Proposition 3 needs: A ∈ E is a strict local minimum of R^eq when
// H restricted to E is positive definite, and E is linearly stable for the augmented flow
// only if the augmented Hessian restricted to E⊥ is positive definite too.
//
// Two solvers. Thick-restart block Lanczos (here) keeps the basis and its image, so it tests
// convergence after every product with exact residuals and restarts without products: on
// Perm's Monte-Carlo ∇²R^aug (M = 25) the 5 smallest eigenvalues take 148 products with a
// basis of 300 (205 with 100), where Spectra's implicitly restarted single-vector Lanczos,
// kept as a cross-check, needs 282. Blocks matter for exact Hessians of augmented risks:
// where A ∈ E, ∇²R^aug commutes with the group, so its eigenvalues on E⊥ come in multiplets
// of the dimension of an irreducible representation (4 for S_5's standard one); a single
// Krylov vector meets only some copies (through rounding), a block of b finds up to b. A
// Monte-Carlo average splits the multiplets; there blocks only cost products.
#include <cstddef>
#include <functional>
#include <vector>

#include "eqaug/nn/model.hpp"

namespace eqaug::analysis {

/// Y = H X for a symmetric H on L, applied to `count` vectors at once: X and Y hold them one
/// after the other (count × ModelSpec::num_params() numbers).
using SymmetricOperator = std::function<void(const double* x, double* y, std::size_t count)>;

struct RestrictedEigen {
  std::vector<double> values;     // ascending
  std::vector<double> residuals;  // ‖H v − λ v‖ of each (unit) eigenvector, on the subspace
  bool converged = false;
  std::size_t products = 0;  // products H·x the computation took (a block of b counts b)
  std::size_t blocks = 0;    // calls of the operator
};

enum class LanczosSolver {
  Thick,    // thick-restart (block) Lanczos, here: converged pairs are tested after every product
  Spectra,  // Spectra's implicitly restarted single-vector Lanczos (tests at restarts only)
};

struct LanczosOptions {
  double tol = 1e-12;  // relative tolerance: ‖H v − λ v‖ ≤ tol · max(|λ|, ε^(2/3)) for each wanted pair
  LanczosSolver solver = LanczosSolver::Thick;
  std::size_t block = 1;  // Thick: vectors per product
  // Basis size; 0: max(2k + 1, 20) for Spectra, max(2k + 20, k + 4·block) for Thick (whose
  // basis and its image take 2 · ncv vectors of memory).
  std::size_t ncv = 0;
  std::size_t max_restarts = 10000;
  // Thick: called after every block with the products so far, the wanted pairs converged so
  // far and the smallest Ritz value (progress of long computations).
  std::function<void(std::size_t products, std::size_t converged, double smallest)> progress;
};

/// The k smallest eigenvalues of H on E: of Bᵀ H B in E's orthonormal orbit coordinates.
RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                              const LanczosOptions& options = {});

/// The k smallest eigenvalues of H on E⊥: of P⊥ H P⊥, by Lanczos from start vectors in E⊥
/// (so that E, its null space, never enters the Krylov space).
RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                                   const LanczosOptions& options = {});

}  // namespace eqaug::analysis
