#pragma once
// `eqaug report`: reads a results directory written by `eqaug run` (files only, never the
// training code), summarises the final step of every run, and draws the paper's Figure 1
// (‖A − Π_E A‖ against ‖A − A⁰‖) with gnuplot. A study folder (study.json and one sweep
// folder per member, e.g. the Groups experiment of App. E.2) gets every member's report, a
// summary over the members and the paper's Figure 6. Also: contact sheets of data sets.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace eqaug::report {

// One run-<k>.csv; rows are steps 0..epochs.
struct RunCurve {
  std::vector<double> step, loss, accuracy, dist_init, dist_E;
  // Every numeric column of the file by steps.csv's name (the five above, run, the per-layer
  // `dist_init_A0`, ..., `dist_E_A0`, ..., the metrics, and `loss_aug`: NaN where the
  // strategy does not augment); a file of the earlier layout (`dist_init.A0`) reads the same.
  std::map<std::string, std::vector<double>> columns;
};

struct Sweep {
  std::filesystem::path dir;
  nlohmann::json manifest;
  std::string name;       // config.name ("" when absent)
  std::string group;      // model.group, e.g. "S_10" ("" when absent)
  std::string precision;  // config.train.precision, "f32" or "f64" ("" when absent)
  // data.accuracy: what the accuracy column measures, e.g. "binary accuracy", "per-pixel
  // mask accuracy" ("" in manifests written before the field existed).
  std::string accuracy;
  // metrics.columns: the per-step metrics' columns of the per-run files (train.metrics), in
  // order (empty in manifests written before the field existed).
  std::vector<std::string> metrics;
  // config.reference: the reference's switches that are on (docs/reference.md), in order;
  // named in the title and the console header.
  std::vector<std::string> reference;
  bool raw_start = false;          // config.train.start = "raw": Nom and Aug start off E
  int epochs = 0;                  // config.epochs
  int planned_runs = 0;            // config.runs
  bool complete = false;           // manifest "complete"
  std::vector<std::string> modes;  // config order
  std::vector<int> runs;           // finished runs, ascending
  // manifest "diverged": "run k: <mode> diverged at step t: ..." for runs not finished since.
  std::vector<std::string> diverged;
  // runs[].warnings: "run k: nom's risk grew more than 10-fold ..." (StrategyRun::loss_grew_at).
  std::vector<std::string> warnings;
  // curves[mode][i] belongs to runs[i].
  std::map<std::string, std::vector<RunCurve>> curves;
  // Set by paper_metric: dist_init and dist_E of every curve are the paper's (below), over
  // the layers named here.
  bool paper_metric = false;
  std::vector<std::string> paper_layers;
};

// The paper's own metric (docs/reference.md, defect 6). The authors' plotting code puts on
// the y axis √(Σ_k d_k⁴), d_k = ‖A_k − Π_E A_k‖ (each layer's entry is the squared distance
// Σ(A_k − Π_E A_k)², whose norm it then takes), and on the x axis ‖A − A⁰‖, both over the
// group layers only.
//
// group_layers: the weight layers the group constrains, from the manifest's model.layers
// (dim_E < params): the fully connected head and per-channel affine weights are left out.
// Throws eqaug::Error naming manifest.json when it lacks model.layers or has no such layer.
std::vector<std::string> group_layers(const Sweep& sweep);
// A copy of `sweep` whose curves' dist_init and dist_E are x = √(Σ_k dist_init_k²) and
// y = √(Σ_k (dist_E_k)⁴) over group_layers, and paper_metric = true. Throws eqaug::Error
// naming the folder and column when a run file lacks a layer's columns.
Sweep paper_metric(const Sweep& sweep);

// An unfinished sweep: the manifest says "complete": false, or fewer runs finished than
// config.train.runs. Its table and figure say so ("in progress: k of n runs").
bool in_progress(const Sweep& sweep);

// "" for a finished sweep, else "in progress: 3 of 30 runs".
std::string progress_text(const Sweep& sweep);

// What the Aug strategy did, from the manifest's config.train.aug: "Aug sampled per sample,
// L = 25", "Aug sampled per batch, L = 25", "Aug exact (every group element)"; "" when the
// sweep has no Aug strategy or the manifest does not say.
std::string augmentation_text(const Sweep& sweep);

