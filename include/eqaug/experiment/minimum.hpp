#pragma once
// `eqaug minimum`: the decisive test of E's stability (issue 15, item 5) at an equivariant
// minimum rather than near A⁰. From run k's A⁰ ∈ E it minimises R over E (R^eq: R restricted
// to E, where R^aug = R) in E's orthonormal coordinates — L-BFGS, then Newton–CG polishing on
// exact Hessian-vector products — until ‖∇R^eq‖ is below a stated tolerance; reports the
// smallest eigenvalues of ∇²R^eq on E (positive: a strict local minimum, Proposition 3) and
// of the exact ∇²R^aug on E⊥ (λ⊥; negative: E is linearly unstable there). Where λ⊥ < 0 it
// follows exact Aug and AugPen (γ > |λ⊥|) from A* + ε‖A*‖ v⊥ and sampled Aug from A*, and
// writes each one's ‖A − Π_E A‖ beside the linear predictions (1 + η|λ⊥|)^t and
// (1 − η(γ − |λ⊥|))^t.
//
// OUT/minimum.json (everything measured, and how), OUT/optimizer.csv (the descent),
// OUT/astar/<layer>.npy (A*), OUT/growth.csv (the trajectories, where followed).
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "eqaug/config/config.hpp"

namespace eqaug::experiment {

struct MinimumOptions {
  std::size_t run = 0;          // whose A⁰ starts the descent
  double grad_tol = 1e-8;       // stop when ‖∇R^eq‖ (= ‖Π_E ∇R‖, Frobenius) ≤ this
  std::size_t max_iter = 3000;  // L-BFGS iterations at most
  std::size_t newton = 30;      // Newton–CG steps at most, after L-BFGS
  std::size_t k = 4;            // eigenvalues on E and on E⊥
  double tol = 1e-8;            // Lanczos relative tolerance
  double eps = 1e-6;            // the perturbation: ε‖A*‖ along v⊥
  std::size_t follow = 0;       // steps of the trajectories; 0: ⌈3/(η|λ⊥|)⌉, at most max_follow
  std::size_t max_follow = 3000;
  double lr = 0;       // η of the trajectories; 0: the configuration's train.lr
  double penalty = 0;  // AugPen's γ; 0: 2|λ⊥|
  std::filesystem::path out;
  bool force = false;
  std::size_t threads = 0;
  std::string command_line;
  std::ostream* progress = nullptr;
};

struct MinimumResult {
  double loss = 0, grad_norm = 0, grad_norm0 = 0;
  std::size_t lbfgs_iterations = 0, newton_steps = 0;
  bool reached = false;                       // grad_norm ≤ grad_tol
  std::vector<double> eq_on_E, eq_residuals;  // ∇²R^eq on E, ascending
  std::vector<double> perp, perp_residuals;   // exact ∇²R^aug on E⊥, ascending
  std::size_t follow = 0;                     // steps followed (0: E stable there, nothing followed)
  double lr = 0, penalty = 0;
  // Per step t = 0..follow: the trajectories' ‖A − Π_E A‖ (growth.csv).
  std::vector<double> aug_exact, augpen_exact, aug_sampled;
};

MinimumResult run_minimum(const io::ExperimentConfig& cfg, const MinimumOptions& opts);

}  // namespace eqaug::experiment
