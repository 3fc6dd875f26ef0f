// The paper's own metric (docs/reference.md, defect 6) against values computed by hand.
#include "eqaug/core/error.hpp"
#include "eqaug/report/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace eqaug::report;

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

// Three weight layers: A0 and A1 constrained by the group, A2 a fully connected head
// (dim_E = params). Per step s and run r (scale c = r + 1, per mode m = 1 Nom, 0.1 Aug, 0
// Equi): dist_init.A0 = 3cs, dist_init.A1 = 4cs, dist_init.A2 = 100s; dist_E.A0 = mcs,
// dist_E.A1 = 2mcs, dist_E.A2 = 7s (nonsense for a head, so that leaving it out shows).
// Paper's x = 5cs, y = √((mcs)⁴ + (2mcs)⁴) = (mcs)²√17.
constexpr int kEpochs = 2;
const double kMode[] = {1.0, 0.1, 0.0};
const char* kModes[] = {"nom", "aug", "equi"};

void write_layered_sweep(const fs::path& dir, bool with_layers = true) {
  nlohmann::json layers = nlohmann::json::array();
  layers.push_back({{"name", "A0"}, {"params", 100}, {"dim_E", 4}});
  layers.push_back({{"name", "A1"}, {"params", 50}, {"dim_E", 2}});
  layers.push_back({{"name", "A2"}, {"params", 20}, {"dim_E", 20}});
  nlohmann::json manifest = {
      {"config", {{"name", "toy"}, {"train", {{"modes", {"nom", "aug", "equi"}}, {"runs", 3}, {"epochs", kEpochs}}}}},
      {"runs", {{{"run", 0}}, {{"run", 1}}, {{"run", 2}}}},
      {"complete", true}};
  if (with_layers) manifest["model"] = {{"layers", layers}, {"group", "toy"}};
  write_text(dir / "manifest.json", manifest.dump(2));
  for (int m = 0; m < 3; ++m)
    for (int r = 0; r < 3; ++r) {
      std::ostringstream os;
      os << "step,loss,accuracy,dist_init,dist_E,dist_init.A0,dist_init.A1,dist_init.A2,dist_E.A0,dist_E.A1,"
            "dist_E.A2\n";
      const double c = r + 1;
      for (int s = 0; s <= kEpochs; ++s) {
        const double d = kMode[m] * c * s;
        os << s << ",0.5,0.5," << 100.0 * s << ',' << d << ',' << 3 * c * s << ',' << 4 * c * s << ',' << 100 * s << ','
           << d << ',' << 2 * d << ',' << 7 * s << '\n';
      }
      char name[32];
      std::snprintf(name, sizeof name, "run-%03d.csv", r);
      write_text(dir / kModes[m] / name, os.str());
    }
}

class PaperMetricTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() / ("eqaug-paper-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(PaperMetricTest, GroupLayersLeaveOutTheUnconstrainedHead) {
  write_layered_sweep(root_);
  EXPECT_EQ(group_layers(read_sweep(root_)), (std::vector<std::string>{"A0", "A1"}));
}

TEST_F(PaperMetricTest, MatchesTheHandComputedSquaredDistanceSquaredAgain) {
  write_layered_sweep(root_);
  const Sweep sweep = read_sweep(root_);
  const Sweep paper = paper_metric(sweep);
  EXPECT_TRUE(paper.paper_metric);
  for (int m = 0; m < 3; ++m)
    for (int r = 0; r < 3; ++r) {
      const RunCurve& c = paper.curves.at(kModes[m])[r];
      for (int s = 0; s <= kEpochs; ++s) {
        const double d = kMode[m] * (r + 1) * s;
        EXPECT_NEAR(c.dist_init[s], 5.0 * (r + 1) * s, 1e-12);
        EXPECT_NEAR(c.dist_E[s], d * d * std::sqrt(17.0), 1e-12) << kModes[m] << " run " << r << " step " << s;
      }
    }
  // The exact metric is left as it was.
  EXPECT_EQ(sweep.curves.at("nom")[1].dist_E.back(), 4.0);
}

