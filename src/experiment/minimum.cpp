#include "eqaug/experiment/minimum.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "eqaug/analysis/hessian.hpp"
#include "eqaug/analysis/spectra.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/experiment/hessian.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::experiment {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}
double norm(const std::vector<double>& a) { return std::sqrt(dot(a, a)); }
// y += t x
void axpy(double t, const std::vector<double>& x, std::vector<double>& y) {
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += t * x[i];
}

/// R restricted to E, in E's orthonormal coordinates c (A = B c): its value, gradient
/// Bᵀ∇R(A) (whose norm is ‖Π_E ∇R‖) and Hessian Bᵀ∇²R B, by the engine's exact passes.
class RiskOnE {
 public:
  /// `weight_decay` λ adds λ/2 ‖A‖² = λ/2 ‖c‖² (B has orthonormal columns) to R.
  RiskOnE(const ModelSpec& spec, GradientEngine<double>& engine, ThreadPool& pool, double weight_decay)
      : spec_(spec), engine_(engine), pool_(pool), a_(spec.num_params()), wd_(weight_decay) {}

  double value_grad(const std::vector<double>& c, std::vector<double>* gc) {
    spec_.from_coords(c.data(), a_.data(), &pool_);
    const Pass identity;
    auto r = engine_.run({{a_.data(), &identity, gc != nullptr, 0}}, 1)[0];
    const double n = static_cast<double>(r.samples);
    if (gc) {
      for (double& g : r.grad) g /= n;
      *gc = spec_.to_coords(r.grad.data(), &pool_);
      engine_.recycle(std::move(r.grad));
      if (wd_ > 0) axpy(wd_, c, *gc);
    }
    ++evaluations_;
    return r.stats.loss_sum / n + (wd_ > 0 ? 0.5 * wd_ * dot(c, c) : 0.0);
  }

  /// Bᵀ H B x at c (H of the un-augmented risk).
  analysis::SymmetricOperator hessian_at(const std::vector<double>& c) {
    at_.resize(spec_.num_params());
    spec_.from_coords(c.data(), at_.data(), &pool_);
    return analysis::risk_hessian(engine_, at_, nominal_);  // reads at_ by reference
  }
  std::vector<double> apply(const analysis::SymmetricOperator& H, const std::vector<double>& x) {
    std::vector<double> w(spec_.num_params()), hw(spec_.num_params());
    spec_.from_coords(x.data(), w.data(), &pool_);
    H(w.data(), hw.data(), 1);
    ++products_;
    auto y = spec_.to_coords(hw.data(), &pool_);
    if (wd_ > 0) axpy(wd_, x, y);
    return y;
  }
  std::size_t evaluations() const { return evaluations_; }
  std::size_t products() const { return products_; }

 private:
  const ModelSpec& spec_;
  GradientEngine<double>& engine_;
  ThreadPool& pool_;
  std::vector<double> a_, at_;
  double wd_;
  const std::vector<Pass> nominal_ = std::vector<Pass>(1);
  std::size_t evaluations_ = 0, products_ = 0;
};

struct TraceRow {
  std::string phase;
  std::size_t iteration;
  double loss, grad_norm, step;
};

/// Backtracking (Armijo, c₁ = 10⁻⁴) along d from x; false when 40 halvings find no decrease.
bool line_search(RiskOnE& f, std::vector<double>& x, double& fx, std::vector<double>& g, const std::vector<double>& d,
                 double t, double& taken) {
  const double slope = dot(g, d);
  std::vector<double> xt(x.size()), gt;
  for (int i = 0; i < 40; ++i, t /= 2) {
    xt = x;
    axpy(t, d, xt);
    const double ft = f.value_grad(xt, &gt);
    if (std::isfinite(ft) && ft <= fx + 1e-4 * t * slope) {
      x = std::move(xt);
      fx = ft;
      g = std::move(gt);
      taken = t;
      return true;
    }
  }
  return false;
}

}  // namespace