// Deletes what `eqaug report` wrote into a sweep (or study) folder: summary.csv, every
// regular file named figure.* (png, svg, pdf, gp) and the folder figure-data/. Nothing else
// (run files, manifest) is touched; what does not exist is skipped. The runner calls it when
// a sweep starts or resumes, so that no summary or figure of an earlier state stays behind
// looking final. Throws eqaug::RuntimeFailure when something cannot be removed.
void remove_stale_report(const std::filesystem::path& dir);

// Validates as it reads: manifest.json present and well formed, and for every finished run
// and mode a CSV with the required columns and exactly epochs + 1 rows of numbers. Throws
// eqaug::Error naming the offending file (and field, column or row).
Sweep read_sweep(const std::filesystem::path& dir);

// Parses one run CSV, columns by header name. `expected_rows` < 0 skips the row count check.
RunCurve read_run_csv(const std::filesystem::path& file, int expected_rows = -1);

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct Stat {
  double median, q1, q3;
  int nan_values = 0;  // NaN inputs, left out of the statistics rather than hidden in them
};

// Median and quartiles with linear interpolation between order statistics (numpy's default
// percentile), ignoring NaNs; all NaN (or empty) gives NaN.
Stat describe(std::vector<double> values);

struct SummaryRow {
  std::string mode;
  int runs = 0;                            // finished runs summarised
  int planned_runs = 0;                    // config.runs
  int step = 0;                            // the step of the final row (config.epochs)
  Stat dist_init, dist_E, loss, accuracy;  // of the final row, over runs
  // The same two distances in the paper's metric (paper_metric; NaN when the sweep's files
  // lack the per-layer columns or the manifest its layers).
  Stat paper_dist_init{kNoValue, kNoValue, kNoValue}, paper_dist_E{kNoValue, kNoValue, kNoValue};
  std::vector<std::pair<std::string, Stat>> metrics;  // Sweep::metrics, in order
};

std::vector<SummaryRow> summarize(const Sweep& sweep);

// "Nom", "Aug", "Equi"; other modes capitalised.
std::string mode_label(const std::string& mode);

// Aligned plain text: strategy, runs ("k" or "k of N"), then "median [q1, q3]" for
// dist_init, dist_E, loss and accuracy, and a note line. A non-empty `accuracy` (the
// manifest's data.accuracy) adds the line "accuracy: <accuracy>" under the table; empty
// leaves the text exactly as before the field existed.
std::string format_table(const std::vector<SummaryRow>& rows, const std::string& accuracy = "");

// Compact %.4g with a short exponent ("1.235e-5"), "nan" for NaN.
std::string format_number(double value);

// Plain-text columns, each as wide as its longest entry, two spaces apart, the first row a
// header underlined with dashes; column k right-aligned where right[k] (missing: left). Rows
// shorter than the header are padded with empty cells; no trailing spaces.
std::string format_columns(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right = {});

// Writes dir/summary.csv (mode,runs,dist_init_median,dist_init_q1,dist_init_q3,dist_E_...,
// loss_..., accuracy_..., then each metric's three columns, then paper_dist_init_... and
// paper_dist_E_..., the paper's metric) atomically and returns its path.
std::filesystem::path write_summary_csv(const std::filesystem::path& dir, const std::vector<SummaryRow>& rows);

struct FigureOptions {
  std::string gnuplot = "gnuplot";  // executable, looked up on PATH
  int width = 1400, height = 600;   // pixels (PNG), points (SVG)
  // Also draw the figures in the paper's metric (figure-paper.*, beside figure.*).
  bool paper_metric = false;
};

struct FigureRanges {
  double x_max;           // both panels: [0, x_max]
  double y_max;           // full panel: [−margin × y_max, y_max]
  double y_max_zoom;      // zoomed panel: [−margin × y_max_zoom, y_max_zoom]
  std::string zoom_rule;  // how y_max_zoom was chosen, for the zoomed panel's title
  double margin = 0.03;   // below 0, as a fraction of the panel's y limit
  // The zoomed panel's lower limit where it does not start near 0 (--start raw: around
  // Aug's median, which starts at A⁰'s own distance to E); NaN: −margin × y_max_zoom.
  double y_min_zoom = std::numeric_limits<double>::quiet_NaN();
};

