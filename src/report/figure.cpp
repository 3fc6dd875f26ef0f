#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;
using namespace detail;

std::string precision_name(const std::string& precision) {
  if (precision == "f32") return "float32";
  if (precision == "f64") return "float64";
  return precision;
}

// Pixels of the canvas above the panels (title lines) and below them (the legend).
constexpr int kTitleLine = 22, kTitlePad = 14, kLegend = 42;

struct AxisNames {
  std::string x, y, title, layers;
};

// The axes' names: eqaug's exact distances, or the paper's metric over its group layers.
AxisNames axis_names(const Sweep& sweep) {
  if (!sweep.paper_metric) return {"‖A − A^0‖ (distance travelled)", "‖A − Π_E A‖ (distance to E)", "", ""};
  AxisNames n;
  for (std::size_t i = 0; i < sweep.paper_layers.size(); ++i) n.layers += (i ? ", " : "") + sweep.paper_layers[i];
  n.x = "‖A − A^0‖ over " + n.layers;
  n.y = "√(Σ_k ‖A_k − Π_E A_k‖^4) over " + n.layers;
  n.title = " [the paper's metric]";
  return n;
}

std::string script(const Sweep& sweep, const FigureRanges& r, const FigureOptions& o) {
  const bool progress = in_progress(sweep);
  const int top_px = kTitlePad + kTitleLine * (progress ? 2 : 1);
  const double top = static_cast<double>(top_px) / o.height;
  const double legend = static_cast<double>(kLegend) / o.height;
  const double panel_h = 1 - top - legend;
  const RunStyle style = run_style(sweep.runs.size());
  const AxisTicks xt = axis_ticks(r.x_max);

  const std::string stem = figure_stem(sweep.paper_metric);
  const AxisNames names = axis_names(sweep);
  std::ostringstream os;
  os << "# Figure 1 of the paper for the results in this directory, written by `eqaug report`.\n";
  if (sweep.paper_metric)
    os << "# In the paper's metric (docs/reference.md, defect 6): y = sqrt(sum_k d_k^4), x = |A - A0|,\n"
       << "# both over the group layers " << names.layers << "; limits 1.5 x the medians (calclims).\n";
  os << "# Rerun with `gnuplot " << stem << ".gp` (from anywhere); png_out / svg_out / pdf_out can be\n"
     << "# overridden with -e.\n"
     << "# Zoomed panel: " << r.zoom_rule << ".\n"
     << cd_to_script_folder() << "if (!exists(\"png_out\")) png_out = '" << stem << ".png'\n"
     << "if (!exists(\"svg_out\")) svg_out = '" << stem << ".svg'\n"
     << "if (!exists(\"pdf_out\")) pdf_out = '" << stem << ".pdf'\n"
     << "data = '" << stem << "-data'\n"
     << terminal_passes(o.width, o.height) << "  set multiplot\n"
     << "  set label 101 " << gp_string(figure_title(sweep) + names.title) << " at screen 0.5, screen "
     << data_number(1 - (kTitlePad / 2.0 + kTitleLine / 2.0) / o.height) << " center font ',13' noenhanced\n";
  if (progress)
    os << "  set label 102 " << gp_string("provisional: not every run has finished; `eqaug report` redraws it")
       << " at screen 0.5, screen " << data_number(1 - (kTitlePad / 2.0 + kTitleLine * 1.5) / o.height)
       << " center font ',12' textcolor rgb '#c00000' noenhanced\n";
  os << "  set grid lc rgb '#e0e0e0'\n"
     << "  unset key\n"
     << "  set xrange [0:" << data_number(r.x_max) << "]\n"
     << "  " << tics_command('x', xt) << "  set xlabel " << gp_string(names.x + exponent_suffix(xt)) << "\n";

  // Faint runs first so that every median is drawn on top of all of them.
  std::string plot;
  for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
    const auto& mode = sweep.modes[i];
    plot += "data.'/" + mode + "-runs.dat' using 1:2 with lines lw " + format_number(style.width) + " lc rgb '#" +
            style.alpha + mode_colour(mode, i) + "' notitle, \\\n       ";
  }
  for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
    const auto& mode = sweep.modes[i];
    plot += "data.'/" + mode + "-median.dat' using 1:2 with lines lw 3 lc rgb '#" + mode_colour(mode, i) + "' title " +
            gp_string(mode_label(mode));
    if (i + 1 < sweep.modes.size()) plot += ", \\\n       ";
  }

  const auto panel = [&](double x0, const std::string& title, double y_min, double y_max) {
    const bool from_zero = std::isnan(y_min);
    const AxisTicks yt = axis_ticks(y_max);
    os << "  set origin " << data_number(x0) << "," << data_number(legend) << "\n"
       << "  set size 0.5," << data_number(panel_h) << "\n"
       << "  set title " << gp_string(title) << " noenhanced\n"
       << "  set yrange [" << data_number(from_zero ? -r.margin * y_max : y_min) << ":" << data_number(y_max) << "]\n";
    if (from_zero)
      os << "  " << tics_command('y', yt) << "  set ylabel " << gp_string(names.y + exponent_suffix(yt)) << "\n";
    else {
      // Enough significant digits that neighbouring ticks differ.
      const double scale = std::max(std::abs(y_min), std::abs(y_max)), spread = y_max - y_min;
      const int digits =
          spread > 0 && scale > 0 ? std::clamp(static_cast<int>(std::ceil(std::log10(scale / spread))) + 2, 3, 15) : 4;
      os << "  set ytics auto\n  set format y '%." << digits << "g'\n  set ylabel " << gp_string(names.y) << "\n";
    }
    os << "  plot " << plot << "\n";
  };
  panel(0, "all strategies", std::numeric_limits<double>::quiet_NaN(), r.y_max);
  os << "  unset label 101\n  unset label 102\n";
  panel(0.5, std::isnan(r.y_min_zoom) ? "near E (zoomed: " + r.zoom_rule + ")" : r.zoom_rule, r.y_min_zoom,
        r.y_max_zoom);
  os << legend_strip(sweep.modes, style, legend) << closing_passes();
  return os.str();
}

}  // namespace

