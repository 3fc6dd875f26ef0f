#include "eqaug/report/report.hpp"
#include "../../src/report/gnuplot.hpp"
#include "../support/helpers.hpp"
#include "eqaug/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace eqaug::report;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Final value of the runs 0..4: a permutation of 1..5, so that sorting is exercised.
constexpr double kFinal[] = {3, 1, 5, 2, 4};

double dist_E_scale(const std::string& mode) {
  if (mode == "nom") return 10;
  if (mode == "aug") return 1e-3;
  return 0;
}

std::string number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// The layout of `eqaug run`: value(s) = final · s / epochs for the distances and the
// accuracy (final / 10), loss 1 / (1 + final · s / epochs).
std::string run_csv(const std::string& mode, int run, int epochs, double aug_scale = 1e-3) {
  std::ostringstream os;
  os << "step,loss,accuracy,dist_init,dist_E";
  if (mode == "aug") os << ",loss_aug";
  os << ",dist_init.A0,dist_init.A1,dist_E.A0,dist_E.A1\n";
  for (int s = 0; s <= epochs; ++s) {
    const double x = kFinal[run] * s / epochs;
    const double y = (mode == "aug" ? aug_scale : dist_E_scale(mode)) * x;
    os << s << ',' << number("%.17g", 1 / (1 + x)) << ',' << number("%.17g", x / 10) << ',' << number("%.12e", x) << ','
       << number("%.12e", y);
    if (mode == "aug") os << ',' << number("%.17g", 1 / (1 + x));
    os << ',' << number("%.12e", x / 2) << ',' << number("%.12e", x / 2) << ",nan," << number("%.12e", y) << '\n';
  }
  return os.str();
}

std::string run_file(int run) {
  char name[32];
  std::snprintf(name, sizeof name, "run-%03d.csv", run);
  return name;
}

struct SweepSpec {
  std::vector<std::string> modes{"nom", "aug", "equi"};
  int planned = 5;
  std::vector<int> finished{0, 1, 2, 3, 4};
  int epochs = 4;
  // Newer manifests: written only when non-empty (the defaults are an old Perm manifest).
  std::string name = "perm", group, precision, accuracy;
  double aug_scale = 1e-3;     // dist_E of Aug = aug_scale · dist_init
  nlohmann::json model;        // manifest "model" when not null
  nlohmann::json aug;          // manifest config.train.aug when not null
  bool complete_field = true;  // write "complete" (false: an older manifest without it)
};

void write_sweep(const fs::path& dir, const SweepSpec& spec) {
  nlohmann::json runs = nlohmann::json::array();
  for (int r : spec.finished) runs.push_back({{"run", r}, {"wall_s", 1.5}});
  nlohmann::json manifest = {
      {"program", {{"name", "eqaug"}, {"version", "0.1.0"}}},
      {"config",
       {{"name", spec.name}, {"train", {{"modes", spec.modes}, {"runs", spec.planned}, {"epochs", spec.epochs}}}}},
      {"runs", runs}};
  if (spec.complete_field) manifest["complete"] = spec.finished.size() == static_cast<std::size_t>(spec.planned);
  if (!spec.aug.is_null()) manifest["config"]["train"]["aug"] = spec.aug;
  if (!spec.precision.empty()) manifest["config"]["train"]["precision"] = spec.precision;
  if (!spec.model.is_null()) manifest["model"] = spec.model;
  if (!spec.group.empty()) manifest["model"]["group"] = spec.group;
  if (!spec.accuracy.empty()) manifest["data"] = {{"name", spec.name}, {"accuracy", spec.accuracy}};
  write_text(dir / "manifest.json", manifest.dump(2));
  for (const auto& mode : spec.modes)
    for (int r : spec.finished) write_text(dir / mode / run_file(r), run_csv(mode, r, spec.epochs, spec.aug_scale));
}

using eqaug::testing::gnuplot_on_path;

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("eqaug-report-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // The error message of `f`, which must throw eqaug::Error.
  template <class F>
  static std::string error_of(F f) {
    try {
      f();
    } catch (const eqaug::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected eqaug::Error";
    return {};
  }

  fs::path root_;
};

void expect_stat(const Stat& s, double median, double q1, double q3) {
  EXPECT_DOUBLE_EQ(s.median, median);
  EXPECT_DOUBLE_EQ(s.q1, q1);
  EXPECT_DOUBLE_EQ(s.q3, q3);
}

TEST(ReportDescribe, MatchesNumpyLinearPercentiles) {
  expect_stat(describe({5, 1, 4, 2, 3}), 3, 2, 4);
  // numpy.percentile([1,2,3,4], [25,50,75]) = [1.75, 2.5, 3.25]
  expect_stat(describe({4, 3, 2, 1}), 2.5, 1.75, 3.25);
  expect_stat(describe({7}), 7, 7, 7);
  // numpy.percentile([0, 10], [25, 50, 75]) = [2.5, 5, 7.5]
  expect_stat(describe({10, 0}), 5, 2.5, 7.5);
}

TEST(ReportDescribe, LeavesOutNaNsAndCountsThem) {
  const Stat s = describe({kNaN, 1, 2, kNaN, 3, 4, 5});
  expect_stat(s, 3, 2, 4);
  EXPECT_EQ(s.nan_values, 2);
  const Stat none = describe({kNaN});
  EXPECT_TRUE(std::isnan(none.median) && std::isnan(none.q1) && std::isnan(none.q3));
  EXPECT_TRUE(std::isnan(describe({}).median));
}

TEST(ReportFormat, CompactNumbers) {
  EXPECT_EQ(format_number(3), "3");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(1.234567e-5), "1.235e-5");
  EXPECT_EQ(format_number(2.5e12), "2.5e12");
  EXPECT_EQ(format_number(kNaN), "nan");
  EXPECT_EQ(mode_label("nom"), "Nom");
  EXPECT_EQ(mode_label("equi"), "Equi");
  EXPECT_EQ(mode_label("pen"), "Pen");
}