// The floor of a zoomed y-range relative to the full panel's range: far above the rounding
// of the precision (f64: 1e-9; f32 or unknown: 1e-5), so that an Aug that stays in E up
// to rounding (exact augmentation) draws as a flat line at 0, not as wandering noise.
double zoom_floor_factor(const std::string& precision);

// The zoomed panel's y-limit: max(1.1 × aug_max_median, zoom_floor_factor(precision) ×
// y_max, 1e-12), where aug_max_median is the max over steps of Aug's per-step median
// dist_E and y_max the full panel's limit. The absolute 1e-12 keeps the axis proper when
// everything is 0.
double zoom_range(double aug_max_median, double y_max, const std::string& precision);

// x and y: 1.05 × the largest finite value over all runs. The zoom: zoom_range of Aug's
// median; without an Aug strategy (or with Aug's median all NaN), 1.1 × the max median
// dist_E of the strategies other than Nom, and when that is 0 (only Equi, which stays in E
// exactly) 1% of the full range, so the zoom still shows the neighbourhood of E.
// A sweep in the paper's metric (paper_metric) gets the authors' limits (their `calclims`):
// x = 1.5 × max median dist_init of Equi, y = 1.5 × max median dist_E of Nom, zoom =
// 1.5 × max median dist_E of Aug (max over steps), margin 1/10; a missing or motionless
// strategy falls back to the rule above, and the zoom keeps zoom_range's floor.
FigureRanges figure_ranges(const Sweep& sweep);

// Tick marks of an axis [0, max] in one format: 3 to 8 steps of 1, 2 or 5 × 10^k, labelled
// with the same number of decimals; for max < 0.01 or max >= 10^4 the labels are value /
// 10^exponent and the axis label says "×10^{exponent}".
struct AxisTicks {
  std::vector<double> values;
  std::vector<std::string> labels;
  int exponent = 0;  // 0: the labels are the values
};
AxisTicks axis_ticks(double max);

// "perm: group S_10, float32, Aug sampled per sample, L = 25 — 30 runs, 50 steps", or
// "… — in progress: 3 of 30 runs, 50 steps" for an unfinished sweep.
std::string figure_title(const Sweep& sweep);

struct FigureFiles {
  std::filesystem::path png, svg, pdf, script;
  std::vector<std::filesystem::path> data;
};

// Writes dir/figure-data/<mode>-runs.dat and <mode>-median.dat (per-step medians of x and y
// taken separately), dir/figure.gp, then runs gnuplot on it; figure.png, figure.svg and
// figure.pdf appear only once gnuplot has succeeded (written to temporary names, then
// renamed). figure.gp names its data and outputs relative to its own folder (it changes
// there first), so a copied results folder redraws itself with `gnuplot figure.gp`.
// The legend sits below the panels, the run curves get wider and more opaque the fewer
// runs there are, and an unfinished sweep is marked "in progress" in the title.
// Throws eqaug::Error if there are no finished runs, gnuplot is missing or it fails.
// A sweep in the paper's metric (paper_metric) is drawn under the stem "figure-paper"
// (figure-paper.png, ..., figure-paper-data/) with the paper's axis names and limits.
FigureFiles render_figure(const Sweep& sweep, const std::filesystem::path& dir, const FigureOptions& options = {});

// ---------------------------------------------------------------------------------------
// Studies: OUT/study.json and one ordinary sweep folder per member.
//
//   {"program": {"name": "eqaug", "version": "..."}, "kind": "study", "name": "groups",
//    "complete": false,
//    "members": [{"name": "trans", "dir": "trans", "group": "Z_14 x Z_14",
//                 "dim_E": 1234, "dim_L": 40000000}, ...]}
//
// "kind" must be "study"; member "name" is a plain name (letters, digits, '_', '-'), unique;
// "dir" a relative path inside OUT without ".." (default: the name). "group", "dim_E" and
// "dim_L" may be left out: they are then taken from the member's manifest (model.group,
// model.dim_E, model.params) once it exists; "program" and "complete" are optional.

struct StudyMember {
  std::string name;
  std::filesystem::path dir;  // OUT / member dir
  std::string group;          // "" if neither study.json nor the manifest says
  double dim_E = std::numeric_limits<double>::quiet_NaN();
  double dim_L = std::numeric_limits<double>::quiet_NaN();
  // The member's sweep once its manifest.json exists ("not run yet" without one).
  bool has_manifest = false;
  Sweep sweep;
  // A manifest and at least one finished run: only such members are reported and plotted.
  bool has_runs() const { return has_manifest && !sweep.runs.empty(); }
  double dim_ratio() const { return dim_E / dim_L; }  // NaN when either is unknown
};