bool in_progress(const Sweep& sweep) {
  return !sweep.complete || static_cast<int>(sweep.runs.size()) < sweep.planned_runs;
}

std::string progress_text(const Sweep& sweep) {
  if (!in_progress(sweep)) return "";
  std::string text =
      "in progress: " + std::to_string(sweep.runs.size()) + " of " + std::to_string(sweep.planned_runs) + " runs";
  if (!sweep.diverged.empty()) text += ", " + std::to_string(sweep.diverged.size()) + " diverged";
  return text;
}

std::string augmentation_text(const Sweep& sweep) {
  const bool aug = std::find(sweep.modes.begin(), sweep.modes.end(), "aug") != sweep.modes.end();
  const bool pen = std::find(sweep.modes.begin(), sweep.modes.end(), "augpen") != sweep.modes.end();
  if (!aug && !pen) return "";
  const auto& m = sweep.manifest;
  if (!m.is_object() || !m.contains("config") || !m["config"].is_object()) return "";
  const auto& config = m["config"];
  if (!config.contains("train") || !config["train"].is_object()) return "";
  const auto& train = config["train"];
  if (!train.contains("aug") || !train["aug"].is_object()) return "";
  const auto& settings = train["aug"];
  std::string text;
  if (settings.contains("exact") && settings["exact"].is_boolean() && settings["exact"].get<bool>()) {
    text = "Aug exact (every group element)";
  } else {
    text = "Aug sampled";
    if (settings.contains("per") && settings["per"].is_string()) text += " per " + settings["per"].get<std::string>();
    if (settings.contains("passes") && settings["passes"].is_number_integer())
      text += ", L = " + std::to_string(settings["passes"].get<long long>());
  }
  if (pen && train.contains("penalty") && train["penalty"].is_number())
    text += ", AugPen γ = " + format_number(train["penalty"].get<double>());
  return text;
}

