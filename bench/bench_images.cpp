// Speed of the image presets at the paper's full size (configs/trans.toml, rot.toml): one forward+backward
// pass over the whole data set, dense and through E's structure, against a raw BLAS GEMM
// of the same shapes in the same process (all threads, as the sweep runs them), and the
// projection Π_E / distance ‖A − Π_E A‖ of all layers. Each pass takes seconds: one
// iteration each. Run on an otherwise idle machine: `build/eqaug_bench
// --benchmark_filter=Trans|Rot`.
#include <benchmark/benchmark.h>

#include <memory>

#include "eqaug/config/config.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/nn/ops.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace {

using namespace eqaug;

struct Preset {
  io::ExperimentConfig cfg;
  GroupPtr group;
  std::unique_ptr<ModelSpec> spec;
  Dataset data;
  std::vector<float> a;
  explicit Preset(const std::string& name) {
    const auto file = io::find_config(name);
    cfg = io::resolve(io::apply_scale(io::load_toml(file), "full", file.string()), name);
    group = io::build_group(cfg);
    spec = io::build_model(cfg, group);
    data = io::build_data(cfg, *group);
    const auto a0 = initial_point(*spec, 0, 0);
    a.assign(a0.begin(), a0.end());
  }
};

Preset& preset(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Preset>> cache;
  auto& p = cache[name];
  if (!p) p = std::make_unique<Preset>(name);
  return *p;
}

/// GEMM flops of a forward and backward pass over `samples` (no input gradient for the
/// first layer, as the trainer does).
double gemm_flops(const ModelSpec& spec, std::size_t samples) {
  double f = 0;
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    f += 2.0 * static_cast<double>(samples * l.in.dim() * l.out.dim()) * (j == 0 ? 2 : 3);
  }
  return f;
}

std::size_t threads() { return ThreadPool::available_cores(); }

void dense_pass(benchmark::State& state, const std::string& name, bool equi) {
  auto& p = preset(name);
  ThreadPool pool(threads());
  GradientEngine<float> engine(*p.spec, p.data, -0.5, p.cfg.chunk, pool);
  const Pass identity;
  std::vector<float> c;
  if (equi) {
    const auto cd = p.spec->to_coords(p.a.data());
    c.assign(cd.begin(), cd.end());
  }
  const float* params = equi ? c.data() : p.a.data();
  // Once untimed: a sweep pays for touching its buffers once, not every pass.
  benchmark::DoNotOptimize(engine.run({{params, &identity, true, 0, equi}}, 1));
  for (auto _ : state) {
    auto r = engine.run({{params, &identity, true, 0, equi}}, 1);
    benchmark::DoNotOptimize(r);
  }
  state.counters["GFLOP/s(dense-equivalent)"] =
      benchmark::Counter(gemm_flops(*p.spec, p.data.size) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = static_cast<double>(threads());
  std::string kinds;
  for (const auto& k : (equi ? engine.equi_network().layer_kinds() : std::vector<std::string>{"dense"}))
    kinds += k + " ";
  state.SetLabel(kinds);
}

/// The GEMMs of the same pass alone: chunks of cfg.chunk samples, BLAS on all threads.
void raw_sgemm(benchmark::State& state, const std::string& name) {
  auto& p = preset(name);
  const auto& spec = *p.spec;
  const std::size_t batch = p.cfg.chunk, width = spec.max_width();
  std::vector<float> x(batch * width, 0.1f), y(batch * width), gx(batch * width), gw(spec.num_params());
  const blas::ThreadsGuard blas_threads(static_cast<int>(threads()));
  for (auto _ : state) {
    for (std::size_t done = 0; done < p.data.size; done += batch)
      for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
        const auto& l = spec.weight_layer(j);
        ops::linear_forward(p.a.data() + l.offset, x.data(), y.data(), batch, l.in.dim(), l.out.dim());
        ops::linear_weight_grad(x.data(), y.data(), gw.data() + l.offset, batch, l.in.dim(), l.out.dim(), false);
        if (j > 0) ops::linear_input_grad(p.a.data() + l.offset, y.data(), gx.data(), batch, l.in.dim(), l.out.dim());
      }
    benchmark::DoNotOptimize(gx.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(gemm_flops(spec, p.data.size) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TransPassDense(benchmark::State& s) { dense_pass(s, "trans", false); }
void BM_TransRawSgemm(benchmark::State& s) { raw_sgemm(s, "trans"); }
void BM_TransPassEqui(benchmark::State& s) { dense_pass(s, "trans", true); }
void BM_RotPassDense(benchmark::State& s) { dense_pass(s, "rot", false); }
void BM_RotRawSgemm(benchmark::State& s) { raw_sgemm(s, "rot"); }

/// Π_E and ‖A − Π_E A‖ of every layer of the Trans model (40.8 M float32 weights).
void BM_TransProjectAndDistance(benchmark::State& state) {
  auto& p = preset("trans");
  std::vector<float> w(p.a);
  Rng rng(1);
  for (auto& v : w) v += static_cast<float>(1e-3 * rng.normal());
  std::vector<float> q(w);     // projected again each iteration: the same work every time
  ThreadPool pool(threads());  // every core, as a sweep's
  for (auto _ : state) {
    auto d = p.spec->distance_to_E(w.data(), &pool);
    p.spec->project(q.data(), &pool);
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(q.data());
  }
}

}  // namespace

BENCHMARK(BM_TransPassDense)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_TransRawSgemm)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_TransPassEqui)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_TransProjectAndDistance)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_RotPassDense)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_RotRawSgemm)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
