#pragma once
// Hessians of the risks as operators on L, by exact Hessian-vector products
// (Network::hvp: forward-over-reverse through every layer, never finite differences).
#include <vector>

#include "eqaug/analysis/spectra.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug::analysis {

/// y = H x, H the Hessian at `a` of the risk averaged over `passes`:
/// H = (1 / (n |passes|)) Σ_pass Σ_i ∇² ℓ_i(A) on the moved data. One identity pass gives
/// ∇²R; one pass per group element (augmentation_passes with `exact`) gives ∇²R^aug
/// exactly; M passes with a random element per sample, a Monte-Carlo ∇²R^aug. The engine,
/// `a` and `passes` must outlive the operator.
SymmetricOperator risk_hessian(GradientEngine<double>& engine, const std::vector<double>& a,
                               const std::vector<Pass>& passes);

}  // namespace eqaug::analysis
