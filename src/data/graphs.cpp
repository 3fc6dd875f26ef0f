#include <cmath>
#include <numeric>
#include <sstream>

#include "eqaug/core/error.hpp"
#include "eqaug/data/dataset.hpp"
#include "eqaug/formats/npy.hpp"

namespace eqaug {

bool is_connected(const double* a, std::size_t n) {
  if (n <= 1) return true;
  std::vector<std::size_t> parent(n);
  std::iota(parent.begin(), parent.end(), std::size_t{0});
  auto find = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::size_t components = n;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (i != j && a[i * n + j] != 0.0) {
        const auto ri = find(i), rj = find(j);
        if (ri != rj) {
          parent[ri] = rj;
          --components;
        }
      }
  return components == 1;
}

Dataset make_sbm(const SbmOptions& opts, const FiniteGroup& group, Rng& rng) {
  const std::size_t n = std::accumulate(opts.clusters.begin(), opts.clusters.end(), std::size_t{0});
  if (n != group.degree())
    throw Error("sbm: the clusters have " + std::to_string(n) + " nodes but the group acts on " +
                std::to_string(group.degree()));
  if (!(opts.p >= 0 && opts.p <= 1 && opts.q >= 0 && opts.q <= 1))
    throw Error("sbm: edge probabilities p and q must lie in [0, 1]");
  if (opts.samples == 0) throw Error("sbm: samples must be positive");
  Dataset d;
  d.name = "sbm";
  d.input = make_space(group, 1, 2);
  d.target = make_space(group, 1, 0);
  d.size = opts.samples;
  d.x.assign(d.size * n * n, 0.0);
  d.y.assign(d.size, 0.0);
  std::vector<std::size_t> cluster_of;
  for (std::size_t c = 0; c < opts.clusters.size(); ++c) cluster_of.insert(cluster_of.end(), opts.clusters[c], c);
  std::vector<double> a(n * n);
  for (std::size_t k = 0; k < d.size; ++k) {
    std::fill(a.begin(), a.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j)
        if (rng.bernoulli(cluster_of[i] == cluster_of[j] ? opts.p : opts.q)) a[i * n + j] = a[j * n + i] = 1.0;
    const auto relabel = rng.permutation(static_cast<std::uint32_t>(n));
    double* x = d.x.data() + k * n * n;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) x[relabel[i] * n + relabel[j]] = a[i * n + j];
    d.y[k] = is_connected(x, n) ? 1.0 : 0.0;
  }
  return d;
}

Dataset load_graph_npy(const std::filesystem::path& dir, std::size_t samples, const FiniteGroup& group) {
  if (!std::filesystem::is_directory(dir)) throw Error("--data-npy: '" + dir.string() + "' is not a directory");
  const std::size_t n = group.degree();
  Dataset d;
  d.name = "npy:" + dir.string();
  d.input = make_space(group, 1, 2);
  d.target = make_space(group, 1, 0);
  d.size = samples;
  d.x.resize(samples * n * n);
  d.y.resize(samples);
  std::size_t mislabelled = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    const auto mat_path = dir / ("graphmat" + std::to_string(i) + ".npy");
    const auto lab_path = dir / ("graphlabel" + std::to_string(i) + ".npy");
    const io::NpyArray mat = io::read_npy(mat_path);
    if (mat.shape != std::vector<std::size_t>{n, n}) {
      std::ostringstream os;
      os << mat_path.string() << ": expected an adjacency matrix of shape (" << n << ", " << n << "), found (";
      for (std::size_t j = 0; j < mat.shape.size(); ++j) os << (j ? ", " : "") << mat.shape[j];
      os << ")";
      throw Error(os.str());
    }
    for (double v : mat.data)
      if (!std::isfinite(v)) throw Error(mat_path.string() + ": the adjacency matrix contains NaN or infinity");
    std::copy(mat.data.begin(), mat.data.end(), d.x.begin() + static_cast<std::ptrdiff_t>(i * n * n));
    const io::NpyArray lab = io::read_npy(lab_path);
    if (lab.data.size() != 1)
      throw Error(lab_path.string() + ": expected one label value, found " + std::to_string(lab.data.size()));
    const double v = lab.data[0];
    if (v != 0.0 && v != 1.0) throw Error(lab_path.string() + ": expected label 0 or 1, found " + std::to_string(v));
    d.y[i] = v;
    mislabelled += (v == 1.0) != is_connected(d.x.data() + i * n * n, n) ? 1 : 0;
  }
  if (mislabelled)
    d.notes.push_back(std::to_string(mislabelled) + " of " + std::to_string(samples) +
                      " labels disagree with the exact connectivity of their graph (labels used as given)");
  return d;
}

void check_compatible(const Dataset& data, const Space& in, const Space& out) {
  auto describe = [](const Space& s) {
    return std::to_string(s.channels) + " channel(s) x " + std::to_string(s.sites) + " site(s)";
  };
  if (data.input.dim() != in.dim() || data.input.order != in.order)
    throw Error("data set '" + data.name + "' has inputs of " + describe(data.input) + " but the model expects " +
                describe(in));
  if (data.target.dim() != out.dim() || data.target.order != out.order)
    throw Error("data set '" + data.name + "' has targets of " + describe(data.target) + " but the model outputs " +
                describe(out));
}

}  // namespace eqaug
