// eqaug — equivariance versus augmentation, the command line.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/io/config.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/report/report.hpp"

namespace {

struct RunArgs {
  std::string config;
  std::optional<std::size_t> runs, epochs, aug_passes, batch, threads, chunk;
  std::optional<std::uint64_t> seed;
  std::optional<double> lr;
  std::optional<std::string> aug_per, precision, equi_update, data_npy, init_weights;
  std::vector<std::string> modes;
  bool aug_exact = false;
  std::string out;
  bool force = false, resume = false, save_weights = false, no_report = false;
};

/// The table at `key`, created if absent; a non-table there is the config's error.
nlohmann::json& table(nlohmann::json& parent, const std::string& key, const std::string& where) {
  auto& t = parent[key];
  if (t.is_null()) t = nlohmann::json::object();
  if (!t.is_object()) throw eqaug::Error(where + ": expected a table, so the command-line override cannot apply");
  return t;
}

std::string absolute_dir(const std::string& option, const std::string& path) {
  if (path.empty()) throw eqaug::Error(option + ": empty path");
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

nlohmann::json apply_overrides(nlohmann::json j, const RunArgs& a, const std::string& source) {
  if (!j.is_object()) throw eqaug::Error(source + ": expected a table at the top level");
  auto& t = table(j, "train", source + ": train");
  if (a.runs) t["runs"] = *a.runs;
  if (a.epochs) t["epochs"] = *a.epochs;
  if (a.lr) t["lr"] = *a.lr;
  if (a.batch) t["batch"] = *a.batch;
  if (a.seed) t["seed"] = *a.seed;
  if (a.chunk) t["chunk"] = *a.chunk;
  if (a.precision) t["precision"] = *a.precision;
  if (!a.modes.empty()) t["modes"] = a.modes;
  if (a.aug_passes) table(t, "aug", source + ": train.aug")["passes"] = *a.aug_passes;
  if (a.aug_per) table(t, "aug", source + ": train.aug")["per"] = *a.aug_per;
  if (a.aug_exact) table(t, "aug", source + ": train.aug")["exact"] = true;
  if (a.equi_update) table(t, "equi", source + ": train.equi")["update"] = *a.equi_update;
  if (a.init_weights) t["init_weights"] = absolute_dir("--init-weights", *a.init_weights);
  if (a.data_npy) table(j, "data", source + ": data")["npy"] = absolute_dir("--data-npy", *a.data_npy);
  return j;
}

/// A finite real number > 0, with a message a person can read (CLI11's PositiveNumber
/// prints the whole range of double).
const CLI::Validator positive_real(
    [](std::string& value) -> std::string {
      try {
        std::size_t used = 0;
        const double x = std::stod(value, &used);
        if (used == value.size() && std::isfinite(x) && x > 0) return {};
      } catch (const std::exception&) {
      }
      return "expected a positive number, found '" + value + "'";
    },
    "POSITIVE");

/// Digits only: unsigned options must not take "-1" (it would wrap around).
const CLI::Validator whole_number(
    [](std::string& value) -> std::string {
      if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) return {};
      return "expected a non-negative whole number, found '" + value + "'";
    },
    "UINT");

std::string joined(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "eqaug: equivariant layers versus data augmentation (Nordenfors, Ohlsson, Flinth).\n"
      "Trains Nom, Aug and Equi models from one equivariant start and records how far each\n"
      "drifts from the equivariant subspace E.",
      "eqaug"};
  app.set_version_flag("--version", std::string("eqaug ") + EQAUG_VERSION);
  app.require_subcommand(1);

