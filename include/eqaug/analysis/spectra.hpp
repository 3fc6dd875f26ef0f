#pragma once
// Extreme eigenvalues of a symmetric operator on the parameter space L (a Hessian, given
// as products H·x), restricted to the equivariant subspace E or to its complement E⊥, by
// Lanczos. This is what Proposition 3 needs: A ∈ E is a strict local minimum of R^eq when
// H restricted to E is positive definite, and E is linearly stable for the augmented flow
// only if the augmented Hessian restricted to E⊥ is positive definite too.
//
// Two solvers. Thick-restart block Lanczos (here) keeps the basis and its image, so it tests
// convergence after every product with exact residuals and restarts without products, and
// needs fewer products than Spectra's implicitly restarted single-vector Lanczos, kept as a
// cross-check (docs/benchmarks.md counts them). Blocks matter for exact Hessians of augmented risks:
// where A ∈ E, ∇²R^aug commutes with the group, so its eigenvalues on E⊥ come in multiplets
// of the dimension of an irreducible representation (4 for S_5's standard one); a single
// Krylov vector meets only some copies (through rounding), a block of b finds up to b. A
// Monte-Carlo average splits the multiplets; there blocks only cost products. With a float32
// copy of the operator the thick-restart solver builds its basis at half the cost and
// certifies the result in float64 (mixed precision, below).
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
  std::size_t products = 0;        // products H·x (float64) the computation took (a block of b counts b)
  std::size_t blocks = 0;          // calls of the (float64) operator
  std::size_t rough_products = 0;  // products by the float32 operator (mixed precision)
  // The (unit) eigenvectors, where LanczosOptions::vectors asks for them: on E in E's
  // orthonormal coordinates, on E⊥ in L's.
  std::vector<std::vector<double>> vectors;
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
  // Thick: the products' relative accuracy (0: float64's rounding). A pair also counts as
  // converged once its residual is below noise · max |θ| (‖H‖ from below, over the whole
  // solve), which is how far a Lanczos on float32 products can go; and with noise > 0 the
  // solver also ends (not converged) once ncv products have not halved the wanted pairs'
  // largest residual relative to its tolerance: products worse than `noise` stall instead
  // of running to max_restarts.
  double noise = 0;
  std::size_t vectors = 0;  // Thick: return the vectors of this many lowest Ritz pairs (RestrictedEigen::vectors)
  // Thick: vectors that span the first block (each of the subspace's dimension; put into the
  // subspace first), e.g. eigenvectors of a cheaper approximation of H; empty: one random
  // vector per block column.
  std::vector<std::vector<double>> start;
  // Thick: called after every block with the products so far, the wanted pairs converged so
  // far, the smallest Ritz value, and whether the products are the float32 ones of a mixed-
  // precision solve (progress of long computations).
  std::function<void(std::size_t products, std::size_t converged, double smallest, bool rough)> progress;
};

/// Relative accuracy assumed of float32 Hessian-vector products (LanczosOptions::noise), with
/// a margin over what float32 Lanczos residuals reach on Perm (docs/benchmarks.md). A model
/// whose float32 products are worse stalls its first stage, which then ends once ncv
/// products bring no progress (LanczosOptions::noise), and at most after 9 restart cycles.
constexpr double kFloat32Noise = 1e-7;

/// Mixed precision (Thick only; `rough` non-empty): `rough` is the same H with products in
/// float32, half the cost of float64 ones. Lanczos on `rough` builds the Krylov space until
/// each of the k pairs meets tol or float32's floor (kFloat32Noise · ‖H‖); then Lanczos on
/// H starts from those k Ritz vectors — a first block of max(k, b) float64 products, filled
/// with random vectors where b > k — and goes on until every pair meets tol in float64.
/// Values and residuals are H's: float32 only chose the start, and usually the first float64
/// block certifies the pairs. From float32's floor, though, a float64 refinement costs about
/// as many products as a Lanczos from scratch (docs/benchmarks.md), so for tol <
/// kFloat32Noise, which no pair could meet in float32, `rough` is not used. (A pair whose eigenvalue is near 0, |λ| ≪
/// ‖H‖, can still ask for less than float32 reaches; float64 then refines it.)
///
/// The k smallest eigenvalues of H on E: of Bᵀ H B in E's orthonormal orbit coordinates.
RestrictedEigen smallest_on_E(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                              const LanczosOptions& options = {}, SymmetricOperator rough = {});

/// The k smallest eigenvalues of H on E⊥: of P⊥ H P⊥, by Lanczos from start vectors in E⊥
/// (so that E, its null space, never enters the Krylov space).
RestrictedEigen smallest_on_E_perp(const ModelSpec& spec, const SymmetricOperator& H, std::size_t k,
                                   const LanczosOptions& options = {}, SymmetricOperator rough = {});

}  // namespace eqaug::analysis
