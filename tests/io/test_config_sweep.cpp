// Configs, the sweep on disk (atomic results, --force, --resume, thread independence),
// weights in and out.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/helpers.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/report/report.hpp"

namespace fs = std::filesystem;
using eqaug::Error;
using nlohmann::json;

namespace {

json perm_json() { return eqaug::io::load_toml(eqaug::io::find_config("perm")); }

/// The Perm preset shrunk so that a sweep takes well under a second.
json small_perm() {
  json j = perm_json();
  j["data"]["samples"] = 40;
  j["train"]["runs"] = 3;
  j["train"]["epochs"] = 2;
  j["train"]["chunk"] = 16;
  j["train"]["aug"]["passes"] = 2;
  j["train"]["lr"] = 0.05;
  return j;
}

using eqaug::testing::message_of;

/// A column of a per-run CSV, by its name (the report's reader).
std::vector<double> column(const fs::path& file, const std::string& name) {
  return eqaug::report::read_run_csv(file).columns.at(name);
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("eqaug-sweep-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  eqaug::experiment::SweepOptions options(const std::string& sub, std::size_t threads = 2) {
    eqaug::experiment::SweepOptions o;
    o.out = root_ / sub;
    o.threads = threads;
    return o;
  }
  static std::string read(const fs::path& p) { return eqaug::io::read_file(p); }

  fs::path root_;
};

}  // namespace

TEST(Config, PermPresetResolvesToThePaperSettings) {
  const auto cfg = eqaug::io::resolve(perm_json(), "perm.toml");
  EXPECT_EQ(cfg.name, "perm");
  EXPECT_EQ(cfg.runs, 30u);
  EXPECT_EQ(cfg.train.epochs, 50u);
  EXPECT_DOUBLE_EQ(cfg.train.lr, 1e-4);
  ASSERT_EQ(cfg.train.strategies.size(), 3u);
  EXPECT_EQ(cfg.train.strategies[1].mode, eqaug::Mode::Aug);
  EXPECT_EQ(cfg.train.strategies[1].passes, 25u);
  EXPECT_EQ(cfg.train.strategies[1].per, eqaug::AugPer::Sample);
  EXPECT_EQ(cfg.train.strategies[2].equi_update, eqaug::EquiUpdate::Orbit);
  EXPECT_EQ(cfg.precision, eqaug::io::Precision::F32);
  // The model of docs/reference.md: A0 (32,1,100,100), A1 (64,32,1,100), A2 64→32, A3 32→1.
  const auto group = eqaug::io::build_group(cfg);
  const auto spec = eqaug::io::build_model(cfg, group);
  ASSERT_EQ(spec->weight_layers().size(), 4u);
  EXPECT_EQ(spec->weight_layer(0).count, 32u * 100 * 100);
  EXPECT_EQ(spec->weight_layer(1).count, 64u * 32 * 100);
  EXPECT_EQ(spec->weight_layer(2).count, 32u * 64);
  EXPECT_EQ(spec->weight_layer(3).count, 32u);
  // dim E: 15 orbits per channel pair in A0, 2 in A1, everything in the dense layers.
  EXPECT_EQ(spec->dim_E(), 32u * 15 + 64 * 32 * 2 + 32 * 64 + 32);
}

