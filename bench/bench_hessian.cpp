// Exact Hessian-vector products against gradients (issue 8: HVP ≤ 3× a gradient): one
// pass over the whole data set in float64 at the run's A⁰ (in E), all threads, for Perm at
// full size and the small Rot preset; the same engine, jobs and chunks for both. HvpKept:
// the products after the first at the same point, with the primal passes kept (HvpState),
// as Lanczos runs them; HvpKept32 the same in float32 (mixed-precision Lanczos's basis).
// Run: `build/eqaug_bench --benchmark_filter='Hvp|Gradient64'`.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

#include "eqaug/config/config.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace {

using namespace eqaug;

struct Setup {
  io::ExperimentConfig cfg;
  GroupPtr group;
  std::unique_ptr<ModelSpec> spec;
  Dataset data;
  std::vector<double> a, v;
  Setup(const std::string& name, const std::string& scale) {
    const auto file = io::find_config(name);
    cfg = io::resolve(io::apply_scale(io::load_toml(file), scale, file.string()), name);
    group = io::build_group(cfg);
    spec = io::build_model(cfg, group);
    data = io::build_data(cfg, *group);
    a = initial_point(*spec, cfg.train.seed, 0);
    Rng rng(3);
    v.resize(a.size());
    for (auto& x : v) x = rng.normal();
  }
};

Setup& setup(const std::string& name, const std::string& scale) {
  static std::map<std::string, std::unique_ptr<Setup>> cache;
  auto& s = cache[name + "/" + scale];
  if (!s) s = std::make_unique<Setup>(name, scale);
  return *s;
}

enum class Product { Gradient, Hvp, HvpKept };

template <typename T>
void pass(benchmark::State& state, const std::string& name, const std::string& scale, Product what) {
  auto& s = setup(name, scale);
  ThreadPool pool(ThreadPool::available_cores());
  GradientEngine<T> engine(*s.spec, s.data, s.cfg.json.at("data").value("input_shift", 0.0), s.cfg.chunk, pool);
  const Pass identity;
  const std::vector<T> a(s.a.begin(), s.a.end()), v(s.v.begin(), s.v.end());
  typename GradientEngine<T>::Job job{a.data(), &identity, true, 0};
  std::vector<HvpState<T>> states(engine.chunks());
  if (what != Product::Gradient) job.direction = v.data();
  if (what == Product::HvpKept) job.hvp_states = states.data();
  engine.recycle(std::move(engine.run({job}, 1)[0].grad));  // warm-up
  for (auto _ : state) {
    auto r = engine.run({job}, 1);
    benchmark::DoNotOptimize(r[0].grad.data());
    engine.recycle(std::move(r[0].grad));
  }
  state.counters["samples"] = static_cast<double>(s.data.size);
}

void BM_PermGradient64(benchmark::State& s) { pass<double>(s, "perm", "full", Product::Gradient); }
void BM_PermHvp64(benchmark::State& s) { pass<double>(s, "perm", "full", Product::Hvp); }
void BM_PermHvpKept64(benchmark::State& s) { pass<double>(s, "perm", "full", Product::HvpKept); }
// float32 products: the mixed-precision Lanczos builds its Krylov space with them.
void BM_PermHvpKept32(benchmark::State& s) { pass<float>(s, "perm", "full", Product::HvpKept); }
void BM_RotSmallGradient64(benchmark::State& s) { pass<double>(s, "rot", "small", Product::Gradient); }
void BM_RotSmallHvp64(benchmark::State& s) { pass<double>(s, "rot", "small", Product::Hvp); }
void BM_RotSmallHvpKept64(benchmark::State& s) { pass<double>(s, "rot", "small", Product::HvpKept); }

}  // namespace

BENCHMARK(BM_PermGradient64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_PermHvp64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_PermHvpKept64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_PermHvpKept32)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_RotSmallGradient64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_RotSmallHvp64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(BM_RotSmallHvpKept64)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
