// The ablation tables of a study: Aug/Nom per member with a paired bootstrap interval, and
// rank tests of the members of one setting against each other.
#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/report/report.hpp"
#include "eqaug/report/stats.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace eqaug::report {

namespace {

std::vector<double> finals(const Sweep& sweep, const std::string& mode) {
  std::vector<double> v;
  const auto it = sweep.curves.find(mode);
  if (it == sweep.curves.end()) return v;
  for (const auto& c : it->second) v.push_back(c.dist_E.empty() ? std::nan("") : c.dist_E.back());
  return v;
}

struct Pair {
  std::string setting;
  const AblationRow *a, *b;
  RankTest test;
};

std::vector<Pair> rank_pairs(const std::vector<AblationRow>& rows) {
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = i + 1; j < rows.size(); ++j)
      if (rows[i].setting == rows[j].setting && rows[i].family == rows[j].family && !rows[i].ratios.empty() &&
          !rows[j].ratios.empty())
        pairs.push_back({rows[i].setting, &rows[i], &rows[j], mann_whitney(rows[i].ratios, rows[j].ratios)});
  return pairs;
}

}  // namespace

std::string setting_name(const Sweep& sweep) {
  if (sweep.reference.empty()) return "faithful";
  std::string s;
  for (std::size_t i = 0; i < sweep.reference.size(); ++i) s += (i ? " + " : "") + sweep.reference[i];
  return s;
}

std::vector<AblationRow> ablation_rows(const Study& study) {
  std::vector<AblationRow> rows;
  for (const auto& m : study.members) {
    if (!m.has_runs()) continue;
    const Sweep& s = m.sweep;
    const auto nom = finals(s, "nom"), aug = finals(s, "aug"), equi = finals(s, "equi");
    if (equi.empty() && (nom.empty() || aug.empty())) continue;
    AblationRow r;
    r.member = m.name;
    r.group = m.group;
    r.setting = setting_name(s);
    const auto& config = s.manifest.contains("config") ? s.manifest["config"] : nlohmann::json();
    const auto text = [&](const char* table, const char* key) {
      return config.contains(table) && config[table].is_object() && config[table].contains(key) &&
                     config[table][key].is_string()
                 ? config[table][key].get<std::string>()
                 : std::string();
    };
    r.family = text("data", "kind") + "/" + text("model", "loss");
    if (!nom.empty() && !aug.empty()) {
      for (std::size_t i = 0; i < std::min(nom.size(), aug.size()); ++i) r.ratios.push_back(aug[i] / nom[i]);
      const RatioEstimate e = bootstrap_ratio_of_medians(aug, nom);
      r.runs = e.pairs;
      r.aug_over_nom = e.ratio;
      r.low = e.low;
      r.high = e.high;
      try {
        const Sweep p = paper_metric(s);
        r.paper_aug_over_nom = bootstrap_ratio_of_medians(finals(p, "aug"), finals(p, "nom"), 0).ratio;
      } catch (const Error&) {
      }
    } else {
      r.runs = static_cast<int>(equi.size());
    }
    if (!equi.empty()) r.equi_dist_E = describe(equi);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string format_ablation(const std::vector<AblationRow>& rows) {
  std::ostringstream os;
  os << "Aug / Nom: median over runs of the final |A - P_E A| of Aug over that of Nom, with a paired bootstrap\n"
        "95% interval (10^4 resamples of the runs); the paper's metric: sqrt(sum_k d_k^4) over the group layers\n";
  // Columns as wide as their longest entry: a setting with every switch on is ~90 characters.
  std::vector<std::vector<std::string>> table{
      {"member", "setting", "runs", "Aug/Nom [95% CI]", "paper's", "Equi |A-P_E A|"}};
  for (const auto& r : rows)
    table.push_back({r.member, r.setting, std::to_string(r.runs),
                     std::isnan(r.aug_over_nom) ? "-"
                                                : format_number(r.aug_over_nom) + " [" + format_number(r.low) + ", " +
                                                      format_number(r.high) + "]",
                     std::isnan(r.paper_aug_over_nom) ? "-" : format_number(r.paper_aug_over_nom),
                     std::isnan(r.equi_dist_E.median) ? "-" : format_number(r.equi_dist_E.median)});
  os << format_columns(table, {false, false, true});
  const auto pairs = rank_pairs(rows);
  std::vector<std::pair<std::string, std::string>> cells;  // (setting, family) in order of appearance
  for (const auto& r : rows)
    if (std::find(cells.begin(), cells.end(), std::make_pair(r.setting, r.family)) == cells.end())
      cells.emplace_back(r.setting, r.family);
  for (const auto& [setting, family] : cells) {
    std::vector<const AblationRow*> members;
    for (const auto& r : rows)
      if (r.setting == setting && r.family == family && !r.ratios.empty()) members.push_back(&r);
    if (members.size() < 2) continue;
    std::stable_sort(members.begin(), members.end(),
                     [](const AblationRow* x, const AblationRow* y) { return x->aug_over_nom > y->aug_over_nom; });
    os << "\n" << setting << ": by Aug/Nom,";
    for (std::size_t i = 0; i < members.size(); ++i)
      os << (i ? " > " : " ") << members[i]->member << " (" << format_number(members[i]->aug_over_nom) << ")";
    os << "\n  Mann-Whitney, two-sided, per-run ratios:\n";
    for (const auto& p : pairs)
      if (p.setting == setting && p.a->family == family)
        os << "    " << p.a->member << " vs " << p.b->member << ": U = " << format_number(p.test.u)
           << ", p = " << format_number(p.test.p) << (p.test.exact ? " (exact)" : " (normal, ties)") << '\n';
  }
  return os.str();
}

std::vector<std::filesystem::path> write_ablation_csv(const std::filesystem::path& dir,
                                                      const std::vector<AblationRow>& rows) {
  std::ostringstream a;
  a << "member,group,setting,runs,aug_over_nom,ci_low,ci_high,paper_aug_over_nom,equi_dist_E_median\n";
  for (const auto& r : rows)
    a << r.member << ",\"" << r.group << "\"," << r.setting << ',' << r.runs << ',' << io::csv_number(r.aug_over_nom)
      << ',' << io::csv_number(r.low) << ',' << io::csv_number(r.high) << ',' << io::csv_number(r.paper_aug_over_nom)
      << ',' << io::csv_number(r.equi_dist_E.median) << '\n';
  std::ostringstream k;
  k << "setting,member_a,member_b,median_a,median_b,u,p,exact\n";
  for (const auto& p : rank_pairs(rows))
    k << p.setting << ',' << p.a->member << ',' << p.b->member << ',' << io::csv_number(p.a->aug_over_nom) << ','
      << io::csv_number(p.b->aug_over_nom) << ',' << io::csv_number(p.test.u) << ',' << io::csv_number(p.test.p) << ','
      << (p.test.exact ? "true" : "false") << '\n';
  const auto ablation = dir / "ablation.csv", ranks = dir / "ranks.csv";
  io::write_file_atomic(ablation, a.str());
  io::write_file_atomic(ranks, k.str());
  return {ablation, ranks};
}

}  // namespace eqaug::report