TEST(Config, ErrorsNameTheFileAndField) {
  auto with = [](const std::function<void(json&)>& edit) {
    json j = perm_json();
    edit(j);
    return message_of([&] { eqaug::io::resolve(j, "my.toml"); });
  };
  std::string m = with([](json& j) { j["train"]["learning_rate"] = 0.1; });
  EXPECT_NE(m.find("my.toml"), std::string::npos) << m;
  EXPECT_NE(m.find("train.learning_rate"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown"), std::string::npos) << m;
  m = with([](json& j) { j["train"]["lr"] = -1.0; });
  EXPECT_NE(m.find("train.lr"), std::string::npos) << m;
  m = with([](json& j) { j["train"]["weight_decay"] = -1e-3; });
  EXPECT_NE(m.find("train.weight_decay"), std::string::npos) << m;
  m = with([](json& j) { j["train"]["weight_decay"] = "some"; });
  EXPECT_NE(m.find("train.weight_decay"), std::string::npos) << m;
  {
    // Recorded only where on: configurations without it resolve (and resume) as before.
    json j = perm_json();
    EXPECT_FALSE(eqaug::io::resolve(j, "my.toml").json["train"].contains("weight_decay"));
    j["train"]["weight_decay"] = 0.0;
    EXPECT_FALSE(eqaug::io::resolve(j, "my.toml").json["train"].contains("weight_decay"));
    j["train"]["weight_decay"] = 2e-3;
    const auto cfg = eqaug::io::resolve(j, "my.toml");
    EXPECT_EQ(cfg.json["train"]["weight_decay"], 2e-3);
    EXPECT_EQ(cfg.train.weight_decay, 2e-3);
  }
  m = with([](json& j) { j["train"]["modes"] = {"nom", "bogus"}; });
  EXPECT_NE(m.find("bogus"), std::string::npos) << m;
  m = with([](json& j) { j["train"]["precision"] = "f16"; });
  EXPECT_NE(m.find("train.precision"), std::string::npos) << m;
  m = with([](json& j) { j["train"]["runs"] = "many"; });
  EXPECT_NE(m.find("train.runs"), std::string::npos) << m;
  m = with([](json& j) { j["model"]["layers"][1]["type"] = "relu6"; });
  EXPECT_NE(m.find("model.layers[1].type"), std::string::npos) << m;
  m = with([](json& j) { j["data"]["p"] = 1.5; });
  EXPECT_NE(m.find("data.p"), std::string::npos) << m;
  m = with([](json& j) { j["model"]["layers"][1]["slope"] = -0.5; });
  EXPECT_NE(m.find("model.layers[1].slope"), std::string::npos) << m;
  m = with([](json& j) { j["name"] = "../elsewhere"; });
  EXPECT_NE(m.find("name"), std::string::npos) << m;
  m = with([](json& j) { j["group"]["n"] = 100; });  // resolves; the model is what is too large
  EXPECT_EQ(m, "(no error)");
  m = with([](json& j) { j.erase("group"); });
  EXPECT_NE(m.find("group"), std::string::npos) << m;
}

TEST(Config, TooLargeModelIsAClearError) {
  json j = perm_json();
  j["group"]["n"] = 100;
  j["data"]["clusters"] = {50, 50};
  const auto cfg = eqaug::io::resolve(j, "big.toml");
  const auto group = eqaug::io::build_group(cfg);
  const std::string m = message_of([&] { eqaug::io::build_model(cfg, group); });
  EXPECT_NE(m.find("big.toml"), std::string::npos) << m;
  EXPECT_NE(m.find("too large"), std::string::npos) << m;
}

TEST(Config, ResolvedConfigurationSpellsOutEveryDefault) {
  json j = perm_json();
  j["data"].erase("q");
  j["model"]["layers"][1].erase("slope");
  const auto cfg = eqaug::io::resolve(j, "perm.toml");
  EXPECT_DOUBLE_EQ(cfg.json["data"]["q"].get<double>(), 0.05);
  EXPECT_DOUBLE_EQ(cfg.json["model"]["layers"][1]["slope"].get<double>(), 0.01);
  EXPECT_EQ(cfg.json["train"]["aug"]["per"], "sample");
  EXPECT_EQ(cfg.json["train"]["equi"]["update"], "orbit");
  EXPECT_EQ(cfg.json["data"]["npy"], "");
}

TEST(Config, ImpossibleModelIsRejected) {
  json j = perm_json();
  j["model"]["layers"][7]["channels"] = 2;  // two outputs, one label
  const auto cfg = eqaug::io::resolve(j, "two.toml");
  const auto group = eqaug::io::build_group(cfg);
  const auto spec = eqaug::io::build_model(cfg, group);
  const auto data = eqaug::io::build_data(cfg, *group);
  const std::string m = message_of([&] { eqaug::check_compatible(data, spec->input(), spec->output()); });
  EXPECT_NE(m.find("targets"), std::string::npos) << m;
}

TEST(Config, TomlSyntaxErrorsGiveFileAndLine) {
  const fs::path p = fs::temp_directory_path() / ("eqaug-bad-" + std::to_string(::getpid()) + ".toml");
  eqaug::io::write_file_atomic(p, "name = \"x\"\n[train\nruns = 3\n");
  const std::string m = message_of([&] { eqaug::io::load_toml(p); });
  fs::remove(p);
  EXPECT_NE(m.find(p.string() + ":2"), std::string::npos) << m;
}

TEST(Config, UnknownPresetListsWhereItLooked) {
  const std::string m = message_of([] { eqaug::io::find_config("no-such-preset"); });
  EXPECT_NE(m.find("no-such-preset"), std::string::npos) << m;
  EXPECT_NE(m.find("looked for"), std::string::npos) << m;
}

TEST_F(SweepTest, WritesManifestAndOneCsvPerRunAndStrategy) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  const auto s = eqaug::experiment::run_sweep(cfg, options("out"));
  EXPECT_EQ(s.runs_done, 3u);
  const json m = json::parse(read(root_ / "out/manifest.json"));
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["runs"].size(), 3u);
  EXPECT_EQ(m["config"], cfg.json);
  EXPECT_TRUE(m.contains("machine"));
  EXPECT_TRUE(m["runs"][0].contains("wall_s"));
  // Every per-run CSV has steps.csv's header, the same for every mode (loss_aug empty where
  // the strategy does not augment); StepsCsvIsOneTidyTableOfThePerRunFiles holds the rows.
  const std::string steps = read(root_ / "out/steps.csv");
  const std::string expected =
      "mode,run,step,loss,accuracy,dist_init,dist_E,loss_aug,dist_init_A0,dist_init_A1,dist_init_A2,dist_init_A3,"
      "dist_E_A0,dist_E_A1,dist_E_A2,dist_E_A3";
  EXPECT_EQ(steps.substr(0, steps.find('\n')), expected);
  for (const char* mode : {"nom", "aug", "equi"})
    for (int run = 0; run < 3; ++run) {
      std::istringstream in(read(root_ / "out" / mode / ("run-00" + std::to_string(run) + ".csv")));
      std::string header;
      std::getline(in, header);
      EXPECT_EQ(header, expected) << mode;
      int rows = 0;
      for (std::string line; std::getline(in, line); ++rows) {
        const std::string prefix = std::string(mode) + "," + std::to_string(run) + "," + std::to_string(rows) + ",";
        EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
        const auto cells = eqaug::io::split_csv_line(line);
        ASSERT_EQ(cells.size(), 16u) << line;
        EXPECT_EQ(cells[7].empty(), std::string(mode) != "aug") << line;  // loss_aug
      }
      EXPECT_EQ(rows, 3);  // steps 0, 1, 2
    }
  // No temporary files left behind.
  for (const auto& e : fs::recursive_directory_iterator(root_ / "out"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(SweepTest, EquiStaysInEAndAugCloserThanNom) {
  auto j = small_perm();
  j["train"]["runs"] = 1;
  j["train"]["epochs"] = 4;
  j["train"]["aug"]["passes"] = 8;
  const auto cfg = eqaug::io::resolve(j, "small");
  eqaug::experiment::run_sweep(cfg, options("out"));
  auto last_dist_E = [&](const char* mode) { return column(root_ / "out" / mode / "run-000.csv", "dist_E").back(); };
  EXPECT_EQ(last_dist_E("equi"), 0.0);
  EXPECT_GT(last_dist_E("nom"), 0.0);
  EXPECT_GT(last_dist_E("aug"), 0.0);
  EXPECT_LT(last_dist_E("aug"), last_dist_E("nom"));
}

TEST_F(SweepTest, ExistingDirectoryNeedsForce) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("out"));
  const std::string before = read(root_ / "out/nom/run-001.csv");
  std::string m = message_of([&] { eqaug::experiment::run_sweep(cfg, options("out")); });
  EXPECT_NE(m.find("--force"), std::string::npos) << m;
  EXPECT_EQ(read(root_ / "out/nom/run-001.csv"), before);
  auto o = options("out");
  o.force = true;
  eqaug::io::write_file_atomic(root_ / "out/notes.txt", "the user's");
  eqaug::io::write_file_atomic(root_ / "out/nom/run-007.csv", "stale run of an older sweep");
  eqaug::experiment::run_sweep(cfg, o);
  EXPECT_FALSE(fs::exists(root_ / "out/nom/run-007.csv"));
  EXPECT_EQ(read(root_ / "out/notes.txt"), "the user's");  // --force removes only what eqaug wrote
  EXPECT_FALSE(fs::exists(root_ / "out/.lock"));
  EXPECT_EQ(read(root_ / "out/nom/run-001.csv"), before);
  // A non-empty directory that is not ours is never deleted, even with --force.
  fs::create_directories(root_ / "mine");
  eqaug::io::write_file_atomic(root_ / "mine/thesis.tex", "precious");
  auto o2 = options("mine");
  o2.force = true;
  m = message_of([&] { eqaug::experiment::run_sweep(cfg, o2); });
  EXPECT_NE(m.find("not an eqaug results directory"), std::string::npos) << m;
  EXPECT_EQ(read(root_ / "mine/thesis.tex"), "precious");
  // Nor one whose manifest.json is someone else's.
  eqaug::io::write_file_atomic(root_ / "mine/manifest.json", R"({"name": "webapp"})");
  m = message_of([&] { eqaug::experiment::run_sweep(cfg, o2); });
  EXPECT_NE(m.find("not a manifest written by eqaug"), std::string::npos) << m;
  EXPECT_EQ(read(root_ / "mine/thesis.tex"), "precious");
}

TEST_F(SweepTest, ResumeRedoesUnfinishedRunsAndMatchesAnUninterruptedSweep) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("full"));
  eqaug::experiment::run_sweep(cfg, options("killed"));
  // Simulate a kill during run 1: the manifest lists only run 0, run 1 left half-written.
  json m = json::parse(read(root_ / "killed/manifest.json"));
  m["runs"] = json::array({m["runs"][0]});
  m["complete"] = false;
  eqaug::io::write_file_atomic(root_ / "killed/manifest.json", m.dump(2));
  eqaug::io::write_file_atomic(root_ / "killed/nom/run-001.csv", "step,loss\n0,garbage\n");
  fs::remove(root_ / "killed/aug/run-001.csv");
  fs::remove(root_ / "killed/equi/run-002.csv");
  auto o = options("killed", 1);  // a different thread count must not matter
  o.resume = true;
  const auto s = eqaug::experiment::run_sweep(cfg, o);
  EXPECT_EQ(s.runs_skipped, 1u);
  EXPECT_EQ(s.runs_done, 2u);
  for (const char* mode : {"nom", "aug", "equi"})
    for (const char* run : {"run-000.csv", "run-001.csv", "run-002.csv"})
      EXPECT_EQ(read(root_ / "killed" / mode / run), read(root_ / "full" / mode / run)) << mode << "/" << run;
  const json after = json::parse(read(root_ / "killed/manifest.json"));
  EXPECT_TRUE(after["complete"].get<bool>());
  ASSERT_EQ(after["runs"].size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(after["runs"][k]["run"].get<int>(), k);
}

