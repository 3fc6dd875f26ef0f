// The noise law of Aug's drift: exponents in t and in L with bootstrap intervals.
#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/report/report.hpp"
#include "eqaug/report/stats.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace eqaug::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Least-squares slope of y on x; NaN with fewer than two points or no spread in x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n < 2) return kNaN;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i] / static_cast<double>(n);
    my += y[i] / static_cast<double>(n);
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : kNaN;
}

// A run's time exponent: log ‖A_t − Π_E A_t‖ on log t over from <= t <= to (t >= 1) where positive.
double time_exponent(const RunCurve& c, double from = 1, double to = std::numeric_limits<double>::infinity()) {
  std::vector<double> x, y;
  for (std::size_t s = 0; s < c.step.size(); ++s)
    if (c.step[s] >= std::max(1.0, from) && c.step[s] <= to && c.dist_E[s] > 0 && std::isfinite(c.dist_E[s])) {
      x.push_back(std::log(c.step[s]));
      y.push_back(std::log(c.dist_E[s]));
    }
  return slope(x, y);
}

// The median over the runs of per-run exponents, with its 95 % bootstrap interval.
void median_exponent(const std::vector<double>& b, double& median, double& low, double& high) {
  const RatioEstimate e = bootstrap_ratio_of_medians(b, std::vector<double>(b.size(), 1.0));
  median = e.ratio;
  low = e.low;
  high = e.high;
}

int aug_passes(const Sweep& s) {
  const auto& m = s.manifest;
  if (!m.contains("config") || !m["config"].contains("train") || !m["config"]["train"].contains("aug")) return 0;
  const auto& aug = m["config"]["train"]["aug"];
  if (aug.value("exact", false) || !aug.contains("passes") || !aug["passes"].is_number_integer()) return 0;
  return aug["passes"].get<int>();
}

std::string text_at(const nlohmann::json& m, const char* table, const char* key) {
  if (!m.contains("config") || !m["config"].contains(table) || !m["config"][table].is_object()) return {};
  const auto& t = m["config"][table];
  return t.contains(key) && t[key].is_string() ? t[key].get<std::string>() : std::string();
}

}  // namespace

NoiseLaw noise_law(const Study& study) {
  NoiseLaw law;
  // Per member: the final drifts per run (for β's bootstrap).
  std::vector<std::vector<double>> finals;
  for (const auto& m : study.members) {
    if (!m.has_runs()) continue;
    const auto it = m.sweep.curves.find("aug");
    const int L = aug_passes(m.sweep);
    if (it == m.sweep.curves.end() || it->second.empty() || L <= 0) continue;
    NoiseLawRow r;
    r.member = m.name;
    r.group = m.group;
    r.setting = setting_name(m.sweep);
    r.family = text_at(m.sweep.manifest, "data", "kind") + "/" + text_at(m.sweep.manifest, "model", "loss");
    r.passes = L;
    r.runs = static_cast<int>(it->second.size());
    std::vector<double> b, early, late, fin;
    for (const auto& c : it->second) {
      b.push_back(time_exponent(c));
      const double split = c.step.empty() ? 1.0 : std::max(2.0, std::round(c.step.back() / 5));
      early.push_back(time_exponent(c, 1, split));
      late.push_back(time_exponent(c, split));
      fin.push_back(c.dist_E.empty() ? kNaN : c.dist_E.back());
    }
    r.final_median = describe(fin).median;
    median_exponent(b, r.b, r.b_low, r.b_high);
    median_exponent(early, r.b_early, r.b_early_low, r.b_early_high);
    median_exponent(late, r.b_late, r.b_late_low, r.b_late_high);
    law.rows.push_back(r);
    finals.push_back(std::move(fin));
  }
  // β per experiment with two or more L.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<std::size_t>> by;
  std::vector<std::tuple<std::string, std::string, std::string>> order;
  for (std::size_t i = 0; i < law.rows.size(); ++i) {
    const auto key = std::make_tuple(law.rows[i].group, law.rows[i].setting, law.rows[i].family);
    if (!by.count(key)) order.push_back(key);
    by[key].push_back(i);
  }
  for (const auto& key : order) {
    const auto& idx = by[key];
    std::vector<int> Ls;
    for (auto i : idx) Ls.push_back(law.rows[i].passes);
    std::sort(Ls.begin(), Ls.end());
    if (std::unique(Ls.begin(), Ls.end()) - Ls.begin() < 2) continue;
    NoiseLawFit f;
    f.group = std::get<0>(key);
    f.setting = std::get<1>(key);
    f.family = std::get<2>(key);
    f.passes.assign(Ls.begin(), std::unique(Ls.begin(), Ls.end()));
    const auto fit = [&](const std::vector<std::vector<double>>& samples) {
      std::vector<double> x, y;
      for (std::size_t k = 0; k < idx.size(); ++k) {
        const double med = describe(samples[k]).median;
        if (med > 0 && std::isfinite(med)) {
          x.push_back(std::log(static_cast<double>(law.rows[idx[k]].passes)));
          y.push_back(std::log(med));
        }
      }
      return slope(x, y);
    };
    std::vector<std::vector<double>> own;
    for (auto i : idx) own.push_back(finals[i]);
    f.beta = fit(own);
    Rng rng(1);
    std::vector<double> draws;
    for (int b = 0; b < 2000; ++b) {
      std::vector<std::vector<double>> re;
      for (const auto& v : own) {
        std::vector<double> s(v.size());
        for (auto& x : s) x = v[rng.below(v.size())];
        re.push_back(std::move(s));
      }
      const double v = fit(re);
      if (std::isfinite(v)) draws.push_back(v);
    }
    if (!draws.empty()) {
      std::sort(draws.begin(), draws.end());
      const auto at = [&](double p) {
        return draws[static_cast<std::size_t>(p * static_cast<double>(draws.size() - 1))];
      };
      f.low = at(0.025);
      f.high = at(0.975);
    }
    law.fits.push_back(f);
  }
  if (law.fits.empty()) law.rows.clear();
  return law;
}

