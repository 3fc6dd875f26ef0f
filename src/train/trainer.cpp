#include "eqaug/train/trainer.hpp"

#include "eqaug/train/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "eqaug/core/error.hpp"

namespace eqaug {

std::vector<double> initial_point(const ModelSpec& spec, std::uint64_t seed, std::size_t run, bool project,
                                  ThreadPool* pool) {
  Rng rng = Rng::stream(seed, "init", {run});
  auto a = spec.draw_init(rng);
  if (project) spec.project(a.data(), pool);
  return a;
}

std::vector<std::string> metric_columns(const TrainOptions& opts, const ModelSpec& spec) {
  std::vector<std::string> c;
  for (const auto& name : opts.metrics)
    for (auto& column : metric(name).columns(spec)) c.push_back(std::move(column));
  return c;
}

Rng augmentation_rng(std::uint64_t seed, std::size_t run, std::size_t step, Mode mode) {
  return Rng::stream(seed, "aug", {run, step, static_cast<std::uint64_t>(mode)});
}

namespace {
std::string diverged_message(const std::string& mode, std::size_t step, double loss, bool weights) {
  std::ostringstream m;
  m << mode << " diverged at step " << step << ": " << (weights ? "the weights are not finite" : "the risk is ")
    << (weights ? "" : std::to_string(loss))
    << " (lower the learning rate train.lr, the penalty, or the start's scale)";
  return m.str();
}
}  // namespace

Diverged::Diverged(std::string mode_, std::size_t step_, double loss_, bool weights_)
    : RuntimeFailure(diverged_message(mode_, step_, loss_, weights_)),
      mode(std::move(mode_)),
      step(step_),
      loss(loss_),
      weights(weights_) {}

template <typename T>
Trainer<T>::Trainer(GradientEngine<T>& engine, TrainOptions opts) : engine_(&engine), opts_(std::move(opts)) {
  if (opts_.strategies.empty()) throw Error("no strategy to train");
  if (!(opts_.lr > 0) || !std::isfinite(opts_.lr)) throw Error("learning rate must be a positive number");
  if (!(opts_.weight_decay >= 0) || !std::isfinite(opts_.weight_decay))
    throw Error("weight decay must be a non-negative number");
  for (const auto& name : opts_.metrics) metric(name);  // known
  if (!opts_.metrics.empty() && engine.device().cuda())
    throw Error("train.metrics: per-step metrics are computed on the CPU only (--device cpu, or train.metrics = [])");
  if (!opts_.metrics.empty() && opts_.metric_samples == 0) throw Error("train.metric_samples must be at least 1");
  const auto& group = *engine.spec().group();
  for (const auto& st : opts_.strategies)
    if (engine.device().cuda() && st.mode == Mode::Equi && st.equi_update == EquiUpdate::Orbit &&
        st.equi_eval == EquiEvalChoice::Structured)
      throw Error(
          "--equi-eval structured: Equi through E's structure (FFT, orbit pooling) runs on the CPU only; "
          "with --device " +
          engine.device().name() + " use --equi-eval dense or auto");
  const auto& data = engine.data();
  // A step's passes are held in memory at once (one site permutation per sample).
  const double pass_bytes = static_cast<double>(data.size) * static_cast<double>(data.input.sites + data.target.sites) *
                            sizeof(std::uint32_t);
  for (const auto& st : opts_.strategies) {
    if (st.augments() && !st.exact && static_cast<double>(st.passes) * pass_bytes > 8e9)
      throw Error(std::to_string(st.passes) + " augmentation passes over " + std::to_string(data.size) +
                  " samples need more than 8 GB of permutations per step; use fewer passes");
    if (st.mode == Mode::AugPen && !(st.penalty > 0))
      throw Error("augpen needs a positive penalty gamma (train.penalty, --penalty)");
    // AugPen's explicit penalty step scales A − Π_E A by 1 − ηγ (besides the risk's part):
    // from ηγ = 2 on it no longer shrinks and beyond it grows without bound.
    if (st.mode == Mode::AugPen && opts_.lr * st.penalty >= 2)
      throw Error("augpen: eta * gamma = " + std::to_string(opts_.lr * st.penalty) +
                  " (train.lr times train.penalty) must be below 2: the penalty step multiplies A - P_E A by 1 - "
                  "eta * gamma, which diverges beyond 2; use a penalty below " +
                  std::to_string(2 / opts_.lr));
    if (st.augments() && st.exact) {
      const auto order = group.order();
      if (!order || *order > kMaxExactOrder)
        throw Error("exact augmentation averages over every element, but " + group.name() + " has " +
                    (order ? std::to_string(*order) : std::string("too many")) + " elements (at most " +
                    std::to_string(kMaxExactOrder) + " supported); use random passes instead");
    }
  }
}

namespace {

// Loops over all parameters run on the engine's workers where a layer is large, in blocks
// of a fixed size: sums add the blocks in order, so the bits do not depend on the thread
// count (and small layers, Perm's among them, keep the one sequential loop).
constexpr std::size_t kBlock = std::size_t{1} << 20;
constexpr std::size_t kParallelFrom = std::size_t{4} << 20;

/// f(p) for p in [0, n), on the pool when n is large.
template <typename F>
void for_each_index(ThreadPool& pool, std::size_t n, const F& f) {
  if (n < kParallelFrom) {
    for (std::size_t p = 0; p < n; ++p) f(p);
    return;
  }
  pool.parallel_for((n + kBlock - 1) / kBlock, [&](std::size_t b, std::size_t) {
    for (std::size_t p = b * kBlock; p < std::min(n, (b + 1) * kBlock); ++p) f(p);
  });
}

/// ‖a − a0‖² over [begin, end).
template <typename T>
double squared_distance(ThreadPool& pool, const T* a, const T* a0, std::size_t begin, std::size_t end) {
  auto range = [&](std::size_t p0, std::size_t p1) {
    double d = 0;
    for (std::size_t p = p0; p < p1; ++p) {
      const double x = static_cast<double>(a[p]) - static_cast<double>(a0[p]);
      d += x * x;
    }
    return d;
  };
  const std::size_t n = end - begin;
  if (n < kParallelFrom) return range(begin, end);
  std::vector<double> part((n + kBlock - 1) / kBlock);
  pool.parallel_for(part.size(), [&](std::size_t b, std::size_t) {
    part[b] = range(begin + b * kBlock, std::min(end, begin + (b + 1) * kBlock));
  });
  double d = 0;
  for (double x : part) d += x;
  return d;
}

template <typename T>
EpochRecord measure(ThreadPool& pool, const ModelSpec& spec, std::size_t step, const std::vector<T>& a,
                    const std::vector<T>& a0) {
  EpochRecord r;
  r.step = step;
  double init2 = 0, e2 = 0;
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    const double d = squared_distance(pool, a.data(), a0.data(), l.offset, l.offset + l.count);
    const double e = l.subspace->distance(a.data() + l.offset, &pool);
    r.dist_init_layer.push_back(std::sqrt(d));
    r.dist_E_layer.push_back(e);
    init2 += d;
    e2 += e * e;
  }
  r.dist_init = std::sqrt(init2);
  r.dist_E = std::sqrt(e2);
  return r;
}

}  // namespace

