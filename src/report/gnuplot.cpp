#include "gnuplot.hpp"

#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace eqaug::report::detail {

namespace fs = std::filesystem;

std::string in_quotes(const fs::path& p) { return "'" + p.string() + "'"; }

// A gnuplot single-quoted string: no escapes inside, a quote is written twice. Spaces and
// backslashes in paths therefore need nothing further.
std::string gp_string(const std::string& s) {
  if (s.find('\n') != std::string::npos)
    throw Error("cannot write a gnuplot script for " + in_quotes(s) + ": the name contains a line break");
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string data_number(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string mode_colour(const std::string& mode, std::size_t index) {
  if (mode == "nom") return "d62728";
  if (mode == "aug") return "1f77b4";
  if (mode == "equi") return "2ca02c";
  if (mode == "augpen") return "9467bd";  // purple: apart from Nom's red and Aug's blue
  static const char* const others[] = {"ff7f0e", "9467bd", "8c564b", "e377c2", "17becf"};
  return others[index % std::size(others)];
}

double finite_max(double current, const std::vector<double>& values) {
  for (double v : values)
    if (std::isfinite(v)) current = std::max(current, v);
  return current;
}

MedianPath median_path(const Sweep& sweep, const std::string& mode) {
  MedianPath m;
  const auto found = sweep.curves.find(mode);
  if (found == sweep.curves.end() || found->second.empty()) return m;
  const auto& curves = found->second;
  const std::size_t steps = curves.front().step.size();
  for (std::size_t s = 0; s < steps; ++s) {
    std::vector<double> x, y;
    for (const auto& c : curves) {
      x.push_back(c.dist_init[s]);
      y.push_back(c.dist_E[s]);
    }
    m.x.push_back(describe(x).median);
    m.y.push_back(describe(y).median);
    m.step.push_back(curves.front().step[s]);
  }
  return m;
}

std::string runs_data(const std::string& mode, const Sweep& sweep) {
  std::ostringstream os;
  os << "# " << mode << ": one block per run, columns dist_init dist_E step\n";
  const auto& curves = sweep.curves.at(mode);
  for (std::size_t i = 0; i < curves.size(); ++i) {
    if (i > 0) os << '\n';  // a single blank line breaks the line between runs
    os << "# run " << sweep.runs[i] << '\n';
    const auto& c = curves[i];
    for (std::size_t s = 0; s < c.step.size(); ++s)
      os << data_number(c.dist_init[s]) << ' ' << data_number(c.dist_E[s]) << ' ' << data_number(c.step[s]) << '\n';
  }
  return os.str();
}

// The median path: x and y are medians taken separately at each step, as in the paper.
std::string median_data(const std::string& mode, const Sweep& sweep) {
  const auto& curves = sweep.curves.at(mode);
  std::ostringstream os;
  os << "# " << mode << ": per-step medians over " << curves.size()
     << " runs, columns median(dist_init) median(dist_E) step\n";
  const MedianPath m = median_path(sweep, mode);
  for (std::size_t s = 0; s < m.step.size(); ++s)
    os << data_number(m.x[s]) << ' ' << data_number(m.y[s]) << ' ' << data_number(m.step[s]) << '\n';
  return os.str();
}

namespace {

struct ProcessResult {
  int status;
  std::string output;
};

// posix_spawn with an argument vector instead of std::system: no shell, so no quoting of
// the paths, and a missing executable is reported as such rather than as exit status 127.
ProcessResult run_process(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw RuntimeFailure(std::string("cannot create a pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = 0;
  const int spawn_error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    std::string reason = std::strerror(spawn_error);
    if (spawn_error == ENOENT) reason = "not found on PATH";
    throw RuntimeFailure("cannot run " + in_quotes(argv[0]) + ": " + reason +
                         "; install gnuplot (e.g. the gnuplot-nox package) to draw the figure");
  }

  ProcessResult result{0, {}};
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0)
      result.output.append(buffer, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(pipe_fds[0]);
  while (::waitpid(pid, &result.status, 0) < 0)
    if (errno != EINTR) throw RuntimeFailure(std::string("cannot wait for gnuplot: ") + std::strerror(errno));
  return result;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool non_empty_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && fs::file_size(p, ec) > 0 && !ec;
}

}  // namespace

void run_gnuplot(const FigureOptions& options, const fs::path& script,
                 const std::vector<std::pair<std::string, fs::path>>& outputs) {
  const std::string tag = ".tmp-" + std::to_string(::getpid());
  std::vector<fs::path> temporaries;
  std::string assignments;
  for (const auto& [variable, path] : outputs) {
    temporaries.push_back(path.parent_path() / ("." + path.filename().string() + tag));
    if (!assignments.empty()) assignments += "; ";
    assignments += variable + " = " + gp_string(temporaries.back().string());
  }
  const auto remove_temporaries = [&] {
    std::error_code ec;
    for (const auto& tmp : temporaries) fs::remove(tmp, ec);
  };
  try {
    const ProcessResult result = run_process({options.gnuplot, "-e", assignments, script.string()});
    // A full disk is the likeliest cause of a figure gnuplot could not write: say so.
    const auto full_disk = [&](const fs::path& file) {
      std::error_code ec;
      const auto space = fs::space(file.parent_path().empty() ? fs::path(".") : file.parent_path(), ec);
      if (!ec && space.available < (std::uintmax_t{1} << 20))
        throw RuntimeFailure("no space left on device for " + in_quotes(file) + " (" + std::to_string(space.available) +
                             " bytes free); free some space and run `eqaug report` "
                             "on the folder again");
    };
    if (!WIFEXITED(result.status) || WEXITSTATUS(result.status) != 0) {
      full_disk(outputs.empty() ? script : outputs.front().second);
      throw RuntimeFailure("gnuplot failed on " + in_quotes(script) + " (" + describe_status(result.status) +
                           "): " + result.output);
    }
    for (std::size_t i = 0; i < temporaries.size(); ++i)
      if (!non_empty_file(temporaries[i])) {
        full_disk(outputs[i].second);
        throw RuntimeFailure("gnuplot ran " + in_quotes(script) + " but wrote no " + in_quotes(temporaries[i]) +
                             "; its output: " + result.output);
      }
    for (std::size_t i = 0; i < outputs.size(); ++i) fs::rename(temporaries[i], outputs[i].second);
  } catch (const fs::filesystem_error& e) {
    remove_temporaries();
    throw RuntimeFailure(std::string("cannot put the figure in place: ") + e.what());
  } catch (...) {
    remove_temporaries();
    throw;
  }
}

void draw_figure(const FigureOptions& options, const FigureFiles& files, const std::string& script) {
  io::write_file_atomic(files.script, script);
  run_gnuplot(options, files.script, {{"png_out", files.png}, {"svg_out", files.svg}, {"pdf_out", files.pdf}});
}

}  // namespace eqaug::report::detail

namespace eqaug::report::detail {

std::string cd_to_script_folder() {
  return "# Everything below is relative to the folder of this file, so that a copy of the results\n"
         "# folder redraws itself (from its own figure-data) wherever gnuplot is started.\n"
         "if (exists(\"ARG0\") && strlen(ARG0) > 0) {\n"
         "  here = ARG0\n"
         "  while (strlen(here) > 0 && here[strlen(here):strlen(here)] ne '/') { here = here[1:strlen(here)-1] }\n"
         "  if (strlen(here) > 0) { cd here }\n"
         "}\n";
}

std::string terminal_passes(int width, int height) {
  char pdf_size[64];
  std::snprintf(pdf_size, sizeof pdf_size, "%.3fin,%.3fin", width / 144.0, height / 144.0);
  std::ostringstream os;
  os << "do for [pass = 1:3] {\n"
     << "  reset\n"
     << "  set encoding utf8\n"
     << "  if (pass == 1) {\n"
     << "    set terminal pngcairo size " << width << "," << height << " enhanced font 'sans,11' background '#ffffff'\n"
     << "    set output png_out\n"
     << "  }\n"
     << "  if (pass == 2) {\n"
     << "    set terminal svg size " << width << "," << height
     << " dynamic enhanced font 'sans,11' background '#ffffff'\n"
     << "    set output svg_out\n"
     << "  }\n"
     << "  if (pass == 3) {\n"
     << "    set terminal pdfcairo size " << pdf_size << " enhanced font 'sans,11' background '#ffffff'\n"
     << "    set output pdf_out\n"
     << "  }\n";
  return os.str();
}

std::string closing_passes() {
  return "  unset multiplot\n"
         "  set output\n"
         "}\n";
}

RunStyle run_style(std::size_t runs) {
  if (runs <= 5) return {1.5, "50"};
  if (runs <= 12) return {1.1, "80"};
  return {0.8, "B0"};
}

std::string tics_command(char axis, const AxisTicks& ticks) {
  std::string s = std::string("set ") + axis + "tics (";
  for (std::size_t i = 0; i < ticks.values.size(); ++i) {
    if (i) s += ", ";
    s += "\"" + ticks.labels[i] + "\" " + data_number(ticks.values[i]);
  }
  return s + ")\n";
}

std::string exponent_suffix(const AxisTicks& ticks) {
  if (ticks.exponent == 0) return "";
  return "  [×10^{" + std::to_string(ticks.exponent) + "}]";
}

std::string legend_strip(const std::vector<std::string>& modes, const RunStyle& runs, double height) {
  std::ostringstream os;
  os << "  # The legend: a strip below the panels, outside every plotting area.\n"
     << "  set origin 0,0\n"
     << "  set size 1," << data_number(height) << "\n"
     << "  set margins 0,0,0,0\n"
     << "  unset title\n  unset xlabel\n  unset ylabel\n  unset tics\n  unset border\n  unset grid\n"
     << "  unset label\n"
     << "  set xrange [0:1]\n  set yrange [0:1]\n"
     << "  set key center center horizontal maxrows 1 reverse Left samplen 3 width 3 noopaque noenhanced\n"
     << "  plot ";
  // y = 2 lies outside [0:1]: only the key entries are drawn.
  for (std::size_t i = 0; i < modes.size(); ++i)
    os << "2 with lines lw 3 lc rgb '#" << mode_colour(modes[i], i) << "' title "
       << gp_string(mode_label(modes[i]) + " (median)") << ", \\\n       ";
  os << "2 with lines lw " << format_number(runs.width) << " lc rgb '#" << runs.alpha
     << "606060' title 'single runs (faint, in the same colours)'\n";
  return os.str();
}

std::string figure_stem(bool paper_metric) { return paper_metric ? "figure-paper" : "figure"; }

bool remove_figure(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  bool removed = false;
  std::vector<fs::path> doomed;
  // What figure_files names: <stem>.{png,svg,pdf,gp} and <stem>-data/, every stem "figure…".
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("figure", 0) != 0) continue;
    std::error_code type_ec;
    const std::string ext = entry.path().extension().string();
    const bool file = (ext == ".png" || ext == ".svg" || ext == ".pdf" || ext == ".gp") &&
                      entry.is_regular_file(type_ec) && !entry.is_symlink(type_ec);
    const bool data =
        name.size() > 5 && name.ends_with("-data") && entry.is_directory(type_ec) && !entry.is_symlink(type_ec);
    if (file || data) doomed.push_back(entry.path());
  }
  if (ec) throw RuntimeFailure("cannot list " + in_quotes(dir) + ": " + ec.message());
  for (const auto& p : doomed) {
    fs::remove_all(p, ec);
    if (ec) throw RuntimeFailure("cannot remove " + in_quotes(p) + ": " + ec.message());
    removed = true;
  }
  return removed;
}

FigureFiles figure_files(const fs::path& dir, fs::path& data_dir, const std::string& stem) {
  const fs::path out_dir = fs::absolute(dir).lexically_normal();
  FigureFiles files;
  files.png = out_dir / (stem + ".png");
  files.svg = out_dir / (stem + ".svg");
  files.pdf = out_dir / (stem + ".pdf");
  files.script = out_dir / (stem + ".gp");
  data_dir = out_dir / (stem + "-data");
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) throw RuntimeFailure("cannot create directory " + in_quotes(data_dir) + ": " + ec.message());
  return files;
}

}  // namespace eqaug::report::detail
