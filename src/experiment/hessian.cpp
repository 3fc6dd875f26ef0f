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
  io::require_one_model(cfg, "hessian");
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
  io::create_output_dir(opts.out, "--out");
}

namespace {

/// The trajectories' drift step by step (drift.csv), for the figure.
std::string drift_csv(const std::vector<StrategyRun>& runs) {
  std::string drift = "trajectory,step,dist_E,dist_init,loss\n";
  for (const auto& run : runs)
    for (const auto& r : run.records)
      drift += run.strategy.name() + "," + std::to_string(r.step) + "," + io::csv_number(r.dist_E) + "," +
               io::csv_number(r.dist_init) + "," + io::csv_number(r.loss) + "\n";
  return drift;
}

/// The spectra of one run's augmented trajectories at the planned steps: the model, data
/// and engines built and every option checked before OUT is touched.
class HessianStudy {
 public:
  HessianStudy(const io::ExperimentConfig& cfg, const HessianOptions& opts)
      : cfg_(cfg),
        opts_(opts),
        log_(opts.progress ? *opts.progress : std::clog),
        show_(opts.progress != nullptr),
        plan_(plan_hessian(cfg, opts)),
        group_(io::build_group(cfg)),
        spec_(io::build_model(cfg, group_)),
        data_(io::build_data(cfg, *group_)),
        // On E one vector per product. On E⊥ the exact ∇²R^aug at a point of E commutes with
        // the group, so its eigenvalues come in multiplets (the standard representation of S_5
        // gives four equal smallest ones on the 5-node Perm): a single Krylov vector finds some
        // of the copies only through rounding (three of the four there), a block of k finds the
        // k smallest with their multiplicities for about the same products (144 against 138). A
        // Monte-Carlo average splits the multiplets, and blocks there cost more products (372
        // against 205 for b = 3 on Perm).
        perp_block_(opts.block                    ? opts.block
                    : opts.exact && !opts.spectra ? opts.k
                                                  : 1),
        lanczos_(lanczos_options(opts, *spec_, perp_block_)) {
    if (opts.exact) {
      const auto order = group_->order();
      if (!order || *order > kMaxExactOrder)
        throw Error("--hessian-exact: " + group_->name() + " is too large to average over every element; use " +
                    "--hessian-samples M");
    }
    lanczos_perp_ = lanczos_;
    lanczos_perp_.block = perp_block_;
    // A line every 15 s while an eigenproblem runs (Perm's Monte-Carlo E⊥ takes minutes).
    auto progress = [this](std::size_t products, std::size_t converged, double smallest, bool rough) {
      const auto now = std::chrono::steady_clock::now();
      if (std::chrono::duration<double>(now - last_line_).count() < 15) return;
      last_line_ = now;
      char buf[192];
      std::snprintf(buf, sizeof buf, "    %s: %zu %s products, %zu of %zu converged, smallest so far %.5g\n",
                    working_.c_str(), products, rough ? "float32" : "float64", converged, opts_.k, smallest);
      log_ << buf << std::flush;
    };
    if (show_) lanczos_.progress = lanczos_perp_.progress = progress;
  }

  std::vector<HessianRow> run() {
    prepare_out(opts_);  // everything that can fail is checked; now OUT
    ThreadPool pool(opts_.threads ? opts_.threads : ThreadPool::available_cores());
    const blas::ThreadsGuard serial_blas(1);  // as a sweep: not switched at every product
    const double shift = cfg_.json.at("data").value("input_shift", 0.0);
    GradientEngine<double> engine(*spec_, data_, shift, cfg_.chunk, pool);
    // Mixed precision: the same products in float32, for the Krylov spaces.
    std::unique_ptr<GradientEngine<float>> engine32;
    if (plan_.mixed) engine32 = std::make_unique<GradientEngine<float>>(*spec_, data_, shift, cfg_.chunk, pool);
    pool_ = &pool;
    engine_ = &engine;
    engine32_ = engine32.get();
    const auto runs = trajectories();
    std::vector<HessianRow> rows;
    for (const auto& run : runs)
      for (const auto& [step, a] : run.snapshots) spectra_at(run, step, a, rows);
    io::write_file_atomic(opts_.out / "drift.csv", drift_csv(runs));
    io::write_file_atomic(opts_.out / "hessian.csv", hessian_csv(rows));
    io::write_file_atomic(opts_.out / "hessian.json", info().dump(2) + "\n");
    return rows;
  }