TEST_F(ReportTest, ReadsEveryColumnByHeaderName) {
  write_sweep(root_, {});
  const Sweep sweep = read_sweep(root_);
  EXPECT_EQ(sweep.name, "perm");
  EXPECT_EQ(sweep.epochs, 4);
  EXPECT_EQ(sweep.planned_runs, 5);
  EXPECT_TRUE(sweep.complete);
  EXPECT_EQ(sweep.modes, (std::vector<std::string>{"nom", "aug", "equi"}));
  EXPECT_EQ(sweep.runs, (std::vector<int>{0, 1, 2, 3, 4}));
  ASSERT_EQ(sweep.curves.at("aug").size(), 5u);
  const RunCurve& c = sweep.curves.at("aug")[2];
  EXPECT_EQ(c.step, (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(c.dist_init.back(), 5);
  EXPECT_DOUBLE_EQ(c.dist_E.back(), 5e-3);
  EXPECT_DOUBLE_EQ(c.loss.back(), 1.0 / 6);
  EXPECT_DOUBLE_EQ(c.columns.at("dist_init_A1").back(), 2.5);
  EXPECT_TRUE(std::isnan(c.columns.at("dist_E_A0").back()));
  EXPECT_EQ(c.columns.count("loss_aug"), 1u);
  EXPECT_EQ(sweep.curves.at("nom")[0].columns.count("loss_aug"), 0u);
}

TEST_F(ReportTest, ColumnsInAnyOrderWithCrLf) {
  const fs::path file = root_ / "run-000.csv";
  write_text(file, "dist_E,step,accuracy,loss,dist_init\r\n0,0,0.5,0.7,0\r\n1.5e-05,1,0.75,nan,2\r\n");
  const RunCurve c = read_run_csv(file, 2);
  EXPECT_EQ(c.step, (std::vector<double>{0, 1}));
  EXPECT_DOUBLE_EQ(c.dist_E[1], 1.5e-5);
  EXPECT_DOUBLE_EQ(c.dist_init[1], 2);
  EXPECT_DOUBLE_EQ(c.accuracy[1], 0.75);
  EXPECT_TRUE(std::isnan(c.loss[1]));
}

TEST_F(ReportTest, ReadsTheLayoutOfStepsCsvAndTheEarlierOneAlike) {
  // Today's per-run CSV (steps.csv's columns: mode and run first, loss_aug empty for a
  // strategy that does not augment, dist_E_<layer>) and the earlier layout of the same
  // numbers (no mode or run, no loss_aug, dist_E.<layer>) read into the same columns.
  const fs::path now = root_ / "now.csv", before = root_ / "before.csv";
  write_text(now,
             "mode,run,step,loss,accuracy,dist_init,dist_E,loss_aug,dist_init_A0,dist_E_A0\n"
             "nom,3,0,0.7,0.5,0,0,,0,0\nnom,3,1,0.6,0.75,2,1e-05,,2,1e-05\n");
  write_text(before,
             "step,loss,accuracy,dist_init,dist_E,dist_init.A0,dist_E.A0\n"
             "0,0.7,0.5,0,0,0,0\n1,0.6,0.75,2,1e-05,2,1e-05\n");
  const RunCurve a = read_run_csv(now, 2), b = read_run_csv(before, 2);
  EXPECT_EQ(a.columns.count("mode"), 0u);
  EXPECT_EQ(a.columns.at("run"), (std::vector<double>{3, 3}));
  EXPECT_TRUE(std::isnan(a.columns.at("loss_aug")[1]));
  EXPECT_EQ(b.columns.count("loss_aug"), 0u);
  for (const char* col : {"step", "loss", "accuracy", "dist_init", "dist_E", "dist_init_A0", "dist_E_A0"})
    EXPECT_EQ(a.columns.at(col), b.columns.at(col)) << col;
  // An empty cell anywhere but loss_aug is still an error naming the column.
  write_text(now, "mode,run,step,loss,accuracy,dist_init,dist_E,loss_aug\nnom,0,0,,0.5,0,0,\n");
  try {
    read_run_csv(now, 1);
    ADD_FAILURE() << "an empty loss was accepted";
  } catch (const eqaug::Error& e) {
    EXPECT_NE(std::string(e.what()).find("column 'loss'"), std::string::npos) << e.what();
  }
}

TEST_F(ReportTest, SummaryHasExactMediansAndQuartiles) {
  write_sweep(root_, {});
  const auto rows = summarize(read_sweep(root_));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].mode, "nom");
  EXPECT_EQ(rows[1].mode, "aug");
  EXPECT_EQ(rows[2].mode, "equi");
  for (const auto& row : rows) {
    SCOPED_TRACE(row.mode);
    EXPECT_EQ(row.runs, 5);
    expect_stat(row.dist_init, 3, 2, 4);
    const double scale = dist_E_scale(row.mode);
    expect_stat(row.dist_E, 3 * scale, 2 * scale, 4 * scale);
    // final losses 1/(1+v) for v = 1..5: 1/6, 1/5, 1/4, 1/3, 1/2
    expect_stat(row.loss, 1.0 / 4, 1.0 / 5, 1.0 / 3);
    expect_stat(row.accuracy, 0.3, 0.2, 0.4);
    EXPECT_EQ(row.dist_init.nan_values, 0);
  }
}

TEST_F(ReportTest, PartialSweepSummarisesFinishedRunsOnly) {
  SweepSpec spec;
  spec.finished = {3, 0, 2};  // finals 2, 3, 5; runs 1 and 4 have no files at all
  write_sweep(root_, spec);
  const Sweep sweep = read_sweep(root_);
  EXPECT_FALSE(sweep.complete);
  EXPECT_EQ(sweep.runs, (std::vector<int>{0, 2, 3}));
  const auto rows = summarize(sweep);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].runs, 3);
  EXPECT_EQ(rows[0].planned_runs, 5);
  // numpy.percentile([2, 3, 5], [25, 50, 75]) = [2.5, 3, 4]
  expect_stat(rows[0].dist_init, 3, 2.5, 4);
  EXPECT_NE(format_table(rows).find("3 of 5"), std::string::npos);

  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, false), 0);
  EXPECT_NE(out.str().find("3 of 5 runs finished"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("incomplete"), std::string::npos);
}

TEST_F(ReportTest, TableIsAlignedAndReadable) {
  write_sweep(root_, {});
  const std::string table = format_table(summarize(read_sweep(root_)));
  std::istringstream lines(table);
  std::string header, rule, nom, aug, equi;
  std::getline(lines, header);
  std::getline(lines, rule);
  std::getline(lines, nom);
  std::getline(lines, aug);
  std::getline(lines, equi);
  EXPECT_EQ(header.rfind("strategy", 0), 0u);
  EXPECT_EQ(nom.rfind("Nom", 0), 0u);
  EXPECT_EQ(aug.rfind("Aug", 0), 0u);
  EXPECT_EQ(equi.rfind("Equi", 0), 0u);
  EXPECT_NE(nom.find("3 [2, 4]"), std::string::npos) << table;
  EXPECT_NE(nom.find("30 [20, 40]"), std::string::npos) << table;
  EXPECT_NE(aug.find("0.003 [0.002, 0.004]"), std::string::npos) << table;
  EXPECT_NE(equi.find("0 [0, 0]"), std::string::npos) << table;
  // Every column starts at the same offset in every line.
  const auto dist_E_at = header.find("dist_E");
  EXPECT_EQ(nom.find("30 ["), dist_E_at);
  EXPECT_EQ(aug.find("0.003 ["), dist_E_at);
  EXPECT_EQ(header.find("runs"), nom.find("5 "));
}

TEST_F(ReportTest, SummaryCsvRoundTrips) {
  write_sweep(root_, {});
  const fs::path path = write_summary_csv(root_, summarize(read_sweep(root_)));
  EXPECT_EQ(path, root_ / "summary.csv");
  std::istringstream lines(read_text(path));
  std::string header, nom;
  std::getline(lines, header);
  std::getline(lines, nom);
  EXPECT_EQ(header,
            "mode,runs,dist_init_median,dist_init_q1,dist_init_q3,dist_E_median,dist_E_q1,dist_E_q3,"
            "loss_median,loss_q1,loss_q3,accuracy_median,accuracy_q1,accuracy_q3,"
            "paper_dist_init_median,paper_dist_init_q1,paper_dist_init_q3,"
            "paper_dist_E_median,paper_dist_E_q1,paper_dist_E_q3,step");
  EXPECT_EQ(nom.rfind("nom,5,3,2,4,30,20,40,0.25,0.2,0.3333333333,", 0), 0u) << nom;
  EXPECT_EQ(nom.substr(nom.rfind(',')), ",4") << nom;  // the final row is the state after step 4 (epochs)
  // This manifest names no layers: the paper's metric is undefined, not made up.
  EXPECT_NE(nom.find(",nan,nan,nan,nan,nan,nan"), std::string::npos) << nom;
}

TEST_F(ReportTest, MissingManifestNamesTheFile) {
  write_sweep(root_, {});
  fs::remove(root_ / "manifest.json");
  EXPECT_NE(error_of([&] { read_sweep(root_); }).find("manifest.json"), std::string::npos);
}

TEST_F(ReportTest, InvalidManifestNamesTheFileAndField) {
  write_sweep(root_, {});
  write_text(root_ / "manifest.json", "{\"config\": {\"train\": {\"modes\": [\"nom\"],");
  std::string message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("manifest.json"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid JSON"), std::string::npos) << message;

  write_text(root_ / "manifest.json",
             R"({"config": {"name": "perm", "train": {"modes": ["nom"], "runs": 5}}, "runs": []})");
  message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("manifest.json"), std::string::npos) << message;
  EXPECT_NE(message.find("config.train.epochs"), std::string::npos) << message;

  write_text(root_ / "manifest.json",
             R"({"config": {"train": {"modes": ["nom"], "runs": 5, "epochs": 4}}, "runs": [{"run": 7}]})");
  message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("runs[0].run"), std::string::npos) << message;
}

