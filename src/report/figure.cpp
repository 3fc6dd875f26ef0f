#include "eqaug/core/error.hpp"
#include "eqaug/io/atomic_file.hpp"
#include "eqaug/report/report.hpp"

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

namespace eqaug::report {
namespace {

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
  static const char* const others[] = {"ff7f0e", "9467bd", "8c564b", "e377c2", "17becf"};
  return others[index % std::size(others)];
}

double finite_max(double current, const std::vector<double>& values) {
  for (double v : values)
    if (std::isfinite(v)) current = std::max(current, v);
  return current;
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
  const std::size_t steps = curves.empty() ? 0 : curves.front().step.size();
  for (std::size_t s = 0; s < steps; ++s) {
    std::vector<double> x, y;
    for (const auto& c : curves) {
      x.push_back(c.dist_init[s]);
      y.push_back(c.dist_E[s]);
    }
    os << data_number(describe(x).median) << ' ' << data_number(describe(y).median) << ' '
       << data_number(curves.front().step[s]) << '\n';
  }
  return os.str();
}

std::string figure_title(const Sweep& sweep) {
  std::string title = sweep.name.empty() ? "eqaug" : sweep.name;
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

struct ProcessResult {
  int status;
  std::string output;
};

// posix_spawn with an argument vector instead of std::system: no shell, so no quoting of
// the paths, and a missing executable is reported as such rather than as exit status 127.
ProcessResult run_process(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));

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
    throw Error("cannot run " + in_quotes(argv[0]) + ": " + reason +
                "; install gnuplot (e.g. the gnuplot-nox package) to draw the figure");
  }

  ProcessResult result{0, {}};
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) result.output.append(buffer, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(pipe_fds[0]);
  while (::waitpid(pid, &result.status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("cannot wait for gnuplot: ") + std::strerror(errno));
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

  const std::string tag = ".tmp-" + std::to_string(::getpid());
  const fs::path png_tmp = out_dir / (".figure.png" + tag);
  const fs::path svg_tmp = out_dir / (".figure.svg" + tag);
  const auto remove_temporaries = [&] {
    fs::remove(png_tmp, ec);
    fs::remove(svg_tmp, ec);
  };
  try {
    const ProcessResult result =
        run_process({options.gnuplot, "-e",
                     "png_out = " + gp_string(png_tmp.string()) + "; svg_out = " + gp_string(svg_tmp.string()),
                     files.script.string()});
    if (!WIFEXITED(result.status) || WEXITSTATUS(result.status) != 0)
      throw Error("gnuplot failed on " + in_quotes(files.script) + " (" + describe_status(result.status) +
                  "): " + result.output);
    for (const auto& tmp : {png_tmp, svg_tmp})
      if (!non_empty_file(tmp))
        throw Error("gnuplot ran " + in_quotes(files.script) + " but wrote no " + in_quotes(tmp) + "; its output: " +
                    result.output);
    fs::rename(png_tmp, files.png);
    fs::rename(svg_tmp, files.svg);
  } catch (const fs::filesystem_error& e) {
    remove_temporaries();
    throw Error(std::string("cannot put the figure in place: ") + e.what());
  } catch (...) {
    remove_temporaries();
    throw;
  }
  return files;
}

}  // namespace eqaug::report
