// The image groups of docs/reference.md(Trans = Z_N², OneDTrans = Z_N, Rot = C_4, TransRot =
// C_4 ⋉ Z_N² on the N×N pixels): orders, elements, the rotation's formula, dim E
// against closed forms and Burnside's lemma, Π_E against the explicit Haar average of
// the lifted action, and the uniformity of sample().
#include <gtest/gtest.h>

#include "../support/image_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/group/registry.hpp"

namespace eqaug {
namespace {

using testing::make_pixel_group;
using testing::pixel_kinds;
using testing::PixelKind;

const PixelKind& kind(const std::string& name) {
  for (const auto& k : pixel_kinds())
    if (name == k.name) return k;
  throw Error("no pixel kind " + name);
}

std::uint64_t expected_order(const PixelKind& k, std::uint64_t N) {
  return (k.shift_x ? N : 1) * (k.shift_y ? N : 1) * (k.rotations ? 4 : 1) * (k.mirror ? 2 : 1);
}

/// dim E per channel pair by the registry's closed forms (group/registry.cpp), which this
/// file holds to the orbit computation, to Burnside's lemma and to brute force.
std::size_t closed_form(const std::string& name, std::size_t N, std::size_t out, std::size_t in) {
  return group_kind(name).closed_form(nlohmann::json{{"kind", name}, {"side", N}}, out, in).value();
}
std::size_t closed_form_pixels_to_pixels(const std::string& name, std::size_t N) { return closed_form(name, N, 1, 1); }
std::size_t closed_form_pixels_to_trivial(const std::string& name, std::size_t N) { return closed_form(name, N, 1, 0); }

std::size_t orbit_count(const GroupPtr& g, std::size_t order_in, std::size_t order_out) {
  SubspaceCache cache(g);
  return cache.hom(make_space(*g, 1, order_in), make_space(*g, 1, order_out))->orbits().count();
}

std::size_t fixed_points(const Permutation& p) {
  std::size_t f = 0;
  for (std::size_t i = 0; i < p.size(); ++i) f += p(i) == i;
  return f;
}

Permutation rotation_formula(std::size_t N) {
  std::vector<std::uint32_t> img(N * N);
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t c = 0; c < N; ++c) img[r * N + c] = static_cast<std::uint32_t>(c * N + (N - 1 - r));
  return Permutation(std::move(img));
}

Permutation shift_formula(std::size_t N, std::size_t dx, std::size_t dy) {
  std::vector<std::uint32_t> img(N * N);
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t c = 0; c < N; ++c) img[r * N + c] = static_cast<std::uint32_t>(((r + dy) % N) * N + (c + dx) % N);
  return Permutation(std::move(img));
}

// ---------------------------------------------------------------------------------------

TEST(PixelGroups, OrdersAndDegrees) {
  for (std::size_t N : {1u, 2u, 5u, 6u, 7u, 14u})
    for (const auto& k : pixel_kinds()) {
      const auto g = make_pixel_group(k, N);
      SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N));
      EXPECT_EQ(g->degree(), N * N);
      ASSERT_TRUE(g->order().has_value());
      EXPECT_EQ(*g->order(), expected_order(k, N));
      if (N >= 6) {
        // The paper's sizes: N², N, 4, 4N²; the mirror groups 2, 8, 8N².
        const std::map<std::string, std::uint64_t> sizes = {
            {"translation2d", N * N}, {"translation_x", N},  {"rotation", 4},
            {"translation_rotation", 4 * N * N}, {"flip", 2}, {"dihedral", 8}, {"dihedral_translation", 8 * N * N}};
        const std::uint64_t want = sizes.at(k.name);
        EXPECT_EQ(*g->order(), want);
      }
      EXPECT_FALSE(g->name().empty());
    }
  EXPECT_THROW(pixel_group(PixelGroupSpec{0, true, true, false}), Error);
}