TEST_F(PaperMetricTest, SummaryCsvHasBothMetricsUnderTheirOwnNames) {
  write_layered_sweep(root_);
  const auto rows = summarize(read_sweep(root_));
  ASSERT_EQ(rows.size(), 3u);
  // Nom's final step over runs c = 1, 2, 3: d = 2c, y = 4c²√17, median c = 2.
  EXPECT_DOUBLE_EQ(rows[0].dist_E.median, 4.0);
  EXPECT_NEAR(rows[0].paper_dist_E.median, 16 * std::sqrt(17.0), 1e-12);
  EXPECT_NEAR(rows[0].paper_dist_E.q1, 0.5 * (4 + 16) * std::sqrt(17.0), 1e-12);
  EXPECT_NEAR(rows[0].paper_dist_init.median, 20.0, 1e-12);
  EXPECT_EQ(rows[2].paper_dist_E.median, 0.0);
  const std::string csv = read_text(write_summary_csv(root_, rows));
  EXPECT_NE(csv.find(",paper_dist_E_median,paper_dist_E_q1,paper_dist_E_q3,step\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",20,15,25,65.96969001,41.23105626,107.2007463,2\n"), std::string::npos) << csv;
}

TEST_F(PaperMetricTest, ErrorsNameTheFileAndWhatIsMissing) {
  write_layered_sweep(root_, false);
  std::string what;
  try {
    paper_metric(read_sweep(root_));
  } catch (const eqaug::Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("manifest.json"), std::string::npos) << what;
  EXPECT_NE(what.find("model.layers"), std::string::npos) << what;
  // Without the layers, summary.csv says nan rather than inventing a value.
  EXPECT_TRUE(std::isnan(summarize(read_sweep(root_))[0].paper_dist_E.median));

  write_layered_sweep(root_);
  write_text(root_ / "aug" / "run-001.csv",
             "step,loss,accuracy,dist_init,dist_E,dist_init.A0,dist_init.A1,dist_E.A0\n"
             "0,1,0,0,0,0,0,0\n1,1,0,0,0,0,0,0\n2,1,0,0,0,0,0,0\n");
  what.clear();
  try {
    paper_metric(read_sweep(root_));
  } catch (const eqaug::Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("aug"), std::string::npos) << what;
  EXPECT_NE(what.find("'dist_E_A1'"), std::string::npos) << what;
}

TEST_F(PaperMetricTest, FigureRangesFollowTheAuthorsCalclims) {
  write_layered_sweep(root_);
  const Sweep paper = paper_metric(read_sweep(root_));
  const FigureRanges r = figure_ranges(paper);
  // Per-step medians are run c = 2: x = 20 at the last step, Nom y = 16√17, Aug y = 0.16√17.
  EXPECT_NEAR(r.x_max, 1.5 * 20, 1e-12);
  EXPECT_NEAR(r.y_max, 1.5 * 16 * std::sqrt(17.0), 1e-12);
  EXPECT_NEAR(r.y_max_zoom, 1.5 * 0.16 * std::sqrt(17.0), 1e-12);
  EXPECT_DOUBLE_EQ(r.margin, 0.1);
}

TEST_F(PaperMetricTest, ReportDrawsThePaperFigureBesideTheExactOne) {
  if (std::system("gnuplot --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  write_layered_sweep(root_);
  std::ostringstream out;
  FigureOptions options;
  options.paper_metric = true;
  ASSERT_EQ(run_report(root_, out, true, options), 0);
  for (const char* name : {"figure.png", "figure-paper.png", "figure-paper.svg", "figure-paper.pdf", "figure-paper.gp",
                           "figure-paper-data/nom-median.dat"})
    EXPECT_TRUE(fs::exists(root_ / name)) << name;
  const std::string gp = read_text(root_ / "figure-paper.gp");
  EXPECT_NE(gp.find("set xrange [0:30]"), std::string::npos);
  EXPECT_NE(gp.find("over A0, A1"), std::string::npos);
  EXPECT_NE(gp.find("data = 'figure-paper-data'"), std::string::npos);
  // The table: both metrics and Nom over Aug in each (exact 10, paper 100).
  EXPECT_NE(out.str().find("Nom / Aug distance to E: 10 in eqaug's metric, 100 in the paper's"), std::string::npos)
      << out.str();
  // Without --metric paper only the exact figure is drawn.
  fs::remove_all(root_ / "figure-paper-data");
  fs::remove(root_ / "figure-paper.png");
  std::ostringstream plain;
  ASSERT_EQ(run_report(root_, plain, true), 0);
  EXPECT_FALSE(fs::exists(root_ / "figure-paper.png"));
  EXPECT_EQ(plain.str().find("the paper's metric"), std::string::npos);
}

// issue 16, item 1: a Hessian folder whose drift is 0 at every step (exact Aug from A0 in
// E) must still draw its figure; the log axis of the drift panel had no point to show.
TEST_F(PaperMetricTest, HessianFigureWithZeroDriftEverywhereIsDrawn) {
  if (std::system("gnuplot --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  write_text(root_ / "hessian.csv",
             "trajectory,step,operator,index,eigenvalue,residual,stderr,dist_E,converged\n"
             "aug,0,eq_on_E,0,0.5,1e-10,0,0,1\n"
             "aug,0,aug_on_Eperp,0,-10.4,1e-9,0,0,1\n");
  write_text(root_ / "drift.csv", "trajectory,step,dist_E,dist_init,loss\naug,0,0,0,1.4\n");
  ASSERT_TRUE(is_hessian(root_));
  std::ostringstream out;
  EXPECT_NO_THROW(run_report(root_, out, true));
  EXPECT_TRUE(fs::exists(root_ / "figure.png"));
  EXPECT_NE(read_text(root_ / "figure.gp").find("0 at every step"), std::string::npos);
}

// issue 16, item 3: AugPen's verdict is for its penalised risk (E-perp block Hess R^aug + γ),
// and an exact Hessian has no standard error to print.
TEST_F(PaperMetricTest, HessianVerdictOfAugPenCountsThePenaltyAndExactSaysSo) {
  write_text(root_ / "hessian.csv",
             "trajectory,step,operator,index,eigenvalue,residual,stderr,dist_E,converged\n"
             "aug,0,eq_on_E,0,0.5,1e-10,0,0,1\n"
             "aug,0,aug_on_Eperp,0,-10.39,1e-9,0,0,1\n"
             "augpen,0,eq_on_E,0,0.5,1e-10,0,0,1\n"
             "augpen,0,aug_on_Eperp,0,-10.39,1e-9,0,0,1\n");
  write_text(root_ / "hessian.json", R"({"hessian_aug": "exact: every group element", "penalty": 20})");
  std::ostringstream out;
  ASSERT_EQ(run_report(root_, out, false), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("unstable"), std::string::npos) << text;  // Aug at -10.39
  EXPECT_NE(text.find("stable (penalised: -10.39 + 20 = 9.61)"), std::string::npos) << text;
  // The std. error column of both rows says "exact", not 0 beside a firm verdict.
  EXPECT_NE(text.find("-10.39        exact  unstable"), std::string::npos) << text;
  EXPECT_NE(text.find("-10.39        exact  stable"), std::string::npos) << text;
  // One Monte-Carlo estimate: no standard error to give.
  write_text(root_ / "hessian.json",
             R"({"hessian_aug": "monte carlo: 25 passes (an element per sample) x 1 independent repeats"})");
  std::ostringstream one;
  ASSERT_EQ(run_report(root_, one, false), 0);
  EXPECT_NE(one.str().find("n/a"), std::string::npos) << one.str();
  // The figure has a title (issue 16, item 17): the experiment, how Hess R^aug was formed, γ.
  write_text(root_ / "hessian.json",
             R"({"hessian_aug": "exact: every group element", "penalty": 20, "run": 0,
                 "config": {"name": "rot", "group": {"kind": "rotation"}}})");
  std::ostringstream drawn;
  ASSERT_EQ(run_report(root_, drawn, true), 0) << drawn.str();
  EXPECT_NE(read_text(root_ / "figure.gp")
                .find("title 'rot: group rotation, Hess R^aug exact: every group element, run 0, AugPen gamma = 20'"),
            std::string::npos)
      << read_text(root_ / "figure.gp");
}

}  // namespace
