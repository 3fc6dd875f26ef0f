#pragma once
// The dimensions of E that SPEC §2 (paper App. E) gives in closed form, per channel pair:
// the number of G-orbits of site pairs, as oracles for the orbit computation (`eqaug dims`
// prints "checked" or the mismatch).
#include <cstddef>
#include <optional>
#include <string>

namespace eqaug {

struct GroupFamily {
  enum class Kind { Symmetric, Translation2D, TranslationX, Rotation, TranslationRotation } kind;
  std::size_t size;  // n of S_n, or the image side N
};

/// Bell number B(m): the set partitions of m elements (m ≤ 25).
std::size_t bell_number(std::size_t m);

/// Orbits of site pairs for sites of the given tuple orders, where a closed form is known:
/// S_n on k-tuples → l-tuples: Bell(k + l) when n ≥ k + l; the image groups on pixels (order
/// 1) and the trivial site (order 0), with the odd-N forms from Burnside's lemma.
std::optional<std::size_t> closed_form_orbits(const GroupFamily& g, std::size_t order_out, std::size_t order_in);

/// The family of a configuration's group.kind ("symmetric", "translation2d", ...).
std::optional<GroupFamily> group_family(const std::string& kind, std::size_t size);

}  // namespace eqaug
