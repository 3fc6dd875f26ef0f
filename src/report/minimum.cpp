// The report of `eqaug minimum`: what the descent reached, the smallest eigenvalues on E and
// E⊥ with the verdict, and a figure of growth.csv: ‖A − Π_E A‖ of exact Aug and AugPen off A*
// beside their linear predictions, and of sampled Aug from A*.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/analysis/hessian.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"
#include "gnuplot.hpp"

namespace eqaug::report {

namespace fs = std::filesystem;
using namespace detail;
using nlohmann::json;

bool is_minimum(const fs::path& dir) { return fs::exists(dir / "minimum.json") && !fs::exists(dir / "manifest.json"); }

namespace {

double number(const json& j, const char* key, const fs::path& file) {
  if (!j.contains(key) || !j[key].is_number())
    throw Error(file.string() + ": field '" + key + "' missing or not a number");
  return j[key].get<double>();
}

double first(const json& j, const char* key, const fs::path& file) {
  if (!j.contains(key) || !j[key].is_array())
    throw Error(file.string() + ": field '" + key + "' missing or not a list");
  if (j[key].empty() || !j[key][0].is_number()) return NAN;
  return j[key][0].get<double>();
}

}  // namespace

void report_minimum(const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const fs::path file = dir / "minimum.json";
  json m;
  try {
    m = json::parse(io::read_file(file));
  } catch (const json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!m.is_object()) throw Error(file.string() + ": expected a JSON object");
  const double loss = number(m, "loss", file), grad = number(m, "grad_norm", file);
  const double tol = number(m, "grad_tol", file), wd = m.value("weight_decay", 0.0);
  const double eq = first(m, "eq_on_E", file), perp = first(m, "aug_on_Eperp", file);
  const double perp_res = m.contains("aug_on_Eperp_residuals") && !m["aug_on_Eperp_residuals"].empty()
                              ? m["aug_on_Eperp_residuals"][0].get<double>()
                              : 0.0;
  char buf[400];
  std::snprintf(buf, sizeof buf, "A*: R%s = %.10g, |grad| %.3g (%s the tolerance %.1g)\n",
                wd > 0 ? " + weight_decay/2 |A|^2" : "", loss, grad, grad <= tol ? "within" : "NOT within", tol);
  out << buf;
  std::snprintf(buf, sizeof buf, "smallest eigenvalue of Hess R^eq on E: %.6g (%s)\n", eq,
                eq > 0 ? "positive definite: a strict local minimum" : "not positive definite");
  out << buf;
  std::snprintf(buf, sizeof buf,
                "smallest eigenvalue of the exact Hess R^aug on E-perp: %.6g (residual %.2g): E is %s\n", perp,
                perp_res, analysis::stability(perp, perp_res).c_str());
  out << buf;
  if (wd > 0) {
    std::snprintf(buf, sizeof buf, "(both include the weight decay's + %g)\n", wd);
    out << buf;
  }
  const fs::path growth = dir / "growth.csv";
  if (!fs::exists(growth)) return;
  // step, aug_exact, aug_exact_linear, augpen_exact, augpen_linear, aug_sampled
  std::ifstream in(growth);
  std::string line, data;
  std::getline(in, line);
  if (line.rfind("step,aug_exact,aug_exact_linear,augpen_exact,augpen_linear,aug_sampled", 0) != 0)
    throw Error(growth.string() + ": unexpected header '" + line + "'");
  std::vector<double> last;
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> c;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) c.push_back(std::strtod(cell.c_str(), nullptr));
    if (c.size() != 6) throw Error(growth.string() + ": expected 6 columns in row " + std::to_string(rows + 1));
    data += line.substr(0, line.find(','));  // the step, as written
    for (std::size_t i = 1; i < c.size(); ++i) data += " " + data_number(c[i]);
    data += "\n";
    last = c;
    ++rows;
  }
  if (rows < 2) throw Error(growth.string() + ": fewer than 2 steps");
  std::snprintf(buf, sizeof buf,
                "after %.0f steps of eta %g: exact Aug |A - P_E A| %.4g (linear prediction %.4g), exact AugPen %.4g "
                "(linear %.4g), sampled Aug %.4g\n",
                last[0], m.value("lr", NAN), last[1], last[2], last[3], last[4], last[5]);
  out << buf;
  if (!plot) return;
  fs::path data_dir;
  const FigureFiles files = figure_files(dir, data_dir);
  io::write_file_atomic(data_dir / "growth.dat", data);
  char title[200];
  std::snprintf(title, sizeof title, "Off an equivariant minimum A*: lambda-perp = %.4g, eta = %g, AugPen gamma = %g",
                perp, m.value("lr", NAN), m.value("penalty", NAN));
  std::ostringstream gp;
  gp << "# eqaug minimum: |A - P_E A| of exact Aug and AugPen from A* + eps v-perp beside (1 + eta |lambda|)^t and\n"
     << "# (1 - eta (gamma - |lambda|))^t, and of sampled Aug from A*. Run: gnuplot -e \"png_out='a.png'; "
        "svg_out='a.svg'; pdf_out='a.pdf'\" figure.gp\n"
     << cd_to_script_folder() << terminal_passes(options.width, options.height) << "  set title " << gp_string(title)
     << " noenhanced\n"
     << "  set key top left\n  set grid lc rgb '#e0e0e0'\n  set xlabel 'step'\n"
     << "  set ylabel '|A - {/Symbol P}_E A|'\n  set logscale y\n  set format y '%.0e'\n"
     << "  f = " << gp_string("figure-data/growth.dat") << "\n"
     << "  plot f using 1:($2 > 0 ? $2 : NaN) with lines lw 3 lc rgb '#" << mode_colour("aug", 1)
     << "' title 'exact Aug', \\\n"
     << "       f using 1:($3 > 0 ? $3 : NaN) with lines lw 1 dt 2 lc rgb 'black' title '(1 + {/Symbol h}|{/Symbol "
        "l}_{/Symbol \\136}|)^t', \\\n"
     << "       f using 1:($4 > 0 ? $4 : NaN) with lines lw 3 lc rgb '#" << mode_colour("augpen", 3)
     << "' title 'exact AugPen', \\\n"
     << "       f using 1:($5 > 0 ? $5 : NaN) with lines lw 1 dt 3 lc rgb 'black' title '(1 - {/Symbol h}({/Symbol "
        "g} - |{/Symbol l}_{/Symbol \\136}|))^t', \\\n"
     << "       f using 1:($6 > 0 ? $6 : NaN) with lines lw 2 lc rgb '#" << mode_colour("nom", 0)
     << "' title 'sampled Aug (from A*)'\n"
     << "  set output\n"
     << closing_passes();
  draw_figure(options, files, gp.str());
  out << "figure: " << files.png.string() << "\n";
}

}  // namespace eqaug::report
