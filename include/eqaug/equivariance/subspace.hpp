#pragma once
// The equivariant subspace E of Hom(X_in, X_out) for a permutation action: a layer
// matrix is equivariant iff it is constant on every G-orbit of site pairs (s_out, s_in),
// independently for each channel pair. So dim E is an orbit count, Π_E is the orbit
// average (the Haar average of the lifted action) and the orbit indicators divided by
// √|orbit| form an orthonormal basis of E.
//
// Layer matrices are row-major (C_out·S_out) × (C_in·S_in): entry (c_o, s_o, c_i, s_i)
// lives at ((c_o·S_out + s_o)·C_in + c_i)·S_in + s_i.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "eqaug/group/group.hpp"

namespace eqaug {

class ThreadPool;

/// Channels × sites, the sites being k-tuples of the group's base points.
struct Space {
  std::size_t channels = 1;
  std::size_t order = 0;  // k: 0 trivial (one site), 1 points, 2 pairs, ...
  std::size_t sites = 1;  // degree^order
  std::size_t dim() const { return channels * sites; }
};

Space make_space(const FiniteGroup& group, std::size_t channels, std::size_t order);

/// G-orbits of site pairs (s_out, s_in) for given tuple orders, found by union–find
/// over the generators.
class OrbitPartition {
 public:
  OrbitPartition(const FiniteGroup& group, std::size_t order_out, std::size_t order_in);
  std::size_t sites_out() const { return sites_out_; }
  std::size_t sites_in() const { return sites_in_; }
  std::size_t count() const { return sizes_.size(); }
  /// Orbit id of pair (s_out, s_in) at index s_out·S_in + s_in.
  const std::vector<std::uint32_t>& orbit_of() const { return orbit_of_; }
  const std::vector<std::uint32_t>& sizes() const { return sizes_; }

 private:
  std::size_t sites_out_, sites_in_;
  std::vector<std::uint32_t> orbit_of_, sizes_;
};

class EquivariantSubspace {
 public:
  EquivariantSubspace(std::shared_ptr<const OrbitPartition> orbits, Space out, Space in);

  const Space& out() const { return out_; }
  const Space& in() const { return in_; }
  const OrbitPartition& orbits() const { return *orbits_; }
  std::size_t dim() const { return out_.channels * in_.channels * orbits_->count(); }
  std::size_t ambient_dim() const { return out_.dim() * in_.dim(); }

  // With a pool, layers of image size are swept by its threads, each over a fixed block of
  // output channels: every sum is formed in the same order whatever the thread count.
  // Without one, on the calling thread. Not to be called from inside the pool's own loops.

  /// w ← Π_E w (orbit averages, accumulated in double).
  template <typename T>
  void project(T* w, ThreadPool* pool = nullptr) const;
  /// Orthonormal orbit coordinates: c[(c_o·C_in + c_i)·K + k] = Σ_orbit w / √|orbit|.
  template <typename T>
  void to_coords(const T* w, double* c, ThreadPool* pool = nullptr) const;
  /// The element of E with coordinates c.
  template <typename T>
  void from_coords(const double* c, T* w, ThreadPool* pool = nullptr) const;
  /// ‖w − Π_E w‖ (Frobenius), in double.
  template <typename T>
  double distance(const T* w, ThreadPool* pool = nullptr) const;
  /// out = ρ̄(g) w, i.e. out[g·s_o, g·s_i] = w[s_o, s_i] in every channel pair; the
  /// permutations are g's action on the output and input sites.
  template <typename T>
  void act(const Permutation& g_out_sites, const Permutation& g_in_sites, const T* w, T* out) const;

 private:
  template <typename T>
  void orbit_sums(const T* w, double* sums, ThreadPool* pool) const;  // out.channels × in.channels × orbits
  template <typename T>
  double squared_deviation(const T* w, std::size_t co, std::size_t ci, double* means) const;

  std::shared_ptr<const OrbitPartition> orbits_;
  Space out_, in_;
  std::vector<double> inv_sqrt_size_;
};

/// Orbit partitions are shared by every layer with the same (group, orders).
class SubspaceCache {
 public:
  explicit SubspaceCache(GroupPtr group) : group_(std::move(group)) {}
  const GroupPtr& group() const { return group_; }
  std::shared_ptr<const EquivariantSubspace> hom(const Space& in, const Space& out);

 private:
  GroupPtr group_;
  std::map<std::pair<std::size_t, std::size_t>, std::shared_ptr<const OrbitPartition>> partitions_;
};

}  // namespace eqaug