struct Study {
  std::filesystem::path dir;
  nlohmann::json json;  // study.json as read
  std::string name;     // "" when absent
  std::string version;  // program.version, "" when absent
  bool complete = false;
  std::vector<StudyMember> members;  // study.json order
};

// An unfinished study: study.json says "complete": false (or leaves it out), or a member is
// not run yet or in_progress.
bool in_progress(const Study& study);

// dir/study.json exists (a regular file): `run_report` treats dir as a study.
bool is_study(const std::filesystem::path& dir);

/// A folder written by `eqaug hessian` (hessian.csv, no manifest.json).
bool is_hessian(const std::filesystem::path& dir);
/// Its table (per trajectory and step: distance to E, smallest eigenvalues on E and E⊥,
/// verdict) and, with `plot`, figure.png/svg/pdf: the smallest E⊥-eigenvalue along the
/// trajectory next to its drift from E.
void report_hessian(const std::filesystem::path& dir, std::ostream& out, bool plot, const FigureOptions& options = {});

/// A folder written by `eqaug minimum` (minimum.json, no manifest.json).
bool is_minimum(const std::filesystem::path& dir);
/// What the descent reached, the smallest eigenvalues on E and E⊥ with the verdict, the last
/// step of growth.csv and, with `plot` and growth.csv, figure.png/svg/pdf: ‖A − Π_E A‖ of the
/// trajectories off A* beside their linear predictions (log scale).
void report_minimum(const std::filesystem::path& dir, std::ostream& out, bool plot, const FigureOptions& options = {});

// Validates study.json (throws eqaug::Error naming the file and field) and reads every
// member's sweep that has a manifest.json (read_sweep's errors, naming the member's files).
Study read_study(const std::filesystem::path& dir);

// The axis limits of Figure 6 (paper App. E.2), relative to the Nom and Equi medians so that
// the groups compare. "Median" is the per-step median over runs; "max" is over steps.
//   x_max      = 1.1 × max median dist_init of Equi               (both panels)
//   y_max      = 1.1 × max median dist_E of Nom                   (full panel)
//   y_max_zoom = κ × y_max                                         (zoom panel)
// with one κ for all groups, chosen so that for the first sweep with an Aug curve (Trans
// in the paper) y_max_zoom = 1.5 × its max median dist_E of Aug. The paper's factors were
// lost in extraction; these are ours. Fallbacks (noted in `note`):
//   no Equi (or its medians are all 0/NaN): x from the max median dist_init of all modes;
//   no Nom (or 0/NaN):                      y from the max median dist_E of all modes;
//   still 0 (nothing moved):                the limit is 1;
//   no sweep with a positive Aug median:    κ = 0.01 (the zoom shows 1% of the full range).
// κ is at least zoom_floor_factor(precision of the sweep that fixed it), so that an exact
// augmentation in f64 (Aug's median ~1e-15) does not zoom into rounding noise.
struct GroupRanges {
  double x_max = 1, y_max = 1, y_max_zoom = 0.01;
  std::string note;  // "" or which fallbacks were used, e.g. "no Equi: x from all curves"
};
struct StudyRanges {
  double kappa = 0.01;
  int kappa_from = -1;              // index of the sweep whose Aug fixed κ, -1 for the fallback
  std::vector<GroupRanges> groups;  // one per sweep, same order
};
// `factor` replaces 1.1 and 1.5 above by one number: the paper's metric uses 1.5 for all
// three (the authors' `calclims`, their Figure 6 then scales each group's zoom as here).
StudyRanges study_ranges(const std::vector<Sweep>& sweeps, double factor = 1.1);

// One row of OUT/summary.csv: a member and a mode.
struct StudySummaryRow {
  std::string member;                                           // the member's name (the csv's "group" column)
  double dim_ratio = std::numeric_limits<double>::quiet_NaN();  // dim E / dim L
  SummaryRow row;
};

// Rows for every member with finished runs, in member then mode order.
std::vector<StudySummaryRow> summarize_study(const Study& study);

// Aligned text: group, strategy, runs, dim E/dim L, then the columns of format_table; the
// members not run yet; and the accuracy kind(s).
std::string format_study_table(const Study& study, const std::vector<StudySummaryRow>& rows);

