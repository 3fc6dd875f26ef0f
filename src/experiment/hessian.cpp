#include "eqaug/experiment/hessian.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eqaug/analysis/hessian.hpp"
#include "eqaug/analysis/spectra.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::experiment {

namespace fs = std::filesystem;
using nlohmann::json;

std::string hessian_csv(const std::vector<HessianRow>& rows) {
  std::string s = "trajectory,step,operator,index,eigenvalue,residual,stderr,dist_E,converged\n";
  for (const auto& r : rows)
    s += r.trajectory + "," + std::to_string(r.step) + "," + r.op + "," + std::to_string(r.index) + "," +
         io::csv_number(r.eigenvalue) + "," + io::csv_number(r.residual) + "," + io::csv_number(r.stderr_) + "," +
         io::csv_number(r.dist_E) + "," + (r.converged ? "1" : "0") + "\n";
  return s;
}

std::size_t lanczos_basis(std::size_t params, std::size_t k, std::size_t block, bool spectra, std::size_t memory) {
  const std::size_t least = std::max(2 * k + 10, k + 2 * block);
  if (spectra) return std::max<std::size_t>(least, 40);  // its first restart comes after ncv products
  const std::size_t fits = memory / 4 / (2 * std::max<std::size_t>(params, 1) * sizeof(double));
  return std::max(least, std::min<std::size_t>(300, fits));
}

/// What run_hessian follows and how, from its options (every check that needs no data).
struct HessianPlan {
  bool mixed = false;                  // float32 products build the Krylov spaces
  std::vector<Strategy> trajectories;  // the augmented strategies
  std::vector<std::size_t> steps;      // sorted, distinct, within the trajectory
};

HessianPlan plan_hessian(const io::ExperimentConfig& cfg, const HessianOptions& opts) {
  HessianPlan plan;
  if (cfg.precision != io::Precision::F64) throw Error("eqaug hessian works in float64 (train.precision = \"f64\")");
  if (opts.k == 0) throw Error("--k: at least one eigenvalue");
  if (opts.spectra && opts.block > 1)
    throw Error("--block " + std::to_string(opts.block) + ": Spectra's Lanczos (--spectra) takes one vector at a time");
  if (opts.spectra && opts.products == "mixed")
    throw Error(
        "--products mixed needs the thick-restart solver: Spectra's Lanczos (--spectra) takes float64 "
        "products only");
  if (opts.products == "mixed" && opts.tol < analysis::kFloat32Noise) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "--products mixed: --tol %g asks for residuals below float32's accuracy (%g of the Hessian's "
                  "norm); use --tol %g or more, or --products f64",
                  opts.tol, analysis::kFloat32Noise, analysis::kFloat32Noise);
    throw Error(buf);
  }
  plan.mixed =
      opts.products == "mixed" || (opts.products.empty() && !opts.spectra && opts.tol >= analysis::kFloat32Noise);
  if (!opts.exact && (opts.samples == 0 || opts.repeats == 0))
    throw Error("--hessian-samples and --repeats must be positive");
  for (const auto& s : cfg.train.strategies)
    if (s.augments()) plan.trajectories.push_back(s);
  if (plan.trajectories.empty())
    throw Error("eqaug hessian follows augmented trajectories: --modes must include aug or augpen");
  std::vector<std::size_t>& steps = plan.steps;
  steps = opts.steps;
  if (steps.empty()) steps = {0, cfg.train.epochs};
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  if (steps.back() > cfg.train.epochs)
    throw Error("--steps: step " + std::to_string(steps.back()) + " is beyond the trajectory's " +
                std::to_string(cfg.train.epochs) + " steps (train.epochs, --epochs)");
  if (opts.run >= cfg.runs)
    throw Error("--run " + std::to_string(opts.run) + ": the configuration has " + std::to_string(cfg.runs) + " runs");
  return plan;
}

