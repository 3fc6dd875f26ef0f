// The report of `eqaug hessian`: a table per trajectory and step, and a figure with the
// smallest E⊥-eigenvalue of ∇²R^aug along the trajectory (with its standard error) next to
// the trajectory's distance to E at every step (drift.csv).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "eqaug/analysis/hessian.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "gnuplot.hpp"

namespace eqaug::report {

namespace fs = std::filesystem;
using namespace detail;

bool is_hessian(const fs::path& dir) { return fs::exists(dir / "hessian.csv") && !fs::exists(dir / "manifest.json"); }

namespace {

struct Point {
  std::size_t step;
  double dist_E, eq_min = NAN, perp_min = NAN, perp_se = 0, perp_res = 0;
};

std::map<std::string, std::vector<Point>> read_points(const fs::path& csv) {
  std::ifstream in(csv);
  if (!in) throw Error("cannot read " + csv.string());
  std::string line;
  std::getline(in, line);
  if (line.rfind("trajectory,step,operator,index,eigenvalue,residual,stderr,dist_E", 0) != 0)
    throw Error(csv.string() + ": not a hessian.csv written by eqaug hessian (unexpected header)");
  std::map<std::string, std::vector<Point>> out;
  for (std::size_t row = 2; std::getline(in, line); ++row) {
    std::vector<std::string> c;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) c.push_back(cell);
    if (c.size() < 9) throw Error(csv.string() + ": line " + std::to_string(row) + ": expected 9 fields");
    if (c[3] != "0") continue;  // the smallest eigenvalue of each operator
    try {
      auto& pts = out[c[0]];
      const std::size_t step = std::stoul(c[1]);
      if (pts.empty() || pts.back().step != step) pts.push_back({step, std::stod(c[7])});
      if (c[2] == "eq_on_E") pts.back().eq_min = std::stod(c[4]);
      if (c[2] == "aug_on_Eperp") {
        pts.back().perp_min = std::stod(c[4]);
        pts.back().perp_res = std::stod(c[5]);
        pts.back().perp_se = std::stod(c[6]);
      }
    } catch (const std::exception&) {
      throw Error(csv.string() + ": line " + std::to_string(row) + ": malformed number");
    }
  }
  return out;
}

/// What hessian.json says of how ∇²R^aug was formed and of AugPen's γ (absent: a folder of
/// an older version, or none).
struct HessianInfo {
  bool exact = false, single = false;  // the exact average; one Monte-Carlo estimate (no standard error)
  double penalty = 0;
  std::string title = "eqaug hessian";  // the figure's: the experiment, how Hess R^aug was formed, γ
};

HessianInfo read_info(const fs::path& file) {
  HessianInfo info;
  if (!fs::exists(file)) return info;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(in_quotes(file) + ": invalid JSON: " + e.what());
  }
  if (j.contains("hessian_aug") && j["hessian_aug"].is_string()) {
    const auto how = j["hessian_aug"].get<std::string>();
    info.exact = how.rfind("exact", 0) == 0;
    info.single = how.find(" x 1 independent") != std::string::npos;
  }
  if (j.contains("penalty") && j["penalty"].is_number()) info.penalty = j["penalty"].get<double>();
  // "rot: group rotation, Hess R^aug exact: every group element, run 0, AugPen γ = 20"
  std::string title;
  if (j.contains("config") && j["config"].is_object()) {
    const auto& c = j["config"];
    if (c.contains("name") && c["name"].is_string()) title = c["name"].get<std::string>();
    if (c.contains("group") && c["group"].is_object() && c["group"].contains("kind") && c["group"]["kind"].is_string())
      title += (title.empty() ? "" : ": ") + std::string("group ") + c["group"]["kind"].get<std::string>();
  }
  if (j.contains("hessian_aug") && j["hessian_aug"].is_string())
    title += (title.empty() ? "" : ", ") + std::string("Hess R^aug ") + j["hessian_aug"].get<std::string>();
  if (j.contains("run") && j["run"].is_number_unsigned())
    title += ", run " + std::to_string(j["run"].get<std::size_t>());
  if (info.penalty > 0) {
    char g[48];
    std::snprintf(g, sizeof g, ", AugPen gamma = %g", info.penalty);
    title += g;
  }
  if (!title.empty()) info.title = title;
  return info;
}

}  // namespace

