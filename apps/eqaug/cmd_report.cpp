#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/core/error.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug report`: tables and figures of a results folder, from its files alone.
class ReportCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* rep = sub_ =
        app.add_subcommand("report",
                           "Summary table and figures (PNG, SVG and PDF via gnuplot) of a results directory: "
                           "Figure 1 panels of a sweep, Figure 6 of a study");
    rep->add_option("results", report_dir, "Results directory written by 'eqaug run'")->required();
    rep->add_flag("--no-plot", no_plot, "Only print the table and write summary.csv (default: off: draw the figures)");
    rep->add_option("--metric", metric,
                    "'exact': eqaug's |A - A0| and |A - P_E A| over all layers; 'paper': also the paper's "
                    "own metric, sqrt(sum_k d_k^4) against |A - A0| over the group layers with the authors' "
                    "1.5x-median limits, in figure-paper.* and a table (docs/reference.md, defect 6); "
                    "summary.csv always has both (default: exact)")
        ->check(CLI::IsMember({"exact", "paper"}));
  }

  int run(int, char**) override {
    eqaug::report::FigureOptions options;
    options.paper_metric = metric == "paper";
    return eqaug::report::run_report(report_dir, out(), !no_plot, options);
  }

 private:
  std::string report_dir;
  bool no_plot = false;
  std::string metric = "exact";
};

}  // namespace

std::unique_ptr<Command> make_report_command() { return std::make_unique<ReportCommand>(); }

}  // namespace eqaug::cli
