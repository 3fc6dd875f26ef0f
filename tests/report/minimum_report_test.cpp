// `eqaug report` of an `eqaug minimum` folder: the numbers of minimum.json and of growth.csv's
// last step, the verdict, the figure; a corrupt file is an error naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "../support/helpers.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/report/report.hpp"

namespace {

namespace fs = std::filesystem;
using namespace eqaug::report;

class MinimumReport : public ::testing::Test {
 protected:
  void SetUp() override {
    eqaug::io::write_file_atomic(
        dir_ / "minimum.json",
        R"({"loss": 0.925, "grad_norm": 2.6e-9, "grad_tol": 1e-8, "weight_decay": 0.001, "lr": 1, "penalty": 0.0048,
            "eq_on_E": [3.1e-6, 3.2e-6], "eq_on_E_residuals": [1e-12, 1e-12],
            "aug_on_Eperp": [-0.0024, -0.0023], "aug_on_Eperp_residuals": [1e-14, 1e-14]})");
    // Exact Aug grows by 1 + eta |lambda| = 1.0024 a step, AugPen shrinks by 1 - eta (gamma - |lambda|).
    std::string csv = "step,aug_exact,aug_exact_linear,augpen_exact,augpen_linear,aug_sampled\n";
    double a = 1e-6, p = 1e-6;
    for (int t = 0; t <= 3; ++t, a *= 1.0024, p *= 1 - 0.0024)
      csv += std::to_string(t) + "," + std::to_string(a) + "," + std::to_string(a) + "," + std::to_string(p) + "," +
             std::to_string(p) + "," + std::to_string(t * 1e-7) + "\n";
    eqaug::io::write_file_atomic(dir_ / "growth.csv", csv);
  }
  eqaug::testing::TempDir tmp_{"eqaug-minrep"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(MinimumReport, PrintsTheVerdictAndTheLastStep) {
  ASSERT_TRUE(is_minimum(dir_));
  std::ostringstream out;
  run_report(dir_, out, false);
  const std::string s = out.str();
  EXPECT_NE(s.find("|grad| 2.6e-09 (within the tolerance"), std::string::npos) << s;
  EXPECT_NE(s.find("on E: 3.1e-06 (positive definite: a strict local minimum)"), std::string::npos) << s;
  EXPECT_NE(s.find("on E-perp: -0.0024 (residual 1e-14): E is unstable"), std::string::npos) << s;
  EXPECT_NE(s.find("after 3 steps of eta 1"), std::string::npos) << s;
  EXPECT_FALSE(fs::exists(dir_ / "figure.png"));
}

TEST_F(MinimumReport, DrawsTheTrajectories) {
  if (!eqaug::testing::gnuplot_on_path()) GTEST_SKIP() << "gnuplot is not on PATH";
  std::ostringstream out;
  run_report(dir_, out, true);
  EXPECT_GT(fs::file_size(dir_ / "figure.png"), 1000u);
  EXPECT_TRUE(fs::exists(dir_ / "figure-data" / "growth.dat"));
}

TEST_F(MinimumReport, CorruptFilesAreErrorsNamingThem) {
  std::ostringstream out;
  const auto report = [&] { run_report(dir_, out, false); };
  eqaug::io::write_file_atomic(dir_ / "growth.csv", "step,what\n1,2\n");
  const std::string bad_csv = eqaug::testing::message_of(report);
  EXPECT_NE(bad_csv.find("growth.csv"), std::string::npos) << bad_csv;  // "(no error)" fails here too
  eqaug::io::write_file_atomic(dir_ / "minimum.json", "{\"loss\": ");
  const std::string bad_json = eqaug::testing::message_of(report);
  EXPECT_NE(bad_json.find("minimum.json"), std::string::npos) << bad_json;
}

}  // namespace