TEST_F(ReportTest, MissingColumnNamesFileAndColumn) {
  write_sweep(root_, {});
  const fs::path file = root_ / "aug" / "run-002.csv";
  std::string text = read_text(file);
  text.replace(text.find("dist_E,"), 7, "dist_X,");
  write_text(file, text);
  const std::string message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("run-002.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("aug"), std::string::npos) << message;
  EXPECT_NE(message.find("'dist_E'"), std::string::npos) << message;
}

TEST_F(ReportTest, ShortCsvNamesFileAndRowCount) {
  write_sweep(root_, {});
  const fs::path file = root_ / "equi" / "run-004.csv";
  std::string text = read_text(file);
  text.erase(text.rfind('\n', text.size() - 2) + 1);  // drop the last row
  write_text(file, text);
  const std::string message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("run-004.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("has 4 data rows, expected 5"), std::string::npos) << message;
}

TEST_F(ReportTest, MissingRunFileOrBadNumberNamesTheFile) {
  write_sweep(root_, {});
  fs::remove(root_ / "nom" / "run-003.csv");
  std::string message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("run-003.csv"), std::string::npos) << message;

  write_sweep(root_, {});
  const fs::path file = root_ / "nom" / "run-001.csv";
  std::string text = read_text(file);
  text.replace(text.find("\n1,") + 3, 1, "x");
  write_text(file, text);
  message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("run-001.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  EXPECT_NE(message.find("'loss'"), std::string::npos) << message;
}

TEST_F(ReportTest, ZoomRangeResolvesTheStrategiesOtherThanNom) {
  write_sweep(root_, {});
  const FigureRanges r = figure_ranges(read_sweep(root_));
  EXPECT_DOUBLE_EQ(r.x_max, 1.05 * 5);
  EXPECT_DOUBLE_EQ(r.y_max, 1.05 * 50);
  // The zoom comes from Aug's median (3e-3 at the last step), not from its widest run (5e-3).
  EXPECT_DOUBLE_EQ(r.y_max_zoom, 1.1 * 3e-3);
  EXPECT_EQ(r.zoom_rule, "y to 1.1 × max median of Aug");

  // Equi alone stays in E exactly: the zoom must still be a proper range.
  SweepSpec spec;
  spec.modes = {"nom", "equi"};
  const fs::path other = root_ / "nom-equi";
  write_sweep(other, spec);
  const FigureRanges e = figure_ranges(read_sweep(other));
  EXPECT_DOUBLE_EQ(e.y_max_zoom, 0.01 * 1.05 * 50);
}

TEST(ReportZoom, FloorIsFarAboveRounding) {
  // Aug's median decides while it is above the floor.
  EXPECT_DOUBLE_EQ(zoom_range(3e-3, 52.5, "f32"), 1.1 * 3e-3);
  EXPECT_DOUBLE_EQ(zoom_range(3e-3, 52.5, "f64"), 1.1 * 3e-3);
  // Exact augmentation in f64: a median of 1e-15 (rounding) gives 1e-9 of the full range.
  EXPECT_DOUBLE_EQ(zoom_range(1e-15, 2.0, "f64"), 1e-9 * 2.0);
  EXPECT_DOUBLE_EQ(zoom_range(2e-14, 1e-3, "f64"), 1e-12);
  // f32 (and an unknown precision) rounds at ~1e-7: its floor is 1e-5 of the full range.
  EXPECT_DOUBLE_EQ(zoom_range(1e-10, 1.0, "f32"), 1e-5);
  EXPECT_DOUBLE_EQ(zoom_range(1e-10, 1.0, ""), 1e-5);
  EXPECT_DOUBLE_EQ(zoom_floor_factor("f64"), 1e-9);
  EXPECT_DOUBLE_EQ(zoom_floor_factor("f32"), 1e-5);
  // Nothing moved at all, or no number: an absolute 1e-12 keeps the axis proper.
  EXPECT_DOUBLE_EQ(zoom_range(0, 0, "f64"), 1e-12);
  EXPECT_DOUBLE_EQ(zoom_range(kNaN, kNaN, "f64"), 1e-12);
  EXPECT_DOUBLE_EQ(zoom_range(kNaN, 1.0, "f64"), 1e-9);
}

TEST_F(ReportTest, ExactAugmentationInFloat64ZoomsToTheFloor) {
  SweepSpec spec;
  spec.precision = "f64";
  spec.aug_scale = 1e-16;  // Aug's dist_E is rounding noise
  spec.aug = {{"exact", true}};
  write_sweep(root_, spec);
  const Sweep sweep = read_sweep(root_);
  const FigureRanges r = figure_ranges(sweep);
  EXPECT_DOUBLE_EQ(r.y_max, 1.05 * 50);
  EXPECT_DOUBLE_EQ(r.y_max_zoom, 1e-9 * 1.05 * 50);
  EXPECT_NE(r.zoom_rule.find("1e-9"), std::string::npos) << r.zoom_rule;
  EXPECT_EQ(augmentation_text(sweep), "Aug exact (every group element)");
}

TEST(ReportTicks, OneFormatPerAxis) {
  for (double max : {1.0, 0.014, 5.25, 52.5, 0.0055, 1.6e-3, 2e-12, 3.3e4, 999.0, 0.0105, 7.7e-5}) {
    SCOPED_TRACE(max);
    const AxisTicks t = axis_ticks(max);
    ASSERT_GE(t.values.size(), 4u);
    ASSERT_LE(t.values.size(), 9u);
    ASSERT_EQ(t.labels.size(), t.values.size());
    EXPECT_EQ(t.values.front(), 0);
    EXPECT_LE(t.values.back(), max * (1 + 1e-9));
    EXPECT_EQ(t.exponent != 0, max < 0.01 || max >= 1e4);
    // Every label has the same number of decimals, no exponent, and reads as value / 10^exponent.
    const auto decimals = [](const std::string& l) {
      const auto dot = l.find('.');
      return dot == std::string::npos ? std::size_t{0} : l.size() - dot - 1;
    };
    for (std::size_t i = 0; i < t.labels.size(); ++i) {
      EXPECT_EQ(t.labels[i].find_first_of("eE"), std::string::npos) << t.labels[i];
      EXPECT_EQ(decimals(t.labels[i]), decimals(t.labels[0])) << t.labels[i] << " vs " << t.labels[0];
      EXPECT_NEAR(std::stod(t.labels[i]) * std::pow(10.0, t.exponent), t.values[i], 1e-9 * max) << t.labels[i];
    }
  }
  const AxisTicks plain = axis_ticks(0.014);
  EXPECT_EQ(plain.labels,
            (std::vector<std::string>{"0.000", "0.002", "0.004", "0.006", "0.008", "0.010", "0.012", "0.014"}));
  const AxisTicks small = axis_ticks(1.6e-3);
  EXPECT_EQ(small.exponent, -3);
  EXPECT_EQ(small.labels.front(), "0.0");
  EXPECT_EQ(small.labels.back(), "1.5");
}

TEST_F(ReportTest, MissingGnuplotIsAClearError) {
  write_sweep(root_, {});
  FigureOptions options;
  options.gnuplot = "eqaug-no-such-gnuplot";
  const std::string message = error_of([&] { render_figure(read_sweep(root_), root_, options); });
  EXPECT_NE(message.find("eqaug-no-such-gnuplot"), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
}

TEST_F(ReportTest, NoFinishedRunsReportsAndSkipsTheFigure) {
  SweepSpec spec;
  spec.finished = {};
  write_sweep(root_, spec);
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, true), 0);
  EXPECT_NE(out.str().find("0 of 5 runs"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("skipped"), std::string::npos) << out.str();
  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
}

TEST_F(ReportTest, RendersPngAndSvgInADirectoryWithSpacesAndQuotes) {
  if (!gnuplot_on_path()) GTEST_SKIP() << "gnuplot is not on PATH";
  const fs::path dir = root_ / "my results' dir";
  write_sweep(dir, {});
  std::ostringstream out;
  EXPECT_EQ(run_report(dir, out), 0);

  const std::string png = read_text(dir / "figure.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const std::string svg = read_text(dir / "figure.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("Equi"), std::string::npos);
  // PDF beside PNG and SVG, for papers.
  const std::string pdf = read_text(dir / "figure.pdf");
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
  EXPECT_NE(out.str().find("figure.pdf"), std::string::npos) << out.str();
  EXPECT_TRUE(fs::exists(dir / "figure.gp"));
  EXPECT_TRUE(fs::exists(dir / "figure-data" / "aug-median.dat"));
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_NE(out.str().find("figure.png"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("summary.csv"), std::string::npos) << out.str();
}

TEST_F(ReportTest, GnuplotFailureIsAnErrorAndLeavesNoFigure) {
  write_sweep(root_, {});
  const Sweep sweep = read_sweep(root_);
  // Stand-ins for gnuplot: one that fails, one that "succeeds" without drawing anything.
  const fs::path failing = root_ / "failing gnuplot";
  write_text(failing, "#!/bin/sh\necho 'line 7: boom' >&2\nexit 3\n");
  const fs::path silent = root_ / "silent-gnuplot";
  write_text(silent, "#!/bin/sh\nexit 0\n");
  fs::permissions(failing, fs::perms::owner_all);
  fs::permissions(silent, fs::perms::owner_all);

  FigureOptions options;
  options.gnuplot = failing.string();
  std::string message = error_of([&] { render_figure(sweep, root_, options); });
  EXPECT_NE(message.find("figure.gp"), std::string::npos) << message;
  EXPECT_NE(message.find("exit status 3"), std::string::npos) << message;
  EXPECT_NE(message.find("boom"), std::string::npos) << message;

  options.gnuplot = silent.string();
  message = error_of([&] { render_figure(sweep, root_, options); });
  EXPECT_NE(message.find("wrote no"), std::string::npos) << message;

  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
  EXPECT_FALSE(fs::exists(root_ / "figure.svg"));
  EXPECT_FALSE(fs::exists(root_ / "figure.pdf"));
  for (const auto& entry : fs::directory_iterator(root_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// ---------------------------------------------------------------------------------------
// Other experiments: accuracy kind, group and precision.

TEST_F(ReportTest, AccuracyKindIsPrintedUnderTheTable) {
  SweepSpec spec;
  spec.name = "rot";
  spec.accuracy = "per-pixel mask accuracy (fraction of mask pixels predicted correctly, both masks)";
  write_sweep(root_, spec);
  const Sweep sweep = read_sweep(root_);
  EXPECT_EQ(sweep.accuracy, spec.accuracy);
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, false), 0);
  EXPECT_NE(out.str().find("\naccuracy: per-pixel mask accuracy (fraction of mask pixels predicted correctly, both "
                           "masks)\n"),
            std::string::npos)
      << out.str();
  // summary.csv keeps its columns.
  std::istringstream lines(read_text(root_ / "summary.csv"));
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("mode,runs,dist_init_median,", 0), 0u) << header;
  EXPECT_NE(header.find(",accuracy_median,accuracy_q1,accuracy_q3"), std::string::npos) << header;
}

TEST_F(ReportTest, OldManifestWithoutAccuracyKindKeepsTheOutput) {
  write_sweep(root_, {});
  const Sweep sweep = read_sweep(root_);
  EXPECT_EQ(sweep.accuracy, "");
  const auto rows = summarize(sweep);
  EXPECT_EQ(format_table(rows, sweep.accuracy), format_table(rows));
  std::ostringstream out;
  run_report(root_, out, false);
  EXPECT_EQ(out.str().find("accuracy:"), std::string::npos) << out.str();
  const std::string table = format_table(rows);
  const std::string last = "\n(final step: median [q1, q3] over runs; dist_init = |A - A0|, dist_E = |A - P_E A|)\n";
  ASSERT_GT(table.size(), last.size());
  EXPECT_EQ(table.substr(table.size() - last.size()), last);
}

TEST_F(ReportTest, AccuracyKindMustBeAString) {
  write_sweep(root_, {});
  auto manifest = nlohmann::json::parse(read_text(root_ / "manifest.json"));
  manifest["data"] = {{"accuracy", 3}};
  write_text(root_ / "manifest.json", manifest.dump());
  const std::string message = error_of([&] { read_sweep(root_); });
  EXPECT_NE(message.find("manifest.json"), std::string::npos) << message;
  EXPECT_NE(message.find("data.accuracy"), std::string::npos) << message;
}

TEST_F(ReportTest, FigureTitleNamesExperimentGroupAndPrecision) {
  SweepSpec spec;
  spec.name = "trans";
  spec.group = "Z_14 x Z_14";
  spec.precision = "f32";
  write_sweep(root_, spec);
  const Sweep sweep = read_sweep(root_);
  EXPECT_EQ(sweep.group, "Z_14 x Z_14");
  EXPECT_EQ(sweep.precision, "f32");
  FigureOptions options;
  options.gnuplot = "eqaug-no-such-gnuplot";  // the script is written before gnuplot runs
  error_of([&] { render_figure(sweep, root_, options); });
  const std::string script = read_text(root_ / "figure.gp");
  EXPECT_NE(script.find("'trans: group Z_14 x Z_14, float32 — 5 runs, 4 steps'"), std::string::npos) << script;
  EXPECT_EQ(figure_title(sweep), "trans: group Z_14 x Z_14, float32 — 5 runs, 4 steps");
}

TEST_F(ReportTest, FigureTitleNamesTheAugmentation) {
  SweepSpec spec;
  spec.name = "trans";
  spec.precision = "f64";
  spec.aug = {{"passes", 25}, {"per", "batch"}, {"exact", false}};
  write_sweep(root_, spec);
  Sweep sweep = read_sweep(root_);
  EXPECT_EQ(augmentation_text(sweep), "Aug sampled per batch, L = 25");
  EXPECT_EQ(figure_title(sweep), "trans: float64, Aug sampled per batch, L = 25 — 5 runs, 4 steps");
  sweep.manifest["config"]["train"]["aug"] = {{"passes", 4}, {"per", "sample"}, {"exact", false}};
  EXPECT_EQ(augmentation_text(sweep), "Aug sampled per sample, L = 4");
  sweep.manifest["config"]["train"]["aug"] = {{"exact", true}};
  EXPECT_EQ(figure_title(sweep), "trans: float64, Aug exact (every group element) — 5 runs, 4 steps");
  // No Aug strategy: nothing to say about augmentation.
  sweep.modes = {"nom", "equi"};
  EXPECT_EQ(augmentation_text(sweep), "");
}

// ---------------------------------------------------------------------------------------
// Unfinished sweeps and stale reports.

TEST_F(ReportTest, UnfinishedSweepIsMarkedInProgress) {
  SweepSpec spec;
  spec.finished = {0, 2, 3};
  write_sweep(root_, spec);
  const Sweep sweep = read_sweep(root_);
  EXPECT_TRUE(in_progress(sweep));
  EXPECT_EQ(progress_text(sweep), "in progress: 3 of 5 runs");
  EXPECT_EQ(figure_title(sweep), "perm — in progress: 3 of 5 runs, 4 steps");

  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, false), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("perm: IN PROGRESS, 3 of 5 runs finished"), std::string::npos) << text;
  EXPECT_NE(text.find("status: in progress: 3 of 5 runs"), std::string::npos) << text;
  // summary.csv stays a plain table: the header first, no comment lines, the runs it summarises.
  std::istringstream lines(read_text(root_ / "summary.csv"));
  std::string header, nom;
  std::getline(lines, header);
  std::getline(lines, nom);
  EXPECT_EQ(header.rfind("mode,runs,dist_init_median,", 0), 0u) << header;
  EXPECT_EQ(nom.rfind("nom,3,", 0), 0u) << nom;

  // A finished sweep is not in progress; a manifest that says "complete": false is, even
  // with every run listed (the runner stopped before it marked the sweep done).
  SweepSpec done;
  write_sweep(root_ / "done", done);
  EXPECT_FALSE(in_progress(read_sweep(root_ / "done")));
  EXPECT_EQ(progress_text(read_sweep(root_ / "done")), "");
  done.complete_field = false;
  write_sweep(root_ / "unmarked", done);
  EXPECT_TRUE(in_progress(read_sweep(root_ / "unmarked")));
}

TEST_F(ReportTest, UnfinishedSweepFigureSaysInProgress) {
  SweepSpec spec;
  spec.finished = {1, 4};
  write_sweep(root_, spec);
  FigureOptions options;
  options.gnuplot = "eqaug-no-such-gnuplot";  // the script is written before gnuplot runs
  error_of([&] { render_figure(read_sweep(root_), root_, options); });
  const std::string script = read_text(root_ / "figure.gp");
  EXPECT_NE(script.find("'perm — in progress: 2 of 5 runs, 4 steps'"), std::string::npos) << script;
  EXPECT_NE(script.find("provisional"), std::string::npos) << script;

  write_sweep(root_ / "done", {});
  error_of([&] { render_figure(read_sweep(root_ / "done"), root_ / "done", options); });
  const std::string final_script = read_text(root_ / "done" / "figure.gp");
  EXPECT_EQ(final_script.find("in progress"), std::string::npos);
  EXPECT_EQ(final_script.find("provisional"), std::string::npos);
}

TEST_F(ReportTest, ReportWithoutFigureRemovesTheFigureOfAnEarlierState) {
  // A figure drawn when the sweep was complete; then the sweep was extended (--resume --runs).
  write_sweep(root_, {});
  for (const char* name : {"figure.png", "figure.svg", "figure.pdf", "figure.gp", "figure-data/nom-runs.dat"})
    write_text(root_ / name, "old");
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, false), 0);  // complete: the figure is left alone
  EXPECT_TRUE(fs::exists(root_ / "figure.png"));

  auto manifest = nlohmann::json::parse(read_text(root_ / "manifest.json"));
  manifest["config"]["train"]["runs"] = 8;
  manifest["complete"] = false;
  write_text(root_ / "manifest.json", manifest.dump());
  std::ostringstream again;
  EXPECT_EQ(run_report(root_, again, false), 0);
  for (const char* name : {"figure.png", "figure.svg", "figure.pdf", "figure.gp", "figure-data"})
    EXPECT_FALSE(fs::exists(root_ / name)) << name;
  EXPECT_NE(again.str().find("removed the figure of an earlier state"), std::string::npos) << again.str();
  EXPECT_NE(read_text(root_ / "summary.csv").find("\nnom,5,"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "manifest.json"));
  EXPECT_TRUE(fs::exists(root_ / "nom" / "run-000.csv"));
}

