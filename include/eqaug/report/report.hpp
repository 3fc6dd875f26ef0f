#pragma once
// `eqaug report`: reads a results directory written by `eqaug run` (files only, never the
// training code), summarises the final step of every run, and draws the paper's Figure 1
// (‖A − Π_E A‖ against ‖A − A⁰‖) with gnuplot.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace eqaug::report {

// One run-<k>.csv; rows are steps 0..epochs.
struct RunCurve {
  std::vector<double> step, loss, accuracy, dist_init, dist_E;
  // Every column of the file by header name (including the five above and the per-layer
  // `dist_init.A0`, ..., and `loss_aug` for Aug).
  std::map<std::string, std::vector<double>> columns;
};

struct Sweep {
  std::filesystem::path dir;
  nlohmann::json manifest;
  std::string name;        // config.name ("" when absent)
  int epochs = 0;          // config.epochs
  int planned_runs = 0;    // config.runs
  bool complete = false;   // manifest "complete"
  std::vector<std::string> modes;  // config order
  std::vector<int> runs;           // finished runs, ascending
  // curves[mode][i] belongs to runs[i].
  std::map<std::string, std::vector<RunCurve>> curves;
};

// Validates as it reads: manifest.json present and well formed, and for every finished run
// and mode a CSV with the required columns and exactly epochs + 1 rows of numbers. Throws
// eqaug::Error naming the offending file (and field, column or row).
Sweep read_sweep(const std::filesystem::path& dir);

// Parses one run CSV, columns by header name. `expected_rows` < 0 skips the row count check.
RunCurve read_run_csv(const std::filesystem::path& file, int expected_rows = -1);

struct Stat {
  double median, q1, q3;
  int nan_values = 0;  // NaN inputs, left out of the statistics rather than hidden in them
};

// Median and quartiles with linear interpolation between order statistics (numpy's default
// percentile), ignoring NaNs; all NaN (or empty) gives NaN.
Stat describe(std::vector<double> values);

struct SummaryRow {
  std::string mode;
  int runs = 0;          // finished runs summarised
  int planned_runs = 0;  // config.runs
  Stat dist_init, dist_E, loss, accuracy;  // of the final row, over runs
};

std::vector<SummaryRow> summarize(const Sweep& sweep);

// "Nom", "Aug", "Equi"; other modes capitalised.
std::string mode_label(const std::string& mode);

// Aligned plain text: strategy, runs ("k" or "k of N"), then "median [q1, q3]" for
// dist_init, dist_E, loss and accuracy.
std::string format_table(const std::vector<SummaryRow>& rows);

// Compact %.4g with a short exponent ("1.235e-5"), "nan" for NaN.
std::string format_number(double value);

// Writes dir/summary.csv (mode,runs,dist_init_median,dist_init_q1,dist_init_q3,dist_E_...,
// loss_..., accuracy_...) atomically and returns its path.
std::filesystem::path write_summary_csv(const std::filesystem::path& dir, const std::vector<SummaryRow>& rows);

struct FigureOptions {
  std::string gnuplot = "gnuplot";  // executable, looked up on PATH
  int width = 1400, height = 600;   // pixels (PNG), points (SVG)
};

struct FigureRanges {
  double x_max;       // both panels: [0, x_max]
  double y_max;       // full panel: [−margin, y_max]
  double y_max_zoom;  // zoomed panel: resolves every strategy other than Nom
};

// 1.05 × the largest finite value, and 1.1 × the largest dist_E outside Nom for the zoom;
// when that is 0 (only Equi, which stays in E exactly) the zoom falls back to 1% of the
// full range, so it still shows the neighbourhood of E instead of a degenerate axis.
FigureRanges figure_ranges(const Sweep& sweep);

struct FigureFiles {
  std::filesystem::path png, svg, script;
  std::vector<std::filesystem::path> data;
};

// Writes dir/figure-data/<mode>-runs.dat and <mode>-median.dat (per-step medians of x and y
// taken separately), dir/figure.gp, then runs gnuplot on it; figure.png and figure.svg
// appear only once gnuplot has succeeded (written to temporary names, then renamed).
// Throws eqaug::Error if there are no finished runs, gnuplot is missing or it fails.
FigureFiles render_figure(const Sweep& sweep, const std::filesystem::path& dir, const FigureOptions& options = {});

// The whole `eqaug report`: reads the sweep, prints the table and the paths written
// (summary.csv, and the figure if `plot`). Returns the process exit status (0); errors are
// thrown as eqaug::Error.
int run_report(const std::filesystem::path& dir, std::ostream& out, bool plot = true,
               const FigureOptions& options = {});

}  // namespace eqaug::report
