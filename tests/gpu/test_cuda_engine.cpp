// The CUDA backend against the CPU (label "gpu"; each test skips without a CUDA build or a
// GPU). Every kernel is checked through small models that use it — gathers of per-sample
// and per-batch augmentation passes, linear layers (forward, weight and input gradients),
// leaky ReLU, layer norm, sigmoid, tanh, BCE and softmax cross-entropy — against
// GradientEngine on the CPU: float64 to 1e-12 relative, float32 to 1e-5. Then whole
// sweeps through the command line: Perm in float64 (2 runs × 50 steps) equals the CPU's
// CSVs to 1e-10 relative, a float32 Trans step at reduced size to 1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/helpers.hpp"
#include "support/small_models.hpp"

#include "eqaug/backend/cuda.hpp"
#include "eqaug/backend/device.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/strategy.hpp"

namespace eqaug {
namespace {

using testing::Case;
using testing::cases;

#define EQAUG_NEED_GPU()                                                    \
  do {                                                                      \
    std::string why_;                                                       \
    if (!cuda_built()) GTEST_SKIP() << "this build has no CUDA backend";    \
    if (cuda::device_count(&why_) == 0) GTEST_SKIP() << "no GPU: " << why_; \
  } while (0)

template <typename T>
struct Compared {
  double grad_rel = 0, loss_rel = 0;
  bool correct_equal = true;
};

/// The same jobs on the CPU (chunks of 4) and on the GPU: an identity pass, two passes with
/// an element per sample, one with an element per batch of 5, and a risk-only pass, in
/// three groups.
template <typename T>
Compared<T> compare(const Case& c) {
  ThreadPool pool(2);
  GradientEngine<T> cpu(*c.spec, c.data, -0.5, 4, pool);
  Device dev;
  dev.kind = Device::Kind::Cuda;
  GradientEngine<T> gpu(*c.spec, c.data, -0.5, 4, pool, EquiEval::Structured, dev);
  Rng init(11);
  const auto a0 = c.spec->draw_init(init);  // a generic point, off E
  const std::vector<T> a(a0.begin(), a0.end());
  Strategy per_sample;
  per_sample.mode = Mode::Aug;
  per_sample.passes = 2;
  Strategy per_batch = per_sample;
  per_batch.passes = 1;
  per_batch.per = AugPer::Batch;
  per_batch.batch = 5;
  Rng rng(12);
  auto passes = augmentation_passes(per_sample, *c.group, c.data, rng);
  for (auto& p : augmentation_passes(per_batch, *c.group, c.data, rng)) passes.push_back(std::move(p));
  const Pass identity;
  std::vector<typename GradientEngine<T>::Job> jobs{{a.data(), &identity, true, 0},
                                                    {a.data(), &passes[0], true, 0},
                                                    {a.data(), &passes[1], true, 0},
                                                    {a.data(), &passes[2], true, 1},
                                                    {a.data(), &identity, false, 2}};
  const auto want = cpu.run(jobs, 3);
  const auto got = gpu.run(jobs, 3);
  Compared<T> r;
  for (std::size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(got[g].grad.size(), want[g].grad.size()) << c.name << " group " << g;
    EXPECT_EQ(got[g].samples, want[g].samples);
    EXPECT_EQ(got[g].stats.predictions, want[g].stats.predictions);
    r.correct_equal = r.correct_equal && got[g].stats.correct == want[g].stats.correct;
    r.loss_rel = std::max(r.loss_rel,
                          std::abs(got[g].stats.loss_sum - want[g].stats.loss_sum) / std::abs(want[g].stats.loss_sum));
    double scale = 0, diff = 0;
    for (std::size_t p = 0; p < want[g].grad.size() && p < got[g].grad.size(); ++p) {
      scale = std::max(scale, std::abs(want[g].grad[p]));
      diff = std::max(diff, std::abs(got[g].grad[p] - want[g].grad[p]));
    }
    if (!want[g].grad.empty()) {
      EXPECT_GT(scale, 0.0);
      r.grad_rel = std::max(r.grad_rel, diff / scale);
    }
  }
  return r;
}

TEST(CudaKernels, EveryLayerAndLossMatchesTheCpuInDouble) {
  EQAUG_NEED_GPU();
  for (const auto& c : cases()) {
    if (!c.on_gpu) continue;
    const auto r = compare<double>(c);
    EXPECT_LE(r.grad_rel, 1e-12) << c.name;
    EXPECT_LE(r.loss_rel, 1e-12) << c.name;
    EXPECT_TRUE(r.correct_equal) << c.name;
  }
}

TEST(CudaKernels, EveryLayerAndLossMatchesTheCpuInFloat) {
  EQAUG_NEED_GPU();
  for (const auto& c : cases()) {
    if (!c.on_gpu) continue;
    const auto r = compare<float>(c);
    EXPECT_LE(r.grad_rel, 1e-5) << c.name;
    EXPECT_LE(r.loss_rel, 1e-5) << c.name;
  }
}

TEST(CudaKernels, RepeatedRunsGiveIdenticalBits) {
  EQAUG_NEED_GPU();
  const Case c = cases()[1];
  ThreadPool pool(1);
  Device dev;
  dev.kind = Device::Kind::Cuda;
  GradientEngine<float> gpu(*c.spec, c.data, -0.5, 4, pool, EquiEval::Structured, dev);
  Rng init(3);
  const auto a0 = c.spec->draw_init(init);
  const std::vector<float> a(a0.begin(), a0.end());
  Strategy s;
  s.mode = Mode::Aug;
  s.passes = 3;
  Rng rng(4);
  const auto passes = augmentation_passes(s, *c.group, c.data, rng);
  std::vector<GradientEngine<float>::Job> jobs;
  for (const auto& p : passes) jobs.push_back({a.data(), &p, true, 0});
  const auto first = gpu.run(jobs, 1), second = gpu.run(jobs, 1);
  ASSERT_EQ(first[0].grad.size(), second[0].grad.size());
  EXPECT_EQ(0, std::memcmp(first[0].grad.data(), second[0].grad.data(), first[0].grad.size() * sizeof(double)));
  EXPECT_EQ(first[0].stats.loss_sum, second[0].stats.loss_sum);
}

TEST(CudaDevice, BadIndexIsAClearError) {
  EQAUG_NEED_GPU();
  const Case c = cases()[0];
  ThreadPool pool(1);
  Device dev;
  dev.kind = Device::Kind::Cuda;
  dev.index = 999;
  const auto msg =
      testing::message_of([&] { GradientEngine<double> e(*c.spec, c.data, 0, 4, pool, EquiEval::Structured, dev); });
  EXPECT_NE(msg.find("cuda:999: no such GPU"), std::string::npos) << msg;
}

// ---- whole sweeps through the command line --------------------------------------------

std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << p;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

/// Largest relative difference between two CSVs of the same layout (numbers below `floor`
/// in both count as equal: the distance to E of Equi is 0 up to rounding).
double csv_difference(const std::filesystem::path& a, const std::filesystem::path& b, double floor) {
  const auto x = read_csv(a), y = read_csv(b);
  EXPECT_EQ(x.size(), y.size()) << a;
  double worst = 0;
  for (std::size_t r = 0; r < std::min(x.size(), y.size()); ++r) {
    EXPECT_EQ(x[r].size(), y[r].size()) << a << " row " << r;
    for (std::size_t k = 0; k < std::min(x[r].size(), y[r].size()); ++k) {
      char* e1 = nullptr;
      char* e2 = nullptr;
      const double u = std::strtod(x[r][k].c_str(), &e1), v = std::strtod(y[r][k].c_str(), &e2);
      if (e1 == x[r][k].c_str() || e2 == y[r][k].c_str() || *e1 || *e2) {
        EXPECT_EQ(x[r][k], y[r][k]) << a << " row " << r << " column " << k;
        continue;
      }
      if (std::isnan(u) && std::isnan(v)) continue;
      const double m = std::max(std::abs(u), std::abs(v));
      if (m < floor) continue;
      worst = std::max(worst, std::abs(u - v) / m);
    }
  }
  return worst;
}

void expect_same_sweep(const std::filesystem::path& cpu, const std::filesystem::path& gpu, std::size_t runs, double tol,
                       double floor) {
  for (const char* mode : {"nom", "aug", "equi"})
    for (std::size_t k = 0; k < runs; ++k) {
      const std::string f = std::string(mode) + "/" + io::run_name(k) + ".csv";
      const double d = csv_difference(cpu / f, gpu / f, floor);
      EXPECT_LE(d, tol) << f;
      std::cout << "  " << f << ": largest relative difference " << d << "\n";
    }
}

nlohmann::json manifest_of(const std::filesystem::path& dir) {
  std::ifstream m(dir / "manifest.json");
  return nlohmann::json::parse(m);
}

// The CPU half takes minutes of the GPU machine's short lease: EQAUG_CPU_REFERENCE may name
// the same sweep computed beforehand on any CPU (bench/gpu_pack.sh does); its manifest
// must hold the same configuration.
TEST(CudaSweep, PermFloat64MatchesTheCpu) {
  EQAUG_NEED_GPU();
  testing::TempDir dir;
  const std::string common = "run perm --runs 2 --precision f64 --no-report ";
  const char* reference = std::getenv("EQAUG_CPU_REFERENCE");
  std::filesystem::path cpu_dir = dir.path() / "cpu";
  if (reference && *reference) {
    cpu_dir = reference;
    std::cout << "  CPU sweep from " << cpu_dir << " (" << manifest_of(cpu_dir)["machine"].value("cpu", "?") << ")\n";
  } else {
    const auto cpu = testing::run_cli(common + "--out " + cpu_dir.string());
    ASSERT_EQ(cpu.code, 0) << cpu.output;
  }
  const auto gpu = testing::run_cli(common + "--device cuda --out " + (dir.path() / "gpu").string());
  ASSERT_EQ(gpu.code, 0) << gpu.output;
  const auto manifest = manifest_of(dir.path() / "gpu");
  ASSERT_EQ(manifest["config"], manifest_of(cpu_dir)["config"]);
  ASSERT_TRUE(manifest_of(cpu_dir)["complete"].get<bool>());
  // Equi's distance to E is float64 rounding, 5e-14 to 7e-14 on both sides (its digits are
  // noise): numbers under 1e-12 in both files count as equal.
  expect_same_sweep(cpu_dir, dir.path() / "gpu", 2, 1e-10, 1e-12);
  EXPECT_EQ(manifest["device"]["kind"], "cuda");
  EXPECT_FALSE(manifest["device"]["name"].get<std::string>().empty());
  EXPECT_FALSE(manifest["device"]["tf32"].get<bool>());
}

TEST(CudaSweep, TransFloat32StepAtReducedSizeMatchesTheCpu) {
  EQAUG_NEED_GPU();
  testing::TempDir dir;
  // The dense Equi on both sides: the GPU evaluates dense layers only.
  // The per-step metrics run on the CPU only: off on both sides.
  const std::string common =
      "run trans --scale small --runs 1 --epochs 1 --equi-eval dense --set train.metrics=[] --no-report ";
  const auto cpu = testing::run_cli(common + "--out " + (dir.path() / "cpu").string());
  ASSERT_EQ(cpu.code, 0) << cpu.output;
  const auto gpu = testing::run_cli(common + "--device cuda --out " + (dir.path() / "gpu").string());
  ASSERT_EQ(gpu.code, 0) << gpu.output;
  expect_same_sweep(dir.path() / "cpu", dir.path() / "gpu", 1, 1e-4, 1e-7);
}

TEST(CudaSweep, StructuredEquiOnTheGpuIsAClearError) {
  EQAUG_NEED_GPU();
  testing::TempDir dir;
  const auto r = testing::run_cli(
      "run trans --scale small --runs 1 --epochs 1 --equi-eval structured --device cuda "
      "--no-report --out " +
      (dir.path() / "x").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("runs on the CPU only"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x"));
}

}  // namespace
}  // namespace eqaug