TEST_F(SweepTest, ResumeRefusesAnotherConfiguration) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("out"));
  auto j = small_perm();
  j["train"]["lr"] = 0.01;
  auto o = options("out");
  o.resume = true;
  const std::string m = message_of([&] { eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), o); });
  EXPECT_NE(m.find("/train/lr"), std::string::npos) << m;
  auto o2 = options("nothing-here");
  o2.resume = true;
  EXPECT_NE(message_of([&] { eqaug::experiment::run_sweep(cfg, o2); }).find("nothing to resume"), std::string::npos);
}

TEST_F(SweepTest, ThreadCountDoesNotChangeResults) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("t1", 1));
  eqaug::experiment::run_sweep(cfg, options("t3", 3));
  for (const char* mode : {"nom", "aug", "equi"})
    EXPECT_EQ(read(root_ / "t1" / mode / "run-002.csv"), read(root_ / "t3" / mode / "run-002.csv"));
}

TEST_F(SweepTest, SavedWeightsRoundTripThroughInitWeights) {
  auto j = small_perm();
  j["train"]["runs"] = 1;
  auto cfg = eqaug::io::resolve(j, "small");
  auto o = options("out");
  o.save_weights = true;
  eqaug::experiment::run_sweep(cfg, o);
  const auto a0 = eqaug::io::read_npy(root_ / "out/nom/run-000/init/A0.npy");
  EXPECT_EQ(a0.shape, (std::vector<std::size_t>{32, 1, 100, 100}));
  EXPECT_EQ(a0.descr, "<f4");
  EXPECT_EQ(eqaug::io::read_npy(root_ / "out/nom/run-000/final/A1.npy").shape,
            (std::vector<std::size_t>{64, 32, 1, 100}));
  EXPECT_EQ(eqaug::io::read_npy(root_ / "out/equi/run-000/final/A2.npy").shape, (std::vector<std::size_t>{32, 64}));

  // Starting from the saved A⁰ reproduces the run; the projection of a point in E is 0.
  j["train"]["init_weights"] = (root_ / "out/nom/run-000/init").string();
  auto o2 = options("again");
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), o2);
  EXPECT_EQ(read(root_ / "again/nom/run-000.csv"), read(root_ / "out/nom/run-000.csv"));
  json m = json::parse(read(root_ / "again/manifest.json"));
  EXPECT_LT(m["init_weights"]["projection_distance"]["total"].get<double>(), 1e-6);

  // Nom's final point is not in E: the projection is reported and the start is in E.
  j["train"]["init_weights"] = (root_ / "out/nom/run-000/final").string();
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("from-nom"));
  m = json::parse(read(root_ / "from-nom/manifest.json"));
  EXPECT_GT(m["init_weights"]["projection_distance"]["total"].get<double>(), 1e-6);
  const fs::path equi = root_ / "from-nom/equi/run-000.csv";
  EXPECT_EQ(column(equi, "step")[0], 0.0);
  EXPECT_EQ(column(equi, "dist_init")[0], 0.0);  // dist_init = dist_E = 0 at step 0
  EXPECT_EQ(column(equi, "dist_E")[0], 0.0);
}

