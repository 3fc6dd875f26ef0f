#include "eqaug/train/engine.hpp"

#include <algorithm>
#include <cstring>

#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/nn/layers.hpp"

namespace eqaug {

namespace {
// Bound on the memory of per-item gradient buffers; items beyond it run in waves.
constexpr std::size_t kItemBufferBytes = std::size_t{1} << 30;
constexpr std::size_t kMaxWave = 128;
// A job whose gradient is larger than this runs its items one at a time. The rule does not
// involve the thread count, so neither does the path a model takes.
constexpr std::size_t kSequentialBytes = std::size_t{128} << 20;

/// Samples per chunk: `chunk`, at most the data; for a model with batch statistics a multiple
/// of its minibatch (at least one), so that every minibatch lies within one chunk.
std::size_t chunk_for(const ModelSpec& spec, std::size_t chunk, std::size_t samples) {
  const std::size_t m = spec.minibatch();
  if (spec.couples_samples() && m > 0 && chunk > 0) chunk = std::max(m, chunk / m * m);
  return std::min(chunk, samples);
}

/// The layers as the GPU backend sees them.
cuda::ModelDesc describe_model(const ModelSpec& spec, const Dataset& data) {
  cuda::ModelDesc m;
  for (const auto& l : spec.layers()) {
    if (!layer_type(l.kind).on_gpu())
      throw Error("--device cuda: the CUDA backend has no kernels for layer type '" + layer_type(l.kind).name() +
                  "'; run this model with --device cpu");
    cuda::LayerDesc d;
    d.kind = l.kind;
    d.in_dim = l.in.dim();
    d.out_dim = l.out.dim();
    d.channels = l.in.channels;
    d.sites = l.in.sites;
    d.offset = l.offset;
    d.params = l.params;
    m.layers.push_back(d);
  }
  m.num_params = spec.num_params();
  m.in_channels = data.input.channels;
  m.in_sites = data.input.sites;
  m.tgt_channels = data.target.channels;
  m.tgt_sites = data.target.sites;
  m.loss = spec.loss_kind();
  return m;
}
}  // namespace

template <typename T>
GradientEngine<T>::GradientEngine(const ModelSpec& spec, const Dataset& data, double input_shift, std::size_t chunk,
                                  ThreadPool& pool, EquiEval equi_eval, const Device& device)
    : net_(spec),
      equi_net_(spec, Parametrisation::Equivariant, equi_eval),
      data_(&data),
      chunk_(chunk_for(spec, chunk, data.size)),
      pool_(&pool),
      sequential_bytes_(kSequentialBytes),
      device_(device) {
  check_compatible(data, spec.input(), spec.output());
  if (data.size == 0) throw Error("data set '" + data.name + "' has no samples");
  if (chunk == 0) throw Error("chunk size must be positive");
  x_.resize(data.x.size());
  for (std::size_t i = 0; i < x_.size(); ++i) x_[i] = static_cast<T>(data.x[i] + input_shift);
  y_.assign(data.y.begin(), data.y.end());
  if (device.cuda()) {
    gpu_ = std::make_unique<cuda::DenseEngine<T>>(describe_model(spec, data), x_.data(), y_.data(), data.size,
                                                  device.index, device.tf32);
    // Parameters and gradients (326 MB for Trans) pass through pinned buffers: copied by
    // all workers, in blocks.
    gpu_->set_copier([this](void* dst, const void* src, std::size_t bytes) {
      constexpr std::size_t kBlock = std::size_t{8} << 20;
      pool_->parallel_for((bytes + kBlock - 1) / kBlock, [&](std::size_t b, std::size_t) {
        const std::size_t off = b * kBlock;
        std::memcpy(static_cast<char*>(dst) + off, static_cast<const char*>(src) + off, std::min(kBlock, bytes - off));
      });
    });
    return;  // no CPU workspaces
  }
  // The Equi network's workspace has the same activations plus its scratch.
  for (std::size_t w = 0; w < pool.size(); ++w) workspaces_.push_back(equi_net_.make_workspace(chunk_));
}

template <typename T>
GradientEngine<T>::~GradientEngine() = default;

template <typename T>
void GradientEngine<T>::recycle(std::vector<double>&& buffer) {
  if (buffer.capacity() > 0 && spare_.size() < 4) spare_.push_back(std::move(buffer));
}

template <typename T>
std::vector<double> GradientEngine<T>::take_buffer(std::size_t size) {
  for (auto it = spare_.begin(); it != spare_.end(); ++it)
    if (it->capacity() >= size) {
      std::vector<double> b = std::move(*it);
      spare_.erase(it);
      b.resize(size);
      return b;
    }
  return std::vector<double>(size);
}

template <typename T>
std::vector<typename GradientEngine<T>::GroupResult> GradientEngine<T>::run_on_gpu(const std::vector<Job>& jobs,
                                                                                   std::size_t groups) {
  std::vector<GroupResult> out(groups);
  std::vector<cuda::JobView> views;
  for (const auto& j : jobs) {
    EQAUG_CHECK(j.group < groups, "job group out of range");
    if (j.equi)
      throw Error(
          "Equi through E's structure (FFT, orbit pooling) runs on the CPU only; on a GPU use --equi-eval dense");
    if (j.direction) throw Error("Hessian-vector products run on the CPU only (--device cpu)");
    if (j.outputs) throw Error("network outputs (the equiv_error metric) are computed on the CPU only (--device cpu)");
    if (j.grad && out[j.group].grad.empty()) out[j.group].grad = take_buffer(net_.num_params());  // overwritten
    cuda::JobView v;
    v.params = j.params;
    v.pass = {j.pass->in_sites.data(),  j.pass->in_sites.size(),   j.pass->tgt_sites.data(),
              j.pass->tgt_sites.size(), j.pass->element_of.data(), j.pass->element_of.size()};
    if (j.pass->element_of.empty()) v.pass.element_of = nullptr;
    v.grad = j.grad;
    v.group = j.group;
    views.push_back(v);
  }
  check_stop();
  std::vector<double*> grads(groups, nullptr);
  for (std::size_t g = 0; g < groups; ++g)
    if (!out[g].grad.empty()) grads[g] = out[g].grad.data();
  std::vector<cuda::Stats> stats(jobs.size());
  gpu_->run(views.data(), views.size(), groups, grads.data(), stats.data());
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    auto& r = out[jobs[k].group];
    r.stats.loss_sum += stats[k].loss_sum;
    r.stats.correct += stats[k].correct;
    r.stats.predictions += stats[k].predictions;
    r.samples += data_->size;
  }
  return out;
}

