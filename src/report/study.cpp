// Studies (several sweeps that belong together, e.g. the Groups experiment of App. E.2):
// reading study.json, the axis limits of the paper's Figure 6, and the figure itself.
#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

// Member names become file names in figure-data, so keep them plain.
bool plain_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string optional_string(const json& parent, const char* key, const std::string& where, const fs::path& file) {
  if (!parent.contains(key) || parent.at(key).is_null()) return {};
  if (!parent.at(key).is_string())
    throw Error(in_quotes(file) + ": field " + where + key + ": expected a string, found " + parent.at(key).dump());
  return parent.at(key).get<std::string>();
}

// NaN when absent; else a finite number >= 0 (> 0 if `positive`).
double optional_dimension(const json& parent, const char* key, const std::string& where, const fs::path& file,
                          bool positive) {
  if (!parent.contains(key) || parent.at(key).is_null()) return std::numeric_limits<double>::quiet_NaN();
  const json& v = parent.at(key);
  const double d = v.is_number() ? v.get<double>() : -1;
  if (!v.is_number() || !std::isfinite(d) || d < 0 || (positive && d == 0))
    throw Error(in_quotes(file) + ": field " + where + key + " is " + v.dump() + ", expected a number " +
                (positive ? "> 0" : ">= 0"));
  return d;
}

// The member's folder, relative to the study, must stay inside it.
fs::path member_dir(const std::string& text, const std::string& where, const fs::path& file) {
  fs::path p = fs::path(text).lexically_normal();
  if (!p.empty() && p.filename().empty()) p = p.parent_path();  // "x/" is "x"
  bool escapes = text.empty() || p.is_absolute() || p.has_root_name() || p.has_root_directory();
  for (const auto& part : p)
    if (part == "..") escapes = true;
  if (escapes || p == ".")
    throw Error(in_quotes(file) + ": field " + where + "dir is \"" + text +
                "\", expected a folder inside the study folder (a relative path without '..')");
  return p;
}

// Max over steps of the per-step median over runs of dist_init (x) or dist_E (y) of `mode`; 0
// when the mode is absent or never moves (NaNs ignored).
double max_median(const Sweep& sweep, const std::string& mode, bool y) {
  const MedianPath m = median_path(sweep, mode);
  return finite_max(0.0, y ? m.y : m.x);
}

double max_median_all(const Sweep& sweep, bool y) {
  double v = 0;
  for (const auto& mode : sweep.modes) v = std::max(v, max_median(sweep, mode, y));
  return v;
}

std::string member_title(const StudyMember& m) {
  std::string t = m.name;
  if (!m.group.empty()) t += " (" + m.group + ")";
  if (m.sweep.precision == "f32" || m.sweep.precision == "f64")
    t += m.sweep.precision == "f32" ? ", float32" : ", float64";
  else if (!m.sweep.precision.empty())
    t += ", " + m.sweep.precision;
  if (std::isfinite(m.dim_ratio())) t += ", dim E/dim L = " + format_number(m.dim_ratio());
  for (std::size_t i = 0; i < m.sweep.reference.size(); ++i) t += (i ? " + " : ", reference: ") + m.sweep.reference[i];
  return t;
}

// Pixels of the canvas above the rows (title lines) and below them (the legend).
constexpr int kTitleLine = 20, kTitlePad = 14, kLegend = 42;

int title_lines(const Study& study) { return in_progress(study) ? 4 : 3; }