TEST_F(ReportTest, NoFinishedRunsRemovesAnOldFigure) {
  SweepSpec spec;
  spec.finished = {};
  write_sweep(root_, spec);
  write_text(root_ / "figure.png", "old");
  write_text(root_ / "figure-data" / "nom-runs.dat", "old");
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, true), 0);
  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
  EXPECT_FALSE(fs::exists(root_ / "figure-data"));
}

TEST_F(ReportTest, RemoveStaleReportDeletesOnlyWhatReportWrote) {
  write_sweep(root_, {});
  for (const char* name :
       {"summary.csv", "figure.png", "figure.svg", "figure.pdf", "figure.gp", "figure-data/nom-runs.dat",
        "figure-data/aug-median.dat", "figure-paper.png", "figure-paper.gp", "figure-paper-data/nom-runs.dat"})
    write_text(root_ / name, "old");
  write_text(root_ / "figure-notes.txt", "mine");      // not figure.*
  write_text(root_ / "notes" / "figure.png", "mine");  // not in the sweep folder itself
  remove_stale_report(root_);
  for (const char* name : {"summary.csv", "figure.png", "figure.svg", "figure.pdf", "figure.gp", "figure-data",
                           "figure-paper.png", "figure-paper.gp", "figure-paper-data"})
    EXPECT_FALSE(fs::exists(root_ / name)) << name;
  EXPECT_TRUE(fs::exists(root_ / "figure-notes.txt"));
  EXPECT_TRUE(fs::exists(root_ / "notes" / "figure.png"));
  EXPECT_TRUE(fs::exists(root_ / "manifest.json"));
  for (const char* mode : {"nom", "aug", "equi"}) EXPECT_TRUE(fs::exists(root_ / mode / "run-004.csv")) << mode;
  EXPECT_NO_THROW(read_sweep(root_));
  // Nothing left to remove, or no folder at all: not an error.
  EXPECT_NO_THROW(remove_stale_report(root_));
  EXPECT_NO_THROW(remove_stale_report(root_ / "no such folder"));
}

