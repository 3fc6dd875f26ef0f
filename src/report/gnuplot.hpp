#pragma once
// Internal to src/report: what the sweep figure, the study figure and the contact sheet
// share — gnuplot strings and numbers, the data files of faint runs and medians, and running
// gnuplot so that its outputs appear only once it has succeeded.
#include "eqaug/report/report.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace eqaug::report::detail {

std::string in_quotes(const std::filesystem::path& p);

// A gnuplot single-quoted string: no escapes inside, a quote is written twice. Throws
// eqaug::Error on a line break (which a single-quoted string cannot hold).
std::string gp_string(const std::string& s);

// %.17g, "NaN" for NaN (which gnuplot reads as a missing point).
std::string data_number(double v);

// Colour (hex, no '#') of a strategy: Nom red, Aug blue, Equi green, others in turn.
std::string mode_colour(const std::string& mode, std::size_t index);

// The largest finite value of `values` and `current`.
double finite_max(double current, const std::vector<double>& values);

// Per-step medians over the runs of `mode` (x = dist_init, y = dist_E, taken separately).
struct MedianPath {
  std::vector<double> x, y, step;
};
MedianPath median_path(const Sweep& sweep, const std::string& mode);

// Data files: one block per run (dist_init dist_E step), and the median path.
std::string runs_data(const std::string& mode, const Sweep& sweep);
std::string median_data(const std::string& mode, const Sweep& sweep);

// Runs `gnuplot -e "<var> = '<temporary>'; ..." script` for every (variable, final path) in
// `outputs`; the temporaries sit next to the final paths and are renamed onto them only once
// gnuplot has exited 0 and written every one of them (non-empty). Throws eqaug::Error (gnuplot
// missing, failing, or writing nothing) and leaves no temporary behind.
void run_gnuplot(const FigureOptions& options, const std::filesystem::path& script,
                 const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

}  // namespace eqaug::report::detail