std::string study_script(const Study& study, const std::vector<const StudyMember*>& plotted, const StudyRanges& r,
                         const FigureOptions& o, int height, bool paper, const std::string& stem) {
  std::ostringstream os;
  const std::string name = study.name.empty() ? "study" : study.name;
  const std::string factor = paper ? "1.5" : "1.1";
  // In the paper's metric every member names its own group layers on its axes.
  const auto layers_of = [](const Sweep& s) {
    std::string text;
    for (std::size_t i = 0; i < s.paper_layers.size(); ++i) text += (i ? ", " : "") + s.paper_layers[i];
    return text;
  };
  std::string kappa_rule;
  if (r.kappa_from >= 0)
    kappa_rule = "κ = " + format_number(r.kappa) + ", set so that the zoom of " + plotted[r.kappa_from]->name +
                 " reaches 1.5 × its max median of Aug";
  else
    kappa_rule = "κ = " + format_number(r.kappa) + " (no Aug curve: 1% of the full range)";
  std::vector<std::string> title = {
      paper ? name +
                  ": √(Σ_k d_k⁴), d_k the distance of layer k to E, against ‖A − A⁰‖ over the group layers, the "
                  "paper's metric (App. E.2, Figure 6; docs/reference.md, defect 6)"
            : name + ": distance to E against distance travelled ‖A − A⁰‖ per group (paper App. E.2, Figure 6)",
      "limits relative to the medians: x = " + factor + " × max median x of Equi; full y = " + factor +
          " × max median y of Nom; zoom y = κ × full y,",
      kappa_rule + (paper ? " (the authors' plotting code: calclims)"
                          : " (the paper's own factors were lost; these are eqaug's)")};
  if (in_progress(study)) {
    int finished = 0;
    for (const auto& m : study.members) finished += m.has_runs() && !in_progress(m.sweep) ? 1 : 0;
    title.push_back("in progress: " + std::to_string(finished) + " of " + std::to_string(study.members.size()) +
                    " groups finished: this figure is provisional");
  }

  // Modes in order of first appearance, for the one legend.
  std::vector<std::string> modes;
  std::size_t most_runs = 0;
  for (const StudyMember* m : plotted) {
    most_runs = std::max(most_runs, m->sweep.runs.size());
    for (const auto& mode : m->sweep.modes)
      if (std::find(modes.begin(), modes.end(), mode) == modes.end()) modes.push_back(mode);
  }

  const int top_px = kTitlePad + kTitleLine * static_cast<int>(title.size());
  const double legend = static_cast<double>(kLegend) / height;
  const double row_h = (1 - static_cast<double>(top_px) / height - legend) / static_cast<double>(plotted.size());

  os << "# Figure 6 of the paper (App. E.2) for the study in this directory, written by `eqaug report`.\n";
  if (paper)
    os << "# In the paper's metric (docs/reference.md, defect 6): y = sqrt(sum_k d_k^4), x = |A - A0|,\n"
       << "# both over each member's group layers.\n";
  os << "# Axis limits, relative to the Nom and Equi medians so that the groups compare (median over\n"
     << "# runs per step, max over steps):\n"
     << "#   x (both panels) = " << factor << " x max median dist_init of Equi\n"
     << "#   y (full panel)  = " << factor << " x max median dist_E of Nom\n"
     << "#   y (zoom panel)  = kappa x y (full), kappa common to all groups, chosen so that the first\n"
     << "#                     group with an Aug curve has y (zoom) = 1.5 x its max median dist_E of Aug\n"
     << "#                     (at least 1e-9 in f64, 1e-5 in f32: far above rounding)\n"
     << "# Fallbacks: no Equi -> x from all curves; no Nom -> y from all curves; no Aug anywhere ->\n"
     << "# kappa = 0.01. Here kappa = " << data_number(r.kappa) << ".\n"
     << "# Rerun with `gnuplot " << stem << ".gp` (from anywhere); png_out / svg_out / pdf_out can be\n"
     << "# overridden with -e.\n"
     << cd_to_script_folder() << "if (!exists(\"png_out\")) png_out = '" << stem << ".png'\n"
     << "if (!exists(\"svg_out\")) svg_out = '" << stem << ".svg'\n"
     << "if (!exists(\"pdf_out\")) pdf_out = '" << stem << ".pdf'\n"
     << "data = '" << stem << "-data'\n"
     << terminal_passes(o.width, height) << "  set multiplot\n";
  for (std::size_t l = 0; l < title.size(); ++l) {
    const double y = 1 - (kTitlePad / 2.0 + kTitleLine * (static_cast<double>(l) + 0.5)) / height;
    os << "  set label " << 101 + l << " " << gp_string(title[l]) << " at screen 0.5, screen " << data_number(y)
       << " center font '," << (l == 0 ? 13 : 11) << "'" << (l == 3 ? " textcolor rgb '#c00000'" : "")
       << " noenhanced\n";
  }
  os << "  set grid lc rgb '#e0e0e0'\n"
     << "  unset key\n";

  for (std::size_t g = 0; g < plotted.size(); ++g) {
    const StudyMember& member = *plotted[g];
    const Sweep& sweep = member.sweep;
    const GroupRanges& gr = r.groups[g];
    const RunStyle style = run_style(sweep.runs.size());
    std::string plot;
    for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
      const auto& mode = sweep.modes[i];
      const std::size_t colour = std::find(modes.begin(), modes.end(), mode) - modes.begin();
      plot += "data.'/" + member.name + "-" + mode + "-runs.dat' using 1:2 with lines lw " +
              format_number(style.width) + " lc rgb '#" + style.alpha + mode_colour(mode, colour) +
              "' notitle, \\\n       ";
    }
    for (std::size_t i = 0; i < sweep.modes.size(); ++i) {
      const auto& mode = sweep.modes[i];
      const std::size_t colour = std::find(modes.begin(), modes.end(), mode) - modes.begin();
      plot += "data.'/" + member.name + "-" + mode + "-median.dat' using 1:2 with lines lw 3 lc rgb '#" +
              mode_colour(mode, colour) + "' title " + gp_string(mode_label(mode));
      if (i + 1 < sweep.modes.size()) plot += ", \\\n       ";
    }
    std::string runs = std::to_string(sweep.runs.size()) + (sweep.runs.size() == 1 ? " run" : " runs");
    if (in_progress(sweep)) runs = progress_text(sweep);
    std::string full_title = member_title(member) + " — " + runs;
    if (!gr.note.empty()) full_title += " [" + gr.note + "]";
    // The augmentation goes to the zoom panel's title, where Aug is resolved (and so that
    // neither title outgrows its half of the row).
    std::string zoom_title = member.name + " — zoom (y to κ × full)";
    if (const std::string aug = augmentation_text(sweep); !aug.empty()) zoom_title += "; " + aug;
    const AxisTicks xt = axis_ticks(gr.x_max);
    const double y0 = legend + row_h * static_cast<double>(plotted.size() - 1 - g);
    const std::string x_name = paper ? "‖A − A^0‖ over " + layers_of(sweep) : "‖A − A^0‖";
    const std::string y_name = paper ? "√(Σ_k d_k^4)" : "‖A − Π_E A‖";
    os << "  set xrange [0:" << data_number(gr.x_max) << "]\n"
       << "  " << tics_command('x', xt) << "  set xlabel " << gp_string(x_name + exponent_suffix(xt)) << "\n";
    const auto panel = [&](double x0, const std::string& panel_title, double y_max) {
      const AxisTicks yt = axis_ticks(y_max);
      os << "  set origin " << data_number(x0) << "," << data_number(y0) << "\n"
         << "  set size 0.5," << data_number(row_h) << "\n"
         << "  set title " << gp_string(panel_title) << " noenhanced\n"
         << "  set yrange [" << data_number(-(paper ? 0.1 : 0.03) * y_max) << ":" << data_number(y_max) << "]\n"
         << "  " << tics_command('y', yt) << "  set ylabel " << gp_string(y_name + exponent_suffix(yt)) << "\n"
         << "  plot " << plot << "\n";
    };
    panel(0, full_title, gr.y_max);
    if (g == 0) os << "  unset label\n";
    panel(0.5, zoom_title, gr.y_max_zoom);
  }
  os << legend_strip(modes, run_style(most_runs), legend) << closing_passes();
  return os.str();
}

}  // namespace

