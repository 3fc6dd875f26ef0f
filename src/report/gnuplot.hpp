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

// Script lines that change to the script's own folder (from ARG0), so that the relative
// paths after them (figure-data/, figure.png, ...) name the copy a script sits in.
std::string cd_to_script_folder();

// Opens `do for [pass = 1:3]`: png (pngcairo, width × height pixels), svg (the same in
// points) and pdf (pdfcairo, width/144 × height/144 inches: the PNG's proportions of text to
// canvas), each pass starting from `reset`. The caller closes the loop with `closing_passes`.
std::string terminal_passes(int width, int height);
std::string closing_passes();

// Faint run curves: wider and more opaque the fewer the runs, so that 2 or 3 runs stay
// visible and 30 do not drown the medians. alpha is gnuplot's transparency byte ("00"
// opaque, "FF" invisible).
struct RunStyle {
  double width;
  std::string alpha;
};
RunStyle run_style(std::size_t runs);

// `set xtics (...)` with the labels of `ticks`, and the suffix of the axis label that names
// its exponent (" [×10^{-3}]", enhanced text; "" for plain labels).
std::string tics_command(char axis, const AxisTicks& ticks);
std::string exponent_suffix(const AxisTicks& ticks);

// A strip [0, height] of the canvas (screen fractions) that holds the one legend of a
// figure: the strategies' medians (bold) and one entry for the single runs (thin).
std::string legend_strip(const std::vector<std::string>& modes, const RunStyle& runs, double height);

// The file stem of a figure: "figure", or "figure-paper" in the paper's metric.
std::string figure_stem(bool paper_metric);

// Removes what figure_files names for any stem starting with "figure" (figure.png,
// figure-paper.gp, figure-faithful.svg, ...: .png, .svg, .pdf, .gp regular files, and the
// <stem>-data/ folders) from dir; absent ones are skipped. Returns whether anything was removed. Throws
// eqaug::RuntimeFailure on a failure.
bool remove_figure(const std::filesystem::path& dir);

// The figure files of a results folder (<stem>.png/svg/pdf/gp, absolute) and its
// <stem>-data/ folder, created.
FigureFiles figure_files(const std::filesystem::path& dir, std::filesystem::path& data_dir,
                         const std::string& stem = "figure");

// Runs `gnuplot -e "<var> = '<temporary>'; ..." script` for every (variable, final path) in
// `outputs`; the temporaries sit next to the final paths and are renamed onto them only once
// gnuplot has exited 0 and written every one of them (non-empty). Throws eqaug::Error (gnuplot
// missing, failing, or writing nothing) and leaves no temporary behind.
void run_gnuplot(const FigureOptions& options, const std::filesystem::path& script,
                 const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

// Writes `script` to files.script and draws files.png, .svg and .pdf with it (run_gnuplot with
// png_out, svg_out, pdf_out).
void draw_figure(const FigureOptions& options, const FigureFiles& files, const std::string& script);

}  // namespace eqaug::report::detail