/// The reference's Equi step before its optimiser's (docs/reference.md): every layer's
/// gradient projected onto E except the last group layer's, whose weights are projected
/// instead, so that its raw gradient then moves it off E by η Π_⊥ g.
template <typename T>
void project_but_last_weights(const ModelSpec& spec, std::vector<T>& a, std::vector<double>& g, ThreadPool& pool) {
  std::size_t last = spec.weight_layers().size();
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& sub = *spec.weight_layer(j).subspace;
    if (sub.dim() < sub.ambient_dim()) last = j;
  }
  for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
    const auto& l = spec.weight_layer(j);
    if (j == last)
      l.subspace->project(a.data() + l.offset, &pool);
    else
      l.subspace->project(g.data() + l.offset, &pool);
  }
}

template <typename T>
bool uses_structured_equi(const Strategy& s, const GradientEngine<T>& engine) {
  if (s.mode != Mode::Equi || s.equi_update != EquiUpdate::Orbit) return false;
  if (engine.device().cuda()) return false;  // the GPU evaluates dense layers only
  if (s.equi_eval == EquiEvalChoice::Structured) return true;
  if (s.equi_eval == EquiEvalChoice::Dense) return false;
  for (const auto& k : engine.equi_network().layer_kinds())
    if (k == "fft") return true;
  return false;
}

template <typename T>
std::vector<double> Trainer<T>::metric_values(std::size_t run_index, std::size_t step, const std::vector<T>& a) const {
  // Their own stream, keyed by (run, step) only: every strategy meets the same draws, and no
  // other number changes.
  Rng rng = Rng::stream(opts_.seed, "metrics", {run_index, step});
  const MetricInput<T> in{engine_, a.data(), &rng, opts_.metric_samples};
  std::vector<double> values;
  for (const auto& name : opts_.metrics) {
    const auto v = metric(name).compute(in);
    values.insert(values.end(), v.begin(), v.end());
  }
  return values;
}