  RunArgs a;
  auto* run = app.add_subcommand("run", "Run a sweep of an experiment (a preset in configs/ or a .toml file)");
  run->add_option("config", a.config, "Preset name (perm) or path to a config .toml")->required();
  run->add_option("--runs", a.runs, "Independent runs (default: the config's train.runs; perm: 30)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  run->add_option("--epochs", a.epochs, "Gradient steps per run, one per full pass (default: train.epochs; perm: 50)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
  run->add_option("--aug-passes", a.aug_passes, "Augmentation passes L per step (default: train.aug.passes; perm: 25)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  run->add_option("--aug-per", a.aug_per, "One group element per 'sample' or per minibatch ('batch') (default: train.aug.per; perm: sample)")
      ->check(CLI::IsMember({"sample", "batch"}));
  run->add_flag("--aug-exact", a.aug_exact, "Aug descends the exact Haar average over all group elements (small groups only)");
  run->add_option("--lr", a.lr, "Learning rate eta (default: train.lr; perm: 1e-4)")->check(positive_real);
  run->add_option("--batch", a.batch, "Minibatch size: samples sharing one group element with --aug-per batch (default: train.batch; perm: 200)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}));
  run->add_option("--seed", a.seed, "Master seed of the data, init and augmentation streams (default: train.seed; perm: 0)")
      ->check(whole_number);
  run->add_option("--modes", a.modes, "Strategies to train, any of nom aug equi (default: train.modes; all three)")
      ->check(CLI::IsMember({"nom", "aug", "equi"}))
      ->delimiter(',');
  run->add_option("--precision", a.precision, "f32 (as the paper) or f64 (default: train.precision; perm: f32)")
      ->check(CLI::IsMember({"f32", "f64"}));
  run->add_option("--equi-update", a.equi_update,
                  "Equi update in the orthonormal 'orbit' coordinates (float64 master copy) or on the 'dense' "
                  "weights as the reference (default: train.equi.update; orbit)")
      ->check(CLI::IsMember({"orbit", "dense"}));
  run->add_option("--chunk", a.chunk, "Samples per matrix product (default: train.chunk; 500)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  run->add_option("--threads", a.threads, "Worker threads (default: all cores); results do not depend on it")
      ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));
  run->add_option("--data-npy", a.data_npy, "Read the graphs from DIR/graphmat{i}.npy and DIR/graphlabel{i}.npy (the authors' layout)");
  run->add_option("--init-weights", a.init_weights, "Start every strategy from DIR/A<j>.npy (projected onto E first)");
  run->add_flag("--save-weights", a.save_weights, "Write OUT/<mode>/run-<k>/{init,final}/A<j>.npy");
  run->add_option("--out", a.out, "Results directory (default: results/<config name>)");
  run->add_flag("--force", a.force, "Replace an existing results directory");
  run->add_flag("--resume", a.resume, "Continue an interrupted sweep in --out (same configuration required)");
  run->add_flag("--no-report", a.no_report, "Do not print the summary table and draw the figure at the end");

  std::string dims_config;
  auto* dims = app.add_subcommand("dims", "Dimensions of L and of the equivariant subspace E, layer by layer");
  dims->add_option("config", dims_config, "Preset name (perm) or path to a config .toml")->required();

  std::string report_dir;
  bool no_plot = false;
  auto* rep = app.add_subcommand("report", "Summary table and Figure-1 panel (PNG + SVG via gnuplot) of a results directory");
  rep->add_option("results", report_dir, "Results directory written by 'eqaug run'")->required();
  rep->add_flag("--no-plot", no_plot, "Only print the table and write summary.csv");

  if (argc == 1) {
    std::cout << app.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*run) {
      const auto file = eqaug::io::find_config(a.config);
      const auto json = apply_overrides(eqaug::io::load_toml(file), a, file.string());
      const auto cfg = eqaug::io::resolve(json, file.string());
      eqaug::experiment::SweepOptions opts;
      opts.out = a.out.empty() ? std::filesystem::path("results") / cfg.name : std::filesystem::path(a.out);
      opts.force = a.force;
      opts.resume = a.resume;
      opts.threads = a.threads.value_or(0);
      opts.save_weights = a.save_weights;
      opts.command_line = joined(argc, argv);
      opts.progress = &std::cerr;
      const auto summary = eqaug::experiment::run_sweep(cfg, opts);
      std::cerr << "sweep finished: " << summary.runs_done << " run(s) in " << summary.wall_s << " s";
      if (summary.runs_skipped) std::cerr << " (" << summary.runs_skipped << " already done)";
      std::cerr << "\n";
      if (!a.no_report) return eqaug::report::run_report(opts.out, std::cout, true);
      return 0;
    }
    if (*rep) return eqaug::report::run_report(report_dir, std::cout, !no_plot);
    if (*dims) {
      const auto file = eqaug::io::find_config(dims_config);
      const auto cfg = eqaug::io::resolve(eqaug::io::load_toml(file), file.string());
      const auto group = eqaug::io::build_group(cfg);
      const auto spec = eqaug::io::build_model(cfg, group);
      std::printf("%s: group %s\n%-6s %-22s %12s %8s %10s %12s\n", cfg.name.c_str(), group->name().c_str(), "layer",
                  "shape (Co,Ci,So,Si)", "dim L", "orbits", "dim E", "dim E/dim L");
      for (std::size_t j = 0; j < spec->linear_layers().size(); ++j) {
        const auto& l = spec->linear_layer(j);
        const std::string shape = "(" + std::to_string(l.out.channels) + "," + std::to_string(l.in.channels) + "," +
                                  std::to_string(l.out.sites) + "," + std::to_string(l.in.sites) + ")";
        std::printf("%-6s %-22s %12zu %8zu %10zu %12.4g\n", l.name.c_str(), shape.c_str(), l.count,
                    l.subspace->orbits().count(), l.subspace->dim(),
                    static_cast<double>(l.subspace->dim()) / static_cast<double>(l.count));
      }
      std::printf("%-6s %-22s %12zu %8s %10zu %12.4g\n", "total", "", spec->num_params(), "", spec->dim_E(),
                  static_cast<double>(spec->dim_E()) / static_cast<double>(spec->num_params()));
      return 0;
    }
  } catch (const eqaug::Error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "eqaug: error: out of memory: the model or data set is too large for this machine\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "eqaug: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
