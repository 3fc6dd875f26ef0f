#pragma once
// The files of a results directory: per-run CSVs of the records and layer weights as .npy
// (their number formats: formats/csv.hpp).
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "eqaug/formats/csv.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug::io {

/// The columns of a per-run CSV and of steps.csv, the same for every mode: mode, run, step,
/// loss, accuracy, dist_init, dist_E, loss_aug (empty where the strategy does not augment),
/// dist_init_<layer>…, dist_E_<layer>…, then the metrics' columns (TrainOptions::metrics);
/// names that are identifiers in numpy, pandas and R.
std::vector<std::string> record_columns(const std::vector<std::string>& layer_names,
                                        const std::vector<std::string>& metric_columns = {});

/// CSV of one strategy's records in run `run`, with record_columns().
std::string records_csv(const StrategyRun& run, std::size_t run_index, const std::vector<std::string>& layer_names,
                        const std::vector<std::string>& metric_columns = {});

/// OUT/steps.csv: one tidy long table of every finished run of a sweep, read back from
/// the per-run files (also those of the earlier layout), with record_columns().
/// Rows by mode (in `modes` order), run, step.
std::string steps_csv(const std::filesystem::path& out, const std::vector<std::string>& modes,
                      const std::vector<std::size_t>& runs, const std::vector<std::string>& layer_names,
                      const std::vector<std::string>& metric_columns = {});

/// Layer weights as .npy: (C_out, C_in, S_out, S_in), or (out, in) when both spaces have
/// one site. `params` is the flat parameter vector.
template <typename T>
void save_layer_weights(const std::filesystem::path& dir, const ModelSpec& spec, const std::vector<T>& params);
/// Reads DIR/<name>.npy for every layer with weights (A<j>, affine<j>) into a flat parameter vector (not projected).
/// An entry beyond max_abs (a float32 run: FLT_MAX) is an error naming the file.
std::vector<double> load_layer_weights(const std::filesystem::path& dir, const ModelSpec& spec,
                                       double max_abs = std::numeric_limits<double>::max());
/// The .npy shape of a layer's weights.
std::vector<std::size_t> npy_shape(const LayerSpec& l);
std::string shape_str(const std::vector<std::size_t>& s);

}  // namespace eqaug::io