 private:
  /// The augmented trajectories of run opts.run from its A⁰, with snapshots at the steps.
  std::vector<StrategyRun> trajectories() {
    TrainOptions train = cfg_.train;
    train.metrics.clear();  // the spectra record none of them
    train.strategies = plan_.trajectories;
    train.epochs = plan_.steps.back();
    train.snapshot_steps = plan_.steps;
    train.keep_final_params = false;
    const auto a0 = run_start(cfg_, *spec_, opts_.run, pool_);
    if (show_) {
      log_ << cfg_.name << ": " << spec_->num_params() << " parameters, dim E = " << spec_->dim_E()
           << "; trajectories of";
      for (const auto& t : plan_.trajectories) log_ << " " << t.name();
      log_ << " from run " << opts_.run << "'s A0 to step " << plan_.steps.back() << "\n";
    }
    return Trainer<double>(*engine_, train).run(opts_.run, a0);
  }

  /// Where mixed: the float32 Hessian of the risk over `passes` at `at32` (which it reads
  /// by reference: keep it alive while the operator is used).
  analysis::SymmetricOperator rough(const std::vector<float>& at32, const std::vector<Pass>& passes) const {
    return plan_.mixed ? analysis::risk_hessian(*engine32_, at32, passes) : analysis::SymmetricOperator{};
  }

  /// ∇²R^aug on E⊥ at a: exact, or the mean of R independent Monte-Carlo estimates.
  struct PerpSpectrum {
    std::vector<std::vector<double>> values;  // per estimate
    std::vector<double> worst_residual;
    bool converged = true;
    std::size_t products = 0, products32 = 0;
  };
  PerpSpectrum aug_on_E_perp(const StrategyRun& run, std::size_t step, const std::vector<double>& a) {
    PerpSpectrum p;
    p.worst_residual.assign(opts_.k, 0.0);
    const std::size_t reps = opts_.exact ? 1 : opts_.repeats;
    const std::vector<float> a32(a.begin(), a.end());
    for (std::size_t r = 0; r < reps; ++r) {
      Strategy s;
      s.mode = Mode::Aug;
      s.exact = opts_.exact;
      if (!opts_.exact) s.passes = opts_.samples;
      Rng rng = Rng::stream(cfg_.train.seed, "hessian", {opts_.run, step, r});
      const auto passes = augmentation_passes(s, *group_, data_, rng);
      working_ = run.strategy.name() + " step " + std::to_string(step) + ", Hess R^aug on E-perp" +
                 (reps > 1 ? " (estimate " + std::to_string(r + 1) + "/" + std::to_string(reps) + ")" : "");
      const auto e = analysis::smallest_on_E_perp(*spec_, analysis::risk_hessian(*engine_, a, passes), opts_.k,
                                                  lanczos_perp_, rough(a32, passes));
      // The weight decay λ/2 ‖A‖² adds λ I to every Hessian: the same eigenvectors, each value + λ.
      p.values.push_back(e.values);
      for (double& v : p.values.back()) v += cfg_.train.weight_decay;
      for (std::size_t i = 0; i < e.residuals.size() && i < opts_.k; ++i)
        p.worst_residual[i] = std::max(p.worst_residual[i], e.residuals[i]);
      p.converged = p.converged && e.converged;
      p.products += e.products;
      p.products32 += e.rough_products;
    }
    return p;
  }