template <typename T>
void Trainer<T>::update(const Strategy& st, StrategyState& s, std::vector<double>& g, std::size_t samples) const {
  const ModelSpec& spec = engine_->spec();
  auto& a = s.a;
  ThreadPool& pool = engine_->pool();
  const double scale = 1.0 / static_cast<double>(samples);
  for_each_index(pool, g.size(), [&](std::size_t i) { g[i] *= scale; });
  if (opts_.weight_decay > 0) {
    // ∇ λ/2 ‖A‖² = λA; structured Equi's gradient is in E's orthonormal coordinates c, where
    // ‖A‖ = ‖c‖.
    const double wd = opts_.weight_decay;
    if (s.structured)
      for (std::size_t i = 0; i < s.coords.size(); ++i) g[i] += wd * s.coords[i];
    else
      for_each_index(pool, g.size(), [&](std::size_t i) { g[i] += wd * static_cast<double>(a[i]); });
  }
  if (st.mode == Mode::AugPen) {
    // ∇ γ/2 ‖A − Π_E A‖² = γ (A − Π_E A): Π_E is an orthogonal projection.
    std::vector<double> p(a.begin(), a.end());
    spec.project(p.data(), &pool);
    for_each_index(pool, g.size(), [&](std::size_t i) { g[i] += st.penalty * (static_cast<double>(a[i]) - p[i]); });
  }
  if (s.structured) {
    // The gradient is already in the orthonormal coordinates of E.
    auto& c = s.coords;
    for (std::size_t i = 0; i < c.size(); ++i) c[i] -= opts_.lr * g[i];
    s.coords_t.assign(c.begin(), c.end());
    spec.from_coords(c.data(), a.data(), &pool);
  } else if (st.mode == Mode::Equi && st.equi_update == EquiUpdate::Orbit) {
    std::vector<double>& gc = s.scratch;
    for (std::size_t j = 0; j < spec.weight_layers().size(); ++j) {
      const auto& l = spec.weight_layer(j);
      gc.resize(l.subspace->dim());
      l.subspace->to_coords(g.data() + l.offset, gc.data(), &pool);
      double* c = s.coords.data() + l.coord_offset;
      for_each_index(pool, gc.size(), [&](std::size_t i) { c[i] -= opts_.lr * gc[i]; });
      l.subspace->from_coords(c, a.data() + l.offset, &pool);
    }
  } else {
    if (st.mode == Mode::Equi && st.project_last_weights) {
      project_but_last_weights(spec, a, g, pool);
    } else if (st.mode == Mode::Equi) {
      spec.project(g.data(), &pool);
    }
    for_each_index(pool, a.size(), [&](std::size_t p) { a[p] -= static_cast<T>(opts_.lr * g[p]); });
  }
}

template <typename T>
typename Trainer<T>::StrategyState Trainer<T>::begin(std::size_t k, const std::vector<double>& a0,
                                                     const std::vector<T>& start, const std::vector<T>& start_in_E,
                                                     StrategyRun& out) const {
  const ModelSpec& spec = engine_->spec();
  const Strategy& st = opts_.strategies[k];
  StrategyState s;
  out.strategy = st;
  s.origin = opts_.raw_start && st.mode == Mode::Equi ? &start_in_E : &start;
  s.a = *s.origin;
  s.structured = uses_structured_equi(st, *engine_);
  out.layer_eval = s.structured ? engine_->equi_network().layer_kinds()
                                : std::vector<std::string>(spec.weight_layers().size(), "dense");
  if (st.mode == Mode::Equi && st.equi_update == EquiUpdate::Orbit) {
    s.coords = spec.to_coords(a0.data(), &engine_->pool());
    if (s.structured) s.coords_t.assign(s.coords.begin(), s.coords.end());
  }
  return s;
}

