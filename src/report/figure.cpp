#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/io/atomic_file.hpp"
#include "eqaug/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;
using namespace detail;

// "trans, group Z_14 x Z_14, f32 (30 runs, 50 steps)"; group and precision when the
// manifest gives them.
std::string figure_title(const Sweep& sweep) {
  std::string title = sweep.name.empty() ? "eqaug" : sweep.name;
  if (!sweep.group.empty()) title += ", group " + sweep.group;
  if (!sweep.precision.empty()) title += ", " + sweep.precision;
  const int done = static_cast<int>(sweep.runs.size());
  title += done == sweep.planned_runs ? " (" + std::to_string(done) + " runs"
                                      : " (" + std::to_string(done) + " of " + std::to_string(sweep.planned_runs) + " runs";
  return title + ", " + std::to_string(sweep.epochs) + " steps)";
}

std::string script(const Sweep& sweep, const fs::path& out_dir, const FigureRanges& r, const FigureOptions& o) {
  std::ostringstream os;
  os << "# Figure 1 of the paper for the results in this directory, written by `eqaug report`.\n"
     << "# Rerun with `gnuplot figure.gp`; png_out / svg_out can be overridden with -e.\n"
     << "if (!exists(\"png_out\")) png_out = " << gp_string((out_dir / "figure.png").string()) << "\n"
     << "if (!exists(\"svg_out\")) svg_out = " << gp_string((out_dir / "figure.svg").string()) << "\n"
     << "data = " << gp_string((out_dir / "figure-data").string()) << "\n"
     << "set encoding utf8\n"
     << "do for [pass = 1:2] {\n"
     << "  if (pass == 1) {\n"
     << "    set terminal pngcairo size " << o.width << "," << o.height
     << " enhanced font 'sans,11' background '#ffffff'\n"
     << "    set output png_out\n"
     << "  } else {\n"
     << "    set terminal svg size " << o.width << "," << o.height
     << " dynamic enhanced font 'sans,11' background '#ffffff'\n"
     << "    set output svg_out\n"
     << "  }\n"
     << "  set multiplot layout 1,2 title " << gp_string(figure_title(sweep)) << " font ',13' noenhanced\n"
     << "  set grid lc rgb '#e0e0e0'\n"
     << "  set key top left Left reverse opaque\n"
     << "  set xlabel '‖A − A^0‖ (distance travelled)'\n"
     << "  set ylabel '‖A − Π_E A‖ (distance to E)'\n"
     << "  set xrange [0:" << data_number(r.x_max) << "]\n";

  // Faint runs first so that every median is drawn on top of all of them.
  std::string plot;
  for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
    const auto& mode = sweep.modes[i];
    plot += "data.'/" + mode + "-runs.dat' using 1:2 with lines lw 0.8 lc rgb '#C0" + mode_colour(mode, i) +
            "' notitle, \\\n       ";
  }
  for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
    const auto& mode = sweep.modes[i];
    plot += "data.'/" + mode + "-median.dat' using 1:2 with lines lw 3 lc rgb '#" + mode_colour(mode, i) +
            "' title " + gp_string(mode_label(mode));
    if (i + 1 < sweep.modes.size()) plot += ", \\\n       ";
  }

  const auto panel = [&](const char* title, double y_max) {
    os << "  set title '" << title << "'\n"
       << "  set yrange [" << data_number(-0.03 * y_max) << ":" << data_number(y_max) << "]\n"
       << "  plot " << plot << "\n";
  };
  panel("all strategies", r.y_max);
  panel("near E (zoomed)", r.y_max_zoom);
  os << "  unset multiplot\n"
     << "  set output\n"
     << "}\n";
  return os.str();
}

}  // namespace

FigureRanges figure_ranges(const Sweep& sweep) {
  double x = 0, y = 0, y_zoom = 0;
  for (const auto& [mode, curves] : sweep.curves)
    for (const auto& c : curves) {
      x = finite_max(x, c.dist_init);
      y = finite_max(y, c.dist_E);
      if (mode != "nom") y_zoom = finite_max(y_zoom, c.dist_E);
    }
  FigureRanges r;
  r.x_max = x > 0 ? 1.05 * x : 1.0;
  r.y_max = y > 0 ? 1.05 * y : 1.0;
  r.y_max_zoom = y_zoom > 0 ? 1.1 * y_zoom : 0.01 * r.y_max;
  return r;
}

FigureFiles render_figure(const Sweep& sweep, const fs::path& dir, const FigureOptions& options) {
  if (sweep.runs.empty())
    throw Error(in_quotes(dir) + ": no finished runs to plot (manifest.json lists none)");
  if (options.width <= 0 || options.height <= 0)
    throw Error("figure size " + std::to_string(options.width) + "x" + std::to_string(options.height) +
                ": expected positive width and height");

  // Absolute paths in the script, so that it can be rerun from any working directory.
  const fs::path out_dir = fs::absolute(dir).lexically_normal();
  FigureFiles files;
  files.png = out_dir / "figure.png";
  files.svg = out_dir / "figure.svg";
  files.script = out_dir / "figure.gp";

  const fs::path data_dir = out_dir / "figure-data";
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) throw Error("cannot create directory " + in_quotes(data_dir) + ": " + ec.message());
  for (const auto& mode : sweep.modes) {
    files.data.push_back(data_dir / (mode + "-runs.dat"));
    io::write_file_atomic(files.data.back(), runs_data(mode, sweep));
    files.data.push_back(data_dir / (mode + "-median.dat"));
    io::write_file_atomic(files.data.back(), median_data(mode, sweep));
  }
  io::write_file_atomic(files.script, script(sweep, out_dir, figure_ranges(sweep), options));
  run_gnuplot(options, files.script, {{"png_out", files.png}, {"svg_out", files.svg}});
  return files;
}

}  // namespace eqaug::report