  /// Both spectra at one snapshot A_t of a trajectory, appended to rows (and a line).
  void spectra_at(const StrategyRun& run, std::size_t step, const std::vector<double>& a,
                  std::vector<HessianRow>& rows) {
    const double dist = run.records.at(step).dist_E;
    const auto t0 = std::chrono::steady_clock::now();
    last_line_ = t0;
    working_ = run.strategy.name() + " step " + std::to_string(step) + ", Hess R^eq on E";
    // ∇²R^eq on E, at the equivariant model nearest to A_t.
    std::vector<double> pa = a;
    spec_->project(pa.data(), pool_);
    const std::vector<Pass> nominal(1);
    const std::vector<float> pa32(pa.begin(), pa.end());
    const auto eq = analysis::smallest_on_E(*spec_, analysis::risk_hessian(*engine_, pa, nominal), opts_.k, lanczos_,
                                            rough(pa32, nominal));
    for (std::size_t i = 0; i < eq.values.size(); ++i)
      rows.push_back({run.strategy.name(), step, "eq_on_E", i, eq.values[i] + cfg_.train.weight_decay, eq.residuals[i],
                      0.0, dist, eq.converged});
    const PerpSpectrum perp = aug_on_E_perp(run, step, a);
    const std::size_t reps = perp.values.size();
    for (std::size_t i = 0; i < perp.values[0].size(); ++i) {
      double mean = 0, var = 0;
      for (const auto& v : perp.values) mean += v[i] / static_cast<double>(reps);
      for (const auto& v : perp.values) var += (v[i] - mean) * (v[i] - mean);
      const double se = reps > 1 ? std::sqrt(var / static_cast<double>(reps - 1) / static_cast<double>(reps)) : 0.0;
      rows.push_back(
          {run.strategy.name(), step, "aug_on_Eperp", i, mean, perp.worst_residual[i], se, dist, perp.converged});
    }
    if (!show_ || perp.values[0].empty()) return;
    const HessianRow& first = rows[rows.size() - perp.values[0].size()];
    const auto count = [this](std::size_t n64, std::size_t n32) {
      return plan_.mixed ? std::to_string(n32) + " float32 + " + std::to_string(n64) + " float64" : std::to_string(n64);
    };
    // The error of the estimate: none for the exact average, unknown for a single estimate.
    char error[48];
    if (opts_.exact)
      std::snprintf(error, sizeof error, "exact");
    else if (reps == 1)
      std::snprintf(error, sizeof error, "one estimate, no std. error");
    else
      std::snprintf(error, sizeof error, "+- %.2g", first.stderr_);
    // AugPen descends the penalised risk, whose E-perp block is Hess R^aug + gamma.
    double penalty = 0;
    if (run.strategy.mode == Mode::AugPen) penalty = run.strategy.penalty;
    const double judged = first.eigenvalue + penalty;
    char verdict[160];
    if (penalty > 0)
      std::snprintf(verdict, sizeof verdict, "penalised %.4g + %g = %.4g: %s", first.eigenvalue, penalty, judged,
                    analysis::stability(judged, std::max(first.stderr_, first.residual)).c_str());
    else
      std::snprintf(verdict, sizeof verdict, "%s",
                    analysis::stability(judged, std::max(first.stderr_, first.residual)).c_str());
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "  %s step %zu: |A-PA| %.3g; smallest on E %.4g; smallest on E-perp %.4g (%s; %s); "
                  "Hessian-vector products: %s on E, %s on E-perp; %.1f s\n",
                  run.strategy.name().c_str(), step, dist, eq.values.empty() ? NAN : eq.values[0], first.eigenvalue,
                  error, verdict, count(eq.products, eq.rough_products).c_str(),
                  count(perp.products, perp.products32).c_str(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    log_ << buf << std::flush;
  }

  /// hessian.json: what was computed, and how.
  json info() const {
    double penalty = 0.0;
    for (const auto& s : cfg_.train.strategies)
      if (s.mode == Mode::AugPen) {
        penalty = s.penalty;
        break;
      }
    return {{"program", program_info()},
            {"command", opts_.command_line},
            {"config", cfg_.json},
            {"run", opts_.run},
            {"steps", plan_.steps},
            {"k", opts_.k},
            {"hessian_aug",
             opts_.exact ? json("exact: every group element")
                         : json("monte carlo: " + std::to_string(opts_.samples) + " passes (an element per sample) x " +
                                std::to_string(opts_.repeats) + " independent repeats")},
            {"eq_on_E", "Hess R at Pi_E A_t restricted to E (= Hess R^eq there), in E's orthonormal coordinates"},
            {"aug_on_Eperp",
             "Hess R^aug at A_t restricted to E-perp; stderr from the repeats (for augpen, the penalised risk's "
             "E-perp block is this + penalty)"},
            {"penalty", penalty},
            {"lanczos_tol", opts_.tol},
            {"lanczos",
             {{"solver", opts_.spectra ? "spectra (implicitly restarted)" : "thick-restart block"},
              {"block_on_Eperp", perp_block_},
              {"products", plan_.mixed ? "mixed: float32 products build the basis, float64 products "
                                         "refine and certify the values and residuals"
                                       : "float64"},
              {"ncv", lanczos_.ncv}}},
            {"finished", io::utc_now_iso()}};
  }

  const io::ExperimentConfig& cfg_;
  const HessianOptions& opts_;
  std::ostream& log_;
  const bool show_;
  const HessianPlan plan_;
  const GroupPtr group_;
  const std::unique_ptr<ModelSpec> spec_;
  const Dataset data_;
  const std::size_t perp_block_;
  analysis::LanczosOptions lanczos_, lanczos_perp_;
  std::string working_;  // what is being computed, for the progress line
  std::chrono::steady_clock::time_point last_line_ = std::chrono::steady_clock::now();
  // Set by run() for its duration.
  ThreadPool* pool_ = nullptr;
  GradientEngine<double>* engine_ = nullptr;
  GradientEngine<float>* engine32_ = nullptr;
};

}  // namespace

std::vector<HessianRow> run_hessian(const io::ExperimentConfig& cfg, const HessianOptions& opts) {
  return HessianStudy(cfg, opts).run();
}

}  // namespace eqaug::experiment