template <typename T>
void Trainer<T>::step(std::size_t run_index, std::size_t step, StrategyState& s, StrategyRun& out) {
  const ModelSpec& spec = engine_->spec();
  const Strategy& st = out.strategy;
  const bool last = step == opts_.epochs;
  auto& a = s.a;
  PhaseSeconds& seconds = out.seconds;
  auto clock = std::chrono::steady_clock::now();
  auto lap = [&clock](double& phase) {
    const auto now = std::chrono::steady_clock::now();
    phase += std::chrono::duration<double>(now - clock).count();
    clock = now;
  };
  // Groups: 0 = what the strategy descends (its gradient), 1 = Aug's un-augmented risk.
  const Pass identity;
  std::vector<Pass> aug_passes;
  std::vector<typename GradientEngine<T>::Job> jobs;
  if (st.augments()) {
    // AugPen draws what Aug draws, so that the penalty is the only difference.
    Rng rng = augmentation_rng(opts_.seed, run_index, step, Mode::Aug);
    aug_passes = augmentation_passes(st, *spec.group(), engine_->data(), rng, &engine_->pool());
    for (const auto& p : aug_passes) jobs.push_back({a.data(), &p, !last, 0});
    jobs.push_back({a.data(), &identity, false, 1});
  } else if (s.structured) {
    jobs.push_back({s.coords_t.data(), &identity, !last, 0, /*equi=*/true});
  } else {
    jobs.push_back({a.data(), &identity, !last, 0});
  }
  lap(seconds.passes);
  auto results = engine_->run(jobs, 2);
  lap(seconds.gradients);
  auto& desc = results[0];
  const auto& risk = st.augments() ? results[1] : desc;
  EpochRecord rec = measure(engine_->pool(), spec, step, a, *s.origin);
  rec.loss = risk.stats.loss_sum / static_cast<double>(risk.samples);
  rec.accuracy = risk.stats.correct / risk.stats.predictions;
  if (st.augments()) rec.loss_aug = desc.stats.loss_sum / static_cast<double>(desc.samples);
  // A run that has left the finite numbers cannot be recorded (its CSVs, the medians) nor
  // go on: the caller says which strategy, at which step, and keeps nothing of the run.
  const bool weights_finite = std::isfinite(rec.dist_init) && std::isfinite(rec.dist_E);
  if (!weights_finite || !std::isfinite(rec.loss) || (st.augments() && !std::isfinite(rec.loss_aug)))
    throw Diverged(st.name(), step, std::isfinite(rec.loss) ? rec.loss_aug : rec.loss, !weights_finite);
  if (!out.loss_grew_at && !out.records.empty() && out.records.front().loss > 0 &&
      rec.loss > kLossGrowth * out.records.front().loss)
    out.loss_grew_at = step;
  if (!opts_.metrics.empty()) rec.metrics = metric_values(run_index, step, a);
  out.records.push_back(std::move(rec));
  if (std::find(opts_.snapshot_steps.begin(), opts_.snapshot_steps.end(), step) != opts_.snapshot_steps.end())
    out.snapshots.emplace_back(step, std::vector<double>(a.begin(), a.end()));
  lap(seconds.measures);
  if (last) return;
  update(st, s, desc.grad, desc.samples);
  engine_->recycle(std::move(desc.grad));
  lap(seconds.updates);
}

template <typename T>
std::vector<StrategyRun> Trainer<T>::run(std::size_t run_index, const std::vector<double>& a0,
                                         const Progress& progress) {
  const ModelSpec& spec = engine_->spec();
  EQAUG_CHECK(a0.size() == spec.num_params(), "initial point has the wrong size");
  const std::size_t S = opts_.strategies.size();
  const std::vector<T> start(a0.begin(), a0.end());
  std::vector<T> start_in_E;  // Equi's start when A⁰ lies off E
  if (opts_.raw_start) {
    std::vector<double> p(a0);
    spec.project(p.data(), &engine_->pool());
    start_in_E.assign(p.begin(), p.end());
  }
  std::vector<StrategyState> state;
  std::vector<StrategyRun> out(S);
  for (std::size_t k = 0; k < S; ++k) state.push_back(begin(k, a0, start, start_in_E, out[k]));
  for (std::size_t t = 0; t <= opts_.epochs; ++t) {
    // One strategy at a time, so only one full-size gradient is alive at once.
    for (std::size_t k = 0; k < S; ++k) step(run_index, t, state[k], out[k]);
    if (progress) progress(t, out);
  }
  for (std::size_t k = 0; k < S; ++k) {
    if (opts_.keep_final_params) out[k].final_params.assign(state[k].a.begin(), state[k].a.end());
    std::vector<T>().swap(state[k].a);  // free as we go: the finals are in double
  }
  return out;
}

template bool uses_structured_equi<float>(const Strategy&, const GradientEngine<float>&);
template bool uses_structured_equi<double>(const Strategy&, const GradientEngine<double>&);

template class Trainer<float>;
template class Trainer<double>;

}  // namespace eqaug
