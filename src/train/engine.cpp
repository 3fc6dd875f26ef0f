#include "eqaug/train/engine.hpp"

#include <algorithm>

#include "eqaug/core/blas.hpp"
#include "eqaug/core/error.hpp"

namespace eqaug {

namespace {
// Bound on the memory of per-item gradient buffers; items beyond it run in waves.
constexpr std::size_t kItemBufferBytes = std::size_t{1} << 30;
constexpr std::size_t kMaxWave = 128;
}  // namespace

template <typename T>
GradientEngine<T>::GradientEngine(const ModelSpec& spec, const Dataset& data, double input_shift,
                                  std::size_t chunk, ThreadPool& pool)
    : net_(spec), data_(&data), chunk_(std::min(chunk, data.size)), pool_(&pool) {
  check_compatible(data, spec.input(), spec.output());
  if (data.size == 0) throw Error("data set '" + data.name + "' has no samples");
  if (chunk == 0) throw Error("chunk size must be positive");
  // Parallelism is over items. A multi-threaded OpenBLAS would oversubscribe the cores
  // and, worse, round differently with another thread count.
  blas::set_num_threads(1);
  x_.resize(data.x.size());
  for (std::size_t i = 0; i < x_.size(); ++i) x_[i] = static_cast<T>(data.x[i] + input_shift);
  y_.assign(data.y.begin(), data.y.end());
  for (std::size_t w = 0; w < pool.size(); ++w) workspaces_.push_back(net_.make_workspace(chunk_));
}

template <typename T>
void GradientEngine<T>::load_chunk(const Pass& pass, std::size_t first, std::size_t count,
                                   Workspace<T>& ws) const {
  auto gather = [&](const std::vector<T>& src, const Space& space, const std::vector<std::uint32_t>& perm,
                    T* dst) {
    const std::size_t D = space.dim(), S = space.sites;
    const T* s0 = src.data() + first * D;
    if (perm.empty()) {
      std::copy_n(s0, count * D, dst);
      return;
    }
    const bool shared = perm.size() == S;  // one permutation for every sample
    EQAUG_CHECK(shared || perm.size() == data_->size * S, "pass does not match the data");
    for (std::size_t b = 0; b < count; ++b) {
      const std::uint32_t* p = perm.data() + (shared ? 0 : (first + b) * S);
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
std::vector<typename GradientEngine<T>::GroupResult> GradientEngine<T>::run(const std::vector<Job>& jobs,
                                                                             std::size_t groups) {
  const std::size_t n = data_->size, P = net_.spec().num_params();
  const std::size_t chunks = (n + chunk_ - 1) / chunk_;
  std::vector<GroupResult> out(groups);
  for (const auto& j : jobs) {
    EQAUG_CHECK(j.group < groups, "job group out of range");
    if (j.grad && out[j.group].grad.empty()) out[j.group].grad.assign(P, 0.0);
  }
  struct Item {
    std::size_t job, chunk;
  };
  std::vector<Item> items;
  for (std::size_t j = 0; j < jobs.size(); ++j)
    for (std::size_t c = 0; c < chunks; ++c) items.push_back({j, c});

  const std::size_t wave = std::clamp<std::size_t>(kItemBufferBytes / std::max<std::size_t>(1, P * sizeof(T)),
                                                   1, kMaxWave);
  std::vector<ChunkStats> stats(items.size());
  for (std::size_t w0 = 0; w0 < items.size(); w0 += wave) {
    const std::size_t w1 = std::min(items.size(), w0 + wave);
    if (item_grads_.size() < w1 - w0) item_grads_.resize(w1 - w0);
    pool_->parallel_for(w1 - w0, [&](std::size_t k, std::size_t worker) {
      const Item& it = items[w0 + k];
      const Job& job = jobs[it.job];
      const std::size_t first = it.chunk * chunk_, count = std::min(chunk_, n - first);
      Workspace<T>& ws = workspaces_[worker];
      load_chunk(*job.pass, first, count, ws);
      T* g = nullptr;
      if (job.grad) {
        auto& buf = item_grads_[k];
        if (buf.size() != P) buf.resize(P);
        g = buf.data();
      }
      stats[w0 + k] = net_.evaluate(job.params, count, ws, g, /*accumulate=*/false);
    });
    // Reduce the wave in item order, split over parameter blocks.
    const std::size_t block = 1 << 15, blocks = (P + block - 1) / block;
    pool_->parallel_for(blocks, [&](std::size_t b, std::size_t) {
      const std::size_t p0 = b * block, p1 = std::min(P, p0 + block);
      for (std::size_t k = 0; k < w1 - w0; ++k) {
        const Job& job = jobs[items[w0 + k].job];
        if (!job.grad) continue;
        double* acc = out[job.group].grad.data();
        const T* g = item_grads_[k].data();
        for (std::size_t p = p0; p < p1; ++p) acc[p] += static_cast<double>(g[p]);
      }
    });
  }
  for (std::size_t k = 0; k < items.size(); ++k) {
    auto& r = out[jobs[items[k].job].group];
    r.stats.loss_sum += stats[k].loss_sum;
    r.stats.correct += stats[k].correct;
    r.stats.predictions += stats[k].predictions;
  }
  for (const auto& j : jobs) out[j.group].samples += n;
  return out;
}

template class GradientEngine<float>;
template class GradientEngine<double>;

}  // namespace eqaug
