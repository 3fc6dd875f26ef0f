#pragma once
// Data sets: inputs and targets as feature vectors over the sites of their spaces, so
// the group acts on both (invariant targets live on the one trivial site).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"

namespace eqaug {

struct Dataset {
  std::string name;
  Space input, target;
  std::size_t size = 0;
  std::vector<double> x;           // size × input.dim()
  std::vector<double> y;           // size × target.dim()
  std::vector<std::string> notes;  // what a user should know about these data (shown and recorded)
};

/// Stochastic block model graphs of the Perm experiment (docs/reference.md).
struct SbmOptions {
  std::size_t samples = 1000;
  std::vector<std::size_t> clusters = {5, 5};  // cluster sizes; nodes = their sum
  double p = 0.5;                              // edge probability inside a cluster
  double q = 0.05;                             // edge probability between clusters
};

/// Undirected, no self loops, nodes relabelled by a uniform permutation; target 1 if
/// the graph is connected (decided exactly by union–find). Input: 1 channel on node
/// pairs (the adjacency matrix); target: 1 channel on the trivial site.
Dataset make_sbm(const SbmOptions& opts, const FiniteGroup& group, Rng& rng);

/// True when the n×n adjacency matrix (row-major, nonzero = edge) is connected.
bool is_connected(const double* adjacency, std::size_t n);

/// The authors' layout: DIR/graphmat{i}.npy (n×n) and DIR/graphlabel{i}.npy (scalar),
/// i = 0 … samples−1.
Dataset load_graph_npy(const std::filesystem::path& dir, std::size_t samples, const FiniteGroup& group);

/// Check that a data set fits a model's input and output spaces (clear error otherwise).
void check_compatible(const Dataset& data, const Space& model_input, const Space& model_output);

}  // namespace eqaug
