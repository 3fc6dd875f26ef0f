// Runs that leave the finite numbers (issue: divergence was silent, exit 0): the run stops at
// the first non-finite risk or weight, nothing of it is written, the manifest names the run,
// strategy and step, the report shows it, and `eqaug run` exits 1. AugPen's explicit penalty
// step is refused where it cannot shrink A − Π_E A (ηγ ≥ 2), and weights that overflow the
// run's float type are refused naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "../support/helpers.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json tiny_rot() {
  auto j = io::apply_scale(io::load_toml(io::find_config("rot")), "small", "rot");
  j["data"]["samples"] = 30;
  j["train"]["runs"] = 2;
  j["train"]["epochs"] = 4;
  j["train"]["aug"] = {{"passes", 2}, {"per", "batch"}};
  j["train"].erase("metrics");
  return j;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("eqaug-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Divergence, AHugeStepStopsTheRunAndIsRecordedNotSaved) {
  const fs::path out = fresh_dir("diverge");
  auto j = tiny_rot();
  j["train"]["lr"] = 1e30;
  experiment::SweepOptions o;
  o.out = out;
  o.threads = 1;
  const auto summary = experiment::run_sweep(io::resolve(j, "rot"), o);
  EXPECT_EQ(summary.runs_done, 0u);
  ASSERT_EQ(summary.diverged.size(), 2u);  // both runs
  EXPECT_NE(summary.diverged[0].find("run 0: nom diverged at step"), std::string::npos) << summary.diverged[0];
  // No run saved in a folder this sweep created: nothing of it stays.
  EXPECT_TRUE(summary.discarded);
  EXPECT_FALSE(fs::exists(out));

  // A shard's folder stays (the other shards may write to it): the manifest says what
  // happened, nothing of the run is on disk, and the sweep is not complete.
  o.shard = 0;
  o.shards = 2;
  const auto shard = experiment::run_sweep(io::resolve(j, "rot"), o);
  EXPECT_FALSE(shard.discarded);
  EXPECT_FALSE(fs::exists(out / "nom" / "run-000.csv"));
  const json m = json::parse(io::read_file(out / "manifest.json"));
  EXPECT_FALSE(m["complete"].get<bool>());
  ASSERT_EQ(m["diverged"].size(), 1u);
  EXPECT_EQ(m["diverged"][0]["run"], 0);
  EXPECT_EQ(m["diverged"][0]["mode"], "nom");
  EXPECT_GE(m["diverged"][0]["step"].get<int>(), 1);  // step 0 is A⁰, finite
  EXPECT_TRUE(m["runs"].empty());
  // Run again, it diverges again and keeps one entry; the report names it.
  experiment::run_sweep(io::resolve(j, "rot"), o);
  EXPECT_EQ(json::parse(io::read_file(out / "manifest.json"))["diverged"].size(), 1u);
  const auto rep = testing::run_cli("report " + out.string());
  EXPECT_NE(rep.output.find("DIVERGED (not saved, not in the table): run 0: nom diverged"), std::string::npos)
      << rep.output;

  // The command line: exit 1, the runs named, and no folder left.
  const auto cli_out = out.string() + "-cli";
  fs::remove_all(cli_out);
  const auto r = testing::run_cli(
      "run rot --scale small --runs 1 --set train.epochs=3 --set data.samples=30 "
      "--set train.lr=1e30 --set train.metrics=[] --threads 1 --out " +
      cli_out);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("DIVERGED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 run(s) diverged and were not saved"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("was removed (nothing half-written stays)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(cli_out));
  fs::remove_all(out);
}

TEST(Divergence, ARiskThatGrowsTenfoldIsAWarningInTheManifestAndTheReport) {
  // Perm at η = 1e6 saturates its sigmoids: the clamped BCE stays finite but grows from
  // about 0.7 to more than 40.
  const auto dir = fresh_dir("loss-growth");
  const auto r =
      testing::run_cli("run perm --runs 1 --epochs 2 --lr 1e6 --modes nom --threads 1 --out " + dir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: run 0: nom's risk grew more than 10-fold by step 1"), std::string::npos)
      << r.output;
  const json m = json::parse(io::read_file(dir / "manifest.json"));
  ASSERT_EQ(m["runs"][0]["warnings"].size(), 1u);
  const auto again = testing::run_cli("report " + dir.string());
  EXPECT_NE(again.output.find("warning: run 0: nom's risk grew"), std::string::npos) << again.output;
  fs::remove_all(dir);
}

TEST(Divergence, AugPenRefusesAPenaltyStepThatCannotShrink) {
  auto j = tiny_rot();
  j["train"]["modes"] = {"nom", "augpen"};
  j["train"]["lr"] = 0.5;
  j["train"]["penalty"] = 4.0;  // η γ = 2: |1 − ηγ| = 1
  const auto cfg = io::resolve(j, "rot");
  experiment::SweepOptions o;
  o.out = fresh_dir("augpen-refused");
  const auto m = testing::message_of([&] { experiment::run_sweep(cfg, o); });
  EXPECT_NE(m.find("eta * gamma = 2"), std::string::npos) << m;
  EXPECT_NE(m.find("below 4"), std::string::npos) << m;  // 2/η
  EXPECT_FALSE(fs::exists(o.out));
  j["train"]["penalty"] = 3.9;  // η γ = 1.95: allowed
  EXPECT_EQ(testing::message_of([&] {
              auto ok = io::resolve(j, "rot");
              ok.runs = 1;
              ok.train.epochs = 1;
              experiment::run_sweep(ok, o);
            }),
            "(no error)");
  fs::remove_all(o.out);
}

TEST(Divergence, WeightsBeyondFloat32AreRefusedNamingTheFile) {
  const fs::path dir = fresh_dir("overflow-weights");
  auto j = tiny_rot();
  j["train"]["precision"] = "f64";
  auto cfg = io::resolve(j, "rot");
  const auto group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  Rng rng(1);
  auto w = spec->draw_init(rng);
  w[spec->weight_layer(1).offset] = 1e300;
  fs::create_directories(dir);
  io::save_layer_weights<double>(dir, *spec, w);
  // float64 holds it; float32 does not, and says which file.
  EXPECT_NO_THROW(io::load_layer_weights(dir, *spec));
  const auto m = testing::message_of(
      [&] { io::load_layer_weights(dir, *spec, static_cast<double>(std::numeric_limits<float>::max())); });
  EXPECT_NE(m.find("A1.npy"), std::string::npos) << m;
  EXPECT_NE(m.find("overflows float32"), std::string::npos) << m;
  // A dtype spelled without byte order ('f8', as numpy accepts) is float64.
  const fs::path a0 = dir / "A0.npy";
  std::string bytes = io::read_file(a0);
  const auto at = bytes.find("'<f8'");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "'f8' ");
  io::write_file_atomic(a0, bytes);
  EXPECT_EQ(io::read_npy(a0).descr, "f8");
  EXPECT_NO_THROW(io::load_layer_weights(dir, *spec));
  fs::remove_all(dir);
}

TEST(MemoryEstimate, CountsTheWeightsAndRefusesWhatCannotFit) {
  // The estimate's weights are the model's, from the shapes alone.
  for (const char* preset : {"trans", "rot", "perm"}) {
    auto j = io::apply_scale(io::load_toml(io::find_config(preset)), std::string(preset) == "perm" ? "full" : "small",
                             preset);
    const auto cfg = io::resolve(j, preset);
    const auto spec = io::build_model(cfg, io::build_group(cfg));
    const auto e = experiment::estimate_memory(cfg);
    EXPECT_EQ(static_cast<std::size_t>(e.params), spec->num_params()) << preset;  // no affine layers here
    EXPECT_GT(e.bytes, e.params * 60) << preset;
  }
  // Small Trans at side 48: 3.8e8 weights, about 26 GB: refused at once, naming the largest layer.
  auto j = io::apply_scale(io::load_toml(io::find_config("trans")), "small", "trans");
  j["group"]["side"] = 48;
  const auto big = io::resolve(j, "trans");
  const auto e = experiment::estimate_memory(big);
  EXPECT_EQ(e.largest, 8.0 * 8 * 2304 * 2304);
  std::ifstream meminfo("/proc/meminfo");
  double available = 0;
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) available = std::stod(line.substr(13)) * 1024.0;
  if (!(available > 0 && available < e.bytes)) GTEST_SKIP() << "this machine has room for " << e.bytes << " bytes";
  experiment::SweepOptions o;
  o.out = fresh_dir("memory");
  const auto m = testing::message_of([&] { experiment::run_sweep(big, o); });
  EXPECT_NE(m.find("the run needs about"), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers[2] with 339738624"), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(o.out));
}

}  // namespace
}  // namespace eqaug
