#pragma once
// The training strategies of docs/reference.mdand the data passes that estimate their gradients.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eqaug/core/thread_pool.hpp"
#include "eqaug/data/dataset.hpp"

namespace eqaug {

/// AugPen: Aug with the penalty γ/2 ‖A − Π_E A‖² added to the augmented risk, the
/// stabiliser of E the paper proposes (README, "How it works").
enum class Mode { Nom, Aug, Equi, AugPen };
enum class AugPer { Sample, Batch };
enum class EquiUpdate { Orbit, Dense };
/// How Equi evaluates its layers (orbit updates only): through E's structure (FFT
/// convolutions, orbit pooling: the cost of an equivariant network), on the dense weights
/// (the oracle), or `Auto`: structured when some layer has a Fourier path, else dense.
enum class EquiEvalChoice { Auto, Structured, Dense };

std::string to_string(Mode m);
std::string to_string(AugPer p);
std::string to_string(EquiUpdate u);
std::string to_string(EquiEvalChoice e);
EquiEvalChoice parse_equi_eval(const std::string& s);  // auto | structured | dense
Mode parse_mode(const std::string& s);                 // nom | aug | equi | augpen
AugPer parse_aug_per(const std::string& s);            // sample | batch
EquiUpdate parse_equi_update(const std::string& s);    // orbit | dense

struct Strategy {
  Mode mode = Mode::Nom;
  // Aug: L passes over the data, each transformed by uniformly drawn group elements,
  // one per sample or one per minibatch; or, with `exact`, one pass per group element
  // (the Haar average R^aug itself, for small groups).
  std::size_t passes = 25;
  AugPer per = AugPer::Sample;
  std::size_t batch = 200;
  bool exact = false;
  // How the elements are drawn: uniformly, or by one of the reference's rules
  // ([reference] sampler, rot_aug; docs/reference.md).
  Sampler sampler = Sampler::Haar;
  // Equi: weights stay in E; update the orthonormal orbit coordinates (kept in float64)
  // or the dense weights with the projected gradient (the reference's way).
  EquiUpdate equi_update = EquiUpdate::Orbit;
  EquiEvalChoice equi_eval = EquiEvalChoice::Auto;
  // Equi with the dense update, as the reference's ProjectNet.project_grads: every layer's
  // gradient projected except the last group layer's (the last weight layer whose E is a
  // proper subspace), whose *weights* are projected before a step with its raw gradient
  // ([reference] equi_last_layer; docs/reference.md).
  bool project_last_weights = false;
  // AugPen: γ of the penalty γ/2 ‖A − Π_E A‖².
  double penalty = 0.0;

  /// Aug and AugPen draw augmentation passes.
  bool augments() const { return mode == Mode::Aug || mode == Mode::AugPen; }

  std::string name() const { return to_string(mode); }
};

/// One pass over the data: a table of distinct site permutations for the inputs and one
/// for the targets (each `sites` entries, concatenated), and which entry moves sample i
/// (`element_of`; empty when the table holds one permutation for every sample). Empty
/// tables mean the identity. Sample i's input becomes x'[c, π_i(s)] = x[c, s]. A pass
/// with one element per minibatch thus costs (samples / batch) permutations, not one per
/// sample.
struct Pass {
  std::vector<std::uint32_t> in_sites, tgt_sites;
  std::vector<std::uint32_t> element_of;
  bool identity() const { return in_sites.empty() && tgt_sites.empty(); }
};

/// The pass in which sample i is moved by elements[element_of[i]].
Pass make_pass(const Dataset& data, const std::vector<Permutation>& elements,
               const std::vector<std::size_t>& element_of);

/// The passes an Aug strategy descends at one step: L random passes (elements drawn
/// from `rng`, per sample or per minibatch of `batch` consecutive samples), or one pass
/// per group element when exact. With a pool, the passes' site tables are built in
/// parallel once every element is drawn (in the same order: the same passes).
std::vector<Pass> augmentation_passes(const Strategy& s, const FiniteGroup& group, const Dataset& data, Rng& rng,
                                      ThreadPool* pool = nullptr);

}  // namespace eqaug