TEST(PixelGroups, ElementsAreDistinctBijectionsClosedUnderCompositionAndInverse) {
  for (std::size_t N : {4u, 5u, 6u, 7u})
    for (const auto& k : pixel_kinds()) {
      SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N));
      const auto g = make_pixel_group(k, N);
      const auto els = g->elements();
      ASSERT_EQ(els.size(), *g->order());
      std::set<std::vector<std::uint32_t>> set;
      for (const auto& e : els) {
        ASSERT_EQ(e.size(), N * N);
        // A bijection (the constructor validates it too; check independently).
        std::vector<char> hit(N * N, 0);
        for (std::size_t i = 0; i < N * N; ++i) {
          ASSERT_LT(e(i), N * N);
          hit[e(i)] = 1;
        }
        EXPECT_EQ(std::count(hit.begin(), hit.end(), 1), static_cast<std::ptrdiff_t>(N * N));
        set.insert(e.image());
      }
      EXPECT_EQ(set.size(), els.size()) << "elements are not distinct";
      EXPECT_TRUE(set.count(Permutation::identity(N * N).image()));
      for (const auto& a : els) {
        EXPECT_TRUE(set.count(a.inverse().image()));
        for (const auto& b : els) ASSERT_TRUE(set.count(a.compose(b).image())) << "not closed under composition";
      }
      // The generators lie in the group and generate all of it (orbits are found from them).
      const auto gens = g->generators();
      ASSERT_FALSE(gens.empty());
      std::set<std::vector<std::uint32_t>> reached = {Permutation::identity(N * N).image()};
      std::vector<Permutation> frontier = {Permutation::identity(N * N)};
      while (!frontier.empty()) {
        std::vector<Permutation> next;
        for (const auto& p : frontier)
          for (const auto& s : gens) {
            ASSERT_TRUE(set.count(s.image())) << "a generator is not an element";
            auto q = s.compose(p);
            if (reached.insert(q.image()).second) next.push_back(std::move(q));
          }
        frontier = std::move(next);
      }
      EXPECT_EQ(reached, set) << "the generators do not generate the group";
    }
}

TEST(PixelGroups, RotationIsTheQuarterTurnAboutTheCentre) {
  for (std::size_t N : {4u, 5u, 6u, 7u, 14u}) {
    SCOPED_TRACE("N=" + std::to_string(N));
    const Permutation rho = rotation_formula(N);
    // (r, c) ↦ (c, N−1−r) by hand on a corner: (0, 0) ↦ (0, N−1), (0, N−1) ↦ (N−1, N−1).
    EXPECT_EQ(rho(0), N - 1);
    EXPECT_EQ(rho(N - 1), N * N - 1);
    EXPECT_EQ(rho(N * N - 1), (N - 1) * N);
    EXPECT_EQ(rho((N - 1) * N), 0u);
    const Permutation e = Permutation::identity(N * N);
    EXPECT_NE(rho, e);
    EXPECT_NE(rho.compose(rho), e);
    EXPECT_NE(rho.compose(rho).compose(rho), e);
    EXPECT_EQ(rho.compose(rho).compose(rho).compose(rho), e);  // order 4
    // Odd N: exactly the centre pixel is fixed; even N: none.
    EXPECT_EQ(fixed_points(rho), N % 2);
    EXPECT_EQ(fixed_points(rho.compose(rho)), N % 2);

    // C_4 is {ρ^k}.
    const auto rot = make_pixel_group(kind("rotation"), N)->elements();
    std::set<std::vector<std::uint32_t>> want, got;
    Permutation p = e;
    for (int k = 0; k < 4; ++k, p = rho.compose(p)) want.insert(p.image());
    for (const auto& x : rot) got.insert(x.image());
    EXPECT_EQ(got, want);

    // TransRot is {shift ∘ ρ^k}; Trans is the shifts; OneDTrans the column shifts (rows kept).
    std::set<std::vector<std::uint32_t>> tr_want, t_want, tx_want, tr_got, t_got, tx_got;
    for (std::size_t dx = 0; dx < N; ++dx) {
      tx_want.insert(shift_formula(N, dx, 0).image());
      for (std::size_t dy = 0; dy < N; ++dy) {
        t_want.insert(shift_formula(N, dx, dy).image());
        Permutation q = e;
        for (int k = 0; k < 4; ++k, q = rho.compose(q)) tr_want.insert(shift_formula(N, dx, dy).compose(q).image());
      }
    }
    if (N <= 7) {
      for (const auto& x : make_pixel_group(kind("translation_rotation"), N)->elements()) tr_got.insert(x.image());
      EXPECT_EQ(tr_got, tr_want);
    }
    for (const auto& x : make_pixel_group(kind("translation2d"), N)->elements()) t_got.insert(x.image());
    for (const auto& x : make_pixel_group(kind("translation_x"), N)->elements()) tx_got.insert(x.image());
    EXPECT_EQ(t_got, t_want);
    EXPECT_EQ(tx_got, tx_want);
  }
}

