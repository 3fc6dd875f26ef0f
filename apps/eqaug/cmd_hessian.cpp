#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/core/error.hpp"
#include "eqaug/experiment/hessian.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug hessian`: spectra of the Hessians on E and E-perp along augmented trajectories.
class HessianCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* hesscmd = sub_ = app.add_subcommand(
        "hessian",
        "Along augmented trajectories (float64): the smallest eigenvalues of Hess R^eq on E and of Hess R^aug on "
        "E-perp by Lanczos on exact Hessian-vector products, with residuals and standard errors, and whether E is "
        "linearly stable; writes OUT/hessian.csv and a figure");
    hesscmd
        ->add_option("config", hs.config,
                     "Preset name, path to a config .toml, or a results folder of 'eqaug run' (its configuration)")
        ->required();
    hesscmd->add_option("--steps", hessian_steps,
                        "Comma-separated steps of the trajectory, e.g. 0,10,50 (default: 0 and the last step)");
    hesscmd->add_option("--modes", hs.modes, "Trajectories: aug and/or augpen, comma-separated (default: aug)");
    hesscmd->add_option("--k", hopt.k, "Eigenvalues per operator (default: 5)")->check(CLI::Range(1, 100));
    hesscmd
        ->add_option("--hessian-samples", hopt.samples,
                     "M: random passes (a group element per sample) per Monte-Carlo Hess R^aug (default: 25)")
        ->check(CLI::Range(1, 100000));
    hesscmd
        ->add_option("--repeats", hopt.repeats,
                     "Independent Monte-Carlo estimates of Hess R^aug, for the standard errors (default: 3)")
        ->check(CLI::Range(1, 1000));
    hesscmd->add_flag("--hessian-exact", hopt.exact,
                      "Hess R^aug as the exact average over every group element (small groups) (default: off)");
    hesscmd->add_option("--run", hopt.run, "Whose initial point A0 (run index of the sweep) (default: 0)");
    hesscmd->add_option("--tol", hopt.tol, "Lanczos relative tolerance (default: 1e-8)")->check(positive_real);
    hesscmd
        ->add_option("--ncv", hopt.ncv,
                     "Lanczos basis size, at least 2k + 10 (default: 300, fewer where 2 ncv parameter vectors would "
                     "take over a quarter of the free memory; 40 with --spectra)")
        ->check(CLI::Range(2, 10000));
    hesscmd
        ->add_option("--block", hopt.block,
                     "Vectors per Hessian product on E-perp (block Lanczos): more than 1 resolves eigenvalues that "
                     "come in multiplets, as the exact Hess R^aug's do at A in E (default: k with --hessian-exact, "
                     "else 1)")
        ->check(CLI::Range(1, 64));
    hesscmd
        ->add_option("--products", hopt.products,
                     "Hessian-vector products: mixed (float32 ones, at half the cost, build the Lanczos basis until "
                     "the k pairs meet --tol or float32's accuracy; float64 ones then start from those vectors and "
                     "certify every value and residual; needs --tol 1e-7 or more) or f64 (all float64) (default: "
                     "mixed where --tol is 1e-7 or more, else f64; f64 with --spectra)")
        ->check(CLI::IsMember({"mixed", "f64"}));
    hesscmd->add_flag("--spectra", hopt.spectra,
                      "Spectra's implicitly restarted Lanczos instead of the thick-restart solver, as a cross-check "
                      "(default: off)");
    hesscmd->add_option("--scale", hs.scale, "Preset scale: full or small (default: full)");
    hesscmd->add_option("--set", hs.sets, "As for run: KEY=VALUE for any config key (default: none)")
        ->allow_extra_args(false);
    hesscmd->add_option("--epochs", hs.epochs, "As for run (default: train.epochs)");
    hesscmd->add_option("--lr", hs.lr, "As for run (default: train.lr)")->check(positive_real);
    hesscmd->add_option("--aug-passes", hs.aug_passes, "As for run: the trajectory's L (default: train.aug.passes)");
    aug_exact_opt_ = hesscmd->add_flag("--aug-exact", aug_exact_flag_,
                                       "As for run: the trajectory by exact augmentation (default: off)");
    hesscmd->add_option("--penalty", hs.penalty, "As for run: gamma of augpen (default: train.penalty)");
    hesscmd
        ->add_option("--weight-decay", hs.weight_decay,
                     "As for run: lambda/2 |A|^2 in the trajectories' objective; every eigenvalue then includes "
                     "its + lambda (default: train.weight_decay; 0)")
        ->check(non_negative_real);
    hesscmd->add_option("--seed", hs.seed, "As for run (default: train.seed)")->check(whole_number);
    hesscmd->add_option("--data-dir", hs.data_dir, "As for run");
    hesscmd->add_option("--data-npy", hs.data_npy, "As for run");
    hesscmd->add_option("--out", hessian_out, "Output folder (default: results/hessian-<config name>)");
    hesscmd->add_flag("--force", hopt.force, "Replace an existing OUT/hessian.csv (default: off)");
    hesscmd->add_option("--threads", hopt.threads, "Worker threads (default: all cores); results do not depend on it")
        ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));
    hesscmd->add_flag("--no-plot", hessian_no_plot, "Only the table and the CSV (default: off: draw the figure)");
  }

  int run(int argc, char** argv) override {
    hs.precision = "f64";
    if (aug_exact_opt_->count() > 0) hs.aug_exact = aug_exact_flag_;
    if (!hs.modes) hs.modes = "aug";
    hs.inline_config = io_.config;
    std::string source;
    const auto cfg = eqaug::io::resolve(load_config(hs, source), source);
    for (std::string rest = hessian_steps; !rest.empty();) {
      const auto comma = rest.find(',');
      const std::string item = rest.substr(0, comma);
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
        throw eqaug::Error("--steps: expected comma-separated step numbers such as 0,10,50, got '" + hessian_steps +
                           "'");
      hopt.steps.push_back(std::stoul(item));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    hopt.out = hessian_out.empty() ? std::filesystem::path("results") / ("hessian-" + cfg.name)
                                   : std::filesystem::path(hessian_out);
    hopt.command_line = joined(argc, argv);
    hopt.progress = &err();
    if (io_.out_dir) *io_.out_dir = hopt.out;
    eqaug::experiment::run_hessian(cfg, hopt);
    eqaug::report::run_report(hopt.out, out(), !hessian_no_plot);
    return 0;
  }

 private:
  RunArgs hs;
  eqaug::experiment::HessianOptions hopt;
  std::string hessian_steps, hessian_out;
  bool hessian_no_plot = false;
  bool aug_exact_flag_ = false;
  CLI::Option* aug_exact_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> make_hessian_command() { return std::make_unique<HessianCommand>(); }

}  // namespace eqaug::cli