std::string format_noise_law(const NoiseLaw& law) {
  std::ostringstream os;
  os << "The noise law: Aug's drift |A_t - P_E A_t| ~ (t / L)^(1/2) if it is the sampling noise of Remark 1.\n"
        "b: per-run slope of log drift on log t (steps >= 1), median [95% bootstrap CI]; early, late: the same\n"
        "over 1 <= t <= T/5 and T/5 <= t <= T (their intervals in noise_law.csv); beta: slope of log(median\n"
        "final drift) on log L [95% bootstrap CI over the runs]. The law: b = 0.5, beta = -0.5.\n";
  std::vector<std::vector<std::string>> cells{
      {"member", "setting", "L", "runs", "final drift", "b [95% CI]", "early", "late"}};
  for (const auto& r : law.rows)
    cells.push_back({r.member, r.setting, std::to_string(r.passes), std::to_string(r.runs),
                     format_number(r.final_median),
                     format_number(r.b) + " [" + format_number(r.b_low) + ", " + format_number(r.b_high) + "]",
                     format_number(r.b_early), format_number(r.b_late)});
  os << format_columns(cells, {false, false, true, true});
  for (const auto& f : law.fits)
    os << "beta (" << f.group << ", " << f.setting << "): " << format_number(f.beta) << " [" << format_number(f.low)
       << ", " << format_number(f.high) << "] over L = " <<
        [&] {
          std::string s;
          for (std::size_t i = 0; i < f.passes.size(); ++i) s += (i ? ", " : "") + std::to_string(f.passes[i]);
          return s;
        }()
       << '\n';
  return os.str();
}

std::vector<std::filesystem::path> write_noise_law_csv(const std::filesystem::path& dir, const NoiseLaw& law) {
  std::ostringstream a, b;
  a << "member,group,setting,passes,runs,final_median,b,b_low,b_high,b_early,b_early_low,b_early_high,b_late,"
       "b_late_low,b_late_high\n";
  for (const auto& r : law.rows) {
    a << r.member << ",\"" << r.group << "\"," << r.setting << ',' << r.passes << ',' << r.runs << ','
      << io::csv_number(r.final_median);
    for (double v :
         {r.b, r.b_low, r.b_high, r.b_early, r.b_early_low, r.b_early_high, r.b_late, r.b_late_low, r.b_late_high})
      a << ',' << io::csv_number(v);
    a << '\n';
  }
  b << "group,setting,passes,beta,low,high\n";
  for (const auto& f : law.fits) {
    std::string Ls;
    for (std::size_t i = 0; i < f.passes.size(); ++i) Ls += (i ? " " : "") + std::to_string(f.passes[i]);
    b << '"' << f.group << "\"," << f.setting << ',' << Ls << ',' << io::csv_number(f.beta) << ','
      << io::csv_number(f.low) << ',' << io::csv_number(f.high) << '\n';
  }
  const auto p1 = dir / "noise_law.csv", p2 = dir / "noise_law_fits.csv";
  io::write_file_atomic(p1, a.str());
  io::write_file_atomic(p2, b.str());
  return {p1, p2};
}