// dim E = #orbits of site pairs against the closed forms (docs/reference.mdodd N derived above).
TEST(PixelGroups, DimensionsMatchClosedForms) {
  for (std::size_t N : {2u, 3u, 5u, 6u, 7u, 14u})
    for (const auto& k : pixel_kinds()) {
      SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N));
      const auto g = make_pixel_group(k, N);
      EXPECT_EQ(orbit_count(g, 1, 1), closed_form_pixels_to_pixels(k.name, N)) << "pixels -> pixels";
      EXPECT_EQ(orbit_count(g, 1, 0), closed_form_pixels_to_trivial(k.name, N)) << "pixels -> trivial";
      EXPECT_EQ(orbit_count(g, 0, 1), closed_form_pixels_to_trivial(k.name, N)) << "trivial -> pixels";
      EXPECT_EQ(orbit_count(g, 0, 0), 1u) << "trivial -> trivial";
      // dim E of a layer: C_out·C_in·#orbits.
      SubspaceCache cache(g);
      const auto sub = cache.hom(make_space(*g, 3, 1), make_space(*g, 2, 1));
      EXPECT_EQ(sub->dim(), 6 * closed_form_pixels_to_pixels(k.name, N));
      EXPECT_EQ(sub->ambient_dim(), 6 * N * N * N * N);
    }
  // The paper's values at N = 14 spelled out.
  EXPECT_EQ(closed_form_pixels_to_pixels("translation2d", 14), 196u);
  EXPECT_EQ(closed_form_pixels_to_pixels("translation_x", 14), 2744u);
  EXPECT_EQ(closed_form_pixels_to_pixels("rotation", 14), 9604u);
  EXPECT_EQ(closed_form_pixels_to_pixels("translation_rotation", 14), 51u);
}

// Burnside: #orbits = (1/|G|) Σ_g #fixed site pairs, from elements(). For pixels → pixels
// g fixes (s_o, s_i) iff it fixes both, so #fixed = f(g)²; pixels → trivial: f(g).
TEST(PixelGroups, OrbitCountsSatisfyBurnside) {
  for (std::size_t N : {2u, 3u, 5u, 6u, 7u, 14u})
    for (const auto& k : pixel_kinds()) {
      SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N));
      const auto g = make_pixel_group(k, N);
      const auto els = g->elements();
      std::uint64_t pairs = 0, singles = 0, trivial = 0;
      for (const auto& e : els) {
        const std::uint64_t f = fixed_points(e);
        pairs += f * f;
        singles += f;
        trivial += 1;
      }
      const std::uint64_t G = els.size();
      ASSERT_EQ(pairs % G, 0u);
      ASSERT_EQ(singles % G, 0u);
      EXPECT_EQ(pairs / G, orbit_count(g, 1, 1)) << "pixels -> pixels";
      EXPECT_EQ(singles / G, orbit_count(g, 1, 0)) << "pixels -> trivial";
      EXPECT_EQ(singles / G, orbit_count(g, 0, 1)) << "trivial -> pixels";
      EXPECT_EQ(trivial / G, orbit_count(g, 0, 0)) << "trivial -> trivial";
      EXPECT_EQ(pairs / G, closed_form_pixels_to_pixels(k.name, N));
      EXPECT_EQ(singles / G, closed_form_pixels_to_trivial(k.name, N));
    }
}

