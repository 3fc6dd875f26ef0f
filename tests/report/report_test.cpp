#include "eqaug/core/error.hpp"
#include "eqaug/report/report.hpp"

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
std::string run_csv(const std::string& mode, int run, int epochs) {
  std::ostringstream os;
  os << "step,loss,accuracy,dist_init,dist_E";
  if (mode == "aug") os << ",loss_aug";
  os << ",dist_init.A0,dist_init.A1,dist_E.A0,dist_E.A1\n";
  for (int s = 0; s <= epochs; ++s) {
    const double x = kFinal[run] * s / epochs;
    const double y = dist_E_scale(mode) * x;
    os << s << ',' << number("%.17g", 1 / (1 + x)) << ',' << number("%.17g", x / 10) << ','
       << number("%.12e", x) << ',' << number("%.12e", y);
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
};

void write_sweep(const fs::path& dir, const SweepSpec& spec) {
  nlohmann::json runs = nlohmann::json::array();
  for (int r : spec.finished) runs.push_back({{"run", r}, {"wall_s", 1.5}});
  const nlohmann::json manifest = {
      {"program", {{"name", "eqaug"}, {"version", "0.1.0"}}},
      {"config", {{"name", "perm"}, {"train", {{"modes", spec.modes}, {"runs", spec.planned}, {"epochs", spec.epochs}}}}},
      {"runs", runs},
      {"complete", spec.finished.size() == static_cast<std::size_t>(spec.planned)}};
  write_text(dir / "manifest.json", manifest.dump(2));
  for (const auto& mode : spec.modes)
    for (int r : spec.finished)
      write_text(dir / mode / run_file(r), run_csv(mode, r, spec.epochs));
}

bool gnuplot_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream dirs(path);
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && ::access((fs::path(d) / "gnuplot").c_str(), X_OK) == 0) return true;
  return false;
}

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
  EXPECT_DOUBLE_EQ(c.columns.at("dist_init.A1").back(), 2.5);
  EXPECT_TRUE(std::isnan(c.columns.at("dist_E.A0").back()));
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
            "loss_median,loss_q1,loss_q3,accuracy_median,accuracy_q1,accuracy_q3");
  EXPECT_EQ(nom.rfind("nom,5,3,2,4,30,20,40,0.25,0.20000000000000001,", 0), 0u) << nom;
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

  write_text(root_ / "manifest.json", R"({"config": {"name": "perm", "train": {"modes": ["nom"], "runs": 5}}, "runs": []})");
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
  EXPECT_DOUBLE_EQ(r.y_max_zoom, 1.1 * 5e-3);

  // Equi alone stays in E exactly: the zoom must still be a proper range.
  SweepSpec spec;
  spec.modes = {"nom", "equi"};
  const fs::path other = root_ / "nom-equi";
  write_sweep(other, spec);
  const FigureRanges e = figure_ranges(read_sweep(other));
  EXPECT_DOUBLE_EQ(e.y_max_zoom, 0.01 * 1.05 * 50);
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
  for (const auto& entry : fs::directory_iterator(root_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

}  // namespace