/// The Lanczos settings; refuses a basis that cannot fit in the free memory (it is
/// allocated before the first product).
analysis::LanczosOptions lanczos_options(const HessianOptions& opts, const ModelSpec& model, std::size_t perp_block) {
  const ModelSpec* spec = &model;
  analysis::LanczosOptions lanczos;
  lanczos.tol = opts.tol;
  lanczos.solver = opts.spectra ? analysis::LanczosSolver::Spectra : analysis::LanczosSolver::Thick;
  lanczos.ncv = opts.ncv ? std::max(opts.ncv, std::max(2 * opts.k + 10, opts.k + 2 * perp_block))
                         : lanczos_basis(spec->num_params(), opts.k, perp_block, opts.spectra,
                                         analysis::available_memory_bytes());
  {
    // The basis is allocated before the first product: refuse one that cannot fit.
    const std::size_t vectors = opts.spectra ? lanczos.ncv : 2 * lanczos.ncv;  // thick: the basis and its image
    const double need = static_cast<double>(vectors) * static_cast<double>(spec->num_params()) * sizeof(double);
    const double free = static_cast<double>(analysis::available_memory_bytes());
    if (free > 0 && need > free) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "--ncv %zu: the Lanczos basis of %zu parameters takes %.1f GB, more than the %.1f GB of free "
                    "memory; lower --ncv (at least 2k + 10) and --k",
                    lanczos.ncv, spec->num_params(), need / 1e9, free / 1e9);
      throw Error(buf);
    }
  }
  return lanczos;
}

/// OUT for the spectra: not a sweep's folder, no earlier hessian.csv without --force.
void prepare_out(const HessianOptions& opts) {
  if (fs::exists(opts.out / "manifest.json"))
    throw Error("--out: '" + opts.out.string() +
                "' holds a sweep (manifest.json); write the spectra to a folder of "
                "their own, e.g. --out " +
                (opts.out / "hessian").string());
  if (fs::exists(opts.out / "hessian.csv") && !opts.force)
    throw Error("'" + (opts.out / "hessian.csv").string() + "' already exists; pass --force to replace it");
  fs::create_directories(opts.out);
}