void report_hessian(const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const auto points = read_points(dir / "hessian.csv");
  const HessianInfo info = read_info(dir / "hessian.json");
  char buf[320];
  std::snprintf(buf, sizeof buf, "%-8s %6s %12s %16s %16s %12s  %s\n", "traject.", "step", "|A - P_E A|",
                "min eig E (eq)", "min eig E-perp", "std. error", "E linearly");
  out << buf;
  bool penalised = false;
  for (const auto& [traj, pts] : points)
    for (const auto& p : pts) {
      // The standard error exists only for several Monte-Carlo estimates.
      char se[32];
      if (info.exact)
        std::snprintf(se, sizeof se, "exact");
      else if (info.single)
        std::snprintf(se, sizeof se, "n/a");
      else
        std::snprintf(se, sizeof se, "%.3g", p.perp_se);
      // AugPen descends R^aug + γ/2 ‖A − Π_E A‖²: its E⊥ block is ∇²R^aug + γ.
      const bool pen = traj == "augpen" && info.penalty > 0;
      penalised = penalised || pen;
      const double smallest = pen ? p.perp_min + info.penalty : p.perp_min;
      std::string verdict = analysis::stability(smallest, std::max(p.perp_se, p.perp_res));
      if (pen) {
        char v[96];
        std::snprintf(v, sizeof v, " (penalised: %.6g + %g = %.6g)", p.perp_min, info.penalty, smallest);
        verdict += v;
      }
      std::snprintf(buf, sizeof buf, "%-8s %6zu %12.4g %16.6g %16.6g %12s  %s\n", traj.c_str(), p.step, p.dist_E,
                    p.eq_min, p.perp_min, se, verdict.c_str());
      out << buf;
    }
  if (penalised) out << "(augpen: the verdict is for the penalised risk, whose E-perp block is Hess R^aug + gamma)\n";
  if (!plot) return;
  fs::path data_dir;
  const FigureFiles files = figure_files(dir, data_dir);
  std::ostringstream gp;
  gp << "# eqaug hessian: smallest eigenvalue of Hess R^aug on E-perp (+- 1 standard error) and the\n"
     << "# trajectory's distance to E, per step. Run: gnuplot -e \"png_out='a.png'; svg_out='a.svg'; "
        "pdf_out='a.pdf'\" figure.gp\n"
     << cd_to_script_folder() << terminal_passes(options.width, options.height) << "  set multiplot layout 1,2 title "
     << gp_string(info.title) << " font ',13' noenhanced\n"
     << "  set key top right\n  set grid lc rgb '#e0e0e0'\n  set xlabel 'step'\n"
     << "  set ylabel 'smallest eigenvalue of Hess R^{aug} on E^{/Symbol \\136}'\n"
     << "  set title 'Stability of E: below 0 means unstable'\n"
     << "  set xzeroaxis lt -1\n";
  // The drift at every step where drift.csv has it (eqaug hessian writes it), else at the
  // examined steps; steps at distance 0 (A0 in E) have no place on the log axis.
  std::map<std::string, std::string> drift;
  if (std::ifstream in(dir / "drift.csv"); in) {
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> c;
      std::stringstream ss(line);
      for (std::string cell; std::getline(ss, cell, ',');) c.push_back(cell);
      if (c.size() >= 3) drift[c[0]] += c[1] + " " + c[2] + "\n";
    }
  }
  std::string p1, p2;
  std::size_t i = 0;
  bool any_drift = false;  // a log axis needs a positive value (exact Aug from A0 in E has none)
  for (const auto& [traj, pts] : points)
    for (const auto& p : pts) any_drift = any_drift || p.dist_E > 0;
  for (const auto& [traj, d] : drift) {
    std::stringstream ss(d);
    for (std::string step, value; ss >> step >> value;)
      any_drift = any_drift || std::strtod(value.c_str(), nullptr) > 0;
  }
  for (const auto& [traj, pts] : points) {
    std::string data, path;
    for (const auto& p : pts) {
      data += std::to_string(p.step) + " " + data_number(p.perp_min) + " " + data_number(p.perp_se) + "\n";
      path += std::to_string(p.step) + " " + data_number(p.dist_E) + "\n";
    }
    if (drift.count(traj)) path = drift[traj];
    io::write_file_atomic(data_dir / (traj + "-eigen.dat"), data);
    io::write_file_atomic(data_dir / (traj + "-drift.dat"), path);
    const std::string colour = "#" + mode_colour(traj, i++);
    p1 += std::string(p1.empty() ? "" : ", ") + gp_string("figure-data/" + traj + "-eigen.dat") +
          " using 1:2:3 with yerrorlines lw 2 pt 7 lc rgb '" + colour + "' title " + gp_string(traj);
    p2 += std::string(p2.empty() ? "" : ", ") + gp_string("figure-data/" + traj + "-drift.dat") +
          (any_drift ? " using 1:($2 > 0 ? $2 : NaN)" : " using 1:2") + " with lines lw 2 lc rgb '" + colour +
          "' title " + gp_string(traj);
  }
  gp << "  plot " << p1 << "\n"
     << "  set title " << (any_drift ? "'Drift from E'" : "'Drift from E: 0 at every step (the trajectory stays in E)'")
     << "\n  set ylabel '|A - {/Symbol P}_E A|'\n"
     << (any_drift ? "  set logscale y\n  set format y '%.0e'\n" : "  set yrange [-1:1]\n") << "  plot " << p2 << "\n"
     << "  unset multiplot\n"
     << "  set output\n"
     << closing_passes();
  draw_figure(options, files, gp.str());
  out << "figure: " << files.png.string() << "\n";
}

}  // namespace eqaug::report
