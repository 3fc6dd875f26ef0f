// The command line as a user meets it: exit codes and messages.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include "../support/helpers.hpp"
#include "eqaug/backend/cuda.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

using Result = eqaug::testing::CliResult;
Result cli(const std::string& args) { return eqaug::testing::run_cli(args); }

}  // namespace

TEST(Cli, HelpExplainsEveryOverride) {
  const auto r = cli("run --help");
  EXPECT_EQ(r.code, 0);
  for (const char* opt : {"--runs", "--epochs", "--aug-passes", "--aug-per", "--lr", "--batch", "--seed", "--modes",
                          "--precision", "--device", "--tf32", "--threads", "--out", "--force", "--resume",
                          "--equi-update", "--data-npy", "--init-weights", "--save-weights"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
  EXPECT_EQ(cli("--help").code, 0);
  const auto bare = cli("");
  EXPECT_EQ(bare.code, 0);
  EXPECT_NE(bare.output.find("Subcommands"), std::string::npos) << bare.output;
}

TEST(Cli, BadInputFailsWithAMessage) {
  auto r = cli("run perm --bogus-option");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bogus-option"), std::string::npos) << r.output;
  r = cli("run perm --aug-per pixel");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("aug-per"), std::string::npos) << r.output;
  r = cli("run perm --lr -3");
  EXPECT_NE(r.code, 0);
  for (const char* bad :
       {"--threads 0", "--threads -1", "--runs -1", "--runs 0", "--chunk 0", "--batch 0", "--aug-passes 0",
        "--epochs -2", "--precision f16", "--modes nom,bogus", "--seed -1", "--lr abc", "--lr 0"}) {
    r = cli(std::string("run perm --out /tmp/eqaug-cli-never ") + bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_NE(r.output.find(std::string(bad).substr(2, std::string(bad).find(' ') - 2)), std::string::npos)
        << bad << ": " << r.output;
  }
  r = cli("run perm --modes nom,nom --out /tmp/eqaug-cli-never");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("twice"), std::string::npos) << r.output;
  r = cli("run no-such-preset");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no-such-preset"), std::string::npos) << r.output;
  r = cli("report /nonexistent/results");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("/nonexistent/results"), std::string::npos) << r.output;
  r = cli("run perm --data-npy /nonexistent/data --out /tmp/eqaug-cli-never");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("/nonexistent/data"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists("/tmp/eqaug-cli-never"));
}

TEST(Cli, SmallRunEndsWithTableAndFigure) {
  const auto dir = std::filesystem::temp_directory_path() / ("eqaug-cli-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto r = cli("run perm --runs 2 --epochs 1 --aug-passes 2 --threads 2 --out " + dir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("run 2/2 done"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Equi"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "summary.csv"));
  const auto again = cli("run perm --runs 2 --epochs 1 --aug-passes 2 --out " + dir.string());
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  std::filesystem::remove_all(dir);
}

TEST(Cli, DimsListsTheEquivariantSubspaceOfEveryLayer) {
  const auto r = cli("dims perm");
  ASSERT_EQ(r.code, 0) << r.output;
  // A0: 32·1 channel pairs × 15 orbits; A1: 64·32 × 2; the dense layers are all of E.
  EXPECT_NE(r.output.find("320000       15        480"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("204800        2       4096"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("526880                6656"), std::string::npos) << r.output;
}

// --device cuda where the build or the machine has no GPU (CI): a clear error before the
// results directory is touched. On a machine with a GPU the GPU tests (label gpu) cover it.
TEST(Cli, DeviceCudaWithoutAGpuIsAClearError) {
  if (eqaug::cuda::device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  eqaug::testing::TempDir dir;
  const auto out = dir.path() / "r";
  const auto r = cli("run perm --runs 1 --epochs 1 --no-report --device cuda --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(r.output.find("this eqaug was built without CUDA") != std::string::npos ||
              r.output.find("no CUDA device available") != std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  const auto bad = cli("run perm --device gpu --out " + out.string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("--device: expected cpu, cuda or cuda:N"), std::string::npos) << bad.output;
  const auto tf32 = cli("run perm --tf32 --out " + out.string());
  EXPECT_EQ(tf32.code, 2);
  EXPECT_NE(tf32.output.find("--tf32 applies to a GPU only"), std::string::npos) << tf32.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}
