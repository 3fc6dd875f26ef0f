#include "eqaug/report/report.hpp"

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;

std::string shown(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

void print_figure_files(const FigureFiles& files, std::ostream& out) {
  out << "wrote " << files.png.string() << '\n'
      << "wrote " << files.svg.string() << '\n'
      << "wrote " << files.script.string() << " (and its data in "
      << (files.script.parent_path() / "figure-data").string() << ")\n";
}

void report_sweep(const Sweep& sweep, const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const auto rows = summarize(sweep);

  out << (sweep.name.empty() ? std::string("eqaug") : sweep.name) << ": " << sweep.runs.size() << " of "
      << sweep.planned_runs << " runs finished, " << sweep.epochs << " steps"
      << (sweep.complete ? "" : " (sweep incomplete)") << '\n'
      << '\n'
      << format_table(rows, sweep.accuracy) << '\n';

  out << "wrote " << shown(write_summary_csv(dir, rows)) << '\n';
  if (!plot) return;
  if (sweep.runs.empty()) {
    out << "figure: skipped, no finished runs to plot\n";
    return;
  }
  print_figure_files(render_figure(sweep, dir, options), out);
}

void report_study(const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const Study study = read_study(dir);
  const std::string name = study.name.empty() ? "study" : study.name;
  int with_runs = 0;
  for (const auto& m : study.members) with_runs += m.has_runs() ? 1 : 0;
  out << name << " (study): " << with_runs << " of " << study.members.size() << " members with finished runs"
      << (study.complete ? "" : " (study incomplete)") << '\n';
  for (const auto& m : study.members) {
    out << "  " << m.name << ": ";
    if (!m.has_manifest) out << "not run yet (no " << shown(m.dir / "manifest.json") << ")";
    else if (!m.has_runs()) out << "not run yet (no finished runs in " << shown(m.dir) << ")";
    else out << m.sweep.runs.size() << " of " << m.sweep.planned_runs << " runs, " << shown(m.dir);
    out << '\n';
  }

  for (const auto& m : study.members) {
    if (!m.has_runs()) continue;
    out << "\n== " << m.name << (m.group.empty() ? "" : " (" + m.group + ")") << " ==\n";
    report_sweep(m.sweep, m.dir, out, plot, options);
  }

  const auto rows = summarize_study(study);
  out << "\n== " << name << ": all groups ==\n\n" << format_study_table(study, rows) << '\n';
  out << "wrote " << shown(write_study_summary_csv(dir, rows)) << '\n';
  if (!plot) return;
  if (with_runs == 0) {
    out << "figure: skipped, no member has finished runs to plot\n";
    return;
  }
  print_figure_files(render_study_figure(study, dir, options), out);
}

}  // namespace

int run_report(const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  if (is_study(dir)) report_study(dir, out, plot, options);
  else report_sweep(read_sweep(dir), dir, out, plot, options);
  return 0;
}

}  // namespace eqaug::report
