#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/experiment/study.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug run`: a sweep (or a study's sweeps), then its report.
class RunCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* run = sub_ = app.add_subcommand(
        "run", "Run a sweep of an experiment (a preset in configs/: perm, trans, rot, groups; or a .toml file)");
    run->add_option("config", a.config,
                    "Preset name (perm, trans, rot, groups), path to a config .toml, or a results folder (its "
                    "configuration); may be left out with --resume --out DIR, which continues DIR's sweep or study");
    run->add_option("--runs", a.runs, "Independent runs (default: the config's train.runs; perm: 30)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    run->add_option("--epochs", a.epochs, "Gradient steps per run, one per full pass (default: train.epochs; perm: 50)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
    run->add_option("--aug-passes", a.aug_passes,
                    "Augmentation passes L per step (default: train.aug.passes; perm: 25)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
    run->add_option("--aug-per", a.aug_per,
                    "One group element per 'sample' or per minibatch ('batch') (default: train.aug.per; perm: sample)")
        ->check(CLI::IsMember({"sample", "batch"}));
    aug_exact_opt_ = run->add_flag("--aug-exact", aug_exact_flag_,
                                   "Aug descends the exact Haar average over all group elements (small groups "
                                   "only); --aug-exact=false turns a config's exact = true off (default: "
                                   "train.aug.exact; false)");
    run->add_option("--lr", a.lr, "Learning rate eta (default: train.lr; perm: 1e-4)")->check(positive_real);
    run->add_option(
           "--batch", a.batch,
           "Minibatch size: samples sharing one group element with --aug-per batch (default: train.batch; perm: 200)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}));
    run->add_option("--seed", a.seed,
                    "Master seed of the data, init and augmentation streams (default: train.seed; perm: 0)")
        ->check(whole_number);
    run->add_option("--modes", a.modes,
                    "Strategies to train, a comma-separated list of nom, aug, equi, augpen, e.g. --modes nom,equi "
                    "(default: train.modes; nom,aug,equi)");
    run->add_option("--penalty", a.penalty,
                    "gamma of the augpen strategy: Aug plus gamma/2 |A - P_E A|^2, with Aug's draws; use with "
                    "--modes ...,augpen (default: train.penalty; 0)")
        ->check(positive_real);
    run->add_option("--weight-decay", a.weight_decay,
                    "lambda: every strategy descends R + lambda/2 |A|^2 (|A| is G-invariant, so E stays invariant); "
                    "the loss columns stay R (default: train.weight_decay; 0)")
        ->check(non_negative_real);
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
    run->add_option("--device", a.device,
                    "Where to compute: 'cpu', or 'cuda' / 'cuda:N' for a GPU (a build with CUDA; Equi then evaluates "
                    "dense layers) (default: cpu)");
    run->add_flag("--tf32", a.tf32,
                  "On a GPU, let cuBLAS round float32 products to TF32 on tensor cores: faster, but too coarse for "
                  "distances of 1e-6 to E; recorded in the manifest (default: off)");
    run->add_option("--shard", a.shard,
                    "k/n: run only the runs r with r mod n = k, into the same --out as the other shards (one process "
                    "per GPU, or a Slurm job array: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT); the last "
                    "shard to finish marks the sweep complete (default: all runs)");
    run->add_option("--set", a.sets,
                    "Set any config key, KEY=VALUE with a dotted path and a TOML value, e.g. --set train.lr=2e-5 "
                    "--set model.layers[0].channels=16 --set data.p=0.4; repeatable, applied after the file and "
                    "before the other options (default: none)")
        ->allow_extra_args(false);
    run->add_option(
        "--scale", a.scale,
        "Preset scale: 'full' (the paper's settings) or a [scales.<name>] table such as 'small' (default: full)");
    run->add_option(
        "--data-npy", a.data_npy,
        "Read the data from DIR: Perm: graphmat{i}.npy, graphlabel{i}.npy; Trans/Groups: images.npy (n,N,N) in "
        "[0,1] and labels.npy (n,); Rot: shpsimg{i}.npy, shpstrig{i}.npy, shpspent{i}.npy (the authors' layouts) "
        "(default: data.npy; none: the preset's own data)");
    run->add_option("--data-dir", a.data_dir,
                    "Image presets: DIR with the MNIST-format IDX files (t10k-images-idx3-ubyte[.gz], ...) instead of "
                    "Debian's Fashion-MNIST (default: data.dir, \"\" = /usr/share/datasets/fashion-mnist)");
    run->add_option(
           "--equi-eval", a.equi_eval,
           "Equi layers through E's structure ('structured': FFT convolutions, orbit pooling), on dense weights "
           "('dense', the oracle) or 'auto' = structured where a Fourier path exists (default: train.equi.eval; auto)")
        ->check(CLI::IsMember({"auto", "structured", "dense"}));
    run->add_option("--init-weights", a.init_weights,
                    "Start every strategy from DIR/A<j>.npy, projected onto E first (default: train.init_weights; "
                    "none: each run draws its own start)");
    run->add_option("--start", a.start,
                    "'projected': start every run at A0 projected onto E (the paper); 'raw': at the drawn or "
                    "--init-weights point as it is, off E (Equi starts at its projection) (default: train.start; "
                    "projected)")
        ->check(CLI::IsMember({"projected", "raw"}));
    run->add_flag("--save-weights", a.save_weights, "Write OUT/<mode>/run-<k>/{init,final}/A<j>.npy (default: off)");
    out_opt_ = run->add_option("--out", a.out, "Results directory (default: results/<config name>)");
    run->add_flag("--force", a.force, "Replace an existing results directory (default: off)");
    run->add_flag("--resume", a.resume,
                  "Continue an interrupted sweep in --out, same configuration required (default: off)");
    run->add_flag("--no-report", a.no_report,
                  "Do not print the summary table and draw the figure at the end (default: off: report)");
  }

  void validate() override {
    if (aug_exact_opt_->count() > 0) a.aug_exact = aug_exact_flag_;
    if (out_opt_->count() > 0 && a.out.empty())
      throw CLI::ValidationError("--out", "empty path (expected a results directory)");
  }

  int run(int argc, char** argv) override {
    if (a.config.empty()) {
      if (!a.resume || a.out.empty())
        throw eqaug::Error(
            "config: expected a preset name (perm, trans, rot, groups) or a .toml file; it may be left out only "
            "with --resume --out DIR, which continues DIR with the configuration it records");
      a.config = a.out;  // the results folder's own configuration
    }
    a.inline_config = io_.config;
    std::string source;
    const auto json = load_config(a, source);
    // A results folder's configuration: its weights setting unless given.
    if (!a.save_weights && std::filesystem::path(source).filename() == "manifest.json")
      a.save_weights = nlohmann::json::parse(eqaug::io::read_file(source)).value("save_weights", false);
    eqaug::experiment::SweepOptions opts;
    opts.force = a.force;
    opts.resume = a.resume;
    opts.threads = a.threads.value_or(0);
    opts.device = eqaug::parse_device(a.device);
    opts.device.tf32 = a.tf32;
    if (a.tf32 && !opts.device.cuda()) throw eqaug::Error("--tf32 applies to a GPU only (--device cuda)");
    if (a.shard) std::tie(opts.shard, opts.shards) = parse_shard(*a.shard);
    opts.save_weights = a.save_weights;
    opts.command_line = joined(argc, argv);
    opts.progress = &err();
    opts.stop = io_.stop;
    opts.on_step = io_.on_step;
    std::vector<std::string> diverged;
    if (!eqaug::io::study_members(json, source).empty()) {
      opts.out = a.out.empty() ? std::filesystem::path("results") / json.value("name", std::string("study"))
                               : std::filesystem::path(a.out);
      const auto summaries = eqaug::experiment::run_study(json, source, opts);
      std::size_t done = 0;
      for (const auto& s : summaries) {
        done += s.runs_done;
        diverged.insert(diverged.end(), s.diverged.begin(), s.diverged.end());
      }
      err() << "study finished: " << done << " run(s) in " << summaries.size() << " member(s)\n";
    } else {
      const auto cfg = eqaug::io::resolve(json, source);
      opts.out = a.out.empty() ? std::filesystem::path("results") / cfg.name : std::filesystem::path(a.out);
      const auto summary = eqaug::experiment::run_sweep(cfg, opts);
      err() << "sweep finished: " << summary.runs_done << " run(s) in " << summary.wall_s << " s";
      if (summary.runs_skipped) err() << " (" << summary.runs_skipped << " already done)";
      err() << "\n";
      diverged = summary.diverged;
      if (summary.discarded)
        err() << "no run was saved: " << opts.out.string() << " was removed (nothing half-written stays)\n";
    }
    if (io_.out_dir) *io_.out_dir = opts.out;
    const bool folder = std::filesystem::exists(opts.out);
    const int report = a.no_report || !folder ? 0 : eqaug::report::run_report(opts.out, out(), true);
    if (!diverged.empty()) {
      // Exit 1 (a result that could not be computed, not a wrong input).
      err() << "eqaug: error: " << diverged.size() << " run(s) diverged and were not saved (manifest.json, "
            << "\"diverged\"):\n";
      for (const auto& d : diverged) err() << "  " << d << "\n";
      return 1;
    }
    return report;
  }

 private:
  RunArgs a;
  bool aug_exact_flag_ = false;
  CLI::Option* aug_exact_opt_ = nullptr;
  CLI::Option* out_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> make_run_command() { return std::make_unique<RunCommand>(); }

}  // namespace eqaug::cli
