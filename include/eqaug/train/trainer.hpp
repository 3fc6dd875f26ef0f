#pragma once
// Full-batch gradient descent for several strategies from one shared start A⁰ ∈ E,
// in lockstep, one step per epoch (docs/reference.md), recording after every step.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {

struct TrainOptions {
  std::size_t epochs = 50;
  double lr = 1e-4;
  // λ of the weight decay λ/2 ‖A‖² added to every strategy's objective (0: none). ‖A‖ is
  // G-invariant, so E stays invariant under every flow; the recorded losses stay the data
  // risk R without it.
  double weight_decay = 0;
  std::uint64_t seed = 0;
  std::vector<Strategy> strategies;
  bool keep_final_params = true;  // fill StrategyRun::final_params (needs memory: double per parameter)
  // The start A⁰ may lie off E (--start raw): Nom and Aug start there; Equi, which lives
  // in E, starts at Π_E A⁰ and measures its travel from there.
  bool raw_start = false;
  // Steps at which StrategyRun::snapshots keeps the parameters (in double): the points of a
  // trajectory that `eqaug hessian` examines.
  std::vector<std::size_t> snapshot_steps;
  // Per-step metrics by name (train/metrics.hpp), computed for every strategy after every
  // step; K, the group elements those that draw them use.
  std::vector<std::string> metrics;
  std::size_t metric_samples = 8;
};

/// The state after `step` steps.
struct EpochRecord {
  std::size_t step = 0;
  double loss = 0, accuracy = 0;                               // risk and accuracy on the un-augmented data
  double loss_aug = std::numeric_limits<double>::quiet_NaN();  // the augmented risk descended (Aug)
  double dist_init = 0, dist_E = 0;                            // over all layers
  std::vector<double> dist_init_layer, dist_E_layer;
  std::vector<double> metrics;  // the columns of TrainOptions::metrics, in order
};

/// The columns of the metrics named in `opts` for a model, in record order.
std::vector<std::string> metric_columns(const TrainOptions& opts, const ModelSpec& spec);

/// Where a strategy's time went over a run, in seconds of wall time.
struct PhaseSeconds {
  double passes = 0;     // drawing the augmentation passes (group elements and their tables)
  double gradients = 0;  // GradientEngine::run: risks and gradients, on the CPU or the GPU
  double measures = 0;   // distances to E and to A⁰ (and the snapshots)
  double updates = 0;    // the step: scaling, penalty, projection or E coordinates, A −= ηg
};

struct StrategyRun {
  Strategy strategy;
  PhaseSeconds seconds;
  std::vector<EpochRecord> records;
  std::vector<double> final_params;
  std::vector<std::pair<std::size_t, std::vector<double>>> snapshots;  // (step, A at that step)
  /// How the layers were evaluated: "dense" per layer, or the Equi op kinds.
  std::vector<std::string> layer_eval;
  /// The first step whose risk exceeded kLossGrowth times the risk at A⁰ (a warning: the
  /// step is likely too large), or none.
  std::optional<std::size_t> loss_grew_at;
};

/// A risk this many times the risk at A⁰ (an order of magnitude more) is reported
/// (StrategyRun::loss_grew_at).
inline constexpr double kLossGrowth = 10;

/// A strategy's risk or weights stopped being finite: the run cannot go on. Thrown by
/// Trainer::run at the first such step (the step is recorded, the run's results are not).
class Diverged : public RuntimeFailure {
 public:
  Diverged(std::string mode, std::size_t step, double loss, bool weights);
  std::string mode;  // the strategy's name
  std::size_t step;  // the first step whose record is not finite
  double loss;       // its risk (NaN or ±inf, or finite where only the weights are not)
  bool weights;      // the weights (their distances), not only the risk, are not finite
};

/// Whether an Equi strategy evaluates its layers through E's structure on this engine.
template <typename T>
bool uses_structured_equi(const Strategy& s, const GradientEngine<T>& engine);

/// A⁰ for run `run`: each layer drawn by its InitSpec from the stream (seed, "init", run),
/// then projected onto E (unless `project` is false: --start raw), on `pool` where given.
std::vector<double> initial_point(const ModelSpec& spec, std::uint64_t seed, std::size_t run, bool project = true,
                                  ThreadPool* pool = nullptr);

/// Stream of a run's augmentation draws at one step; keyed by the mode, not its position
/// in the list, so Aug draws the same elements whichever other strategies run beside it.
Rng augmentation_rng(std::uint64_t seed, std::size_t run, std::size_t step, Mode mode);

/// Largest group whose exact average (one pass per element) we attempt.
inline constexpr std::uint64_t kMaxExactOrder = 100'000;

template <typename T>
class Trainer {
 public:
  Trainer(GradientEngine<T>& engine, TrainOptions opts);
  /// Called after each recorded step with (step, records of every strategy so far).
  using Progress = std::function<void(std::size_t step, const std::vector<StrategyRun>&)>;
  std::vector<StrategyRun> run(std::size_t run_index, const std::vector<double>& a0, const Progress& progress = {});

 private:
  /// What a strategy carries from step to step.
  struct StrategyState {
    std::vector<T> a;
    const std::vector<T>* origin = nullptr;  // where dist_init measures from: A⁰ (Π_E A⁰ for Equi off E)
    std::vector<double> coords;              // Equi with orbit updates: per layer with weights, concatenated
    std::vector<T> coords_t;                 // the coordinates the structured evaluation reads
    std::vector<double> scratch;  // a layer's gradient in E coordinates (kept: fresh memory costs page faults)
    bool structured = false;
  };
  /// The state and the (empty) result of strategy k at A⁰ (`start`, or `start_in_E` for
  /// Equi where A⁰ lies off E).
  StrategyState begin(std::size_t k, const std::vector<double>& a0, const std::vector<T>& start,
                      const std::vector<T>& start_in_E, StrategyRun& out) const;
  /// Step `step` of one strategy: its gradient, the step's record (and snapshot), then its
  /// update unless it is the last step.
  void step(std::size_t run_index, std::size_t step, StrategyState& s, StrategyRun& out);
  /// The values of the metrics' columns at a step (TrainOptions::metrics).
  std::vector<double> metric_values(std::size_t run_index, std::size_t step, const std::vector<T>& a) const;
  /// One step of `st` from the summed gradient g over `samples` samples (scaled in place).
  void update(const Strategy& st, StrategyState& s, std::vector<double>& g, std::size_t samples) const;

  GradientEngine<T>* engine_;
  TrainOptions opts_;
};

}  // namespace eqaug