TEST_F(ReportTest, RunCurvesStayVisibleWithFewRunsAndTheLegendIsOutside) {
  SweepSpec spec;
  spec.finished = {0, 1};
  spec.planned = 2;
  write_sweep(root_, spec);
  FigureOptions options;
  options.gnuplot = "eqaug-no-such-gnuplot";
  error_of([&] { render_figure(read_sweep(root_), root_, options); });
  std::string script = read_text(root_ / "figure.gp");
  EXPECT_NE(script.find("nom-runs.dat' using 1:2 with lines lw 1.5 lc rgb '#50d62728'"), std::string::npos) << script;
  // The panels draw no key; one legend sits in a strip of its own below them.
  const auto first_plot = script.find("  plot ");
  EXPECT_LT(script.find("unset key"), first_plot);
  const auto key = script.find("  set key center");
  ASSERT_NE(key, std::string::npos);
  EXPECT_GT(key, script.rfind("set origin 0,0"));
  EXPECT_NE(script.find("unset border", script.rfind("set origin 0,0")), std::string::npos);

  // Many runs: thinner, fainter lines.
  Sweep many;
  many.name = "many";
  many.modes = {"nom"};
  many.epochs = 1;
  many.planned_runs = 30;
  many.complete = true;
  for (int k = 0; k < 30; ++k) {
    many.runs.push_back(k);
    RunCurve c;
    c.step = {0, 1};
    c.dist_init = {0, 1.0 + k};
    c.dist_E = {0, 0.5 + k};
    many.curves["nom"].push_back(c);
  }
  error_of([&] { render_figure(many, root_ / "many", options); });
  script = read_text(root_ / "many" / "figure.gp");
  EXPECT_NE(script.find("nom-runs.dat' using 1:2 with lines lw 0.8 lc rgb '#B0d62728'"), std::string::npos) << script;
}

TEST_F(ReportTest, CopiedResultsFolderRedrawsItself) {
  if (!gnuplot_on_path()) GTEST_SKIP() << "gnuplot is not on PATH";
  const fs::path original = root_ / "original";
  write_sweep(original, {});
  std::ostringstream out;
  ASSERT_EQ(run_report(original, out), 0);
  const std::string script = read_text(original / "figure.gp");
  EXPECT_EQ(script.find(original.string()), std::string::npos) << "figure.gp names an absolute path:\n" << script;

  const fs::path copy = root_ / "copy";
  fs::copy(original, copy, fs::copy_options::recursive);
  const std::string original_png = read_text(original / "figure.png");
  const auto original_time = fs::last_write_time(original / "figure.png");
  // Without its data, the original cannot be what the copy draws from.
  fs::remove_all(original / "figure-data");
  for (const char* name : {"figure.png", "figure.svg", "figure.pdf"}) fs::remove(copy / name);

  const std::string redraw = "cd '" + copy.string() + "' && gnuplot figure.gp >/dev/null 2>&1";
  ASSERT_EQ(std::system(redraw.c_str()), 0) << redraw;
  for (const char* name : {"figure.png", "figure.svg", "figure.pdf"}) EXPECT_TRUE(fs::exists(copy / name)) << name;
  EXPECT_EQ(read_text(copy / "figure.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(read_text(original / "figure.png"), original_png);
  EXPECT_EQ(fs::last_write_time(original / "figure.png"), original_time);

  // From another working directory too: the script changes to its own folder first.
  fs::remove(copy / "figure.png");
  const std::string elsewhere = "cd '" + root_.string() + "' && gnuplot copy/figure.gp >/dev/null 2>&1";
  ASSERT_EQ(std::system(elsewhere.c_str()), 0) << elsewhere;
  EXPECT_TRUE(fs::exists(copy / "figure.png"));
  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
  EXPECT_EQ(read_text(original / "figure.png"), original_png);
}

// ---------------------------------------------------------------------------------------
// Studies.

struct MemberSpec {
  std::string name, group;
  double dim_E = 0, dim_L = 0;  // 0: left out of study.json
  bool run = true;              // write the member's sweep
  SweepSpec sweep;
};

std::vector<MemberSpec> groups_members() {
  std::vector<MemberSpec> m(4);
  m[0] = {"trans", "Z_14 x Z_14", 1234, 40000000, true, {}};
  m[1] = {"rot", "C_4", 5000, 40000000, true, {}};
  m[2] = {"onedtrans", "Z_14", 0, 0, false, {}};
  m[3] = {"transrot", "Z_14 x Z_14 x C_4", 300, 40000000, false, {}};
  m[0].sweep.aug_scale = 1e-3;
  m[1].sweep.aug_scale = 5;
  for (auto& member : m) {
    member.sweep.name = "groups-" + member.name;
    member.sweep.accuracy = "classification accuracy";
  }
  return m;
}

void write_study(const fs::path& dir, const std::vector<MemberSpec>& members, bool complete = false) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members) {
    nlohmann::json entry = {{"name", m.name}, {"dir", m.name}, {"group", m.group}};
    if (m.dim_E > 0) entry["dim_E"] = m.dim_E;
    if (m.dim_L > 0) entry["dim_L"] = m.dim_L;
    list.push_back(entry);
    if (m.run) write_sweep(dir / m.name, m.sweep);
  }
  const nlohmann::json study = {{"program", {{"name", "eqaug"}, {"version", "0.1.0"}}},
                                {"kind", "study"},
                                {"name", "groups"},
                                {"complete", complete},
                                {"members", list}};
  write_text(dir / "study.json", study.dump(2));
}