TEST_F(SweepTest, BadInitWeightsAreRejectedBeforeTouchingResults) {
  auto j = small_perm();
  fs::create_directories(root_ / "w");
  std::vector<float> wrong(10, 0.f);
  eqaug::io::write_npy<float>(root_ / "w/A0.npy", wrong.data(), {10});
  j["train"]["init_weights"] = (root_ / "w").string();
  const std::string m =
      message_of([&] { eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("out")); });
  EXPECT_NE(m.find("A0.npy"), std::string::npos) << m;
  EXPECT_NE(m.find("(32, 1, 100, 100)"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(root_ / "out"));
}

TEST_F(SweepTest, AugDrawsDoNotDependOnTheOtherModes) {
  auto j = small_perm();
  j["train"]["runs"] = 1;
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("all"));
  j["train"]["modes"] = {"aug"};
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("alone"));
  EXPECT_EQ(read(root_ / "alone/aug/run-000.csv"), read(root_ / "all/aug/run-000.csv"));
}

TEST_F(SweepTest, ResumingAFinishedSweepKeepsItsRecord) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("out"));
  const json first = json::parse(read(root_ / "out/manifest.json"));
  auto o = options("out");
  o.resume = true;
  const auto s = eqaug::experiment::run_sweep(cfg, o);
  EXPECT_EQ(s.runs_done, 0u);
  const json second = json::parse(read(root_ / "out/manifest.json"));
  EXPECT_EQ(second["runs"], first["runs"]);
  EXPECT_EQ(second["sessions"].size(), 2u);
  EXPECT_GE(second["sweep_wall_s"].get<double>(), first["sweep_wall_s"].get<double>());
  EXPECT_EQ(second["started"], first["started"]);
}