// Writes dir/summary.csv: group,mode,runs,dim_E_over_dim_L,dist_init_median,..., accuracy_q3
// (the per-sweep columns after runs), atomically; returns its path.
std::filesystem::path write_study_summary_csv(const std::filesystem::path& dir,
                                              const std::vector<StudySummaryRow>& rows);
/// OUT/steps.csv of a study: every member's steps.csv under one header (the union of their
/// columns), each row prefixed with `member` and `group` (quoted), absent cells empty.
std::filesystem::path write_study_steps_csv(const std::filesystem::path& dir, const Study& study);

// ---------------------------------------------------------------------------------------
// Ablations: a study whose members differ by the reference's switches (the `paper-ablation`
// preset), or any study with Nom and Aug. A member's "setting" is the list of switches on
// in its manifest (config.reference), "faithful" when none.

struct AblationRow {
  std::string member, group, setting;
  std::string family;          // the experiment: the manifest's config.data.kind and model.loss
  int runs = 0;                // runs with both Nom and Aug finished
  std::vector<double> ratios;  // per run: Aug's final ‖A − Π_E A‖ over Nom's (same run, same A⁰)
  double aug_over_nom = std::numeric_limits<double>::quiet_NaN();     // median(Aug) / median(Nom), final step
  double low = std::numeric_limits<double>::quiet_NaN(), high = low;  // its paired bootstrap 95 % interval
  double paper_aug_over_nom = low;  // the same ratio in the paper's metric (paper_metric), NaN if unavailable
  Stat equi_dist_E{low, low, low};  // Equi's final ‖A − Π_E A‖ (the equi_last_layer switch moves it off 0)
};

// "faithful", or the switches joined by " + ".
std::string setting_name(const Sweep& sweep);

// One row per member with finished runs and both Nom and Aug, or Equi (whose ratio is NaN).
std::vector<AblationRow> ablation_rows(const Study& study);

// The table (member, setting, runs, Aug/Nom [95 % CI], paper's metric, Equi's distance), then
// per setting and family (members of one experiment: e.g. the four groups of App. E.2, not
// Rot's segmentation beside them) with two or more members, the members ordered by Aug/Nom
// and every pair's two-sided Mann–Whitney test of the per-run ratios (U, p, exact or normal).
std::string format_ablation(const std::vector<AblationRow>& rows);

// dir/ablation.csv (member,group,setting,runs,aug_over_nom,ci_low,ci_high,
// paper_aug_over_nom,equi_dist_E_median) and dir/ranks.csv (setting,member_a,member_b,
// median_a,median_b,u,p,exact), atomically; returns their paths.
std::vector<std::filesystem::path> write_ablation_csv(const std::filesystem::path& dir,
                                                      const std::vector<AblationRow>& rows);

// ---------------------------------------------------------------------------------------
// The noise law (the `noise-law` preset): if Aug's drift off E is the sampling noise of the
// paper's Remark 1, ‖A_t − Π_E A_t‖ grows like √(t / L). For each member with Aug, the time
// exponent b: per run the least-squares slope of log ‖A_t − Π_E A_t‖ on log t over the
// steps t ≥ 1 where it is positive, their median with a bootstrap 95 % interval; for each
// experiment (group, setting, data) with two or more L, the L exponent β: the slope of log
// (median final drift) on log L, with a bootstrap interval (runs resampled within each
// member). The law predicts b = 1/2 and β = −1/2; a systematic drift (the reference's
// sampler) gives b → 1 and β → 0.
struct NoiseLawRow {
  std::string member, group, setting, family;
  int passes = 0;  // L (config.train.aug.passes)
  int runs = 0;
  double final_median = std::numeric_limits<double>::quiet_NaN();        // Aug's final ‖A − Π_E A‖
  double b = final_median, b_low = final_median, b_high = final_median;  // over every step t >= 1
  // The same over the first fifth of the steps (1 <= t <= s, s = T/5 rounded, at least 2) and
  // the rest (s <= t <= T): a drift that slows as training goes on shows as b_late < b_early.
  double b_early = final_median, b_early_low = final_median, b_early_high = final_median;
  double b_late = final_median, b_late_low = final_median, b_late_high = final_median;
};
struct NoiseLawFit {
  std::string group, setting, family;
  std::vector<int> passes;  // the L of its members, ascending
  double beta = std::numeric_limits<double>::quiet_NaN(), low = beta, high = beta;
};
struct NoiseLaw {
  std::vector<NoiseLawRow> rows;  // members with sampled Aug, in study order
  std::vector<NoiseLawFit> fits;  // experiments with two or more L
};
// Empty rows when no member varies L within an experiment (then no table is printed).
NoiseLaw noise_law(const Study& study);
std::string format_noise_law(const NoiseLaw& law);
// dir/noise_law.csv (member,group,setting,passes,runs,final_median,b,b_low,b_high) and
// dir/noise_law_fits.csv (group,setting,passes,beta,low,high); returns their paths.
std::vector<std::filesystem::path> write_noise_law_csv(const std::filesystem::path& dir, const NoiseLaw& law);
// figure-noise-law.{png,svg,pdf,gp} and figure-noise-law-data/: one log-log panel per fit,
// the per-step median drift against t for each L, and a slope-1/2 line.
FigureFiles render_noise_law_figure(const Study& study, const NoiseLaw& law, const std::filesystem::path& dir,
                                    const FigureOptions& options = {});

