// Speed of the dense passes of the Perm model, against a raw BLAS GEMM of the same
// shapes in the same process. Counters: GFLOP/s counts the GEMM flops only (the work
// that must be done); the ratio of BM_PermChunk to BM_RawGemmSameShapes is how close the
// whole forward/backward pass (gathers, point-wise layers, loss included) gets to BLAS.
#include <benchmark/benchmark.h>

#include <memory>

#include "eqaug/config/config.hpp"
#include "eqaug/core/blas.hpp"
#include "eqaug/nn/ops.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace {

using namespace eqaug;

struct Perm {
  io::ExperimentConfig cfg;
  GroupPtr group;
  std::unique_ptr<ModelSpec> spec;
  Dataset data;
  Perm() {
    cfg = io::resolve(io::load_toml(io::find_config("perm")), "perm");
    group = io::build_group(cfg);
    spec = io::build_model(cfg, group);
    data = io::build_data(cfg, *group);
  }
};

Perm& perm() {
  static Perm p;
  return p;
}

/// GEMM flops over `batch` samples: forward, and with `backward` the weight gradients
/// and the input gradients (none for the first layer, as the trainer does).
double gemm_flops(const ModelSpec& spec, std::size_t batch, bool backward = true) {
  double f = 0;
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    const double mnk = 2.0 * static_cast<double>(batch * l.in.dim() * l.out.dim());
    f += mnk * (!backward ? 1 : j == 0 ? 2 : 3);
  }
  return f;
}

template <typename T>
void BM_PermChunk(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  auto& p = perm();
  const auto batch = static_cast<std::size_t>(state.range(0));
  Network<T> net(*p.spec);
  auto ws = net.make_workspace(batch);
  for (std::size_t i = 0; i < ws.act[0].size(); ++i) ws.act[0][i] = static_cast<T>(p.data.x[i] - 0.5);
  for (std::size_t i = 0; i < batch; ++i) ws.target[i] = static_cast<T>(p.data.y[i]);
  const auto a0 = initial_point(*p.spec, 0, 0);
  const std::vector<T> a(a0.begin(), a0.end());
  std::vector<T> g(a.size());
  for (auto _ : state) {
    auto st = net.evaluate(a.data(), batch, ws, g.data(), false);
    benchmark::DoNotOptimize(st);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(gemm_flops(*p.spec, batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <typename T>
void BM_RawGemmSameShapes(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  auto& p = perm();
  const auto batch = static_cast<std::size_t>(state.range(0));
  const auto& spec = *p.spec;
  const std::size_t width = spec.max_width();
  std::vector<T> x(batch * width, T(0.1)), y(batch * width), gx(batch * width), w(spec.num_params(), T(0.01)),
      gw(spec.num_params());
  for (auto _ : state) {
    for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
      const auto& l = spec.weight_layer(j);
      ops::linear_forward(w.data() + l.offset, x.data(), y.data(), batch, l.in.dim(), l.out.dim());
      ops::linear_weight_grad(x.data(), y.data(), gw.data() + l.offset, batch, l.in.dim(), l.out.dim(), false);
      if (j > 0) ops::linear_input_grad(w.data() + l.offset, y.data(), gx.data(), batch, l.in.dim(), l.out.dim());
    }
    benchmark::DoNotOptimize(gx.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(gemm_flops(spec, batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// One training step of all three strategies (1000 + 25·1000 + 1000 samples with
/// gradients, plus Aug's un-augmented risk), on `threads` threads.
void BM_PermStep(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  auto& p = perm();
  ThreadPool pool(static_cast<std::size_t>(state.range(0)));
  GradientEngine<float> engine(*p.spec, p.data, -0.5, p.cfg.chunk, pool);
  const auto a0 = initial_point(*p.spec, 0, 0);
  const std::vector<float> a(a0.begin(), a0.end());
  Strategy aug = p.cfg.train.strategies[1];
  Rng rng = augmentation_rng(0, 0, 0, Mode::Aug);
  const auto passes = augmentation_passes(aug, *p.group, p.data, rng);
  const Pass identity;
  std::vector<GradientEngine<float>::Job> jobs{{a.data(), &identity, true, 0}, {a.data(), &identity, true, 2}};
  for (const auto& ps : passes) jobs.push_back({a.data(), &ps, true, 1});
  jobs.push_back({a.data(), &identity, false, 3});
  for (auto _ : state) {
    auto r = engine.run(jobs, 4);
    benchmark::DoNotOptimize(r);
  }
  const double n = static_cast<double>(p.data.size);
  const double flops =
      gemm_flops(*p.spec, 1) * n * static_cast<double>(passes.size() + 2) + gemm_flops(*p.spec, 1, false) * n;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_PermChunk<float>)->Arg(250)->Arg(500)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawGemmSameShapes<float>)->Arg(250)->Arg(500)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PermChunk<double>)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawGemmSameShapes<double>)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PermStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