TEST_F(SweepTest, ADirectoryInUseIsRefused) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  fs::create_directories(root_ / "busy");
  const int fd = ::open((root_ / "busy/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const std::string m = message_of([&] { eqaug::experiment::run_sweep(cfg, options("busy")); });
  ::close(fd);
  EXPECT_NE(m.find("in use"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(root_ / "busy/manifest.json"));
}

TEST_F(SweepTest, FailedStartLeavesNoDirectoryBehind) {
  auto j = small_perm();
  j["train"]["aug"]["exact"] = true;  // S_10 is far too large to enumerate
  const std::string m =
      message_of([&] { eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("never")); });
  EXPECT_NE(m.find("S_10"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(root_ / "never"));
  auto o = options("never");
  o.resume = true;
  EXPECT_NE(message_of([&] {
              eqaug::experiment::run_sweep(eqaug::io::resolve(small_perm(), "small"), o);
            }).find("nothing to resume"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "never"));
}

TEST_F(SweepTest, ResumeRefusesChangedInputData) {
  // The same --data-npy path with other contents must not be mixed into the sweep.
  const auto data_dir = root_ / "graphs";
  fs::create_directories(data_dir);
  auto write_graphs = [&](double flip) {
    for (int i = 0; i < 20; ++i) {
      std::vector<double> a(100, 0.0);
      a[1] = a[10] = (i % 2) ? 1.0 : flip;
      eqaug::io::write_npy<double>(data_dir / ("graphmat" + std::to_string(i) + ".npy"), a.data(), {10, 10});
      const double label = 0.0;
      eqaug::io::write_npy<double>(data_dir / ("graphlabel" + std::to_string(i) + ".npy"), &label, {});
    }
  };
  write_graphs(0.0);
  auto j = small_perm();
  j["data"]["samples"] = 20;
  j["data"]["npy"] = data_dir.string();
  const auto cfg = eqaug::io::resolve(j, "small");
  eqaug::experiment::run_sweep(cfg, options("out"));
  write_graphs(1.0);
  auto o = options("out");
  o.resume = true;
  const std::string m = message_of([&] { eqaug::experiment::run_sweep(cfg, o); });
  EXPECT_NE(m.find("the data differ"), std::string::npos) << m;
}

TEST_F(SweepTest, ResumeWithMoreRunsExtendsTheSweep) {
  auto j = small_perm();
  j["train"]["runs"] = 2;
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("grown"));
  j["train"]["runs"] = 4;
  const auto four = eqaug::io::resolve(j, "small");
  eqaug::experiment::run_sweep(four, options("whole"));
  auto o = options("grown");
  o.resume = true;
  const auto s = eqaug::experiment::run_sweep(four, o);
  EXPECT_EQ(s.runs_skipped, 2u);
  EXPECT_EQ(s.runs_done, 2u);
  for (const char* mode : {"nom", "aug", "equi"})
    for (const char* run : {"run-000.csv", "run-001.csv", "run-002.csv", "run-003.csv"})
      EXPECT_EQ(read(root_ / "grown" / mode / run), read(root_ / "whole" / mode / run)) << mode << "/" << run;
  const json m = json::parse(read(root_ / "grown/manifest.json"));
  EXPECT_EQ(m["config"]["train"]["runs"], 4);
  EXPECT_TRUE(m["complete"].get<bool>());
  // Fewer runs than the sweep has would drop some: refused.
  j["train"]["runs"] = 3;
  EXPECT_NE(message_of([&] { eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), o); }).find("would drop"),
            std::string::npos);
}