TEST_F(ReportTest, StudyReaderReadsMembersAndMarksThoseNotRunYet) {
  auto members = groups_members();
  members[3].run = true;
  members[3].sweep.finished = {};  // manifest written, no run finished yet
  members[1].group = "";           // left to the manifest
  members[1].sweep.group = "C_4 (manifest)";
  members[1].sweep.model = {{"dim_E", 10}, {"params", 1000}};
  members[1].dim_E = members[1].dim_L = 0;
  write_study(root_, members);
  EXPECT_TRUE(is_study(root_));
  EXPECT_FALSE(is_study(root_ / "trans"));

  const Study study = read_study(root_);
  EXPECT_EQ(study.name, "groups");
  EXPECT_EQ(study.version, "0.1.0");
  EXPECT_FALSE(study.complete);
  ASSERT_EQ(study.members.size(), 4u);
  EXPECT_EQ(study.members[0].name, "trans");
  EXPECT_EQ(study.members[0].dir, root_ / "trans");
  EXPECT_EQ(study.members[0].group, "Z_14 x Z_14");
  EXPECT_DOUBLE_EQ(study.members[0].dim_ratio(), 1234 / 4e7);
  EXPECT_TRUE(study.members[0].has_runs());
  EXPECT_EQ(study.members[0].sweep.runs.size(), 5u);
  EXPECT_EQ(study.members[1].group, "C_4 (manifest)");
  EXPECT_DOUBLE_EQ(study.members[1].dim_ratio(), 0.01);
  EXPECT_FALSE(study.members[2].has_manifest);
  EXPECT_FALSE(study.members[2].has_runs());
  EXPECT_TRUE(std::isnan(study.members[2].dim_ratio()));
  EXPECT_TRUE(study.members[3].has_manifest);
  EXPECT_FALSE(study.members[3].has_runs());

  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out, false), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("2 of 4 members with finished runs (study incomplete)"), std::string::npos) << text;
  EXPECT_NE(text.find("onedtrans: not run yet"), std::string::npos) << text;
  EXPECT_NE(text.find("transrot: not run yet"), std::string::npos) << text;
  EXPECT_NE(text.find("== trans (Z_14 x Z_14) =="), std::string::npos) << text;
  EXPECT_NE(text.find("not run yet: onedtrans, transrot"), std::string::npos) << text;
  EXPECT_NE(text.find("accuracy: classification accuracy"), std::string::npos) << text;
  // The ordinary report of each member with runs, in its own folder.
  EXPECT_TRUE(fs::exists(root_ / "trans" / "summary.csv"));
  EXPECT_TRUE(fs::exists(root_ / "rot" / "summary.csv"));
  EXPECT_FALSE(fs::exists(root_ / "transrot" / "summary.csv"));
  EXPECT_TRUE(fs::exists(root_ / "summary.csv"));
}

