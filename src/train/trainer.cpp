#include "eqaug/train/trainer.hpp"

#include "eqaug/core/error.hpp"

namespace eqaug {

std::vector<double> initial_point(const ModelSpec& spec, std::uint64_t seed, std::size_t run) {
  Rng rng = Rng::stream(seed, "init", {run});
  auto a = spec.draw_init(rng);
  spec.project(a.data());
  return a;
}

Rng augmentation_rng(std::uint64_t seed, std::size_t run, std::size_t step, Mode mode) {
  return Rng::stream(seed, "aug", {run, step, static_cast<std::uint64_t>(mode)});
}

template <typename T>
Trainer<T>::Trainer(GradientEngine<T>& engine, TrainOptions opts) : engine_(&engine), opts_(std::move(opts)) {
  if (opts_.strategies.empty()) throw Error("no strategy to train");
  if (!(opts_.lr > 0) || !std::isfinite(opts_.lr)) throw Error("learning rate must be a positive number");
  const auto& group = *engine.spec().group();
  const auto& data = engine.data();
  // A step's passes are held in memory at once (one site permutation per sample).
  const double pass_bytes = static_cast<double>(data.size) *
                            static_cast<double>(data.input.sites + data.target.sites) * sizeof(std::uint32_t);
  for (const auto& st : opts_.strategies) {
    if (st.mode == Mode::Aug && !st.exact && static_cast<double>(st.passes) * pass_bytes > 8e9)
      throw Error(std::to_string(st.passes) + " augmentation passes over " + std::to_string(data.size) +
                  " samples need more than 8 GB of permutations per step; use fewer passes");
    if (st.mode == Mode::Aug && st.exact) {
      const auto order = group.order();
      if (!order || *order > kMaxExactOrder)
        throw Error("exact augmentation averages over every element, but " + group.name() + " has " +
                    (order ? std::to_string(*order) : std::string("too many")) + " elements (at most " +
                    std::to_string(kMaxExactOrder) + " supported); use random passes instead");
    }
  }
}

namespace {

template <typename T>
EpochRecord measure(const ModelSpec& spec, std::size_t step, const std::vector<T>& a, const std::vector<T>& a0) {
  EpochRecord r;
  r.step = step;
  double init2 = 0, e2 = 0;
  for (std::size_t j = 0; j < spec.linear_layers().size(); ++j) {
    const auto& l = spec.linear_layer(j);
    double d = 0;
    for (std::size_t p = l.offset; p < l.offset + l.count; ++p) {
      const double x = static_cast<double>(a[p]) - static_cast<double>(a0[p]);
      d += x * x;
    }
    const double e = l.subspace->distance(a.data() + l.offset);
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

template <typename T>
std::vector<StrategyRun> Trainer<T>::run(std::size_t run_index, const std::vector<double>& a0,
                                         const Progress& progress) {
  const ModelSpec& spec = engine_->spec();
  const Dataset& data = engine_->data();
  EQAUG_CHECK(a0.size() == spec.num_params(), "initial point has the wrong size");
  const std::size_t S = opts_.strategies.size();
  const std::vector<T> start(a0.begin(), a0.end());

  struct State {
    std::vector<T> a;
    std::vector<double> coords;  // Equi with orbit updates: per linear layer, concatenated
  };
  std::vector<State> state(S);
  std::vector<StrategyRun> out(S);
  auto linear = [&](std::size_t j) -> const LayerSpec& { return spec.linear_layer(j); };
  for (std::size_t k = 0; k < S; ++k) {
    out[k].strategy = opts_.strategies[k];
    state[k].a = start;
    if (opts_.strategies[k].mode == Mode::Equi && opts_.strategies[k].equi_update == EquiUpdate::Orbit) {
      state[k].coords.resize(spec.dim_E());
      std::size_t off = 0;
      for (std::size_t j = 0; j < spec.linear_layers().size(); ++j) {
        linear(j).subspace->to_coords(a0.data() + linear(j).offset, state[k].coords.data() + off);
        off += linear(j).subspace->dim();
      }
    }
  }

  const Pass identity;
  for (std::size_t step = 0; step <= opts_.epochs; ++step) {
    const bool last = step == opts_.epochs;
    // Groups: 2k = what strategy k descends (its gradient), 2k+1 = Aug's un-augmented risk.
    std::vector<std::vector<Pass>> aug_passes(S);
    std::vector<typename GradientEngine<T>::Job> jobs;
    for (std::size_t k = 0; k < S; ++k) {
      const Strategy& st = opts_.strategies[k];
      const T* params = state[k].a.data();
      if (st.mode == Mode::Aug) {
        Rng rng = augmentation_rng(opts_.seed, run_index, step, st.mode);
        aug_passes[k] = augmentation_passes(st, *spec.group(), data, rng);
        for (const auto& p : aug_passes[k]) jobs.push_back({params, &p, !last, 2 * k});
        jobs.push_back({params, &identity, false, 2 * k + 1});
      } else {
        jobs.push_back({params, &identity, !last, 2 * k});
      }
    }
    auto results = engine_->run(jobs, 2 * S);

    for (std::size_t k = 0; k < S; ++k) {
      const Strategy& st = opts_.strategies[k];
      auto& desc = results[2 * k];
      const auto& risk = st.mode == Mode::Aug ? results[2 * k + 1] : desc;
      EpochRecord rec = measure(spec, step, state[k].a, start);
      rec.loss = risk.stats.loss_sum / static_cast<double>(risk.samples);
      rec.accuracy = risk.stats.correct / risk.stats.predictions;
      if (st.mode == Mode::Aug) rec.loss_aug = desc.stats.loss_sum / static_cast<double>(desc.samples);
      out[k].records.push_back(std::move(rec));
      if (last) continue;

      std::vector<double>& g = desc.grad;
      const double scale = 1.0 / static_cast<double>(desc.samples);
      for (double& x : g) x *= scale;
      auto& a = state[k].a;
      if (st.mode == Mode::Equi && st.equi_update == EquiUpdate::Orbit) {
        std::size_t off = 0;
        std::vector<double> gc;
        for (std::size_t j = 0; j < spec.linear_layers().size(); ++j) {
          const auto& l = linear(j);
          gc.resize(l.subspace->dim());
          l.subspace->to_coords(g.data() + l.offset, gc.data());
          double* c = state[k].coords.data() + off;
          for (std::size_t i = 0; i < gc.size(); ++i) c[i] -= opts_.lr * gc[i];
          l.subspace->from_coords(c, a.data() + l.offset);
          off += gc.size();
        }
      } else {
        if (st.mode == Mode::Equi) spec.project(g.data());
        for (std::size_t p = 0; p < a.size(); ++p) a[p] -= static_cast<T>(opts_.lr * g[p]);
      }
    }
    if (progress) progress(step, out);
  }
  for (std::size_t k = 0; k < S; ++k) out[k].final_params.assign(state[k].a.begin(), state[k].a.end());
  return out;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace eqaug
