#pragma once
// Hessians of the risks as operators on L, by exact Hessian-vector products
// (Network::hvp: forward-over-reverse through every layer, never finite differences).
#include <cstddef>
#include <limits>
#include <string>
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
///
/// The primal passes do not depend on x: the operator keeps them (HvpState, per pass and
/// chunk) when they fit in `cache_bytes` — by default half of the memory available — and
/// later products then run the R-passes only. The results are the same bits either way.
///
/// In float32 (an engine of floats, `a` rounded to float) the products cost half as much and
/// are accurate to about 1e-8 of ‖H‖ (on Perm): the mixed-precision Lanczos builds its
/// Krylov space with them and certifies the result with float64 products.
constexpr std::size_t kAutoCache = std::numeric_limits<std::size_t>::max();
template <typename T>
SymmetricOperator risk_hessian(GradientEngine<T>& engine, const std::vector<T>& a, const std::vector<Pass>& passes,
                               std::size_t cache_bytes = kAutoCache);

/// Bytes of memory available to new allocations (/proc/meminfo's MemAvailable, else the
/// free pages).
/// Which way the smallest E⊥-eigenvalue points, beyond two standard errors (or, for the
/// exact Hessian, beyond its Lanczos residual): "stable", "unstable" or "undecided".
std::string stability(double smallest, double error);

std::size_t available_memory_bytes();

/// The bytes risk_hessian's cache of primal passes takes for `passes` passes.
template <typename T>
std::size_t hessian_cache_bytes(const GradientEngine<T>& engine, std::size_t passes);

}  // namespace eqaug::analysis