TEST_F(SweepTest, SaveWeightsIsPartOfTheSweepsSettings) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  auto o = options("w");
  o.save_weights = true;
  eqaug::experiment::run_sweep(cfg, o);
  EXPECT_TRUE(json::parse(read(root_ / "w/manifest.json"))["save_weights"].get<bool>());
  auto r = options("w");
  r.resume = true;  // without --save-weights
  EXPECT_NE(message_of([&] { eqaug::experiment::run_sweep(cfg, r); }).find("the sweep saves weights"),
            std::string::npos);
  r.save_weights = true;
  EXPECT_EQ(message_of([&] { eqaug::experiment::run_sweep(cfg, r); }), "(no error)");
}

TEST_F(SweepTest, ASweepThatFinishedNoRunDoesNotBlockTheNextAttempt) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");
  eqaug::experiment::run_sweep(cfg, options("failed"));
  // As a sweep killed during its first run leaves it: a manifest with no finished run.
  json m = json::parse(read(root_ / "failed/manifest.json"));
  m["runs"] = json::array();
  m["complete"] = false;
  eqaug::io::write_file_atomic(root_ / "failed/manifest.json", m.dump(2));
  fs::remove_all(root_ / "failed/aug");
  EXPECT_EQ(message_of([&] { eqaug::experiment::run_sweep(cfg, options("failed")); }), "(no error)");
  EXPECT_EQ(json::parse(read(root_ / "failed/manifest.json"))["runs"].size(), 3u);
  // A sweep with finished runs still needs --force or --resume.
  EXPECT_NE(message_of([&] { eqaug::experiment::run_sweep(cfg, options("failed")); }).find("already exists"),
            std::string::npos);
}