MinimumResult run_minimum(const io::ExperimentConfig& cfg, const MinimumOptions& opts) {
  if (cfg.precision != io::Precision::F64) throw Error("eqaug minimum works in float64 (train.precision = \"f64\")");
  if (opts.run >= cfg.runs)
    throw Error("--run " + std::to_string(opts.run) + ": the configuration has " + std::to_string(cfg.runs) + " runs");
  if (!(opts.grad_tol > 0)) throw Error("--grad-tol: expected a positive number");
  std::ostream& log = opts.progress ? *opts.progress : std::clog;
  const bool show = opts.progress != nullptr;
  io::require_one_model(cfg, "minimum");
  const auto group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  const auto data = io::build_data(cfg, *group);
  const auto order = group->order();
  if (!order || *order > kMaxExactOrder)
    throw Error(group->name() +
                ": eqaug minimum needs the exact augmented Hessian (every group element); the group "
                "is too large for it");
  if (fs::exists(opts.out / "manifest.json"))
    throw Error("--out: '" + opts.out.string() + "' holds a sweep (manifest.json); choose a folder of its own");
  if (fs::exists(opts.out / "minimum.json") && !opts.force)
    throw Error("'" + (opts.out / "minimum.json").string() + "' already exists; pass --force to replace it");
  io::create_output_dir(opts.out, "--out");

  ThreadPool pool(opts.threads ? opts.threads : ThreadPool::available_cores());
  const blas::ThreadsGuard serial_blas(1);
  GradientEngine<double> engine(*spec, data, cfg.json.at("data").value("input_shift", 0.0), cfg.chunk, pool);
  const double wd = cfg.train.weight_decay;
  RiskOnE f(*spec, engine, pool, wd);
  MinimumResult res;
  std::vector<TraceRow> trace;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_line = t0;
  const auto note = [&](const TraceRow& r, bool force_line) {
    trace.push_back(r);
    const auto now = std::chrono::steady_clock::now();
    if (!show || (!force_line && std::chrono::duration<double>(now - last_line).count() < 10)) return;
    last_line = now;
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %s %zu: R %.10g, |grad R^eq| %.3g (%.0f s)\n", r.phase.c_str(), r.iteration,
                  r.loss, r.grad_norm, std::chrono::duration<double>(now - t0).count());
    log << buf << std::flush;
  };

  // A⁰ of the run (or train.init_weights), in E's coordinates.
  auto a0 = run_start(cfg, *spec, opts.run, &pool);
  if (cfg.train.raw_start) spec->project(a0.data(), &pool);  // the descent is over E
  std::vector<double> x = spec->to_coords(a0.data(), &pool), g;
  double fx = f.value_grad(x, &g);
  res.grad_norm0 = norm(g);
  if (show)
    log << cfg.name << ": minimising R" << (wd > 0 ? " + " + io::csv_number(wd) + "/2 |A|^2" : std::string())
        << " over E (dim E = " << spec->dim_E() << ") from "
        << (cfg.init_weights.empty() ? "run " + std::to_string(opts.run) + "'s A0" : cfg.init_weights)
        << "; stop at |grad R^eq| <= " << opts.grad_tol << "\n";
  note({"start", 0, fx, norm(g), 0}, true);

  // L-BFGS, memory 10.
  std::deque<std::vector<double>> S, Y;
  for (std::size_t it = 1; it <= opts.max_iter && norm(g) > opts.grad_tol; ++it) {
    std::vector<double> q = g;
    std::vector<double> alpha(S.size());
    for (std::size_t i = S.size(); i-- > 0;) {
      alpha[i] = dot(S[i], q) / dot(Y[i], S[i]);
      axpy(-alpha[i], Y[i], q);
    }
    if (!S.empty()) {
      const double gamma = dot(S.back(), Y.back()) / dot(Y.back(), Y.back());
      for (double& v : q) v *= gamma;
    }
    for (std::size_t i = 0; i < S.size(); ++i) axpy(alpha[i] - dot(Y[i], q) / dot(Y[i], S[i]), S[i], q);
    std::vector<double> d(q.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = -q[i];
    double t = 1;
    if (dot(d, g) >= 0 || S.empty()) {  // not a descent direction, or the first step: steepest descent
      S.clear();
      Y.clear();
      for (std::size_t i = 0; i < d.size(); ++i) d[i] = -g[i];
      t = std::min(1.0, 0.1 / std::max(norm(g), 1e-300));  // a first step of length ≤ 0.1
    }
    const std::vector<double> x_old = x, g_old = g;
    double taken = 0;
    if (!line_search(f, x, fx, g, d, t, taken)) break;
    std::vector<double> s = x, y = g;
    axpy(-1, x_old, s);
    axpy(-1, g_old, y);
    if (dot(s, y) > 1e-12 * norm(s) * norm(y)) {
      S.push_back(std::move(s));
      Y.push_back(std::move(y));
      if (S.size() > 10) {
        S.pop_front();
        Y.pop_front();
      }
    }
    res.lbfgs_iterations = it;
    note({"lbfgs", it, fx, norm(g), taken}, false);
  }

  // Newton–CG polishing on exact Hessian-vector products.
  for (std::size_t k = 1; k <= opts.newton && norm(g) > opts.grad_tol; ++k) {
    const auto H = f.hessian_at(x);
    // CG on H δ = −g, stopped at relative residual min(0.1, ‖g‖) or on negative curvature.
    std::vector<double> delta(x.size(), 0.0), r = g, p;
    for (double& v : r) v = -v;
    p = r;
    double rr = dot(r, r);
    const double stop = std::min(0.1, std::sqrt(norm(g))) * norm(g);
    for (std::size_t it = 0; it < 500 && std::sqrt(rr) > stop; ++it) {
      const auto hp = f.apply(H, p);
      const double curv = dot(p, hp);
      if (curv <= 0) {
        if (it == 0) delta = p;  // negative curvature at once: descend along −g
        break;
      }
      const double a = rr / curv;
      axpy(a, p, delta);
      axpy(-a, hp, r);
      const double rr_new = dot(r, r);
      for (std::size_t i = 0; i < p.size(); ++i) p[i] = r[i] + rr_new / rr * p[i];
      rr = rr_new;
    }
    double taken = 0;
    if (!line_search(f, x, fx, g, delta, 1.0, taken)) break;
    res.newton_steps = k;
    note({"newton", k, fx, norm(g), taken}, true);
  }
  res.loss = fx;
  res.grad_norm = norm(g);
  res.reached = res.grad_norm <= opts.grad_tol;
  std::vector<double> astar(spec->num_params());
  spec->from_coords(x.data(), astar.data(), &pool);
  io::save_layer_weights(opts.out / "astar", *spec, astar);
  if (show) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "A*: R %.10g, |grad R^eq| %.3g (from %.3g; %s the tolerance %.1g) after %zu L-BFGS and %zu "
                  "Newton steps\n",
                  res.loss, res.grad_norm, res.grad_norm0, res.reached ? "within" : "NOT within", opts.grad_tol,
                  res.lbfgs_iterations, res.newton_steps);
    log << buf << std::flush;
  }

  // The curvatures at A*.
  analysis::LanczosOptions lanczos;
  lanczos.tol = opts.tol;
  lanczos.ncv = lanczos_basis(spec->num_params(), opts.k, opts.k, false, analysis::available_memory_bytes());
  const std::vector<Pass> nominal(1);
  const auto eq = analysis::smallest_on_E(*spec, analysis::risk_hessian(engine, astar, nominal), opts.k, lanczos);
  // The weight decay adds λ I to both Hessians: the same eigenvectors, each value + λ.
  res.eq_on_E = eq.values;
  for (double& v : res.eq_on_E) v += wd;
  res.eq_residuals = eq.residuals;
  Strategy exact;
  exact.mode = Mode::Aug;
  exact.exact = true;
  Rng rng(0);  // exact passes draw nothing
  const auto passes = augmentation_passes(exact, *group, data, rng, &pool);
  auto perp_opts = lanczos;
  perp_opts.block = opts.k;  // multiplets (the exact ∇²R^aug at A* ∈ E commutes with G)
  perp_opts.vectors = 1;
  const auto perp =
      analysis::smallest_on_E_perp(*spec, analysis::risk_hessian(engine, astar, passes), opts.k, perp_opts);
  res.perp = perp.values;
  for (double& v : res.perp) v += wd;
  res.perp_residuals = perp.residuals;
  const double lambda = res.perp.empty() ? NAN : res.perp[0];
  if (show) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  smallest of Hess R^eq on E: %.6g (%s); smallest of the exact Hess R^aug on E-perp: %.6g "
                  "(residual %.2g): E is %s at A*\n",
                  res.eq_on_E.empty() ? NAN : res.eq_on_E[0],
                  !res.eq_on_E.empty() && res.eq_on_E[0] > 0 ? "positive definite: a strict local minimum"
                                                             : "not positive definite",
                  lambda, perp.residuals.empty() ? NAN : perp.residuals[0],
                  lambda < -(perp.residuals.empty() ? 0 : perp.residuals[0]) ? "linearly unstable" : "stable");
    log << buf << std::flush;
  }

  // Where unstable: the trajectories off A*.
  res.lr = opts.lr > 0 ? opts.lr : cfg.train.lr;
  if (lambda < 0 && !perp.vectors.empty()) {
    const double rate = res.lr * std::abs(lambda);
    res.follow = opts.follow ? opts.follow
                             : std::min<std::size_t>(opts.max_follow, static_cast<std::size_t>(std::ceil(3 / rate)));
    res.penalty = opts.penalty > 0 ? opts.penalty : 2 * std::abs(lambda);
    const double scale = opts.eps * norm(astar);
    std::vector<double> start = astar;
    for (std::size_t i = 0; i < start.size(); ++i) start[i] += scale * perp.vectors[0][i];
    TrainOptions t = cfg.train;
    t.metrics.clear();
    t.epochs = res.follow;
    t.lr = res.lr;
    t.raw_start = true;
    t.keep_final_params = false;
    t.snapshot_steps.clear();
    Strategy pen = exact;
    pen.mode = Mode::AugPen;
    pen.penalty = res.penalty;
    t.strategies = {exact, pen};
    if (show)
      log << "  following exact Aug and AugPen (gamma " << res.penalty << ") from A* + " << opts.eps
          << " |A*| v-perp, and sampled Aug from A*, for " << res.follow << " steps of eta " << res.lr << "\n";
    // A line every 10 s: thousands of exact steps take minutes.
    const auto follow_start = std::chrono::steady_clock::now();
    auto follow_line = follow_start;
    const auto following = [&](const char* what) {
      return [&, what](std::size_t step, const std::vector<StrategyRun>& runs) {
        const auto now = std::chrono::steady_clock::now();
        if (!show || std::chrono::duration<double>(now - follow_line).count() < 10) return;
        follow_line = now;
        const double elapsed = std::chrono::duration<double>(now - follow_start).count();
        char buf[200];
        std::snprintf(buf, sizeof buf, "    %s: step %zu/%zu, |A - P_E A| %.4g (%.0f s)\n", what, step, res.follow,
                      runs[0].records.back().dist_E, elapsed);
        log << buf << std::flush;
      };
    };
    const auto perturbed = Trainer<double>(engine, t).run(opts.run, start, following("exact Aug and AugPen"));
    Strategy sampled;
    for (const auto& s : cfg.train.strategies)
      if (s.mode == Mode::Aug) sampled = s;
    sampled.mode = Mode::Aug;
    sampled.exact = false;
    t.strategies = {sampled};
    const auto noisy = Trainer<double>(engine, t).run(opts.run, astar, following("sampled Aug"));
    for (const auto& r : perturbed[0].records) res.aug_exact.push_back(r.dist_E);
    for (const auto& r : perturbed[1].records) res.augpen_exact.push_back(r.dist_E);
    for (const auto& r : noisy[0].records) res.aug_sampled.push_back(r.dist_E);
    std::string csv = "step,aug_exact,aug_exact_linear,augpen_exact,augpen_linear,aug_sampled\n";
    const double d0 = res.aug_exact.empty() ? 0 : res.aug_exact[0];
    for (std::size_t s = 0; s <= res.follow; ++s) {
      const double ts = static_cast<double>(s);
      csv += std::to_string(s) + "," + io::csv_number(res.aug_exact[s]) + "," +
             io::csv_number(d0 * std::pow(1 + rate, ts)) + "," + io::csv_number(res.augpen_exact[s]) + "," +
             io::csv_number(d0 * std::pow(1 - res.lr * (res.penalty - std::abs(lambda)), ts)) + "," +
             io::csv_number(res.aug_sampled[s]) + "\n";
    }
    io::write_file_atomic(opts.out / "growth.csv", csv);
  }

  std::string tcsv = "phase,iteration,loss,grad_norm,step\n";
  for (const auto& r : trace)
    tcsv += r.phase + "," + std::to_string(r.iteration) + "," + io::csv_number(r.loss) + "," +
            io::csv_number(r.grad_norm) + "," + io::csv_number(r.step) + "\n";
  io::write_file_atomic(opts.out / "optimizer.csv", tcsv);
  const json info = {
      {"program", program_info()},
      {"command", opts.command_line},
      {"config", cfg.json},
      {"run", opts.run},
      {"what",
       "A* minimises R (plus weight_decay/2 |A|^2 where set) over E (L-BFGS, then Newton-CG on exact Hessian-vector "
       "products, in E's orthonormal "
       "coordinates); loss: that objective at A*; eq_on_E: smallest eigenvalues of Hess R^eq at A* on E; "
       "aug_on_Eperp: of the exact Hess R^aug "
       "(every group element) on E-perp; growth.csv: |A - P_E A| of exact Aug and AugPen from A* + eps |A*| v-perp "
       "and of sampled Aug from A*, beside (1 + eta |lambda|)^t and (1 - eta (gamma - |lambda|))^t"},
      {"grad_tol", opts.grad_tol},
      {"weight_decay", wd},
      {"loss", res.loss},
      {"grad_norm", res.grad_norm},
      {"grad_norm_at_A0", res.grad_norm0},
      {"reached", res.reached},
      {"lbfgs_iterations", res.lbfgs_iterations},
      {"newton_steps", res.newton_steps},
      {"risk_evaluations", f.evaluations()},
      {"eq_on_E", res.eq_on_E},
      {"eq_on_E_residuals", res.eq_residuals},
      {"aug_on_Eperp", res.perp},
      {"aug_on_Eperp_residuals", res.perp_residuals},
      {"lanczos_tol", opts.tol},
      {"eps", opts.eps},
      {"follow", res.follow},
      {"lr", res.lr},
      {"penalty", res.penalty},
      {"norm_astar", norm(astar)}};
  io::write_file_atomic(opts.out / "minimum.json", info.dump(2) + "\n");
  return res;
}

}  // namespace eqaug::experiment
