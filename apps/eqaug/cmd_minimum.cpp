#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/core/error.hpp"
#include "eqaug/experiment/minimum.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug minimum`: E's stability at an equivariant minimum A* (float64, exact Hessians).
class MinimumCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* cmd = sub_ = app.add_subcommand(
        "minimum",
        "Find an equivariant minimum A* (R minimised over E by L-BFGS and Newton-CG, float64), report the smallest "
        "eigenvalues of Hess R^eq on E and of the exact Hess R^aug on E-perp there, and where that is negative follow "
        "exact Aug and AugPen from A* + eps v-perp and sampled Aug from A*; writes OUT/minimum.json, optimizer.csv, "
        "growth.csv, astar/");
    cmd->add_option("config", a.config, "Preset name, path to a config .toml, or a results folder of 'eqaug run'")
        ->required();
    cmd->add_option("--run", o.run, "Whose initial point A0 starts the descent (default: 0)");
    cmd->add_option("--grad-tol", o.grad_tol, "Stop when |grad R^eq| (Frobenius) is at most this (default: 1e-8)")
        ->check(positive_real);
    cmd->add_option("--max-iter", o.max_iter, "L-BFGS iterations at most (default: 3000)");
    cmd->add_option("--newton", o.newton, "Newton-CG polishing steps at most (default: 30)");
    cmd->add_option("--k", o.k, "Eigenvalues on E and on E-perp (default: 4)")->check(CLI::Range(1, 64));
    cmd->add_option("--tol", o.tol, "Lanczos relative tolerance (default: 1e-8)")->check(positive_real);
    cmd->add_option("--eps", o.eps, "The perturbation off A*: eps |A*| along v-perp (default: 1e-6)")
        ->check(positive_real);
    cmd->add_option("--follow", o.follow,
                    "Steps of the trajectories (default: ceil(3 / (eta |lambda-perp|)), at most --max-follow)");
    cmd->add_option("--max-follow", o.max_follow, "Cap of the default --follow (default: 3000)");
    cmd->add_option("--lr", o.lr, "eta of the trajectories (default: train.lr)")->check(positive_real);
    cmd->add_option("--penalty", o.penalty, "gamma of AugPen (default: 2 |lambda-perp|)")->check(positive_real);
    cmd->add_option("--weight-decay", a.weight_decay,
                    "lambda: minimise R + lambda/2 |A|^2 (an interior minimum where R alone has none); the Hessians "
                    "and trajectories include it (default: train.weight_decay; 0)")
        ->check(non_negative_real);
    cmd->add_option("--scale", a.scale, "Preset scale: full or small (default: full)");
    cmd->add_option("--set", a.sets, "As for run: KEY=VALUE for any config key (default: none)")
        ->allow_extra_args(false);
    cmd->add_option("--aug-passes", a.aug_passes, "As for run: L of the sampled Aug trajectory (default: train's)");
    cmd->add_option("--seed", a.seed, "As for run (default: train.seed)")->check(whole_number);
    cmd->add_option("--data-dir", a.data_dir, "As for run");
    cmd->add_option("--data-npy", a.data_npy, "As for run");
    cmd->add_option("--out", out_dir_, "Output folder (default: results/minimum-<config name>)");
    cmd->add_flag("--force", o.force, "Replace an existing OUT/minimum.json (default: off)");
    cmd->add_flag("--no-plot", no_plot_, "Do not draw OUT/figure.png of the trajectories (default: off: draw it)");
    cmd->add_option("--threads", o.threads, "Worker threads (default: all cores); results do not depend on it")
        ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));
  }

  int run(int argc, char** argv) override {
    a.precision = "f64";
    std::string source;
    const auto cfg = eqaug::io::resolve(load_config(a, source), source);
    o.out =
        out_dir_.empty() ? std::filesystem::path("results") / ("minimum-" + cfg.name) : std::filesystem::path(out_dir_);
    o.command_line = joined(argc, argv);
    o.progress = &err();
    const auto r = eqaug::experiment::run_minimum(cfg, o);
    out() << "wrote " << (o.out / "minimum.json").string() << ", optimizer.csv" << (r.follow ? ", growth.csv" : "")
          << ", astar/\n";
    // The trajectories' figure (growth.csv); `eqaug report OUT` draws it again.
    if (r.follow && !no_plot_) eqaug::report::run_report(o.out, out(), true);
    return r.reached ? 0 : 1;
  }

 private:
  RunArgs a;
  eqaug::experiment::MinimumOptions o;
  std::string out_dir_;
  bool no_plot_ = false;
};

}  // namespace

std::unique_ptr<Command> make_minimum_command() { return std::make_unique<MinimumCommand>(); }

}  // namespace eqaug::cli
