// GPU benchmarks of the CUDA backend (run by bench/gpu_check.sh): for each preset at the
// paper's full size, one dense forward+backward pass over the whole data set on the GPU,
// against the bare cuBLAS GEMMs of the same shapes in the same process (the issue's
// "≥ 85 % of SGEMM/DGEMM"), in float32 and float64. Device time from CUDA events, the
// median of `--reps` passes after one warm-up. Prints a table with the card's name.
//
//   eqaug_gpu_bench [--device N] [--reps R] [preset ...]     (default: trans rot perm)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "eqaug/backend/cuda.hpp"
#include "eqaug/backend/device.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace {

using namespace eqaug;

/// GEMM flops of a forward and backward pass (no input gradient for the first layer).
double gemm_flops(const ModelSpec& spec, std::size_t samples) {
  double f = 0;
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    f += 2.0 * static_cast<double>(samples) * static_cast<double>(l.in.dim() * l.out.dim()) * (j == 0 ? 2 : 3);
  }
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename T>
void bench(const std::string& name, const io::ExperimentConfig& cfg, const ModelSpec& spec, const Dataset& data,
           const std::vector<double>& a0, const Device& dev, int reps) {
  ThreadPool pool(1);
  GradientEngine<T> engine(spec, data, cfg.json.at("data").value("input_shift", 0.0), cfg.chunk, pool,
                           EquiEval::Structured, dev);
  const std::vector<T> a(a0.begin(), a0.end());
  std::vector<double> pass, gemm;
  // Interleaved, so that clock drift touches both alike.
  for (int r = 0; r < reps; ++r) {
    pass.push_back(engine.gpu()->time_pass(a.data(), 1));
    gemm.push_back(engine.gpu()->time_gemms(1));
  }
  const double p = median(pass), g = median(gemm), flops = gemm_flops(spec, data.size);
  std::printf("%-6s %-4s %7zu %7zu %10.2f %10.2f %7.1f%% %9.1f %9.1f\n", name.c_str(), sizeof(T) == 4 ? "f32" : "f64",
              data.size, engine.gpu()->chunk(), p * 1e3, g * 1e3, 100.0 * g / p, flops / p * 1e-12, flops / g * 1e-12);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int device = 0, reps = 5;
  std::vector<std::string> presets;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--device" || arg == "--reps") && i + 1 < argc) {
      (arg == "--device" ? device : reps) = std::atoi(argv[++i]);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: eqaug_gpu_bench [--device N] [--reps R] [preset ...]  (default: trans rot perm)\n";
      return 0;
    } else {
      presets.push_back(arg);
    }
  }
  if (presets.empty()) presets = {"trans", "rot", "perm"};
  if (reps < 1) reps = 1;
  try {
    Device dev;
    dev.kind = Device::Kind::Cuda;
    dev.index = device;
    const auto info = describe(dev);
    std::printf("GPU %d: %s (compute capability %s, %s multiprocessors), driver CUDA %s, runtime %s, cuBLAS %s\n",
                device, info["name"].get<std::string>().c_str(), info["compute_capability"].get<std::string>().c_str(),
                info["multiprocessors"].dump().c_str(), info["driver_cuda_version"].get<std::string>().c_str(),
                info["cuda_runtime_version"].get<std::string>().c_str(),
                info["cublas_version"].get<std::string>().c_str());
    std::printf("one dense forward+backward pass over the whole data set; median of %d; TF32 off\n", reps);
    std::printf("%-6s %-4s %7s %7s %10s %10s %8s %9s %9s\n", "preset", "prec", "samples", "chunk", "pass ms",
                "GEMMs ms", "of GEMM", "TFLOP/s", "GEMM TF/s");
    for (const auto& name : presets) {
      const auto file = io::find_config(name);
      const auto cfg = io::resolve(io::apply_scale(io::load_toml(file), "full", file.string()), name);
      const auto group = io::build_group(cfg);
      const auto spec = io::build_model(cfg, group);
      const auto data = io::build_data(cfg, *group);
      const auto a0 = initial_point(*spec, cfg.train.seed, 0);
      bench<float>(name, cfg, *spec, data, a0, dev, reps);
      bench<double>(name, cfg, *spec, data, a0, dev, reps);
    }
  } catch (const std::exception& e) {
    std::cerr << "eqaug_gpu_bench: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
