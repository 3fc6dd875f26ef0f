#pragma once
// The training strategies of SPEC §3 and the data passes that estimate their gradients.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eqaug/data/dataset.hpp"

namespace eqaug {

enum class Mode { Nom, Aug, Equi };
enum class AugPer { Sample, Batch };
enum class EquiUpdate { Orbit, Dense };

std::string to_string(Mode m);
std::string to_string(AugPer p);
std::string to_string(EquiUpdate u);
Mode parse_mode(const std::string& s);          // nom | aug | equi
AugPer parse_aug_per(const std::string& s);     // sample | batch
EquiUpdate parse_equi_update(const std::string& s);  // orbit | dense

struct Strategy {
  Mode mode = Mode::Nom;
  // Aug: L passes over the data, each transformed by uniformly drawn group elements,
  // one per sample or one per minibatch; or, with `exact`, one pass per group element
  // (the Haar average R^aug itself, for small groups).
  std::size_t passes = 25;
  AugPer per = AugPer::Sample;
  std::size_t batch = 200;
  bool exact = false;
  // Equi: weights stay in E; update the orthonormal orbit coordinates (kept in float64)
  // or the dense weights with the projected gradient (the reference's way).
  EquiUpdate equi_update = EquiUpdate::Orbit;

  std::string name() const { return to_string(mode); }
};

/// One pass over the data: site permutations for inputs and targets, either one per
/// sample (sample major, size × sites) or one for all samples (sites entries); empty
/// means the identity. Sample i's input becomes x'[c, π_i(s)] = x[c, s].
struct Pass {
  std::vector<std::uint32_t> in_sites, tgt_sites;
  bool identity() const { return in_sites.empty() && tgt_sites.empty(); }
};

/// The pass in which sample i is moved by elements[element_of[i]].
Pass make_pass(const Dataset& data, const std::vector<Permutation>& elements,
               const std::vector<std::size_t>& element_of);

/// The passes an Aug strategy descends at one step: L random passes (elements drawn
/// from `rng`, per sample or per minibatch of `batch` consecutive samples), or one pass
/// per group element when exact.
std::vector<Pass> augmentation_passes(const Strategy& s, const FiniteGroup& group,
                                      const Dataset& data, Rng& rng);

}  // namespace eqaug