// The orbit partition (found by union–find over the generators) is exactly the partition
// into G-orbits computed by brute force over all elements, and its sizes are right.
TEST(PixelGroups, OrbitPartitionEqualsBruteForceOrbits) {
  for (std::size_t N : {5u, 6u, 7u})
    for (const auto& k : pixel_kinds())
      for (std::size_t kin : {0u, 1u})
        for (std::size_t kout : {0u, 1u}) {
          SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N) + " in " + std::to_string(kin) + " out " +
                       std::to_string(kout));
          const auto g = make_pixel_group(k, N);
          const OrbitPartition part(*g, kout, kin);
          const std::size_t So = part.sites_out(), Si = part.sites_in();
          ASSERT_EQ(So, kout ? N * N : 1u);
          ASSERT_EQ(Si, kin ? N * N : 1u);
          const auto els = g->elements();
          std::vector<Permutation> on_out, on_in;
          for (const auto& e : els) {
            on_out.push_back(e.on_tuples(kout));
            on_in.push_back(e.on_tuples(kin));
          }
          // Canonical label of a pair: the smallest index in its orbit.
          std::vector<std::size_t> canon(So * Si);
          for (std::size_t so = 0; so < So; ++so)
            for (std::size_t si = 0; si < Si; ++si) {
              std::size_t m = so * Si + si;
              for (std::size_t j = 0; j < els.size(); ++j)
                m = std::min<std::size_t>(m, on_out[j](so) * Si + on_in[j](si));
              canon[so * Si + si] = m;
            }
          std::map<std::uint32_t, std::size_t> id_to_canon;
          std::map<std::size_t, std::uint32_t> canon_to_id;
          std::vector<std::size_t> sizes(part.count(), 0);
          for (std::size_t p = 0; p < So * Si; ++p) {
            const std::uint32_t id = part.orbit_of()[p];
            ASSERT_LT(id, part.count());
            ++sizes[id];
            auto [it, fresh] = id_to_canon.emplace(id, canon[p]);
            ASSERT_EQ(it->second, canon[p]) << "one orbit id spans two G-orbits";
            auto [jt, fresh2] = canon_to_id.emplace(canon[p], id);
            ASSERT_EQ(jt->second, id) << "one G-orbit split into two ids";
            (void)fresh;
            (void)fresh2;
          }
          EXPECT_EQ(canon_to_id.size(), part.count());
          for (std::size_t o = 0; o < part.count(); ++o) EXPECT_EQ(part.sizes()[o], sizes[o]);
        }
}

// Π_E = (1/|G|) Σ_g ρ̄(g), with ρ̄(g) = EquivariantSubspace::act on g's action on the
// output and input sites, for random 2 × 3-channel layers.
TEST(PixelGroups, ProjectionEqualsHaarAverageOfLiftedAction) {
  Rng rng(2024);
  for (std::size_t N : {6u, 7u})
    for (const auto& k : pixel_kinds())
      for (const auto& [kin, kout] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 1}, {1, 0}, {0, 1}}) {
        SCOPED_TRACE(std::string(k.name) + " N=" + std::to_string(N) + " in " + std::to_string(kin) + " out " +
                     std::to_string(kout));
        const auto g = make_pixel_group(k, N);
        SubspaceCache cache(g);
        const auto sub = cache.hom(make_space(*g, 3, kin), make_space(*g, 2, kout));
        const std::size_t n = sub->ambient_dim();
        ASSERT_EQ(n, 2 * (kout ? N * N : 1) * 3 * (kin ? N * N : 1));
        std::vector<double> w(n);
        for (auto& x : w) x = rng.normal();

        const auto els = g->elements();
        std::vector<double> avg(n, 0.0), moved(n);
        for (const auto& e : els) {
          sub->act(e.on_tuples(kout), e.on_tuples(kin), w.data(), moved.data());
          for (std::size_t i = 0; i < n; ++i) avg[i] += moved[i];
        }
        for (auto& x : avg) x /= static_cast<double>(els.size());

        std::vector<double> pw = w;
        sub->project(pw.data());
        double err = 0, dist2 = 0, nrm = 0;
        for (std::size_t i = 0; i < n; ++i) {
          err = std::max(err, std::abs(pw[i] - avg[i]));
          dist2 += (w[i] - avg[i]) * (w[i] - avg[i]);
          nrm += avg[i] * avg[i];
        }
        EXPECT_LT(err, 1e-12);
        EXPECT_NEAR(sub->distance(w.data()), std::sqrt(dist2), 1e-12);
        EXPECT_GT(nrm, 0.0);
        // Fixed by every element (E = fixed points of ρ̄), and Π_E is idempotent.
        for (const auto& gen : g->generators()) {
          sub->act(gen.on_tuples(kout), gen.on_tuples(kin), pw.data(), moved.data());
          for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(moved[i], pw[i], 1e-12);
        }
        EXPECT_LT(sub->distance(pw.data()), 1e-12);
        // A random element moves a generic w (the action is not trivial), except when the
        // group acts trivially on both site sets.
        if (kin + kout > 0) {
          double moved_by = 0;
          for (const auto& gen : g->generators()) {
            sub->act(gen.on_tuples(kout), gen.on_tuples(kin), w.data(), moved.data());
            for (std::size_t i = 0; i < n; ++i) moved_by = std::max(moved_by, std::abs(moved[i] - w[i]));
          }
          EXPECT_GT(moved_by, 1e-3);
        }
      }
}

