#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/report/report.hpp"
#include "gnuplot.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy.percentile(method="linear"): position p·(n−1) between the sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  const double h = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

// summary.csv: 10 significant digits, well beyond what medians of 30 runs resolve, and
// free of the binary noise of %.17g (0.148 rather than 0.14799999999999999).
std::string exact_number(double value) {
  if (std::isnan(value)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
}

std::string cell(const Stat& s) {
  std::string text = format_number(s.median) + " [" + format_number(s.q1) + ", " + format_number(s.q3) + "]";
  if (s.nan_values > 0) text += " (" + std::to_string(s.nan_values) + " nan)";
  return text;
}

}  // namespace

Stat describe(std::vector<double> values) {
  Stat stat{kNaN, kNaN, kNaN};
  const auto nan_end = std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); });
  stat.nan_values = static_cast<int>(values.end() - nan_end);
  values.erase(nan_end, values.end());
  if (values.empty()) return stat;
  std::sort(values.begin(), values.end());
  stat.median = percentile(values, 0.5);
  stat.q1 = percentile(values, 0.25);
  stat.q3 = percentile(values, 0.75);
  return stat;
}

std::vector<SummaryRow> summarize(const Sweep& sweep) {
  std::vector<SummaryRow> rows;
  // The paper's metric where the files allow it (older manifests lack model.layers).
  std::optional<Sweep> paper;
  if (!sweep.paper_metric) {
    try {
      paper = paper_metric(sweep);
    } catch (const Error&) {
    }
  }
  const std::vector<RunCurve> none;
  const auto curves_of = [&](const Sweep& s, const std::string& mode) -> const std::vector<RunCurve>& {
    const auto found = s.curves.find(mode);
    return found == s.curves.end() ? none : found->second;
  };
  const auto final_values = [&](const std::vector<RunCurve>& curves, std::vector<double> RunCurve::*column) {
    std::vector<double> values;
    for (const auto& curve : curves) values.push_back((curve.*column).empty() ? kNaN : (curve.*column).back());
    return describe(std::move(values));
  };
  for (const auto& mode : sweep.modes) {
    const auto& curves = curves_of(sweep, mode);
    SummaryRow row;
    row.mode = mode;
    row.runs = static_cast<int>(curves.size());
    row.planned_runs = sweep.planned_runs;
    row.step = sweep.epochs;  // the final row is the state after every step
    row.dist_init = final_values(curves, &RunCurve::dist_init);
    row.dist_E = final_values(curves, &RunCurve::dist_E);
    row.loss = final_values(curves, &RunCurve::loss);
    row.accuracy = final_values(curves, &RunCurve::accuracy);
    if (paper) {
      row.paper_dist_init = final_values(curves_of(*paper, mode), &RunCurve::dist_init);
      row.paper_dist_E = final_values(curves_of(*paper, mode), &RunCurve::dist_E);
    }
    for (const auto& name : sweep.metrics) {
      std::vector<double> values;
      for (const auto& curve : curves) {
        const auto it = curve.columns.find(name);
        values.push_back(it == curve.columns.end() || it->second.empty() ? kNaN : it->second.back());
      }
      row.metrics.emplace_back(name, describe(std::move(values)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string mode_label(const std::string& mode) {
  if (mode == "nom") return "Nom";
  if (mode == "aug") return "Aug";
  if (mode == "equi") return "Equi";
  if (mode == "augpen") return "AugPen";
  std::string label = mode;
  if (!label.empty()) label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
  return label;
}

std::string format_columns(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::size_t n = 0;
  for (const auto& r : rows) n = std::max(n, r.size());
  std::vector<std::size_t> w(n, 0);
  for (const auto& r : rows)
    for (std::size_t k = 0; k < r.size(); ++k) w[k] = std::max(w[k], r[k].size());
  std::string out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string line;
    for (std::size_t k = 0; k < n; ++k) {
      const std::string cell = k < rows[i].size() ? rows[i][k] : std::string();
      const std::string pad(w[k] - cell.size(), ' ');
      line += (k ? "  " : "") + (k < right.size() && right[k] ? pad + cell : cell + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
    if (i == 0) {
      std::size_t total = 0;
      for (auto x : w) total += x;
      out += std::string(total + 2 * (n ? n - 1 : 0), '-') + '\n';
    }
  }
  return out;
}

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value);
  std::string text = buf;
  // "1.235e-05" → "1.235e-5": the table is wide enough without padded exponents.
  const auto e = text.find('e');
  if (e != std::string::npos) {
    std::size_t digits = e + 2;
    while (digits + 1 < text.size() && text[digits] == '0') text.erase(digits, 1);
    if (text[e + 1] == '+') text.erase(e + 1, 1);
  }
  return text;
}

namespace {

std::string runs_cell(const SummaryRow& r) {
  std::string runs = std::to_string(r.runs);
  if (r.planned_runs > 0 && r.runs != r.planned_runs) runs += " of " + std::to_string(r.planned_runs);
  return runs;
}

constexpr const char* kTableNote =
    "(final step: median [q1, q3] over runs; dist_init = |A - A0|, dist_E = |A - P_E A|)\n";

/// The metric columns of a set of rows: every name in order of first appearance.
std::vector<std::string> metric_names(const std::vector<const SummaryRow*>& rows) {
  std::vector<std::string> names;
  for (const auto* r : rows)
    for (const auto& [name, stat] : r->metrics)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

const Stat* metric_of(const SummaryRow& r, const std::string& name) {
  for (const auto& [n, stat] : r.metrics)
    if (n == name) return &stat;
  return nullptr;
}

std::string stat_columns_header(const std::vector<std::string>& metrics) {
  std::string header;
  for (const char* q : {"dist_init", "dist_E", "loss", "accuracy"})
    header += std::string(",") + q + "_median," + q + "_q1," + q + "_q3";
  for (const auto& q : metrics) header += "," + q + "_median," + q + "_q1," + q + "_q3";
  for (const char* q : {"paper_dist_init", "paper_dist_E"})
    header += std::string(",") + q + "_median," + q + "_q1," + q + "_q3";
  return header;
}

std::string stat_columns(const SummaryRow& r, const std::vector<std::string>& metrics) {
  std::string line;
  for (const Stat* s : {&r.dist_init, &r.dist_E, &r.loss, &r.accuracy})
    line += ',' + exact_number(s->median) + ',' + exact_number(s->q1) + ',' + exact_number(s->q3);
  for (const auto& name : metrics) {
    const Stat* s = metric_of(r, name);
    line += s ? ',' + exact_number(s->median) + ',' + exact_number(s->q1) + ',' + exact_number(s->q3) : ",nan,nan,nan";
  }
  for (const Stat* s : {&r.paper_dist_init, &r.paper_dist_E})
    line += ',' + exact_number(s->median) + ',' + exact_number(s->q1) + ',' + exact_number(s->q3);
  return line;
}

std::string metric_cell(const SummaryRow& r, const std::string& name) {
  const Stat* s = metric_of(r, name);
  return s ? cell(*s) : "-";
}

}  // namespace

std::string format_table(const std::vector<SummaryRow>& rows, const std::string& accuracy) {
  std::vector<const SummaryRow*> all;
  for (const auto& r : rows) all.push_back(&r);
  const auto metrics = metric_names(all);
  std::vector<std::vector<std::string>> table;
  table.push_back({"strategy", "runs", "dist_init", "dist_E", "loss", "accuracy"});
  for (const auto& m : metrics) table.front().push_back(m);
  for (const auto& r : rows) {
    table.push_back(
        {mode_label(r.mode), runs_cell(r), cell(r.dist_init), cell(r.dist_E), cell(r.loss), cell(r.accuracy)});
    for (const auto& m : metrics) table.back().push_back(metric_cell(r, m));
  }
  std::string text = format_columns(table) + kTableNote;
  if (!accuracy.empty()) text += "accuracy: " + accuracy + '\n';
  return text;
}

fs::path write_summary_csv(const fs::path& dir, const std::vector<SummaryRow>& rows) {
  std::ostringstream os;
  std::vector<const SummaryRow*> all;
  for (const auto& r : rows) all.push_back(&r);
  const auto metrics = metric_names(all);
  // `step`, the step of the final row summarised, last: the earlier columns keep their places.
  os << "mode,runs" << stat_columns_header(metrics) << ",step\n";
  for (const auto& r : rows) os << r.mode << ',' << r.runs << stat_columns(r, metrics) << ',' << r.step << '\n';
  const fs::path path = dir / "summary.csv";
  io::write_file_atomic(path, os.str());
  return path;
}

fs::path write_study_steps_csv(const fs::path& dir, const Study& study) {
  // Every member's steps.csv under one header (the union of their columns, in order of first
  // appearance), each row prefixed with its member and group; cells a member lacks are empty.
  std::vector<std::string> columns;
  std::vector<std::pair<const StudyMember*, std::vector<std::string>>> texts;
  std::vector<std::vector<std::string>> headers;
  for (const auto& m : study.members) {
    const fs::path file = m.dir / "steps.csv";
    if (!m.has_runs() || !fs::exists(file)) continue;
    std::vector<std::string> lines;
    std::istringstream in(io::read_file(file));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(line);
    if (lines.empty()) throw Error(detail::in_quotes(file) + ": empty, expected a header and rows");
    headers.push_back(io::split_csv_line(lines.front()));
    for (const auto& c : headers.back())
      if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
    texts.emplace_back(&m, std::move(lines));
  }
  std::ostringstream os;
  os << "member,group";
  for (const auto& c : columns) os << ',' << c;
  os << '\n';
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& [member, lines] = texts[i];
    std::vector<std::size_t> at(columns.size(), std::string::npos);
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const auto it = std::find(headers[i].begin(), headers[i].end(), columns[c]);
      if (it != headers[i].end()) at[c] = static_cast<std::size_t>(it - headers[i].begin());
    }
    for (std::size_t l = 1; l < lines.size(); ++l) {
      const auto cells = io::split_csv_line(lines[l]);
      if (cells.size() != headers[i].size())
        throw Error(detail::in_quotes(member->dir / "steps.csv") + ": line " + std::to_string(l + 1) + " has " +
                    std::to_string(cells.size()) + " cells, the header " + std::to_string(headers[i].size()));
      os << member->name << ",\"" << member->group << '"';
      for (std::size_t c = 0; c < columns.size(); ++c) os << ',' << (at[c] == std::string::npos ? "" : cells[at[c]]);
      os << '\n';
    }
  }
  const fs::path path = dir / "steps.csv";
  io::write_file_atomic(path, os.str());
  return path;
}

std::vector<StudySummaryRow> summarize_study(const Study& study) {
  std::vector<StudySummaryRow> rows;
  for (const auto& member : study.members) {
    if (!member.has_runs()) continue;
    for (auto& row : summarize(member.sweep)) rows.push_back({member.name, member.dim_ratio(), std::move(row)});
  }
  return rows;
}

std::string format_study_table(const Study& study, const std::vector<StudySummaryRow>& rows) {
  std::vector<const SummaryRow*> all;
  for (const auto& s : rows) all.push_back(&s.row);
  const auto metrics = metric_names(all);
  std::vector<std::vector<std::string>> table;
  table.push_back({"group", "strategy", "runs", "dim E/dim L", "dist_init", "dist_E", "loss", "accuracy"});
  for (const auto& m : metrics) table.front().push_back(m);
  for (const auto& s : rows) {
    const auto& r = s.row;
    table.push_back({s.member, mode_label(r.mode), runs_cell(r), format_number(s.dim_ratio), cell(r.dist_init),
                     cell(r.dist_E), cell(r.loss), cell(r.accuracy)});
    for (const auto& m : metrics) table.back().push_back(metric_cell(r, m));
  }
  std::string text = format_columns(table) + kTableNote;

  std::vector<std::string> not_run;
  // What accuracy measures, once if every member that says agrees, else per member.
  std::vector<std::pair<std::string, std::string>> kinds;
  for (const auto& m : study.members) {
    if (!m.has_runs())
      not_run.push_back(m.name);
    else if (!m.sweep.accuracy.empty())
      kinds.emplace_back(m.name, m.sweep.accuracy);
  }
  const bool same_kind =
      std::all_of(kinds.begin(), kinds.end(), [&](const auto& k) { return k.second == kinds.front().second; });
  if (!kinds.empty() && same_kind) {
    text += "accuracy: " + kinds.front().second + '\n';
  } else {
    for (const auto& [member, kind] : kinds) text += "accuracy (" + member + "): " + kind + '\n';
  }
  if (!not_run.empty()) {
    text += "not run yet:";
    for (std::size_t i = 0; i < not_run.size(); ++i) text += (i ? ", " : " ") + not_run[i];
    text += '\n';
  }
  return text;
}

fs::path write_study_summary_csv(const fs::path& dir, const std::vector<StudySummaryRow>& rows) {
  std::ostringstream os;
  std::vector<const SummaryRow*> all;
  for (const auto& s : rows) all.push_back(&s.row);
  const auto metrics = metric_names(all);
  os << "group,mode,runs,dim_E_over_dim_L" << stat_columns_header(metrics) << ",step\n";
  for (const auto& s : rows)
    os << s.member << ',' << s.row.mode << ',' << s.row.runs << ',' << exact_number(s.dim_ratio)
       << stat_columns(s.row, metrics) << ',' << s.row.step << '\n';
  const fs::path path = dir / "summary.csv";
  io::write_file_atomic(path, os.str());
  return path;
}

}  // namespace eqaug::report
