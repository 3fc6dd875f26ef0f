#pragma once
// Extreme eigenvalues of a symmetric operator on the parameter space L (a Hessian, given
// as products H·x), restricted to the equivariant subspace E or to its complement E⊥, by
// Lanczos (Spectra). This is what Proposition 3 needs: A ∈ E is a strict local minimum of
// R^eq when H restricted to E is positive definite, and E is linearly stable for the
// augmented flow only if the augmented Hessian restricted to E⊥ is positive definite too.
#include <cstddef>
#include <functional>
#include <vector>

#include "eqaug/nn/model.hpp"

namespace eqaug::analysis {

/// y = H x for a symmetric H on L (vectors of ModelSpec::num_params() numbers).
using SymmetricOperator = std::function<void(const double* x, double* y)>;

struct RestrictedEigen {
  std::vector<double> values;     // ascending
  std::vector<double> residuals;  // ‖H v − λ v‖ of each (unit) eigenvector, on the subspace
  bool converged = false;
  std::size_t products = 0;  // products H·x the computation took
};

struct LanczosOptions {
  double tol = 1e-12;   // Spectra's relative tolerance on each eigenvalue
  std::size_t ncv = 0;  // Lanczos basis size; 0: max(2k + 1, 20)
  std::size_t max_restarts = 10000;
};

/// The k smallest eigenvalues of H on E: of Bᵀ H B in E's orthonormal orbit coordinates.
RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                              const LanczosOptions& options = {});

/// The k smallest eigenvalues of H on E⊥: of P⊥ H P⊥, by Lanczos from a start vector in E⊥
/// (so that E, its null space, never enters the Krylov space).
RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                                   const LanczosOptions& options = {});

}  // namespace eqaug::analysis