bool in_progress(const Study& study) {
  if (!study.complete) return true;
  return std::any_of(study.members.begin(), study.members.end(),
                     [](const StudyMember& m) { return !m.has_runs() || in_progress(m.sweep); });
}

bool is_study(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "study.json", ec);
}

Study read_study(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(in_quotes(dir) + ": study directory not found");
  const fs::path file = dir / "study.json";
  if (!fs::exists(file)) throw Error(in_quotes(file) + ": not found; expected the study.json of a study");

  Study study;
  study.dir = dir;
  try {
    study.json = json::parse(io::read_file(file));
  } catch (const json::exception& e) {
    throw Error(in_quotes(file) + ": invalid JSON: " + e.what());
  }
  const json& s = study.json;
  if (!s.is_object()) throw Error(in_quotes(file) + ": expected a JSON object at the top level");

  if (!s.contains("kind")) throw Error(in_quotes(file) + ": missing field kind (expected \"study\")");
  if (s["kind"] != "study")
    throw Error(in_quotes(file) + ": field kind is " + s["kind"].dump() + ", expected \"study\"");
  study.name = optional_string(s, "name", "", file);
  if (s.contains("program") && !s["program"].is_null()) {
    if (!s["program"].is_object()) throw Error(in_quotes(file) + ": field program: expected an object");
    study.version = optional_string(s["program"], "version", "program.", file);
  }
  if (s.contains("complete") && !s["complete"].is_null()) {
    if (!s["complete"].is_boolean()) throw Error(in_quotes(file) + ": field complete: expected true or false");
    study.complete = s["complete"].get<bool>();
  }

  if (!s.contains("members")) throw Error(in_quotes(file) + ": missing field members");
  const json& members = s["members"];
  if (!members.is_array() || members.empty())
    throw Error(in_quotes(file) + ": field members: expected a non-empty array of members");
  std::set<std::string> names;
  std::set<fs::path> dirs;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::string where = "members[" + std::to_string(i) + "].";
    const json& m = members[i];
    if (!m.is_object()) throw Error(in_quotes(file) + ": field members[" + std::to_string(i) + "]: expected an object");
    StudyMember member;
    if (!m.contains("name")) throw Error(in_quotes(file) + ": missing field " + where + "name");
    member.name = optional_string(m, "name", where, file);
    if (!plain_name(member.name))
      throw Error(in_quotes(file) + ": field " + where + "name is \"" + member.name +
                  "\", expected a plain name (letters, digits, '_', '-')");
    if (!names.insert(member.name).second)
      throw Error(in_quotes(file) + ": field members lists the name \"" + member.name + "\" twice");
    const std::string dir_text = m.contains("dir") ? optional_string(m, "dir", where, file) : member.name;
    const fs::path rel = member_dir(dir_text, where, file);
    if (!dirs.insert(rel).second)
      throw Error(in_quotes(file) + ": field " + where + "dir \"" + dir_text + "\" is the folder of another member");
    member.dir = dir / rel;
    member.group = optional_string(m, "group", where, file);
    member.dim_E = optional_dimension(m, "dim_E", where, file, false);
    member.dim_L = optional_dimension(m, "dim_L", where, file, true);

    member.has_manifest = fs::exists(member.dir / "manifest.json");
    if (member.has_manifest) {
      member.sweep = read_sweep(member.dir);
      // What study.json leaves out, the member's manifest may say.
      const json& model = member.sweep.manifest.contains("model") ? member.sweep.manifest["model"] : json();
      if (member.group.empty()) member.group = member.sweep.group;
      const auto from_model = [&](double& value, const char* key) {
        if (std::isnan(value) && model.is_object() && model.contains(key) && model[key].is_number() &&
            model[key].get<double>() >= 0)
          value = model[key].get<double>();
      };
      from_model(member.dim_E, "dim_E");
      from_model(member.dim_L, "params");
      if (member.dim_L == 0) member.dim_L = std::numeric_limits<double>::quiet_NaN();
    }
    study.members.push_back(std::move(member));
  }
  return study;
}

