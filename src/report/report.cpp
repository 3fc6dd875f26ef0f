#include "eqaug/report/report.hpp"

namespace eqaug::report {

int run_report(const std::filesystem::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const Sweep sweep = read_sweep(dir);
  const auto rows = summarize(sweep);

  out << (sweep.name.empty() ? std::string("eqaug") : sweep.name) << ": " << sweep.runs.size() << " of "
      << sweep.planned_runs << " runs finished, " << sweep.epochs << " steps"
      << (sweep.complete ? "" : " (sweep incomplete)") << '\n'
      << '\n'
      << format_table(rows) << '\n';

  out << "wrote " << std::filesystem::absolute(write_summary_csv(dir, rows)).lexically_normal().string() << '\n';
  if (!plot) return 0;
  if (sweep.runs.empty()) {
    out << "figure: skipped, no finished runs to plot\n";
    return 0;
  }
  const FigureFiles files = render_figure(sweep, dir, options);
  out << "wrote " << files.png.string() << '\n'
      << "wrote " << files.svg.string() << '\n'
      << "wrote " << files.script.string() << " (and its data in "
      << (files.script.parent_path() / "figure-data").string() << ")\n";
  return 0;
}

}  // namespace eqaug::report
