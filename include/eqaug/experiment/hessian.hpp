#pragma once
// `eqaug hessian`: along augmented trajectories of a configuration (float64), the smallest
// eigenvalues of ∇²R^eq on E (at Π_E A_t) and of ∇²R^aug on E⊥ (at A_t) by Lanczos on exact
// Hessian-vector products, with residuals and, for a Monte-Carlo ∇²R^aug, standard errors
// from independent repetitions; whether E is linearly stable there. Writes
// OUT/hessian.csv (one row per trajectory, step, operator and eigenvalue) and
// OUT/hessian.json (what was computed, how, by which program).
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "eqaug/config/config.hpp"

namespace eqaug::experiment {

struct HessianOptions {
  std::vector<std::size_t> steps;  // empty: 0 and the last step
  std::size_t k = 5;               // eigenvalues per operator
  std::size_t samples = 25;        // M: random passes (an element per sample) per Monte-Carlo ∇²R^aug
  std::size_t repeats = 3;         // independent Monte-Carlo draws, for the standard errors
  bool exact = false;              // ∇²R^aug as the exact group average (small groups)
  std::size_t run = 0;             // whose A⁰ (the sweep's stream for this run)
  double tol = 1e-8;               // Lanczos tolerance (relative)
  bool spectra = false;            // Spectra's single-vector Lanczos instead of the thick-restart one
  std::size_t block = 0;           // vectors per product on E⊥ (thick-restart); 0: k if exact, else 1
  std::size_t ncv = 0;             // Lanczos basis size; 0: lanczos_basis()
  // Hessian-vector products: "mixed" (float32 ones build the Krylov space, float64 ones
  // refine and certify: analysis::smallest_on_E_perp's `rough`), "f64", or empty: mixed
  // where tol ≥ analysis::kFloat32Noise and the solver is the thick-restart one, else f64.
  std::string products;
  std::filesystem::path out;
  bool force = false;
  std::size_t threads = 0;  // workers; 0: every core
  std::string command_line;
  std::ostream* progress = nullptr;
};

struct HessianRow {
  std::string trajectory;  // the strategy whose trajectory: aug, augpen
  std::size_t step = 0;
  std::string op;  // "eq_on_E" or "aug_on_Eperp"
  std::size_t index = 0;
  double eigenvalue = 0, residual = 0, stderr_ = 0;
  double dist_E = 0;  // of the trajectory at this step
  bool converged = true;
};

/// The Lanczos basis size for `params` parameters when none is asked for. Thick-restart:
/// 300 vectors — enough for Perm's 5 smallest E⊥-eigenvalues without a restart (the product
/// counts per basis size are in docs/benchmarks.md) — or fewer where the basis and its
/// image (2 · ncv vectors) would take more than a quarter of `memory` bytes. Spectra: 40
/// (it spends ncv products before its first convergence test). Never fewer than k and the
/// block need.
std::size_t lanczos_basis(std::size_t params, std::size_t k, std::size_t block, bool spectra, std::size_t memory);

std::vector<HessianRow> run_hessian(const io::ExperimentConfig& cfg, const HessianOptions& opts);

/// The rows as OUT/hessian.csv writes them.
std::string hessian_csv(const std::vector<HessianRow>& rows);

}  // namespace eqaug::experiment