StudyRanges study_ranges(const std::vector<Sweep>& sweeps, double factor) {
  StudyRanges r;
  for (std::size_t i = 0; i < sweeps.size(); ++i) {
    const Sweep& sweep = sweeps[i];
    GroupRanges g;
    std::vector<std::string> notes;
    double x = max_median(sweep, "equi", false);
    if (!(x > 0)) {
      x = max_median_all(sweep, false);
      notes.push_back("no Equi: x from all curves");
    }
    double y = max_median(sweep, "nom", true);
    if (!(y > 0)) {
      y = max_median_all(sweep, true);
      notes.push_back("no Nom: y from all curves");
    }
    if (!(x > 0)) notes.push_back("nothing moved: x to 1");
    if (!(y > 0)) notes.push_back("nothing left E: y to 1");
    g.x_max = x > 0 ? factor * x : 1.0;
    g.y_max = y > 0 ? factor * y : 1.0;
    for (std::size_t n = 0; n < notes.size(); ++n) g.note += (n ? "; " : "") + notes[n];
    if (r.kappa_from < 0) {
      const double aug = max_median(sweep, "aug", true);
      if (aug > 0) {
        r.kappa = std::max(1.5 * aug / g.y_max, zoom_floor_factor(sweep.precision));
        r.kappa_from = static_cast<int>(i);
      }
    }
    r.groups.push_back(std::move(g));
  }
  for (auto& g : r.groups) g.y_max_zoom = r.kappa * g.y_max;
  return r;
}

FigureFiles render_study_figure(const Study& study, const fs::path& dir, const FigureOptions& options, bool paper,
                                const std::string& stem_suffix) {
  // In the paper's metric, each member's curves through paper_metric.
  std::vector<StudyMember> views;
  for (const auto& m : study.members)
    if (m.has_runs()) {
      views.push_back(m);
      if (paper) views.back().sweep = paper_metric(m.sweep);
    }
  std::vector<const StudyMember*> plotted;
  std::vector<Sweep> sweeps;
  for (const auto& m : views) {
    plotted.push_back(&m);
    sweeps.push_back(m.sweep);
  }
  if (plotted.empty()) throw Error(in_quotes(dir) + ": no member of the study has finished runs to plot");
  if (options.width <= 0 || options.height <= 0)
    throw Error("figure size " + std::to_string(options.width) + "x" + std::to_string(options.height) +
                ": expected positive width and height");
  const int row_height = std::max(1, options.height * 2 / 3);
  const int height =
      row_height * static_cast<int>(plotted.size()) + kTitlePad + kTitleLine * title_lines(study) + kLegend;

  fs::path data_dir;
  const std::string stem = detail::figure_stem(paper) + stem_suffix;
  FigureFiles files = figure_files(dir, data_dir, stem);
  for (const StudyMember* m : plotted)
    for (const auto& mode : m->sweep.modes) {
      files.data.push_back(data_dir / (m->name + "-" + mode + "-runs.dat"));
      io::write_file_atomic(files.data.back(), runs_data(mode, m->sweep));
      files.data.push_back(data_dir / (m->name + "-" + mode + "-median.dat"));
      io::write_file_atomic(files.data.back(), median_data(mode, m->sweep));
    }
  draw_figure(options, files,
              study_script(study, plotted, study_ranges(sweeps, paper ? 1.5 : 1.1), options, height, paper, stem));
  return files;
}

}  // namespace eqaug::report