TEST_F(ReportTest, InvalidStudyJsonNamesTheFileAndField) {
  const auto check = [&](const std::string& text, const std::string& expected) {
    write_text(root_ / "study.json", text);
    const std::string message = error_of([&] { read_study(root_); });
    EXPECT_NE(message.find("study.json"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << text << " -> " << message;
  };
  check("{\"kind\": \"study\", ", "invalid JSON");
  check("[1, 2]", "JSON object");
  check(R"({"members": [{"name": "a"}]})", "kind");
  check(R"({"kind": "sweep", "members": [{"name": "a"}]})", "field kind");
  check(R"({"kind": "study"})", "members");
  check(R"({"kind": "study", "members": []})", "members");
  check(R"({"kind": "study", "members": [{"dir": "a"}]})", "members[0].name");
  check(R"({"kind": "study", "members": [{"name": "a/b"}]})", "members[0].name");
  check(R"({"kind": "study", "members": [{"name": "a"}, {"name": "a"}]})", "twice");
  check(R"({"kind": "study", "members": [{"name": "a", "dir": "../elsewhere"}]})", "members[0].dir");
  check(R"({"kind": "study", "members": [{"name": "a", "dir": "/tmp"}]})", "members[0].dir");
  check(R"({"kind": "study", "members": [{"name": "a", "dir": "x"}, {"name": "b", "dir": "x/"}]})", "members[1].dir");
  check(R"({"kind": "study", "members": [{"name": "a", "dim_L": 0}]})", "members[0].dim_L");
  check(R"({"kind": "study", "members": [{"name": "a", "dim_E": "big"}]})", "members[0].dim_E");
  check(R"({"kind": "study", "members": [{"name": "a", "group": 4}]})", "members[0].group");
  check(R"({"kind": "study", "complete": "yes", "members": [{"name": "a"}]})", "complete");

  fs::remove(root_ / "study.json");
  EXPECT_FALSE(is_study(root_));
  EXPECT_NE(error_of([&] { read_study(root_); }).find("study.json"), std::string::npos);
}

TEST_F(ReportTest, BrokenMemberSweepNamesTheMembersFile) {
  write_study(root_, groups_members());
  const fs::path file = root_ / "rot" / "aug" / "run-002.csv";
  fs::remove(file);
  const std::string message = error_of([&] { read_study(root_); });
  EXPECT_NE(message.find((root_ / "rot" / "aug").string()), std::string::npos) << message;
  EXPECT_NE(message.find("run-002.csv"), std::string::npos) << message;

  write_text(root_ / "rot" / "manifest.json", "{");
  EXPECT_NE(error_of([&] { read_study(root_); }).find((root_ / "rot" / "manifest.json").string()), std::string::npos);
}

TEST_F(ReportTest, MissingMemberFolderIsNotRunYet) {
  auto members = groups_members();
  write_study(root_, members);
  fs::remove_all(root_ / "rot");
  const Study study = read_study(root_);
  EXPECT_FALSE(study.members[1].has_manifest);
  const auto rows = summarize_study(study);
  ASSERT_EQ(rows.size(), 3u);  // trans only: nom, aug, equi
  for (const auto& r : rows) EXPECT_EQ(r.member, "trans");
  EXPECT_NE(format_study_table(study, rows).find("not run yet: rot, onedtrans, transrot"), std::string::npos);
}

// A sweep held in memory: curves[mode][run] = (dist_init, dist_E) per step.
Sweep synthetic(const std::map<std::string, std::vector<std::vector<std::pair<double, double>>>>& curves) {
  Sweep sweep;
  for (const auto& [mode, runs] : curves) {
    sweep.modes.push_back(mode);
    for (const auto& points : runs) {
      RunCurve c;
      for (std::size_t s = 0; s < points.size(); ++s) {
        c.step.push_back(static_cast<double>(s));
        c.dist_init.push_back(points[s].first);
        c.dist_E.push_back(points[s].second);
      }
      sweep.curves[mode].push_back(c);
    }
  }
  sweep.runs = {0, 1, 2};
  return sweep;
}

TEST(ReportStudyRanges, LimitsAreRelativeToTheMediansOfNomAndEqui) {
  // Three runs each; the per-step median is not any one run, and its max over steps (3 for
  // Equi's x) is not the max of any run (5, 6).
  const Sweep trans = synthetic({
      {"equi", {{{0, 0}, {5, 0}, {1, 0}}, {{0, 0}, {1, 0}, {6, 0}}, {{0, 0}, {3, 0}, {3, 0}}}},
      {"nom", {{{0, 0}, {9, 20}, {9, 100}}, {{0, 0}, {9, 40}, {9, 30}}, {{0, 0}, {9, 50}, {9, 10}}}},
      {"aug", {{{0, 0}, {8, 0.1}, {8, 0.4}}, {{0, 0}, {8, 0.2}, {8, 0.2}}, {{0, 0}, {8, 0.3}, {8, kNaN}}}},
  });
  // medians: equi x (0, 3, 3); nom y (0, 40, 30); aug y (0, 0.2, 0.3).
  const Sweep rot = synthetic({
      {"equi", {{{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}}},
      {"nom", {{{0, 0}, {4, 7}}, {{0, 0}, {4, 7}}, {{0, 0}, {4, 7}}}},
      {"aug", {{{0, 0}, {4, 6}}, {{0, 0}, {4, 6}}, {{0, 0}, {4, 6}}}},
  });
  const StudyRanges r = study_ranges({trans, rot});
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_DOUBLE_EQ(r.groups[0].x_max, 1.1 * 3);
  EXPECT_DOUBLE_EQ(r.groups[0].y_max, 1.1 * 40);
  EXPECT_EQ(r.kappa_from, 0);
  EXPECT_DOUBLE_EQ(r.kappa, 1.5 * 0.3 / (1.1 * 40));
  EXPECT_DOUBLE_EQ(r.groups[0].y_max_zoom, 1.5 * 0.3);  // the rule that fixes κ
  EXPECT_DOUBLE_EQ(r.groups[1].x_max, 1.1 * 2);
  EXPECT_DOUBLE_EQ(r.groups[1].y_max, 1.1 * 7);
  EXPECT_DOUBLE_EQ(r.groups[1].y_max_zoom, r.kappa * 1.1 * 7);  // the same κ, not Rot's own Aug
  EXPECT_EQ(r.groups[0].note, "");
  EXPECT_EQ(r.groups[1].note, "");

  // The paper's metric: the authors' calclims, 1.5 × the medians, and their Figure 6 scales
  // every group's zoom by Trans's Aug/Nom (here 0.3/40).
  const StudyRanges p = study_ranges({trans, rot}, 1.5);
  EXPECT_DOUBLE_EQ(p.groups[0].x_max, 1.5 * 3);
  EXPECT_DOUBLE_EQ(p.groups[0].y_max, 1.5 * 40);
  EXPECT_DOUBLE_EQ(p.groups[0].y_max_zoom, 1.5 * 0.3);
  EXPECT_DOUBLE_EQ(p.groups[1].y_max_zoom, 1.5 * 7 * 0.3 / 40);
}

TEST(ReportStudyRanges, FallbacksWhenAStrategyIsMissing) {
  // No Equi and no Aug in the first group: x from all curves, κ from the second group.
  const Sweep nom_only = synthetic({{"nom", {{{0, 0}, {4, 8}}, {{0, 0}, {6, 10}}, {{0, 0}, {5, 9}}}}});
  const Sweep aug_equi = synthetic({
      {"equi", {{{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}}},
      {"aug", {{{0, 0}, {3, 0.5}}, {{0, 0}, {3, 0.5}}, {{0, 0}, {3, 0.5}}}},
  });
  StudyRanges r = study_ranges({nom_only, aug_equi});
  EXPECT_DOUBLE_EQ(r.groups[0].x_max, 1.1 * 5);
  EXPECT_DOUBLE_EQ(r.groups[0].y_max, 1.1 * 9);
  EXPECT_NE(r.groups[0].note.find("no Equi"), std::string::npos) << r.groups[0].note;
  // No Nom: y from all curves (Aug's 0.5 here).
  EXPECT_DOUBLE_EQ(r.groups[1].y_max, 1.1 * 0.5);
  EXPECT_NE(r.groups[1].note.find("no Nom"), std::string::npos) << r.groups[1].note;
  EXPECT_EQ(r.kappa_from, 1);
  EXPECT_DOUBLE_EQ(r.kappa, 1.5 * 0.5 / (1.1 * 0.5));
  EXPECT_DOUBLE_EQ(r.groups[0].y_max_zoom, r.kappa * 1.1 * 9);

  // No Aug anywhere: κ = 0.01; only Equi: nothing moves away from E, limits 1.
  const Sweep equi_only = synthetic({{"equi", {{{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}, {{0, 0}, {2, 0}}}}});
  r = study_ranges({nom_only, equi_only});
  EXPECT_EQ(r.kappa_from, -1);
  EXPECT_DOUBLE_EQ(r.kappa, 0.01);
  EXPECT_DOUBLE_EQ(r.groups[0].y_max_zoom, 0.01 * 1.1 * 9);
  EXPECT_DOUBLE_EQ(r.groups[1].x_max, 1.1 * 2);
  EXPECT_DOUBLE_EQ(r.groups[1].y_max, 1.0);
  EXPECT_TRUE(study_ranges({}).groups.empty());
}

TEST_F(ReportTest, StudySummaryCsvHasOneRowPerMemberAndMode) {
  write_study(root_, groups_members());
  const Study study = read_study(root_);
  const auto rows = summarize_study(study);
  ASSERT_EQ(rows.size(), 6u);
  const fs::path path = write_study_summary_csv(root_, rows);
  EXPECT_EQ(path, root_ / "summary.csv");
  std::istringstream lines(read_text(path));
  std::vector<std::string> l;
  for (std::string line; std::getline(lines, line);) l.push_back(line);
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0],
            "group,mode,runs,dim_E_over_dim_L,dist_init_median,dist_init_q1,dist_init_q3,dist_E_median,dist_E_q1,"
            "dist_E_q3,loss_median,loss_q1,loss_q3,accuracy_median,accuracy_q1,accuracy_q3,"
            "paper_dist_init_median,paper_dist_init_q1,paper_dist_init_q3,paper_dist_E_median,paper_dist_E_q1,"
            "paper_dist_E_q3,step");
  EXPECT_EQ(l[1].rfind("trans,nom,5,3.085e-05,3,2,4,30,20,40,", 0), 0u) << l[1];
  EXPECT_EQ(l[2].rfind("trans,aug,5,", 0), 0u) << l[2];
  EXPECT_EQ(l[4].rfind("rot,nom,5,0.000125,3,2,4,", 0), 0u) << l[4];
  EXPECT_EQ(l[5].rfind("rot,aug,5,0.000125,3,2,4,15,10,20,", 0), 0u) << l[5];

  const std::string table = format_study_table(study, rows);
  std::istringstream text(table);
  std::string header, rule, first;
  std::getline(text, header);
  std::getline(text, rule);
  std::getline(text, first);
  EXPECT_EQ(header.rfind("group", 0), 0u) << table;
  EXPECT_NE(header.find("dim E/dim L"), std::string::npos) << table;
  EXPECT_EQ(first.rfind("trans", 0), 0u) << table;
  EXPECT_NE(first.find("3.085e-5"), std::string::npos) << table;
}

TEST_F(ReportTest, StudyAccuracyKindsPerMemberWhenTheyDiffer) {
  auto members = groups_members();
  members[1].sweep.accuracy = "per-pixel mask accuracy";
  write_study(root_, members);
  const Study study = read_study(root_);
  const std::string table = format_study_table(study, summarize_study(study));
  EXPECT_NE(table.find("accuracy (trans): classification accuracy\n"), std::string::npos) << table;
  EXPECT_NE(table.find("accuracy (rot): per-pixel mask accuracy\n"), std::string::npos) << table;
}

TEST_F(ReportTest, StudyReportDrawsFigureSix) {
  if (!gnuplot_on_path()) GTEST_SKIP() << "gnuplot is not on PATH";
  write_study(root_, groups_members());
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out), 0);
  const std::string png = read_text(root_ / "figure.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_NE(read_text(root_ / "figure.svg").find("<svg"), std::string::npos);
  EXPECT_EQ(read_text(root_ / "figure.pdf").rfind("%PDF-", 0), 0u);
  EXPECT_TRUE(fs::exists(root_ / "trans" / "figure.pdf"));
  const std::string script = read_text(root_ / "figure.gp");
  EXPECT_EQ(script.find(root_.string()), std::string::npos) << "absolute path in the study's figure.gp";
  // Members not run yet and a study not marked complete: the figure says so.
  EXPECT_NE(script.find("in progress: 2 of 4 groups finished"), std::string::npos) << script;
  EXPECT_NE(script.find("1.1 x max median dist_init of Equi"), std::string::npos);
  EXPECT_NE(script.find("reaches 1.5 × its max median of Aug"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "figure-data" / "trans-aug-median.dat"));
  EXPECT_TRUE(fs::exists(root_ / "figure-data" / "rot-nom-runs.dat"));
  EXPECT_FALSE(fs::exists(root_ / "figure-data" / "onedtrans-nom-runs.dat"));
  EXPECT_TRUE(fs::exists(root_ / "trans" / "figure.png"));
  EXPECT_TRUE(fs::exists(root_ / "rot" / "figure.png"));
  for (const auto& entry : fs::directory_iterator(root_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_NE(out.str().find((root_ / "figure.png").string()), std::string::npos) << out.str();
}

TEST_F(ReportTest, StudyWithNoRunsSkipsTheFigure) {
  auto members = groups_members();
  for (auto& m : members) m.run = false;
  write_study(root_, members);
  std::ostringstream out;
  EXPECT_EQ(run_report(root_, out), 0);
  EXPECT_NE(out.str().find("figure: skipped"), std::string::npos) << out.str();
  EXPECT_FALSE(fs::exists(root_ / "figure.png"));
  EXPECT_EQ(read_text(root_ / "summary.csv").find('\n'), read_text(root_ / "summary.csv").size() - 1);
  EXPECT_NE(error_of([&] { render_study_figure(read_study(root_), root_); }).find("no member"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Contact sheets.

ContactSheet synthetic_sheet(std::size_t count, std::size_t masks) {
  ContactSheet sheet;
  sheet.title = "synthetic shapes";
  sheet.side = 14;
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<double> image(14 * 14);
    std::vector<std::vector<double>> m(masks, std::vector<double>(14 * 14, 0.0));
    for (std::size_t r = 0; r < 14; ++r)
      for (std::size_t c = 0; c < 14; ++c) {
        image[r * 14 + c] = static_cast<double>((r + c + i) % 14) / 13.0;
        const bool inside = r >= 2 + i % 4 && r < 9 + i % 4 && c >= 3 && c < 10 + i % 3;
        for (std::size_t j = 0; j < masks; ++j)
          if (inside && (i + j) % 2 == 0) m[j][r * 14 + c] = 1;
      }
    sheet.images.push_back(image);
    if (masks > 0) sheet.masks.push_back(m);
    sheet.labels.push_back(std::to_string(i) + (i % 2 ? " (triangle)" : " (pentagon's)"));
  }
  for (std::size_t j = 0; j < masks; ++j) sheet.mask_names.push_back(j == 0 ? "triangle mask" : "pentagon mask");
  return sheet;
}

TEST_F(ReportTest, ContactSheetWritesAPng) {
  if (!gnuplot_on_path()) GTEST_SKIP() << "gnuplot is not on PATH";
  for (std::size_t masks : {0u, 2u}) {
    SCOPED_TRACE(masks);
    const fs::path png = root_ / "sheets dir" / ("sheet-" + std::to_string(masks) + ".png");
    EXPECT_EQ(write_contact_sheet(synthetic_sheet(11, masks), png), png);
    const std::string bytes = read_text(png);
    ASSERT_GT(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  }
  for (const auto& entry : fs::directory_iterator(root_ / "sheets dir"))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(ReportTest, ContactSheetErrors) {
  const fs::path png = root_ / "sheet.png";
  const auto fails = [&](const ContactSheet& sheet, const std::string& expected) {
    const std::string message = error_of([&] { write_contact_sheet(sheet, png); });
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  };
  ContactSheet empty;
  fails(empty, "no images");
  ContactSheet s = synthetic_sheet(3, 2);
  s.side = 0;
  fails(s, "side");
  s = synthetic_sheet(3, 2);
  s.images[1].pop_back();
  fails(s, "image 1 has 195 values, expected 14x14 = 196");
  s = synthetic_sheet(3, 2);
  s.masks[2][1].push_back(0);
  fails(s, "mask 1 of image 2");
  s = synthetic_sheet(3, 2);
  s.masks.pop_back();
  fails(s, "masks for 2 images");
  s = synthetic_sheet(3, 2);
  s.mask_names.pop_back();
  fails(s, "mask names");
  s = synthetic_sheet(3, 0);
  s.labels.pop_back();
  fails(s, "labels");
  s = synthetic_sheet(3, 0);
  s.images[0][5] = kNaN;
  fails(s, "non-finite");
  s = synthetic_sheet(3, 0);
  FigureOptions options;
  options.gnuplot = "eqaug-no-such-gnuplot";
  EXPECT_NE(error_of([&] { write_contact_sheet(s, png, options); }).find("not found"), std::string::npos);
  EXPECT_FALSE(fs::exists(png));
  for (const auto& entry : fs::directory_iterator(root_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST(ReportFigureRanges, RoundingNoiseWithoutNomDrawsAsZero) {
  // Exact Aug and Equi, no Nom: Aug's distances are rounding (6e-18) while the weights
  // moved by about 0.03. The full panel is floored at the precision's rounding relative to
  // that travel, so the noise is a flat line at 0, not a curve filling the panel.
  Sweep s = synthetic({
      {"aug",
       {{{0, 0}, {0.02, 6e-18}, {0.03, 3e-18}},
        {{0, 0}, {0.02, 5e-18}, {0.03, 4e-18}},
        {{0, 0}, {0.02, 1e-18}, {0.03, 2e-18}}}},
      {"equi", {{{0, 0}, {0.02, 0}, {0.03, 0}}, {{0, 0}, {0.02, 0}, {0.03, 0}}, {{0, 0}, {0.02, 0}, {0.03, 0}}}},
  });
  s.precision = "f64";
  const FigureRanges r = figure_ranges(s);
  EXPECT_DOUBLE_EQ(r.y_max, 1e-9 * 0.03);
  EXPECT_GT(r.y_max, 1e6 * 6e-18);
}

TEST(ReportFigureRanges, ARawStartZoomsAroundAugsOwnStart) {
  // Nom and Aug start 5 away from E; the zoom shows Aug's median around 5, not [0, 5.5].
  Sweep s = synthetic({
      {"nom", {{{0, 5}, {1, 5.2}, {2, 5.4}}, {{0, 5}, {1, 5.2}, {2, 5.4}}, {{0, 5}, {1, 5.2}, {2, 5.4}}}},
      {"aug", {{{0, 5}, {1, 4.99}, {2, 4.98}}, {{0, 5}, {1, 4.99}, {2, 4.98}}, {{0, 5}, {1, 4.99}, {2, 4.98}}}},
  });
  s.precision = "f64";
  s.raw_start = true;
  const FigureRanges r = figure_ranges(s);
  EXPECT_NEAR(r.y_min_zoom, 4.98 - 0.002, 1e-12);
  EXPECT_NEAR(r.y_max_zoom, 5.0 + 0.002, 1e-12);
  EXPECT_NE(r.zoom_rule.find("start raw, at |A0 - P_E A0| = 5"), std::string::npos) << r.zoom_rule;
  EXPECT_NE(figure_title(s).find("start raw (A⁰ off E)"), std::string::npos) << figure_title(s);
  s.raw_start = false;
  EXPECT_TRUE(std::isnan(figure_ranges(s).y_min_zoom));
}

TEST(ReportFigureRanges, CosmeticsSayWhatTheyMean) {
  // AugPen's colour is its own (it was pink-red beside Nom's red), and a zoom set by the
  // rounding floor says so in words.
  EXPECT_EQ(detail::mode_colour("augpen", 3), "9467bd");
  EXPECT_NE(detail::mode_colour("augpen", 3), detail::mode_colour("nom", 0));
  Sweep s = synthetic({
      {"nom", {{{0, 0}, {1, 1}}, {{0, 0}, {1, 1}}, {{0, 0}, {1, 1}}}},
      {"aug", {{{0, 0}, {1, 1e-9}}, {{0, 0}, {1, 1e-9}}, {{0, 0}, {1, 1e-9}}}},
  });
  s.precision = "f32";
  const auto rule = figure_ranges(s).zoom_rule;
  EXPECT_NE(rule.find("y to 1e-5 × the full panel; Aug's median stays below that, at the rounding of float32"),
            std::string::npos)
      << rule;
}

}  // namespace