TEST_F(SweepTest, StepsCsvIsOneTidyTableOfThePerRunFiles) {
  const auto cfg = eqaug::io::resolve(small_perm(), "small");  // 3 runs x 2 steps
  eqaug::experiment::run_sweep(cfg, options("tidy"));
  std::istringstream in(read(root_ / "tidy/steps.csv"));
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header,
            "mode,run,step,loss,accuracy,dist_init,dist_E,loss_aug,dist_init_A0,dist_init_A1,dist_init_A2,"
            "dist_init_A3,dist_E_A0,dist_E_A1,dist_E_A2,dist_E_A3");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u * 3u * 3u);  // modes x runs x (epochs + 1)
  // Row (mode, run, step) is that per-run file's line, loss_aug empty outside Aug.
  std::size_t i = 0;
  for (const char* mode : {"nom", "aug", "equi"})
    for (int k = 0; k < 3; ++k) {
      std::istringstream run(read(root_ / "tidy" / mode / ("run-00" + std::to_string(k) + ".csv")));
      std::string h, line;
      std::getline(run, h);
      for (int step = 0; std::getline(run, line); ++step, ++i) {
        const std::string& row = rows[i];
        const std::string prefix = std::string(mode) + "," + std::to_string(k) + ",";
        ASSERT_EQ(row.rfind(prefix, 0), 0u) << row;
        EXPECT_EQ(row, line);  // the per-run file's line, the same text
        const std::size_t commas = static_cast<std::size_t>(std::count(row.begin(), row.end(), ','));
        EXPECT_EQ(commas, 15u) << row;
        const bool empty_aug = row.find(",,") != std::string::npos;
        EXPECT_EQ(empty_aug, std::string(mode) != "aug") << row;
      }
    }
}

TEST_F(SweepTest, StartRawBeginsOffEExceptForEqui) {
  auto j = small_perm();
  j["train"]["start"] = "raw";
  const auto cfg = eqaug::io::resolve(j, "small");
  EXPECT_TRUE(cfg.train.raw_start);
  eqaug::experiment::run_sweep(cfg, options("raw"));
  auto step0 = [&](const char* mode, const char* name) {
    return column(root_ / "raw" / mode / "run-000.csv", name)[0];
  };
  EXPECT_GT(step0("nom", "dist_E"), 1.0);  // the drawn point, far from E
  EXPECT_EQ(step0("nom", "dist_E"), step0("aug", "dist_E"));
  EXPECT_EQ(step0("equi", "dist_E"), 0.0);  // Equi starts at the projection
  EXPECT_NE(step0("nom", "loss"), step0("equi", "loss"));
  j["train"]["start"] = "sideways";
  EXPECT_NE(message_of([&] { eqaug::io::resolve(j, "small"); }).find("train.start"), std::string::npos);
}

TEST_F(SweepTest, ResumingRemovesTheReportOfAnEarlierState) {
  auto j = small_perm();
  j["train"]["runs"] = 2;
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), options("stale"));
  for (const char* f : {"summary.csv", "figure.png", "figure.gp"})
    eqaug::io::write_file_atomic(root_ / "stale" / f, "old");
  fs::create_directories(root_ / "stale/figure-data");
  j["train"]["runs"] = 3;
  auto o = options("stale");
  o.resume = true;
  eqaug::experiment::run_sweep(eqaug::io::resolve(j, "small"), o);
  for (const char* f : {"summary.csv", "figure.png", "figure.gp", "figure-data"})
    EXPECT_FALSE(fs::exists(root_ / "stale" / f)) << f;
  EXPECT_TRUE(fs::exists(root_ / "stale/steps.csv"));
}
