#pragma once
// A sweep on disk: OUT/manifest.json plus OUT/<mode>/run-<k>.csv per run and strategy,
// every file written atomically. An existing results directory is refused unless
// --force (which replaces it) or --resume (which continues it: runs the manifest lists
// as finished are kept, everything else is redone with the same streams, so the
// result files equal those of an uninterrupted sweep).
#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/io/config.hpp"

namespace eqaug::io {

inline constexpr std::size_t kMaxThreads = 1024;

struct SweepOptions {
  std::filesystem::path out;
  bool force = false;
  bool resume = false;
  std::size_t threads = 0;  // 0: all cores
  bool save_weights = false;
  std::string command_line;
  std::ostream* progress = nullptr;  // where progress goes (stderr), or nowhere
};

struct SweepSummary {
  std::size_t runs_done = 0, runs_skipped = 0;
  double wall_s = 0;
};

SweepSummary run_sweep(const ExperimentConfig& cfg, const SweepOptions& opts);

/// CSV of one strategy's records: step, loss, accuracy, dist_init, dist_E, [loss_aug],
/// dist_init.<layer>…, dist_E.<layer>….
std::string records_csv(const StrategyRun& run, const std::vector<std::string>& layer_names);

/// Layer weights as .npy: (C_out, C_in, S_out, S_in), or (out, in) when both spaces have
/// one site. `params` is the flat parameter vector.
template <typename T>
void save_layer_weights(const std::filesystem::path& dir, const ModelSpec& spec, const std::vector<T>& params);
/// Reads DIR/A<j>.npy for every linear layer into a flat parameter vector (not projected).
std::vector<double> load_layer_weights(const std::filesystem::path& dir, const ModelSpec& spec);

std::string utc_now_iso();

}  // namespace eqaug::io