// sample() is Haar (uniform): 64000 draws, every element within 5σ of its expected count,
// and the χ² statistic within 5 standard deviations of its mean; the same seed repeats.
void check_uniform_sampling(const GroupPtr& g, std::size_t draws, std::uint64_t seed) {
  const auto els = g->elements();
  const std::size_t G = els.size();
  std::map<std::vector<std::uint32_t>, std::size_t> index;
  for (std::size_t i = 0; i < G; ++i) index[els[i].image()] = i;
  ASSERT_EQ(index.size(), G);
  std::vector<std::size_t> count(G, 0);
  std::vector<std::size_t> first_run;
  Rng rng(seed);
  for (std::size_t t = 0; t < draws; ++t) {
    const auto it = index.find(g->sample(rng).image());
    ASSERT_NE(it, index.end()) << "sample() returned a permutation outside the group";
    ++count[it->second];
    if (t < 500) first_run.push_back(it->second);
  }
  const double p = 1.0 / static_cast<double>(G);
  const double expect = static_cast<double>(draws) * p;
  const double sigma = std::sqrt(static_cast<double>(draws) * p * (1 - p));
  double chi2 = 0;
  for (std::size_t i = 0; i < G; ++i) {
    const double c = static_cast<double>(count[i]);
    EXPECT_LT(std::abs(c - expect), 5 * sigma) << "element " << i << " drawn " << count[i] << " times";
    chi2 += (c - expect) * (c - expect) / expect;
  }
  const double dof = static_cast<double>(G - 1);
  EXPECT_LT(std::abs(chi2 - dof), 5 * std::sqrt(2 * dof)) << "chi2 " << chi2 << " with " << dof << " dof";

  // Reproducible from the seed; another seed gives another sequence.
  Rng again(seed), other(seed + 1);
  bool differs = false;
  for (std::size_t t = 0; t < first_run.size(); ++t) {
    ASSERT_EQ(index.at(g->sample(again).image()), first_run[t]) << "draw " << t;
    differs |= index.at(g->sample(other).image()) != first_run[t];
  }
  EXPECT_TRUE(differs);
}

TEST(PixelGroups, HaarSamplingTransRotIsUniform) {
  const auto g = make_pixel_group(kind("translation_rotation"), 4);
  ASSERT_EQ(*g->order(), 64u);
  check_uniform_sampling(g, 64000, 7);
}

TEST(PixelGroups, HaarSamplingRotationIsUniform) {
  for (std::size_t N : {4u, 5u}) check_uniform_sampling(make_pixel_group(kind("rotation"), N), 64000, 8 + N);
}

TEST(PixelGroups, HaarSamplingShiftsAreUniform) {
  check_uniform_sampling(make_pixel_group(kind("translation2d"), 5), 25000, 21);
  check_uniform_sampling(make_pixel_group(kind("translation_x"), 6), 6000, 22);
}

}  // namespace
}  // namespace eqaug