std::string figure_title(const Sweep& sweep) {
  std::vector<std::string> parts;
  if (!sweep.group.empty()) parts.push_back("group " + sweep.group);
  if (!sweep.precision.empty()) parts.push_back(precision_name(sweep.precision));
  if (sweep.raw_start) parts.push_back("start raw (A⁰ off E)");
  if (const std::string aug = augmentation_text(sweep); !aug.empty()) parts.push_back(aug);
  if (!sweep.reference.empty()) {
    std::string on;
    for (const auto& r : sweep.reference) on += (on.empty() ? "" : " + ") + r;
    parts.push_back("reference: " + on);
  }
  std::string title = sweep.name.empty() ? "eqaug" : sweep.name;
  for (std::size_t i = 0; i < parts.size(); ++i) title += (i ? ", " : ": ") + parts[i];
  title += " — ";
  title += in_progress(sweep) ? progress_text(sweep)
                              : std::to_string(sweep.runs.size()) + (sweep.runs.size() == 1 ? " run" : " runs");
  return title + ", " + std::to_string(sweep.epochs) + " steps";
}

double zoom_floor_factor(const std::string& precision) { return precision == "f64" ? 1e-9 : 1e-5; }

double zoom_range(double aug_max_median, double y_max, const std::string& precision) {
  double zoom = 1e-12;
  if (std::isfinite(aug_max_median)) zoom = std::max(zoom, 1.1 * aug_max_median);
  if (std::isfinite(y_max)) zoom = std::max(zoom, zoom_floor_factor(precision) * y_max);
  return zoom;
}

namespace {

// The authors' `calclims`: 1.5 × the max over steps of a strategy's median (x of Equi, y of
// Nom, the zoom of Aug), each falling back to eqaug's rule where that strategy is missing or
// never moves.
FigureRanges paper_ranges(const Sweep& sweep, FigureRanges r) {
  const double equi = finite_max(0.0, median_path(sweep, "equi").x);
  const double nom = finite_max(0.0, median_path(sweep, "nom").y);
  const double aug = finite_max(0.0, median_path(sweep, "aug").y);
  r.margin = 0.1;
  if (equi > 0) r.x_max = 1.5 * equi;
  if (nom > 0) r.y_max = 1.5 * nom;
  if (aug > 0) {
    r.y_max_zoom = std::max(1.5 * aug, zoom_floor_factor(sweep.precision) * r.y_max);
    r.zoom_rule = 1.5 * aug >= r.y_max_zoom
                      ? "y to 1.5 × max median of Aug, as the paper"
                      : "y to " + format_number(zoom_floor_factor(sweep.precision)) +
                            " × the full panel; Aug's median stays below that, at the rounding of " +
                            precision_name(sweep.precision);
  }
  return r;
}

}  // namespace