// Figure 6: one row per member with finished runs, two panels per row (full and zoom, axes
// from study_ranges), faint runs and bold medians. Writes dir/figure-data/<member>-<mode>-
// {runs,median}.dat, dir/figure.gp, then dir/figure.png, figure.svg and figure.pdf
// (atomically, as render_figure; figure.gp relative to its folder). Each row is height × 2/3
// tall; one legend below the rows. An unfinished study or member is marked "in progress".
// Throws eqaug::Error if no member has runs. With `paper_metric`, the same figure in the
// paper's metric (every member through paper_metric, study_ranges with factor 1.5) under the
// stem "figure-paper". `stem_suffix` is appended to the stem ("figure-faithful"): a study
// whose members differ in the reference's switches gets one Figure 6 per setting, each a
// Study of that setting's members.
FigureFiles render_study_figure(const Study& study, const std::filesystem::path& dir, const FigureOptions& options = {},
                                bool paper_metric = false, const std::string& stem_suffix = "");

// The whole `eqaug report`: reads the sweep, prints the table and the paths written
// (summary.csv, and the figure if `plot`). An unfinished sweep is reported as such in the
// line above the table ("in progress: k of n runs") and in the figure's title; summary.csv
// keeps its columns (its "runs" column says how many runs it summarises) and is rewritten by
// every report. Without `plot`, or with no finished run to plot, the figure of an unfinished
// sweep is removed rather than left behind from an earlier state. On a study folder (is_study), the ordinary report
// of every member with finished runs (the others listed as "not run yet"), then the study's
// table, summary.csv and Figure 6. Returns the process exit status (0); errors are thrown as
// eqaug::Error.
int run_report(const std::filesystem::path& dir, std::ostream& out, bool plot = true,
               const FigureOptions& options = {});

// ---------------------------------------------------------------------------------------
// Contact sheets of data sets (`eqaug data <preset> --out DIR`).
struct ContactSheet {
  std::string title;
  std::size_t side = 0;  // N: images are N×N
  // Each side*side, row-major, row 0 at the top; values in [0,1] (0 black, 1 white; finite
  // values outside are clipped).
  std::vector<std::vector<double>> images;
  // Empty, or one entry per image: zero or more side*side masks drawn beside the image.
  std::vector<std::vector<std::vector<double>>> masks;
  std::vector<std::string> mask_names;  // empty, or one per mask position ("triangle", ...)
  std::vector<std::string> labels;      // empty, or one caption per image ("7 (Sneaker)")
};

// Draws the sheet with gnuplot (pngcairo, grayscale, every pixel a square): a grid of up to
// 8 tiles per row, each the image and its masks side by side with its caption underneath.
// Writes `png` atomically (a temporary name next to it, renamed once gnuplot has succeeded),
// creating its folder; returns `png`. Throws eqaug::Error on an empty sheet, wrong sizes,
// non-finite values or a gnuplot failure. options.width is the PNG's width; its height
// follows from the grid.
std::filesystem::path write_contact_sheet(const ContactSheet& sheet, const std::filesystem::path& png,
                                          const FigureOptions& options = {});

}  // namespace eqaug::report
