#pragma once
// A sweep on disk: OUT/manifest.json plus OUT/<mode>/run-<k>.csv per run and strategy,
// every file written atomically. An existing results directory is refused unless
// --force (which replaces it) or --resume (which continues it: runs the manifest lists
// as finished are kept, everything else is redone with the same streams, so the
// result files equal those of an uninterrupted sweep).
#include <atomic>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/backend/device.hpp"
#include "eqaug/config/config.hpp"

namespace eqaug::experiment {

inline constexpr std::size_t kMaxThreads = 1024;

/// Where a sweep stands after one training step (SweepOptions::on_step).
struct StepProgress {
  std::string sweep;                // the configuration's name (a study's member: "<study>-<member>")
  std::size_t run = 0, runs = 0;    // this run (from 1) of the sweep's
  std::size_t step = 0, steps = 0;  // steps done of this run's (every strategy's, counted together)
  double seconds_per_step = 0;      // so far in this run
  double eta_run_s = 0, eta_sweep_s = 0;
};
using StepCallback = std::function<void(const StepProgress&)>;

struct SweepOptions {
  std::filesystem::path out;
  bool force = false;
  bool resume = false;
  std::size_t threads = 0;  // 0: all cores
  Device device;            // --device, --tf32
  // --shard k/n: this process runs the runs r ≡ k (mod n) into OUT, beside the processes of
  // the other shards (one per GPU, or a Slurm job array); they share the manifest.
  std::size_t shard = 0, shards = 1;
  bool save_weights = false;
  std::string command_line;
  std::ostream* progress = nullptr;  // where progress goes (stderr), or nowhere
  // Called after every training step, on the thread that trains (an embedding's progress bar).
  StepCallback on_step;
  // Raised (to a signal number) when the user asks to stop: the run in progress is
  // abandoned at the next chunk, finished runs stay on disk, the lock is released.
  const std::atomic<int>* stop = nullptr;
};

/// A sweep or study stopped through SweepOptions::stop.
struct Interrupted : std::exception {
  int signal = 0;
  std::size_t runs_done = 0, runs_total = 0;  // finished (now or before) of planned
  const char* what() const noexcept override { return "interrupted"; }
};

struct SweepSummary {
  std::size_t runs_done = 0, runs_skipped = 0;
  double wall_s = 0;
  /// Runs that diverged (trainer.hpp, Diverged), one line each: they are not saved, the
  /// manifest lists them under "diverged", and the command exits 1.
  std::vector<std::string> diverged;
  /// No run was saved and the folder this session created was removed (every run diverged).
  bool discarded = false;
};

SweepSummary run_sweep(const io::ExperimentConfig& cfg, const SweepOptions& opts);

/// What a sweep of `cfg` will hold in memory, from the shapes alone (nothing is built).
struct MemoryEstimate {
  double params = 0;          // weights of the linear layers
  double largest = 0;         // of the largest one
  std::string largest_layer;  // "model.layers[k]"
  double activations = 0;     // features per sample over the linear layers' outputs
  double per_param = 0;       // bytes per weight
  double bytes = 0;           // the whole estimate
};
MemoryEstimate estimate_memory(const io::ExperimentConfig& cfg);
/// Refuses (eqaug::Error naming the estimate, the largest layer and what to lower) a
/// configuration whose estimate exceeds the memory available now (MemAvailable).
void check_memory(const io::ExperimentConfig& cfg);

/// Where run `run` starts, as a sweep starts it: train.init_weights (projected onto E unless
/// train.start = "raw") where given, else the run's drawn A⁰. For the commands that follow one
/// run (hessian, minimum).
std::vector<double> run_start(const io::ExperimentConfig& cfg, const ModelSpec& spec, std::size_t run,
                              ThreadPool* pool = nullptr);

/// Unlinks the results folders' lock files this process holds exclusively; for a signal
/// handler that ends the process at once (async-signal-safe: unlink only).
void release_locks_for_exit() noexcept;

/// What a manifest records of this program: name, version, source revision (the git
/// commit it was built from, "-dirty" with local changes), compiler, build type and flags.
nlohmann::json program_info();

}  // namespace eqaug::experiment