FigureRanges figure_ranges(const Sweep& sweep) {
  double x = 0, y = 0;
  for (const auto& [mode, curves] : sweep.curves)
    for (const auto& c : curves) {
      x = finite_max(x, c.dist_init);
      y = finite_max(y, c.dist_E);
    }
  FigureRanges r;
  r.x_max = x > 0 ? 1.05 * x : 1.0;
  // Distances to E below the rounding of the precision, relative to how far the weights
  // moved, are 0: without Nom an exact Aug must not fill the panel with its rounding noise.
  const double floor = x > 0 ? zoom_floor_factor(sweep.precision) * x : 0;
  r.y_max = y > floor ? 1.05 * y : floor > 0 ? floor : 1.0;

  const MedianPath aug = median_path(sweep, "aug");
  const bool has_aug = std::any_of(aug.y.begin(), aug.y.end(), [](double v) { return std::isfinite(v); });
  if (has_aug && sweep.raw_start && !sweep.paper_metric) {
    // Aug starts at A⁰'s own distance to E: zoom on its median around that start.
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (double v : aug.y)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    const double pad = std::max(0.1 * (hi - lo), zoom_floor_factor(sweep.precision) * r.y_max);
    r.y_min_zoom = lo - pad;
    r.y_max_zoom = hi + pad;
    r.zoom_rule = "zoomed on Aug's median (start raw, at |A0 - P_E A0| = " + format_number(aug.y.front()) + ")";
    return r;
  }
  if (has_aug) {
    const double aug_max = finite_max(0.0, aug.y);
    r.y_max_zoom = zoom_range(aug_max, r.y_max, sweep.precision);
    if (1.1 * aug_max >= r.y_max_zoom) {
      r.zoom_rule = "y to 1.1 × max median of Aug";
    } else {
      r.zoom_rule = "y to " + format_number(zoom_floor_factor(sweep.precision)) +
                    " × the full panel; Aug's median stays below that, at the rounding of " +
                    precision_name(sweep.precision);
    }
    return sweep.paper_metric ? paper_ranges(sweep, r) : r;
  }
  double other = 0;
  std::string from;
  for (const auto& mode : sweep.modes) {
    if (mode == "nom") continue;
    const double v = finite_max(0.0, median_path(sweep, mode).y);
    if (v > other) {
      other = v;
      from = mode_label(mode);
    }
  }
  if (other > 0) {
    r.y_max_zoom = 1.1 * other;
    r.zoom_rule = "y to 1.1 × max median of " + from;
  } else {
    r.y_max_zoom = 0.01 * r.y_max;
    r.zoom_rule = "1% of the full range";
  }
  return sweep.paper_metric ? paper_ranges(sweep, r) : r;
}

AxisTicks axis_ticks(double max) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  const int magnitude = static_cast<int>(std::floor(std::log10(max)));
  double step = 0;
  int best = 1 << 30;
  for (int k = magnitude - 2; k <= magnitude + 1; ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      const double s = m * std::pow(10.0, k);
      const int n = static_cast<int>(std::floor(max / s * (1 + 1e-9)));
      if (n < 3 || n > 8) continue;
      const int score = std::abs(n - 5);
      if (score < best || (score == best && s > step)) {
        best = score;
        step = s;
      }
    }
  if (step == 0) step = max / 4;  // unreachable for finite max > 0; a safe fallback

  AxisTicks t;
  t.exponent = (max < 0.01 || max >= 1e4) ? magnitude : 0;
  const double unit = std::pow(10.0, t.exponent);
  const double scaled_step = step / unit;
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(scaled_step) + 1e-9)));
  const int count = static_cast<int>(std::floor(max / step * (1 + 1e-9)));
  for (int k = 0; k <= count; ++k) {
    char label[64];
    std::snprintf(label, sizeof label, "%.*f", decimals, k * scaled_step);
    t.values.push_back(k * step);
    t.labels.push_back(label);
  }
  return t;
}

FigureFiles render_figure(const Sweep& sweep, const fs::path& dir, const FigureOptions& options) {
  if (sweep.runs.empty()) throw Error(in_quotes(dir) + ": no finished runs to plot (manifest.json lists none)");
  if (options.width <= 0 || options.height <= 0)
    throw Error("figure size " + std::to_string(options.width) + "x" + std::to_string(options.height) +
                ": expected positive width and height");

  fs::path data_dir;
  FigureFiles files = figure_files(dir, data_dir, figure_stem(sweep.paper_metric));
  for (const auto& mode : sweep.modes) {
    files.data.push_back(data_dir / (mode + "-runs.dat"));
    io::write_file_atomic(files.data.back(), runs_data(mode, sweep));
    files.data.push_back(data_dir / (mode + "-median.dat"));
    io::write_file_atomic(files.data.back(), median_data(mode, sweep));
  }
  draw_figure(options, files, script(sweep, figure_ranges(sweep), options));
  return files;
}

void remove_stale_report(const fs::path& dir) {
  remove_figure(dir);
  const fs::path summary = dir / "summary.csv";
  std::error_code ec;
  if (!fs::remove(summary, ec) && ec) throw RuntimeFailure("cannot remove " + in_quotes(summary) + ": " + ec.message());
}

}  // namespace eqaug::report
