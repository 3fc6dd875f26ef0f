// Speed of the structured Equi layers of the Trans model (Z_14² on 14×14 pixels, float32)
// against the dense GEMMs of the same layers in the same process.
//  - BM_EquiLayerChunk/layer/block/fused: forward + input_grad + coord_grad of one layer on
//    a chunk of 500 images, one thread (block: samples per FFT block of the fft op; fused:
//    both gradients through backward(), which transforms gy once);
//  - BM_DenseLayerChunk/layer: the same three products as dense GEMMs on W (6272×6272 for
//    layer 1, 6272×196 for layer 0);
//  - BM_TransEquiPass/threads/block: the whole Equi model (fft 1→32, fft 32→32, pool 32 pixels →
//    32, trivial 32→10, with the point-wise non-linearities) forward and backward over
//    10 000 images in chunks of 500, chunks spread over the threads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "eqaug/core/blas.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/nn/equi_ops.hpp"
#include "eqaug/nn/ops.hpp"

namespace {

using namespace eqaug;

constexpr std::size_t kN = 14, kChunk = 500, kImages = 10000;

GroupPtr trans_group() {
  std::vector<std::uint32_t> sx(kN * kN), sy(kN * kN);
  for (std::size_t r = 0; r < kN; ++r)
    for (std::size_t c = 0; c < kN; ++c) {
      sx[r * kN + c] = static_cast<std::uint32_t>(r * kN + (c + 1) % kN);
      sy[r * kN + c] = static_cast<std::uint32_t>(((r + 1) % kN) * kN + c);
    }
  return generated_group("Z_14^2", {Permutation(sx), Permutation(sy)});
}

struct Trans {
  SubspaceCache cache{trans_group()};
  std::vector<std::shared_ptr<const EquivariantSubspace>> layers;
  Trans() {
    const auto& g = *cache.group();
    const Space s[] = {make_space(g, 1, 1), make_space(g, 32, 1), make_space(g, 32, 1), make_space(g, 32, 0),
                       make_space(g, 10, 0)};
    for (int j = 0; j < 4; ++j) layers.push_back(cache.hom(s[j], s[j + 1]));
  }
};

Trans& trans() {
  static Trans t;
  return t;
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

/// Flops of the dense GEMMs a layer would cost (forward, input and weight gradients).
double dense_flops(const EquivariantSubspace& sub, std::size_t batch) {
  return 3 * 2.0 * static_cast<double>(batch * sub.in().dim() * sub.out().dim());
}

void BM_EquiLayerChunk(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  const auto& sub = trans().layers[static_cast<std::size_t>(state.range(0))];
  const auto op =
      make_equi_op<float>(sub, EquiEval::Structured, EquiOpTuning{static_cast<std::size_t>(state.range(1))});
  state.SetLabel(op->kind());
  const auto c = random_floats(sub->dim(), 1, 0.1), x = random_floats(kChunk * sub->in().dim(), 2),
             gy = random_floats(kChunk * sub->out().dim(), 3);
  std::vector<float> y(gy.size()), gx(x.size()), gc(c.size()), scratch(op->scratch_size(kChunk));
  for (auto _ : state) {
    op->forward(c.data(), x.data(), y.data(), kChunk, scratch.data());
    if (state.range(2)) {
      op->backward(c.data(), x.data(), gy.data(), gx.data(), gc.data(), kChunk, false, scratch.data());
    } else {
      op->input_grad(c.data(), gy.data(), gx.data(), kChunk, scratch.data());
      op->coord_grad(x.data(), gy.data(), gc.data(), kChunk, false, scratch.data());
    }
    benchmark::DoNotOptimize(gc.data());
  }
  state.counters["dense-equiv GFLOP/s"] =
      benchmark::Counter(dense_flops(*sub, kChunk) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseLayerChunk(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  const auto& sub = trans().layers[static_cast<std::size_t>(state.range(0))];
  const std::size_t in = sub->in().dim(), out = sub->out().dim();
  const auto w = random_floats(in * out, 1, 0.01), x = random_floats(kChunk * in, 2),
             gy = random_floats(kChunk * out, 3);
  std::vector<float> y(gy.size()), gx(x.size()), gw(w.size());
  for (auto _ : state) {
    ops::linear_forward(w.data(), x.data(), y.data(), kChunk, in, out);
    ops::linear_input_grad(w.data(), gy.data(), gx.data(), kChunk, in, out);
    ops::linear_weight_grad(x.data(), gy.data(), gw.data(), kChunk, in, out, false);
    benchmark::DoNotOptimize(gw.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(dense_flops(*sub, kChunk) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TransEquiPass(benchmark::State& state) {
  const blas::ThreadsGuard one_blas_thread(1);
  const auto& t = trans();
  const auto threads = static_cast<std::size_t>(state.range(0));
  ThreadPool pool(threads);
  std::vector<std::unique_ptr<EquiLinearOp<float>>> ops_;
  std::vector<std::vector<float>> coords;
  std::size_t width = 0, scratch = 0, n_coords = 0;
  for (std::size_t j = 0; j < 4; ++j) {
    ops_.push_back(
        make_equi_op<float>(t.layers[j], EquiEval::Structured, EquiOpTuning{static_cast<std::size_t>(state.range(1))}));
    coords.push_back(random_floats(t.layers[j]->dim(), 10 + j, 0.1));
    width = std::max({width, t.layers[j]->in().dim(), t.layers[j]->out().dim()});
    scratch = std::max(scratch, ops_[j]->scratch_size(kChunk));
    n_coords += t.layers[j]->dim();
  }
  const auto images = random_floats(kImages * t.layers[0]->in().dim(), 4, 0.3);
  const auto gout = random_floats(kImages * t.layers[3]->out().dim(), 5, 0.01);
  struct Work {
    std::vector<std::vector<float>> act;  // act[j]: input of layer j; act[4]: output
    std::vector<float> g1, g2, scratch;
    std::vector<std::vector<float>> gc;
  };
  std::vector<Work> work(pool.size());
  for (auto& w : work) {
    for (std::size_t j = 0; j <= 4; ++j)
      w.act.emplace_back(kChunk * (j < 4 ? t.layers[j]->in().dim() : t.layers[3]->out().dim()));
    w.g1.resize(kChunk * width);
    w.g2.resize(kChunk * width);
    w.scratch.resize(scratch);
    for (std::size_t j = 0; j < 4; ++j) w.gc.emplace_back(t.layers[j]->dim());
  }
  const std::size_t chunks = kImages / kChunk;
  for (auto _ : state) {
    for (auto& w : work)
      for (auto& g : w.gc) std::fill(g.begin(), g.end(), 0.0f);
    pool.parallel_for(chunks, [&](std::size_t chunk, std::size_t worker) {
      Work& w = work[worker];
      const std::size_t b = kChunk;
      std::copy_n(images.data() + chunk * b * t.layers[0]->in().dim(), b * t.layers[0]->in().dim(), w.act[0].data());
      // Forward: lrelu after layers 0 and 1, tanh after 2 (in place on the next input).
      for (std::size_t j = 0; j < 4; ++j) {
        float* y = w.act[j + 1].data();
        ops_[j]->forward(coords[j].data(), w.act[j].data(), y, b, w.scratch.data());
        const std::size_t n = b * t.layers[j]->out().dim();
        if (j < 2) ops::leaky_relu_forward(y, y, n, 0.01f);
        if (j == 2) ops::tanh_forward(y, y, n);
      }
      // Backward from a given output gradient.
      float* g = w.g1.data();
      float* gnext = w.g2.data();
      std::copy_n(gout.data() + chunk * b * 10, b * 10, g);
      for (std::size_t j = 4; j-- > 0;) {
        const std::size_t n = b * t.layers[j]->out().dim();
        if (j < 2) ops::leaky_relu_backward(w.act[j + 1].data(), g, g, n, 0.01f);
        if (j == 2) ops::tanh_backward(w.act[j + 1].data(), g, g, n);
        ops_[j]->backward(coords[j].data(), w.act[j].data(), g, j > 0 ? gnext : nullptr, w.gc[j].data(), b, true,
                          w.scratch.data());
        std::swap(g, gnext);
      }
    });
    benchmark::DoNotOptimize(work[0].gc[0].data());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(kImages), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["coords"] = static_cast<double>(n_coords);
}

}  // namespace

BENCHMARK(BM_EquiLayerChunk)
    ->ArgNames({"layer", "block", "fused"})
    ->ArgsProduct({{0, 1}, {8, 16, 32, 64}, {1}})
    ->Args({0, 16, 0})
    ->Args({1, 16, 0})
    ->Args({2, 16, 0})
    ->Args({3, 16, 0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DenseLayerChunk)->ArgName("layer")->Arg(0)->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TransEquiPass)
    ->ArgNames({"threads", "block"})
    ->ArgsProduct({{1, 2}, {16, 32, 64}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// main() comes from bench_perm.cpp (one eqaug_bench binary).
