// The ablation statistics: Mann–Whitney against exact counts and the normal law with ties
// (values worked out by enumeration and by hand), the paired bootstrap, and the ablation rows
// of a study (Aug/Nom per member, rank tests only within one setting and experiment).
#include "eqaug/report/stats.hpp"
#include "../support/helpers.hpp"
#include "eqaug/report/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <unistd.h>

namespace {

using namespace eqaug::report;

TEST(MannWhitney, ExactTwoSidedPValuesWithoutTies) {
  // Completely separated samples: p = 2 / C(m + n, m).
  auto t = mann_whitney({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(t.exact);
  EXPECT_EQ(t.u, 0);
  EXPECT_NEAR(t.p, 2.0 / 20, 1e-12);
  t = mann_whitney({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_EQ(t.u, 25);
  EXPECT_NEAR(t.p, 2.0 / 252, 1e-12);
  // U = 5 of 25: P(U ≤ 5) = 19/252 by enumerating the 252 arrangements.
  t = mann_whitney({0.1, 0.5, 0.2, 0.9, 0.3}, {0.4, 0.6, 0.7, 0.8, 1.0});
  EXPECT_EQ(t.u, 5);
  EXPECT_NEAR(t.p, 38.0 / 252, 1e-12);
  // Symmetric in the samples, NaNs left out.
  EXPECT_NEAR(mann_whitney({0.4, 0.6, 0.7, 0.8, 1.0, NAN}, {0.1, 0.5, 0.2, 0.9, 0.3}).p, 38.0 / 252, 1e-12);
  EXPECT_TRUE(std::isnan(mann_whitney({}, {1, 2}).p));
}

TEST(MannWhitney, NormalApproximationWithTies) {
  // U = 2.5; ties {2, 2, 2} and {3, 3}: var = 16/12 (9 − 30/56), z = (5.5 − 0.5)/√var.
  const auto t = mann_whitney({1, 2, 2, 3}, {2, 3, 4, 5});
  EXPECT_FALSE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 2.5);
  EXPECT_NEAR(t.p, 0.13665824773814753, 1e-12);
}

TEST(Bootstrap, RatioOfMediansIsPairedAndReproducible) {
  const std::vector<double> nom = {1, 2, 3, 4, 5, 6, 7};
  std::vector<double> aug;
  for (double v : nom) aug.push_back(0.25 * v);
  auto r = bootstrap_ratio_of_medians(aug, nom);
  EXPECT_EQ(r.pairs, 7);
  EXPECT_DOUBLE_EQ(r.ratio, 0.25);
  EXPECT_DOUBLE_EQ(r.low, 0.25);  // every resample of proportional pairs has the same ratio
  EXPECT_DOUBLE_EQ(r.high, 0.25);

  const std::vector<double> noisy = {0.3, 0.1, 0.9, 0.5, 1.4, 1.1, 2.9, NAN};
  const std::vector<double> base = {1, 2, 3, 4, 5, 6, 7, 8};
  r = bootstrap_ratio_of_medians(noisy, base);
  EXPECT_EQ(r.pairs, 7);  // the pair with a NaN is left out
  EXPECT_DOUBLE_EQ(r.ratio, 0.9 / 4);
  EXPECT_LT(r.low, r.ratio);
  EXPECT_GT(r.high, r.ratio);
  const auto again = bootstrap_ratio_of_medians(noisy, base);
  EXPECT_EQ(again.low, r.low);
  EXPECT_EQ(again.high, r.high);
  EXPECT_TRUE(std::isnan(bootstrap_ratio_of_medians({}, {}).ratio));
}

// A member with `runs` runs whose final dist_E is nom[i] and aug[i] (one step).
StudyMember member(const std::string& name, const std::string& data, const std::vector<std::string>& reference,
                   const std::vector<double>& nom, const std::vector<double>& aug) {
  StudyMember m;
  m.name = name;
  m.has_manifest = true;
  Sweep& s = m.sweep;
  s.manifest = {{"config", {{"data", {{"kind", data}}}, {"model", {{"loss", "bce"}}}}}};
  s.reference = reference;
  s.modes = {"nom", "aug"};
  for (std::size_t i = 0; i < nom.size(); ++i) {
    s.runs.push_back(static_cast<int>(i));
    for (const auto& [mode, v] : {std::pair{"nom", nom[i]}, std::pair{"aug", aug[i]}}) {
      RunCurve c;
      c.step = {0, 1};
      c.dist_init = {0, 1};
      c.dist_E = {0, v};
      s.curves[mode].push_back(c);
    }
  }
  return m;
}

TEST(Ablation, RowsGiveAugOverNomAndCompareOnlyWithinOneSettingAndExperiment) {
  Study study;
  study.members.push_back(member("seg", "shapes", {}, {1, 2, 3}, {0.5, 1, 1.5}));
  study.members.push_back(member("a", "images", {}, {1, 2, 3}, {0.1, 0.22, 0.27}));
  study.members.push_back(member("b", "images", {}, {1, 2, 3}, {0.3, 0.62, 0.87}));
  study.members.push_back(member("c", "images", {"sampler"}, {1, 2, 3}, {0.2, 0.4, 0.6}));
  const auto rows = ablation_rows(study);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].setting, "faithful");
  EXPECT_EQ(rows[3].setting, "sampler");
  EXPECT_NEAR(rows[1].aug_over_nom, 0.11, 1e-15);  // median 0.22 over median 2
  EXPECT_NEAR(rows[2].aug_over_nom, 0.31, 1e-15);
  EXPECT_EQ(rows[1].ratios.size(), 3u);
  const std::string text = format_ablation(rows);
  // a and b (one setting, one experiment) are compared; seg and c with nobody.
  EXPECT_NE(text.find("a vs b: U = 0, p = 0.1 (exact)"), std::string::npos) << text;
  EXPECT_NE(text.find("faithful: by Aug/Nom, b (0.31) > a (0.11)"), std::string::npos) << text;
  EXPECT_EQ(text.find("seg vs"), std::string::npos) << text;
  EXPECT_EQ(text.find("vs c"), std::string::npos) << text;
}

TEST(Ablation, TableColumnsStayAlignedWhateverTheSettingsLength) {
  Study study;
  study.members.push_back(member("a", "images", {}, {1, 2, 3}, {0.1, 0.22, 0.27}));
  study.members.push_back(member(
      "every-switch", "images", {"double_softmax", "equi_last_layer", "nom_aug_norm", "nom_distance_on_aug", "sampler"},
      {1, 2, 3}, {0.2, 0.4, 0.6}));
  const std::string text = format_ablation(ablation_rows(study));
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> table;
  while (std::getline(in, line))
    if (line.rfind("member", 0) == 0 || line.rfind("a ", 0) == 0 || line.rfind("every-switch ", 0) == 0)
      table.push_back(line);
  ASSERT_EQ(table.size(), 3u) << text;
  const std::size_t runs = table[0].find("runs");
  ASSERT_NE(runs, std::string::npos);
  EXPECT_GT(runs,
            std::string("double_softmax + equi_last_layer + nom_aug_norm + nom_distance_on_aug + sampler").size());
  for (std::size_t i = 1; i < table.size(); ++i) {
    EXPECT_EQ(table[i].substr(runs, 4), "   3") << text;    // the runs column right-aligned under its header
    EXPECT_EQ(table[i].substr(runs + 6, 2), "0.") << text;  // and the ratio two columns after it
  }
}

// A member whose Aug drift is exactly c_r · (t / L)^b (run r: c_r = 1 + r/10) over `steps`.
StudyMember drift_member(const std::string& name, int L, double b, std::vector<std::string> reference = {}) {
  StudyMember m;
  m.name = name;
  m.group = "Z_8";
  m.has_manifest = true;
  Sweep& s = m.sweep;
  s.manifest = {{"config",
                 {{"data", {{"kind", "images"}}},
                  {"model", {{"loss", "cross_entropy"}}},
                  {"train", {{"aug", {{"passes", L}, {"exact", false}}}}}}}};
  s.reference = std::move(reference);
  s.modes = {"aug"};
  for (int r = 0; r < 5; ++r) {
    s.runs.push_back(r);
    RunCurve c;
    for (int t = 0; t <= 20; ++t) {
      c.step.push_back(t);
      c.dist_init.push_back(t);
      c.dist_E.push_back((1 + r / 10.0) * std::pow(static_cast<double>(t) / L, b));
    }
    s.curves["aug"].push_back(c);
  }
  return m;
}

TEST(NoiseLaw, ExponentsInTimeAndInLOfAnExactPowerLaw) {
  Study study;
  for (int L : {1, 4, 16, 64}) study.members.push_back(drift_member("u" + std::to_string(L), L, 0.5));
  // The reference's sampler: drift linear in t and independent of L.
  for (int L : {1, 16}) {
    auto m = drift_member("s" + std::to_string(L), 1, 1.0, {"sampler"});
    m.sweep.manifest["config"]["train"]["aug"]["passes"] = L;
    study.members.push_back(m);
  }
  const auto law = noise_law(study);
  ASSERT_EQ(law.rows.size(), 6u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(law.rows[i].b, 0.5, 1e-12);
    EXPECT_NEAR(law.rows[i].b_low, 0.5, 1e-12);  // every run has the same exponent
  }
  EXPECT_NEAR(law.rows[4].b, 1.0, 1e-12);
  ASSERT_EQ(law.fits.size(), 2u);
  EXPECT_EQ(law.fits[0].setting, "faithful");
  EXPECT_EQ(law.fits[0].passes, (std::vector<int>{1, 4, 16, 64}));
  EXPECT_NEAR(law.fits[0].beta, -0.5, 1e-12);
  EXPECT_LE(law.fits[0].low, law.fits[0].beta + 1e-12);
  EXPECT_GE(law.fits[0].high, law.fits[0].beta - 1e-12);
  EXPECT_EQ(law.fits[1].setting, "sampler");
  EXPECT_NEAR(law.fits[1].beta, 0.0, 1e-12);
  EXPECT_NE(format_noise_law(law).find("beta (Z_8, faithful): -0.5"), std::string::npos) << format_noise_law(law);
  // The figure: one log-log panel per fit, a data file per member with t ≥ 1.
  if (std::system("gnuplot --version > /dev/null 2>&1") == 0) {
    const auto dir = std::filesystem::temp_directory_path() / ("eqaug-noise-law-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto files = render_noise_law_figure(study, law, dir);
    EXPECT_TRUE(std::filesystem::exists(files.png));
    std::ifstream gp(files.script);
    const std::string script((std::istreambuf_iterator<char>(gp)), std::istreambuf_iterator<char>());
    EXPECT_NE(script.find("set logscale xy"), std::string::npos);
    EXPECT_NE(script.find("layout 1,2"), std::string::npos);  // two fits side by side
    std::ifstream d(dir / "figure-noise-law-data" / "u4.dat");
    std::string header, first;
    std::getline(d, header);
    std::getline(d, first);
    EXPECT_EQ(first.rfind("1 ", 0), 0u) << first;  // starts at t = 1 (log axis)
    std::filesystem::remove_all(dir);
  }
  // Without a break the early and late exponents are the whole one.
  EXPECT_NEAR(law.rows[1].b_early, 0.5, 1e-12);
  EXPECT_NEAR(law.rows[1].b_late, 0.5, 1e-12);
  // One L per experiment: no law to fit, no table.
  Study one;
  one.members.push_back(drift_member("a", 25, 0.5));
  EXPECT_TRUE(noise_law(one).rows.empty());
}

TEST(NoiseLaw, EarlyAndLateExponentsOfADriftThatSlows) {
  // d(t) = t^(1/2) up to t = 4 = T/5, then 2 (t/4)^(1/4): continuous, slower after the break.
  Study study;
  for (int L : {1, 4}) {
    auto m = drift_member("m" + std::to_string(L), L, 0.5);
    for (auto& c : m.sweep.curves["aug"]) {
      const double scale = c.dist_E[1];  // the run's factor times L^(-1/2)
      for (std::size_t t = 0; t < c.step.size(); ++t)
        c.dist_E[t] =
            scale * (t <= 4 ? std::sqrt(static_cast<double>(t)) : 2 * std::pow(static_cast<double>(t) / 4.0, 0.25));
    }
    study.members.push_back(m);
  }
  const auto law = noise_law(study);
  ASSERT_EQ(law.rows.size(), 2u);
  for (const auto& r : law.rows) {
    EXPECT_NEAR(r.b_early, 0.5, 1e-12);
    EXPECT_NEAR(r.b_early_low, 0.5, 1e-12);
    EXPECT_NEAR(r.b_late, 0.25, 1e-12);
    EXPECT_NEAR(r.b_late_high, 0.25, 1e-12);
    EXPECT_GT(r.b, 0.25);  // the whole fit lies between
    EXPECT_LT(r.b, 0.5);
  }
  const std::string text = format_noise_law(law);
  // Each row ends with its early and late exponents, in columns of their own.
  EXPECT_NE(text.find("early  late\n---"), std::string::npos) << text;
  EXPECT_NE(text.find("0.5    0.25\n"), std::string::npos) << text;
  const eqaug::testing::TempDir dir("noise-law-csv");
  write_noise_law_csv(dir.path(), law);
  std::ifstream in(dir.path() / "noise_law.csv");
  std::string header;
  std::getline(in, header);
  EXPECT_NE(header.find(",b_early,b_early_low,b_early_high,b_late,b_late_low,b_late_high"), std::string::npos)
      << header;
}

TEST(FormatColumns, EachColumnAsWideAsItsLongestEntry) {
  const std::string text =
      format_columns({{"name", "n", "x"}, {"a-much-longer-name", "12", "0.5"}, {"b", "3"}}, {false, true});
  EXPECT_EQ(text,
            "name                 n  x\n"
            "---------------------------\n"
            "a-much-longer-name  12  0.5\n"
            "b                    3\n");
}

}  // namespace