template <typename T>
void GradientEngine<T>::load_chunk(const Pass& pass, std::size_t first, std::size_t count, Workspace<T>& ws) const {
  auto gather = [&](const std::vector<T>& src, const Space& space, const std::vector<std::uint32_t>& perm, T* dst) {
    const std::size_t D = space.dim(), S = space.sites;
    const T* s0 = src.data() + first * D;
    if (perm.empty()) {
      std::copy_n(s0, count * D, dst);
      return;
    }
    const bool shared = pass.element_of.empty();  // one permutation for every sample
    EQAUG_CHECK(perm.size() % S == 0 && (!shared || perm.size() == S), "pass does not match the data");
    for (std::size_t b = 0; b < count; ++b) {
      const std::uint32_t* p = perm.data() + (shared ? 0 : std::size_t{pass.element_of[first + b]} * S);
      EQAUG_CHECK(shared || (std::size_t{pass.element_of[first + b]} + 1) * S <= perm.size(), "pass table too short");
      for (std::size_t c = 0; c < space.channels; ++c) {
        const T* from = s0 + b * D + c * S;
        T* to = dst + b * D + c * S;
        for (std::size_t s = 0; s < S; ++s) to[p[s]] = from[s];
      }
    }
  };
  gather(x_, data_->input, pass.in_sites, ws.act[0].data());
  gather(y_, data_->target, pass.tgt_sites, ws.target.data());
}

template <typename T>
typename GradientEngine<T>::Work GradientEngine<T>::prepare(const std::vector<Job>& jobs, std::size_t groups) {
  Work w{jobs, {}, {}, std::vector<GroupResult>(groups)};
  std::vector<int> group_equi(groups, -1);
  for (const auto& j : jobs) {
    EQAUG_CHECK(j.group < groups, "job group out of range");
    EQAUG_CHECK(!(j.direction && j.equi), "Hessian-vector products need dense parameters");
    EQAUG_CHECK(group_equi[j.group] < 0 || group_equi[j.group] == int(j.equi), "a group mixes parametrisations");
    group_equi[j.group] = int(j.equi);
    auto& r = w.out[j.group];
    if (j.outputs) {
      EQAUG_CHECK(!j.grad && r.outputs.empty(), "one output job without gradient per group");
      r.outputs.resize(data_->size * (j.equi ? equi_net_ : net_).spec().output().dim());
    }
    if (j.grad && r.grad.empty()) {
      r.grad = take_buffer(params_of(j));
      std::fill(r.grad.begin(), r.grad.end(), 0.0);
    }
  }
  for (std::size_t j = 0; j < jobs.size(); ++j)
    for (std::size_t c = 0; c < chunks(); ++c) w.items.push_back({j, c});
  w.stats.resize(w.items.size());
  return w;
}

template <typename T>
bool GradientEngine<T>::sequential(const Work& w, const Item& it) const {
  return w.jobs[it.job].grad && params_of(w.jobs[it.job]) * sizeof(T) > sequential_bytes_;
}

