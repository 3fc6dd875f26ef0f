#include "eqaug/equivariance/subspace.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"

namespace eqaug {

Space make_space(const FiniteGroup& group, std::size_t channels, std::size_t order) {
  if (channels == 0) throw Error("a space needs at least one channel");
  const std::size_t sites = tuple_count(group.degree(), order);
  if (channels > kMaxSites / sites)
    throw Error(std::to_string(channels) + " channels x " + std::to_string(sites) + " sites is too large");
  return Space{channels, order, sites};
}

namespace {
struct UnionFind {
  std::vector<std::uint32_t> parent;
  explicit UnionFind(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  std::uint32_t find(std::uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};
}  // namespace

OrbitPartition::OrbitPartition(const FiniteGroup& group, std::size_t order_out, std::size_t order_in)
    : sites_out_(tuple_count(group.degree(), order_out)), sites_in_(tuple_count(group.degree(), order_in)) {
  const std::size_t pairs = sites_out_ * sites_in_;
  if (pairs > std::numeric_limits<std::uint32_t>::max())
    throw Error("layer too large for an orbit table: " + std::to_string(pairs) + " site pairs");
  UnionFind uf(pairs);
  for (const auto& g : group.generators()) {
    const Permutation go = g.on_tuples(order_out), gi = g.on_tuples(order_in);
    for (std::size_t so = 0; so < sites_out_; ++so)
      for (std::size_t si = 0; si < sites_in_; ++si)
        uf.unite(static_cast<std::uint32_t>(so * sites_in_ + si),
                 static_cast<std::uint32_t>(go(so) * sites_in_ + gi(si)));
  }
  // Orbit ids in order of first appearance, so ids are deterministic.
  std::vector<std::uint32_t> id_of_root(pairs, UINT32_MAX);
  orbit_of_.resize(pairs);
  for (std::size_t p = 0; p < pairs; ++p) {
    const auto r = uf.find(static_cast<std::uint32_t>(p));
    if (id_of_root[r] == UINT32_MAX) {
      id_of_root[r] = static_cast<std::uint32_t>(sizes_.size());
      sizes_.push_back(0);
    }
    orbit_of_[p] = id_of_root[r];
    ++sizes_[id_of_root[r]];
  }
}

EquivariantSubspace::EquivariantSubspace(std::shared_ptr<const OrbitPartition> orbits, Space out, Space in)
    : orbits_(std::move(orbits)), out_(out), in_(in) {
  EQAUG_CHECK(orbits_->sites_out() == out_.sites && orbits_->sites_in() == in_.sites,
              "orbit partition does not match the spaces");
  inv_sqrt_size_.resize(orbits_->count());
  for (std::size_t k = 0; k < inv_sqrt_size_.size(); ++k)
    inv_sqrt_size_[k] = 1.0 / std::sqrt(static_cast<double>(orbits_->sizes()[k]));
}

namespace {

// Layers with at least this many entries (the image models' 40 M, not Perm's 0.3 M) are
// swept by several threads, each over a fixed block of output channels; every sum still
// belongs to one block and is formed in the same order, so no result depends on the
// thread count. Small layers keep the one-thread loops.
constexpr std::size_t kParallelEntries = std::size_t{1} << 22;

template <typename F>
void over_output_channels(ThreadPool* pool, std::size_t channels, std::size_t entries, const F& f) {
  const std::size_t threads = pool && entries >= kParallelEntries ? std::min(channels, pool->size()) : std::size_t{1};
  if (threads <= 1) {
    f(0, channels);
    return;
  }
  pool->parallel_for(threads, [&](std::size_t t, std::size_t) { f(channels * t / threads, channels * (t + 1) / threads); });
}

}  // namespace

template <typename T>
void EquivariantSubspace::orbit_sums(const T* w, double* sums, ThreadPool* pool) const {
  const std::size_t K = orbits_->count(), So = out_.sites, Si = in_.sites, Ci = in_.channels;
  const auto& orbit = orbits_->orbit_of();
  over_output_channels(pool, out_.channels, ambient_dim(), [&](std::size_t c0, std::size_t c1) {
    std::fill(sums + c0 * Ci * K, sums + c1 * Ci * K, 0.0);
    for (std::size_t co = c0; co < c1; ++co)
      for (std::size_t so = 0; so < So; ++so)
        for (std::size_t ci = 0; ci < Ci; ++ci) {
          const T* row = w + ((co * So + so) * Ci + ci) * Si;
          double* s = sums + (co * Ci + ci) * K;
          const std::uint32_t* ids = orbit.data() + so * Si;
          for (std::size_t si = 0; si < Si; ++si) s[ids[si]] += static_cast<double>(row[si]);
        }
  });
}

template <typename T>
void EquivariantSubspace::to_coords(const T* w, double* c, ThreadPool* pool) const {
  // The sums land in c itself (no buffer of dim E), then are scaled block by block.
  orbit_sums(w, c, pool);
  const std::size_t K = orbits_->count(), Ci = in_.channels;
  over_output_channels(pool, out_.channels, ambient_dim(), [&](std::size_t c0, std::size_t c1) {
    for (std::size_t b = c0 * Ci; b < c1 * Ci; ++b)
      for (std::size_t k = 0; k < K; ++k) c[b * K + k] *= inv_sqrt_size_[k];
  });
}

template <typename T>
void EquivariantSubspace::from_coords(const double* c, T* w, ThreadPool* pool) const {
  const std::size_t K = orbits_->count(), So = out_.sites, Si = in_.sites, Ci = in_.channels;
  const auto& orbit = orbits_->orbit_of();
  over_output_channels(pool, out_.channels, ambient_dim(), [&](std::size_t c0, std::size_t c1) {
    std::vector<T> values(K);
    for (std::size_t co = c0; co < c1; ++co)
      for (std::size_t ci = 0; ci < Ci; ++ci) {
        const double* cc = c + (co * Ci + ci) * K;
        for (std::size_t k = 0; k < K; ++k) values[k] = static_cast<T>(cc[k] * inv_sqrt_size_[k]);
        for (std::size_t so = 0; so < So; ++so) {
          T* row = w + ((co * So + so) * Ci + ci) * Si;
          const std::uint32_t* ids = orbit.data() + so * Si;
          for (std::size_t si = 0; si < Si; ++si) row[si] = values[ids[si]];
        }
      }
  });
}

template <typename T>
void EquivariantSubspace::project(T* w, ThreadPool* pool) const {
  std::vector<double> c(dim());
  to_coords(w, c.data(), pool);
  from_coords(c.data(), w, pool);
}

template <typename T>
double EquivariantSubspace::squared_deviation(const T* w, std::size_t co, std::size_t ci, double* means) const {
  // Two passes (means, then squared deviations) so small distances keep their digits.
  const std::size_t K = orbits_->count(), So = out_.sites, Si = in_.sites, Ci = in_.channels;
  const auto& orbit = orbits_->orbit_of();
  std::fill(means, means + K, 0.0);
  for (std::size_t so = 0; so < So; ++so) {
    const T* row = w + ((co * So + so) * Ci + ci) * Si;
    const std::uint32_t* ids = orbit.data() + so * Si;
    for (std::size_t si = 0; si < Si; ++si) means[ids[si]] += static_cast<double>(row[si]);
  }
  for (std::size_t k = 0; k < K; ++k) means[k] /= static_cast<double>(orbits_->sizes()[k]);
  double acc = 0.0;
  for (std::size_t so = 0; so < So; ++so) {
    const T* row = w + ((co * So + so) * Ci + ci) * Si;
    const std::uint32_t* ids = orbit.data() + so * Si;
    for (std::size_t si = 0; si < Si; ++si) {
      const double d = static_cast<double>(row[si]) - means[ids[si]];
      acc += d * d;
    }
  }
  return acc;
}

template <typename T>
double EquivariantSubspace::distance(const T* w, ThreadPool* pool) const {
  const std::size_t K = orbits_->count(), So = out_.sites, Si = in_.sites, Ci = in_.channels;
  if (ambient_dim() >= kParallelEntries) {
    // Large layers: one channel pair at a time with its own orbit means (no buffer of
    // dim E, and the means stay in cache); one partial sum per output channel, added in
    // channel order: the same for any thread count.
    std::vector<double> partial(out_.channels);
    over_output_channels(pool, out_.channels, ambient_dim(), [&](std::size_t c0, std::size_t c1) {
      std::vector<double> means(K);
      for (std::size_t co = c0; co < c1; ++co) {
        double acc = 0.0;
        for (std::size_t ci = 0; ci < Ci; ++ci) acc += squared_deviation(w, co, ci, means.data());
        partial[co] = acc;
      }
    });
    double acc = 0.0;
    for (double x : partial) acc += x;
    return std::sqrt(acc);
  }
  // Two passes (means, then squared deviations) so small distances keep their digits.
  std::vector<double> means(out_.channels * Ci * K);
  orbit_sums(w, means.data(), pool);
  for (std::size_t j = 0; j < means.size(); ++j) means[j] /= static_cast<double>(orbits_->sizes()[j % K]);
  const auto& orbit = orbits_->orbit_of();
  double acc = 0.0;
  for (std::size_t co = 0; co < out_.channels; ++co)
    for (std::size_t so = 0; so < So; ++so)
      for (std::size_t ci = 0; ci < Ci; ++ci) {
        const T* row = w + ((co * So + so) * Ci + ci) * Si;
        const double* m = means.data() + (co * Ci + ci) * K;
        const std::uint32_t* ids = orbit.data() + so * Si;
        for (std::size_t si = 0; si < Si; ++si) {
          const double d = static_cast<double>(row[si]) - m[ids[si]];
          acc += d * d;
        }
      }
  return std::sqrt(acc);
}

template <typename T>
void EquivariantSubspace::act(const Permutation& g_out, const Permutation& g_in, const T* w, T* out) const {
  const std::size_t So = out_.sites, Si = in_.sites, Ci = in_.channels;
  EQAUG_CHECK(g_out.size() == So && g_in.size() == Si, "site permutations do not match the layer");
  for (std::size_t co = 0; co < out_.channels; ++co)
    for (std::size_t so = 0; so < So; ++so)
      for (std::size_t ci = 0; ci < Ci; ++ci) {
        const T* src = w + ((co * So + so) * Ci + ci) * Si;
        T* dst = out + ((co * So + g_out(so)) * Ci + ci) * Si;
        for (std::size_t si = 0; si < Si; ++si) dst[g_in(si)] = src[si];
      }
}

#define EQAUG_INSTANTIATE(T)                                                                                    \
  template void EquivariantSubspace::project<T>(T*, ThreadPool*) const;                                                   \
  template void EquivariantSubspace::to_coords<T>(const T*, double*, ThreadPool*) const;                                   \
  template void EquivariantSubspace::from_coords<T>(const double*, T*, ThreadPool*) const;                                 \
  template double EquivariantSubspace::distance<T>(const T*, ThreadPool*) const;                                           \
  template double EquivariantSubspace::squared_deviation<T>(const T*, std::size_t, std::size_t, double*) const; \
  template void EquivariantSubspace::act<T>(const Permutation&, const Permutation&, const T*, T*) const;
EQAUG_INSTANTIATE(float)
EQAUG_INSTANTIATE(double)
#undef EQAUG_INSTANTIATE

std::shared_ptr<const EquivariantSubspace> SubspaceCache::hom(const Space& in, const Space& out) {
  auto& part = partitions_[{out.order, in.order}];
  if (!part) part = std::make_shared<const OrbitPartition>(*group_, out.order, in.order);
  return std::make_shared<const EquivariantSubspace>(part, out, in);
}

}  // namespace eqaug