FigureFiles render_noise_law_figure(const Study& study, const NoiseLaw& law, const std::filesystem::path& dir,
                                    const FigureOptions& options) {
  using namespace detail;
  if (law.fits.empty()) throw Error(in_quotes(dir) + ": no experiment with two or more L to draw the noise law of");
  std::map<std::string, const StudyMember*> members;
  for (const auto& m : study.members) members[m.name] = &m;
  std::filesystem::path data_dir;
  FigureFiles files = figure_files(dir, data_dir, "figure-noise-law");
  const std::size_t cols = law.fits.size() > 1 ? 2 : 1;
  const std::size_t rows = (law.fits.size() + cols - 1) / cols;
  const int height = static_cast<int>(rows) * 380 + 40;
  static const char* colours[] = {"1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f"};
  std::ostringstream os;
  os << "# The noise law of Aug's drift for the study in this directory, written by `eqaug report`: per\n"
     << "# experiment (group, setting), the per-step median over runs of |A_t - P_E A_t| against t, one\n"
     << "# curve per L, log-log, with the slope-1/2 line of Remark 1 through the smallest L at t = 1.\n"
     << cd_to_script_folder() << "if (!exists(\"png_out\")) png_out = 'figure-noise-law.png'\n"
     << "if (!exists(\"svg_out\")) svg_out = 'figure-noise-law.svg'\n"
     << "if (!exists(\"pdf_out\")) pdf_out = 'figure-noise-law.pdf'\n"
     << "data = 'figure-noise-law-data'\n"
     << terminal_passes(options.width, height) << "  set multiplot layout " << rows << "," << cols << " title "
     << gp_string((study.name.empty() ? std::string("study") : study.name) +
                  ": Aug's drift against t per L (log-log); dashed: slope 1/2")
     << " noenhanced\n";
  for (const auto& f : law.fits) {
    std::string plot;
    double anchor = kNaN;
    std::size_t c = 0;
    for (const auto& r : law.rows) {
      if (r.group != f.group || r.setting != f.setting || r.family != f.family) continue;
      const auto it = members.find(r.member);
      if (it == members.end()) continue;
      const auto& curves = it->second->sweep.curves.at("aug");
      std::ostringstream d;
      d << "# " << r.member << " (L = " << r.passes << "): t, median over " << curves.size()
        << " runs of |A_t - P_E A_t|\n";
      for (std::size_t t = 1; t < curves.front().dist_E.size(); ++t) {
        std::vector<double> v;
        for (const auto& cv : curves) v.push_back(cv.dist_E[t]);
        const double med = describe(v).median;
        if (med > 0 && std::isfinite(med)) {
          d << t << ' ' << data_number(med) << '\n';
          if (t == 1 && std::isnan(anchor)) anchor = med;
        }
      }
      const auto file = data_dir / (r.member + ".dat");
      io::write_file_atomic(file, d.str());
      files.data.push_back(file);
      plot += (plot.empty() ? "" : ", \\\n       ") + std::string("data.'/") + r.member +
              ".dat' using 1:2 with lines lw 2 lc rgb '#" + colours[c++ % 8] + "' title " +
              gp_string("L = " + std::to_string(r.passes));
    }
    if (std::isfinite(anchor))
      plot += ", \\\n       " + data_number(anchor) + " * sqrt(x) with lines dt 2 lw 1 lc rgb '#404040' title '∝ √t'";
    os << "  set title "
       << gp_string(f.group + ", " + f.setting + ": beta = " + format_number(f.beta) + " [" + format_number(f.low) +
                    ", " + format_number(f.high) + "]")
       << " noenhanced\n"
       << "  set logscale xy\n  set format y '10^{%L}'\n  set format x '%g'\n  set grid lc rgb '#e0e0e0'\n"
       << "  set key top left noenhanced\n"
       << "  set xlabel 't (steps)'\n  set ylabel '‖A_t − Π_E A_t‖ (median)'\n"
       << "  plot " << plot << "\n";
  }
  os << closing_passes();
  draw_figure(options, files, os.str());
  return files;
}

}  // namespace eqaug::report