std::vector<HessianRow> run_hessian(const io::ExperimentConfig& cfg, const HessianOptions& opts) {
  auto& log = opts.progress ? *opts.progress : std::clog;
  const bool show = opts.progress != nullptr;
  const HessianPlan plan = plan_hessian(cfg, opts);
  const bool mixed = plan.mixed;
  const std::vector<Strategy>& trajectories = plan.trajectories;
  const std::vector<std::size_t>& steps = plan.steps;

  const GroupPtr group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  const Dataset data = io::build_data(cfg, *group);
  if (opts.exact) {
    const auto order = group->order();
    if (!order || *order > kMaxExactOrder)
      throw Error("--hessian-exact: " + group->name() + " is too large to average over every element; use " +
                  "--hessian-samples M");
  }
  // On E one vector per product. On E⊥ the exact ∇²R^aug at a point of E commutes with the
  // group, so its eigenvalues come in multiplets (the standard representation of S_5 gives
  // four equal smallest ones on the 5-node Perm): a single Krylov vector finds some of the
  // copies only through rounding (three of the four there), a block of k finds the k
  // smallest with their multiplicities for about the same products (144 against 138). A
  // Monte-Carlo average splits the multiplets, and blocks there cost more products (372
  // against 205 for b = 3 on Perm).
  const std::size_t perp_block = opts.block ? opts.block : opts.exact && !opts.spectra ? opts.k : 1;
  analysis::LanczosOptions lanczos = lanczos_options(opts, *spec, perp_block);
  analysis::LanczosOptions lanczos_perp = lanczos;
  lanczos_perp.block = perp_block;
  // A line every 15 s while an eigenproblem runs (Perm's Monte-Carlo E⊥ takes minutes).
  std::string working;  // what is being computed, for the progress line
  auto last_line = std::chrono::steady_clock::now();
  auto progress = [&](std::size_t products, std::size_t converged, double smallest, bool rough) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_line).count() < 15) return;
    last_line = now;
    char buf[192];
    std::snprintf(buf, sizeof buf, "    %s: %zu %s products, %zu of %zu converged, smallest so far %.5g\n",
                  working.c_str(), products, rough ? "float32" : "float64", converged, opts.k, smallest);
    log << buf << std::flush;
  };
  if (show) lanczos.progress = lanczos_perp.progress = progress;
  // Everything that can fail is checked; now OUT.
  prepare_out(opts);

  ThreadPool pool(opts.threads ? opts.threads : ThreadPool::available_cores());
  const blas::ThreadsGuard serial_blas(1);  // as a sweep: not switched at every product
  const double shift = cfg.json.at("data").value("input_shift", 0.0);
  GradientEngine<double> engine(*spec, data, shift, cfg.chunk, pool);
  // Mixed precision: the same products in float32, for the Krylov spaces.
  std::unique_ptr<GradientEngine<float>> engine32;
  if (mixed) engine32 = std::make_unique<GradientEngine<float>>(*spec, data, shift, cfg.chunk, pool);
  TrainOptions train = cfg.train;
  train.metrics.clear();  // the spectra record none of them
  train.strategies = trajectories;
  train.epochs = steps.back();
  train.snapshot_steps = steps;
  train.keep_final_params = false;
  const auto a0 = initial_point(*spec, cfg.train.seed, opts.run, !cfg.train.raw_start, &pool);
  if (show) {
    log << cfg.name << ": " << spec->num_params() << " parameters, dim E = " << spec->dim_E() << "; trajectories of";
    for (const auto& t : trajectories) log << " " << t.name();
    log << " from run " << opts.run << "'s A0 to step " << steps.back() << "\n";
  }
  const auto runs = Trainer<double>(engine, train).run(opts.run, a0);

  const Strategy exact_aug = [] {
    Strategy s;
    s.mode = Mode::Aug;
    s.exact = true;
    return s;
  }();
  const std::vector<Pass> nominal(1);
  std::vector<HessianRow> rows;
  for (const auto& run : runs) {
    for (const auto& [step, a] : run.snapshots) {
      const double dist = run.records.at(step).dist_E;
      const auto t0 = std::chrono::steady_clock::now();
      last_line = t0;
      working = run.strategy.name() + " step " + std::to_string(step) + ", Hess R^eq on E";
      // ∇²R^eq on E, at the equivariant model nearest to A_t.
      std::vector<double> pa = a;
      spec->project(pa.data(), &pool);
      const std::vector<float> pa32(pa.begin(), pa.end()), a32(a.begin(), a.end());
      const auto rough = [&](const std::vector<float>& at, const std::vector<Pass>& passes) {
        return mixed ? analysis::risk_hessian(*engine32, at, passes) : analysis::SymmetricOperator{};
      };
      const auto eq = analysis::smallest_on_E(*spec, analysis::risk_hessian(engine, pa, nominal), opts.k, lanczos,
                                              rough(pa32, nominal));
      for (std::size_t i = 0; i < eq.values.size(); ++i)
        rows.push_back(
            {run.strategy.name(), step, "eq_on_E", i, eq.values[i], eq.residuals[i], 0.0, dist, eq.converged});
      // ∇²R^aug on E⊥: exact, or R independent Monte-Carlo estimates.
      std::vector<std::vector<double>> values;
      std::vector<double> worst_residual(opts.k, 0.0);
      bool converged = true;
      std::size_t products = 0, products32 = 0;
      const std::size_t reps = opts.exact ? 1 : opts.repeats;
      for (std::size_t r = 0; r < reps; ++r) {
        Strategy mc;
        mc.mode = Mode::Aug;
        mc.passes = opts.samples;
        Rng rng = Rng::stream(cfg.train.seed, "hessian", {opts.run, step, r});
        const auto passes = augmentation_passes(opts.exact ? exact_aug : mc, *group, data, rng);
        working = run.strategy.name() + " step " + std::to_string(step) + ", Hess R^aug on E-perp" +
                  (reps > 1 ? " (estimate " + std::to_string(r + 1) + "/" + std::to_string(reps) + ")" : "");
        const auto e = analysis::smallest_on_E_perp(*spec, analysis::risk_hessian(engine, a, passes), opts.k,
                                                    lanczos_perp, rough(a32, passes));
        values.push_back(e.values);
        for (std::size_t i = 0; i < e.residuals.size() && i < opts.k; ++i)
          worst_residual[i] = std::max(worst_residual[i], e.residuals[i]);
        converged = converged && e.converged;
        products += e.products;
        products32 += e.rough_products;
      }
      for (std::size_t i = 0; i < values[0].size(); ++i) {
        double mean = 0, var = 0;
        for (const auto& v : values) mean += v[i] / static_cast<double>(reps);
        for (const auto& v : values) var += (v[i] - mean) * (v[i] - mean);
        const double se = reps > 1 ? std::sqrt(var / static_cast<double>(reps - 1) / static_cast<double>(reps)) : 0.0;
        rows.push_back({run.strategy.name(), step, "aug_on_Eperp", i, mean, worst_residual[i], se, dist, converged});
      }
      if (show) {
        const auto it = std::find_if(rows.rbegin(), rows.rend(), [&](const HessianRow& h) {
          return h.trajectory == run.strategy.name() && h.step == step && h.op == "aug_on_Eperp" && h.index == 0;
        });
        if (it == rows.rend()) continue;
        const HessianRow& first = *it;
        const auto count = [mixed](std::size_t n64, std::size_t n32) {
          return mixed ? std::to_string(n32) + " float32 + " + std::to_string(n64) + " float64" : std::to_string(n64);
        };
        char buf[384];
        std::snprintf(buf, sizeof buf,
                      "  %s step %zu: |A-PA| %.3g; smallest on E %.4g; smallest on E-perp %.4g +- %.2g (%s); "
                      "Hessian-vector products: %s on E, %s on E-perp; %.1f s\n",
                      run.strategy.name().c_str(), step, dist, eq.values.empty() ? NAN : eq.values[0], first.eigenvalue,
                      first.stderr_,
                      analysis::stability(first.eigenvalue, std::max(first.stderr_, first.residual)).c_str(),
                      count(eq.products, eq.rough_products).c_str(), count(products, products32).c_str(),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        log << buf << std::flush;
      }
    }
  }
  json info = {{"program", program_info()},
               {"command", opts.command_line},
               {"config", cfg.json},
               {"run", opts.run},
               {"steps", steps},
               {"k", opts.k},
               {"hessian_aug", opts.exact ? json("exact: every group element")
                                          : json("monte carlo: " + std::to_string(opts.samples) +
                                                 " passes (an element per sample) x " + std::to_string(opts.repeats) +
                                                 " independent repeats")},
               {"eq_on_E", "Hess R at Pi_E A_t restricted to E (= Hess R^eq there), in E's orthonormal coordinates"},
               {"aug_on_Eperp",
                "Hess R^aug at A_t restricted to E-perp; stderr from the repeats (for augpen, the penalised risk's "
                "E-perp block is this + penalty)"},
               {"penalty", cfg.train.strategies.empty() ? 0.0 : [&] {
                  for (const auto& s : cfg.train.strategies)
                    if (s.mode == Mode::AugPen) return s.penalty;
                  return 0.0;
                }()},
               {"lanczos_tol", opts.tol},
               {"lanczos", {{"solver", opts.spectra ? "spectra (implicitly restarted)" : "thick-restart block"},
                            {"block_on_Eperp", perp_block},
                            {"products", mixed ? "mixed: float32 products build the basis, float64 products refine "
                                                 "and certify the values and residuals"
                                               : "float64"},
                            {"ncv", lanczos.ncv}}},
               {"finished", io::utc_now_iso()}};
  // The whole drift of each trajectory, step by step, for the figure.
  std::string drift = "trajectory,step,dist_E,dist_init,loss\n";
  for (const auto& run : runs)
    for (const auto& r : run.records)
      drift += run.strategy.name() + "," + std::to_string(r.step) + "," + io::csv_number(r.dist_E) + "," +
               io::csv_number(r.dist_init) + "," + io::csv_number(r.loss) + "\n";
  io::write_file_atomic(opts.out / "drift.csv", drift);
  io::write_file_atomic(opts.out / "hessian.csv", hessian_csv(rows));
  io::write_file_atomic(opts.out / "hessian.json", info.dump(2) + "\n");
  return rows;
}

}  // namespace eqaug::experiment