template <typename T>
void GradientEngine<T>::check_stop() const {
  if (stop_ && stop_->load() != 0) throw StopRequested{stop_->load()};
}

template <typename T>
void GradientEngine<T>::evaluate(Work& w, std::size_t index, std::size_t slot, std::size_t worker, bool accumulate) {
  const Item& it = w.items[index];
  const Job& job = w.jobs[it.job];
  const std::size_t first = it.chunk * chunk_, count = std::min(chunk_, data_->size - first);
  Workspace<T>& ws = workspaces_[worker];
  load_chunk(*job.pass, first, count, ws);
  T* g = nullptr;
  if (job.grad) {
    auto& buf = item_grads_[slot];
    if (buf.size() != params_of(job)) buf.resize(params_of(job));
    g = buf.data();
  }
  const Network<T>& net = job.equi ? equi_net_ : net_;
  w.stats[index] = job.direction && job.grad ? net.hvp(job.params, job.direction, count, ws, g, accumulate,
                                                       job.hvp_states ? job.hvp_states + it.chunk : nullptr)
                                             : net.evaluate(job.params, count, ws, g, accumulate);
  if (job.outputs) {
    const std::size_t D = net.spec().output().dim();
    std::copy_n(ws.act.back().data(), count * D, w.out[job.group].outputs.data() + first * D);
  }
}

template <typename T>
void GradientEngine<T>::reduce(Work& w, std::size_t i0, std::size_t i1) {
  std::size_t P = 0;
  for (std::size_t k = i0; k < i1; ++k)
    if (w.jobs[w.items[k].job].grad) P = std::max(P, params_of(w.jobs[w.items[k].job]));
  const std::size_t block = 1 << 15, blocks = (P + block - 1) / block;
  pool_->parallel_for(blocks, [&](std::size_t b, std::size_t) {
    for (std::size_t k = i0; k < i1; ++k) {
      const Job& job = w.jobs[w.items[k].job];
      if (!job.grad) continue;
      const std::size_t p0 = b * block, p1 = std::min(params_of(job), p0 + block);
      double* acc = w.out[job.group].grad.data();
      const T* g = item_grads_[k - i0].data();
      for (std::size_t p = p0; p < p1; ++p) acc[p] += static_cast<double>(g[p]);
    }
  });
}

template <typename T>
std::size_t GradientEngine<T>::run_sequential(Work& w, std::size_t i) {
  // Summed in the working precision by the weight-gradient GEMMs themselves (beta = 1), then
  // added in double once per job rather than once per chunk.
  const std::size_t job = w.items[i].job;
  std::size_t end = i;
  item_grads_.resize(1);
  {
    const blas::ThreadsGuard parallel_blas(static_cast<int>(pool_->size()));
    for (; end < w.items.size() && w.items[end].job == job; ++end) {
      check_stop();
      evaluate(w, end, 0, 0, end > i);
    }
  }
  reduce(w, i, i + 1);  // slot 0 holds the whole job's gradient
  return end;
}

template <typename T>
std::size_t GradientEngine<T>::run_wave(Work& w, std::size_t i) {
  std::size_t P = 1;
  std::size_t end = i;
  while (end < w.items.size() && !sequential(w, w.items[end])) {
    P = std::max(P, params_of(w.jobs[w.items[end].job]));
    const std::size_t limit = std::clamp<std::size_t>(kItemBufferBytes / (P * sizeof(T)), 1, kMaxWave);
    if (end - i >= limit) break;
    ++end;
  }
  if (item_grads_.size() < end - i) item_grads_.resize(end - i);
  pool_->parallel_for(end - i, [&](std::size_t k, std::size_t worker) { evaluate(w, i + k, k, worker, false); });
  reduce(w, i, end);
  return end;
}

template <typename T>
std::vector<typename GradientEngine<T>::GroupResult> GradientEngine<T>::run(const std::vector<Job>& jobs,
                                                                            std::size_t groups) {
  if (gpu_) return run_on_gpu(jobs, groups);
  Work w = prepare(jobs, groups);
  // Parallelism is over items. A multi-threaded OpenBLAS would oversubscribe the cores
  // and, worse, round differently with another thread count.
  const blas::ThreadsGuard serial_blas(1);
  for (std::size_t i = 0; i < w.items.size();) {
    check_stop();
    i = sequential(w, w.items[i]) ? run_sequential(w, i) : run_wave(w, i);
  }
  for (std::size_t k = 0; k < w.items.size(); ++k) {
    auto& r = w.out[jobs[w.items[k].job].group];
    r.stats.loss_sum += w.stats[k].loss_sum;
    r.stats.correct += w.stats[k].correct;
    r.stats.predictions += w.stats[k].predictions;
  }
  for (const auto& j : jobs) w.out[j.group].samples += data_->size;
  return std::move(w.out);
}

template class GradientEngine<float>;
template class GradientEngine<double>;

}  // namespace eqaug
