#pragma once
// Random graph data on the nodes of a group, for the small models of the tests.
#include <cstdint>

#include "eqaug/core/rng.hpp"
#include "eqaug/data/dataset.hpp"

namespace eqaug::testing {

enum class Labels { Random, Connectivity };

/// Symmetric 0/1 adjacency matrices with edge probability ½; labels random or
/// "connected".
inline Dataset random_graph_data(const FiniteGroup& g, std::size_t samples, std::uint64_t seed,
                                 Labels labels = Labels::Random) {
  const std::size_t n = g.degree();
  Dataset d;
  d.name = "random";
  d.input = make_space(g, 1, 2);
  d.target = make_space(g, 1, 0);
  d.size = samples;
  d.x.assign(samples * n * n, 0.0);
  d.y.assign(samples, 0.0);
  Rng rng(seed);
  for (std::size_t k = 0; k < samples; ++k) {
    double* x = d.x.data() + k * n * n;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j)
        if (rng.bernoulli(0.5)) x[i * n + j] = x[j * n + i] = 1.0;
    d.y[k] = labels == Labels::Connectivity ? (is_connected(x, n) ? 1.0 : 0.0) : (rng.bernoulli(0.5) ? 1.0 : 0.0);
  }
  return d;
}

}  // namespace eqaug::testing
