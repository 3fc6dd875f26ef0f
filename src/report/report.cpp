#include "gnuplot.hpp"

#include "eqaug/report/report.hpp"

#include <algorithm>
#include <optional>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;

std::string shown(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

void print_figure_files(const FigureFiles& files, std::ostream& out) {
  out << "wrote " << files.png.string() << '\n'
      << "wrote " << files.svg.string() << '\n'
      << "wrote " << files.pdf.string() << '\n'
      << "wrote " << files.script.string() << " (and its data in "
      << (files.script.parent_path() / (files.script.stem().string() + "-data")).string() << ")\n";
}

// The final step in the paper's metric beside eqaug's, and Nom over Aug in both.
void print_paper_table(const std::vector<SummaryRow>& rows, const Sweep& paper, std::ostream& out) {
  std::string layers;
  for (std::size_t i = 0; i < paper.paper_layers.size(); ++i) layers += (i ? ", " : "") + paper.paper_layers[i];
  out << "the paper's metric (docs/reference.md, defect 6), final step, median over runs, group layers " << layers
      << ":\n";
  const SummaryRow* nom = nullptr;
  const SummaryRow* aug = nullptr;
  for (const auto& r : rows) {
    out << "  " << mode_label(r.mode) << ": x = |A - A0| " << format_number(r.paper_dist_init.median)
        << ", y = sqrt(sum_k d_k^4) " << format_number(r.paper_dist_E.median)
        << "   (eqaug's: " << format_number(r.dist_init.median) << ", " << format_number(r.dist_E.median) << ")\n";
    if (r.mode == "nom") nom = &r;
    if (r.mode == "aug") aug = &r;
  }
  if (nom && aug)
    out << "  Nom / Aug distance to E: " << format_number(nom->dist_E.median / aug->dist_E.median)
        << " in eqaug's metric, " << format_number(nom->paper_dist_E.median / aug->paper_dist_E.median)
        << " in the paper's\n";
}

void report_sweep(const Sweep& sweep, const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  const auto rows = summarize(sweep);
  // --metric paper: the paper's view, validated before anything is written.
  std::optional<Sweep> paper;
  if (options.paper_metric && !sweep.runs.empty()) paper = paper_metric(sweep);

  const bool progress = in_progress(sweep);
  out << (sweep.name.empty() ? std::string("eqaug") : sweep.name) << ": ";
  if (progress) out << "IN PROGRESS, ";
  out << sweep.runs.size() << " of " << sweep.planned_runs << " runs finished, " << sweep.epochs << " steps";
  for (std::size_t i = 0; i < sweep.reference.size(); ++i)
    out << (i ? " + " : "; the reference's ") << sweep.reference[i];
  if (!sweep.reference.empty()) out << " (docs/reference.md)";
  if (sweep.raw_start) out << "; --start raw: Nom and Aug start at A0 off E, Equi at its projection";
  if (progress) out << " (sweep incomplete: the table, summary.csv and figure are provisional)";
  out << '\n' << '\n' << format_table(rows, sweep.accuracy);
  if (progress)
    out << "status: " << progress_text(sweep) << " (summary.csv's runs column counts the runs summarised)\n";
  for (const auto& d : sweep.diverged) out << "DIVERGED (not saved, not in the table): " << d << '\n';
  for (const auto& w : sweep.warnings) out << "warning: " << w << '\n';
  out << '\n';
  if (paper) {
    print_paper_table(rows, *paper, out);
    out << '\n';
  }

  out << "wrote " << shown(write_summary_csv(dir, rows)) << '\n';
  // A figure left from an earlier state of an unfinished sweep (or of the sweep before it was
  // extended) would no longer match the table: remove it when none is drawn now.
  const auto drop_stale_figure = [&] {
    if (progress && detail::remove_figure(dir))
      out << "removed the figure of an earlier state from " << shown(dir) << '\n';
  };
  if (!plot) {
    drop_stale_figure();
    return;
  }
  if (sweep.runs.empty()) {
    detail::remove_figure(dir);
    out << "figure: skipped, no finished runs to plot\n";
    return;
  }
  print_figure_files(render_figure(sweep, dir, options), out);
  if (paper) print_figure_files(render_figure(*paper, dir, options), out);
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
    if (!m.has_manifest)
      out << "not run yet (no " << shown(m.dir / "manifest.json") << ")";
    else if (!m.has_runs())
      out << "not run yet (no finished runs in " << shown(m.dir) << ")";
    else
      out << m.sweep.runs.size() << " of " << m.sweep.planned_runs << " runs, " << shown(m.dir);
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
  out << "wrote " << shown(write_study_steps_csv(dir, study)) << '\n';
  const auto ablation = ablation_rows(study);
  std::vector<std::string> settings;
  for (const auto& m : study.members)
    if (m.has_runs() && std::find(settings.begin(), settings.end(), setting_name(m.sweep)) == settings.end())
      settings.push_back(setting_name(m.sweep));
  if (!ablation.empty()) {
    out << "\n== " << name << ": Aug against Nom per member ==\n\n" << format_ablation(ablation) << '\n';
    for (const auto& p : write_ablation_csv(dir, ablation)) out << "wrote " << shown(p) << '\n';
  }
  const auto law = noise_law(study);
  if (!law.rows.empty()) {
    out << "\n== " << name << ": the noise law ==\n\n" << format_noise_law(law) << '\n';
    for (const auto& p : write_noise_law_csv(dir, law)) out << "wrote " << shown(p) << '\n';
  }
  if (!plot) {
    if (in_progress(study) && detail::remove_figure(dir))
      out << "removed the figure of an earlier state from " << shown(dir) << '\n';
    return;
  }
  if (with_runs == 0) {
    detail::remove_figure(dir);
    out << "figure: skipped, no member has finished runs to plot\n";
    return;
  }
  // Figures of an earlier state (another set of settings, a noise law no longer there) go first.
  detail::remove_figure(dir);
  if (!law.fits.empty()) print_figure_files(render_noise_law_figure(study, law, dir, options), out);
  if (settings.size() <= 1) {
    print_figure_files(render_study_figure(study, dir, options), out);
    if (options.paper_metric) print_figure_files(render_study_figure(study, dir, options, true), out);
    return;
  }
  // Several settings of the reference's switches: one Figure 6 per setting.
  for (const auto& setting : settings) {
    Study part = study;
    part.name = (study.name.empty() ? std::string("study") : study.name) + " [" + setting + "]";
    part.members.clear();
    for (const auto& m : study.members)
      if (m.has_runs() && setting_name(m.sweep) == setting) part.members.push_back(m);
    std::string suffix = "-" + setting;
    for (std::size_t at; (at = suffix.find(" + ")) != std::string::npos;) suffix.replace(at, 3, "-");
    print_figure_files(render_study_figure(part, dir, options, false, suffix), out);
    if (options.paper_metric) print_figure_files(render_study_figure(part, dir, options, true, suffix), out);
  }
}

}  // namespace

int run_report(const fs::path& dir, std::ostream& out, bool plot, const FigureOptions& options) {
  if (is_hessian(dir))
    report_hessian(dir, out, plot, options);
  else if (is_minimum(dir))
    report_minimum(dir, out, plot, options);
  else if (is_study(dir))
    report_study(dir, out, plot, options);
  else
    report_sweep(read_sweep(dir), dir, out, plot, options);
  return 0;
}

}  // namespace eqaug::report
