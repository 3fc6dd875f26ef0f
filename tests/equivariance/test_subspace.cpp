// The equivariant subspace E: dimensions against the closed forms of docs/reference.mdΠ_E
// against the explicit Haar sum, and the orthonormal orbit coordinates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug {
namespace {

std::shared_ptr<const EquivariantSubspace> hom(SubspaceCache& cache, std::size_t cin, std::size_t kin, std::size_t cout,
                                               std::size_t kout) {
  const auto& g = *cache.group();
  return cache.hom(make_space(g, cin, kin), make_space(g, cout, kout));
}

std::vector<double> random_vec(Rng& rng, std::size_t n) {
  std::vector<double> v(n);
  for (auto& x : v) x = rng.normal();
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double norm(const std::vector<double>& a) { return std::sqrt(dot(a, a)); }
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

std::size_t bell(std::size_t n) {
  // Bell triangle.
  std::vector<std::size_t> row = {1};
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::size_t> next = {row.back()};
    for (auto x : row) next.push_back(next.back() + x);
    row = next;
  }
  return row.front();
}

TEST(EquivarianceDims, BellNumbersSanity) {
  EXPECT_EQ(bell(0), 1u);
  EXPECT_EQ(bell(1), 1u);
  EXPECT_EQ(bell(2), 2u);
  EXPECT_EQ(bell(3), 5u);
  EXPECT_EQ(bell(4), 15u);
  EXPECT_EQ(bell(5), 52u);
}

TEST(EquivarianceDims, SymmetricPairsToPairsHas15Orbits) {
  for (std::size_t n : {4, 5, 6}) {
    SubspaceCache cache(symmetric_group(n));
    const auto e = hom(cache, 1, 2, 1, 2);
    EXPECT_EQ(e->orbits().count(), 15u) << "n = " << n;
    EXPECT_EQ(e->dim(), 15u);
    EXPECT_EQ(e->ambient_dim(), n * n * n * n);
    // Orbit sizes add up to the number of site pairs.
    const auto& sizes = e->orbits().sizes();
    EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), n * n * n * n);
  }
  // Small n: orbits of 4-tuples are set partitions of 4 positions into at most n blocks:
  // n = 2: 1 + 7 = 8, n = 3: 1 + 7 + 6 = 14.
  SubspaceCache c2(symmetric_group(2)), c3(symmetric_group(3));
  EXPECT_EQ(hom(c2, 1, 2, 1, 2)->orbits().count(), 8u);
  EXPECT_EQ(hom(c3, 1, 2, 1, 2)->orbits().count(), 14u);
}

TEST(EquivarianceDims, SymmetricPairsToAndFromTrivial) {
  for (std::size_t n : {2, 4, 7}) {
    SubspaceCache cache(symmetric_group(n));
    EXPECT_EQ(hom(cache, 1, 2, 1, 0)->orbits().count(), 2u) << "n = " << n;
    EXPECT_EQ(hom(cache, 1, 0, 1, 2)->orbits().count(), 2u) << "n = " << n;
  }
}

TEST(EquivarianceDims, SymmetricTuplesGiveBellNumbers) {
  SubspaceCache cache(symmetric_group(5));
  const std::vector<std::pair<std::size_t, std::size_t>> cases = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 1},
                                                                  {1, 2}, {3, 1}, {2, 2}, {1, 3}, {3, 2}};
  for (const auto& [k, l] : cases) {
    const auto e = hom(cache, 1, k, 1, l);
    EXPECT_EQ(e->orbits().count(), bell(k + l)) << "k = " << k << ", l = " << l;
  }
  EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), 2u);
  EXPECT_EQ(hom(cache, 1, 2, 1, 1)->orbits().count(), 5u);
  EXPECT_EQ(hom(cache, 1, 3, 1, 2)->orbits().count(), 52u);
  EXPECT_EQ(hom(cache, 1, 0, 1, 0)->orbits().count(), 1u);
}

TEST(EquivarianceDims, DimCountsChannelPairs) {
  SubspaceCache cache(symmetric_group(4));
  const auto e = hom(cache, 2, 2, 3, 2);
  EXPECT_EQ(e->dim(), 3u * 2u * 15u);
  EXPECT_EQ(e->ambient_dim(), (3u * 16u) * (2u * 16u));
  const auto f = hom(cache, 3, 2, 2, 0);
  EXPECT_EQ(f->dim(), 2u * 3u * 2u);
  EXPECT_EQ(f->ambient_dim(), 2u * (3u * 16u));
  EXPECT_EQ(make_space(*cache.group(), 3, 2).dim(), 48u);
  EXPECT_THROW(make_space(*cache.group(), 0, 2), Error);
}

TEST(EquivarianceDims, CacheSharesPartitions) {
  SubspaceCache cache(symmetric_group(4));
  const auto a = hom(cache, 1, 2, 3, 2), b = hom(cache, 2, 2, 5, 2);
  EXPECT_EQ(&a->orbits(), &b->orbits());
  const auto c = hom(cache, 1, 2, 3, 0);
  EXPECT_NE(&a->orbits(), &c->orbits());
}

// Translations, rotations (docs/reference.md's known dimensions).
std::vector<std::uint32_t> pixel_map(std::size_t N, auto f) {
  std::vector<std::uint32_t> img(N * N);
  for (std::size_t r = 0; r < N; ++r)
    for (std::size_t c = 0; c < N; ++c) {
      const auto [r2, c2] = f(r, c);
      img[r * N + c] = static_cast<std::uint32_t>(r2 * N + c2);
    }
  return img;
}

TEST(EquivarianceDims, CyclicGroupOnPointsGivesCircularConvolutions) {
  const std::size_t N = 5;
  std::vector<std::uint32_t> shift(N);
  for (std::size_t i = 0; i < N; ++i) shift[i] = static_cast<std::uint32_t>((i + 1) % N);
  SubspaceCache cache(generated_group("Z_5", {Permutation(shift)}));
  EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), N);
  EXPECT_EQ(hom(cache, 1, 1, 1, 0)->orbits().count(), 1u);
  EXPECT_EQ(hom(cache, 1, 0, 1, 1)->orbits().count(), 1u);
  // Circulant: orbit of (s_o, s_i) depends only on s_o − s_i mod N.
  const auto e = hom(cache, 1, 1, 1, 1);
  const auto& orb = e->orbits().orbit_of();
  for (std::size_t so = 0; so < N; ++so)
    for (std::size_t si = 0; si < N; ++si) EXPECT_EQ(orb[so * N + si], orb[((so + N - si) % N) * N + 0]);
}

TEST(EquivarianceDims, PixelGroups) {
  const std::size_t N = 4;
  const Permutation sx(pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{r, (c + 1) % N}; }));
  const Permutation sy(pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{(r + 1) % N, c}; }));
  const Permutation rot(pixel_map(N, [&](std::size_t r, std::size_t c) { return std::pair{c, N - 1 - r}; }));
  {
    SubspaceCache cache(generated_group("Z_N^2", {sx, sy}));
    EXPECT_EQ(*cache.group()->order(), N * N);
    EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), N * N);
    EXPECT_EQ(hom(cache, 1, 1, 1, 0)->orbits().count(), 1u);
  }
  {
    SubspaceCache cache(generated_group("Z_N", {sx}));
    EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), N * N * N);
    EXPECT_EQ(hom(cache, 1, 1, 1, 0)->orbits().count(), N);
  }
  {
    SubspaceCache cache(generated_group("C_4", {rot}));
    EXPECT_EQ(*cache.group()->order(), 4u);
    EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), N * N * N * N / 4);
    EXPECT_EQ(hom(cache, 1, 1, 1, 0)->orbits().count(), N * N / 4);
  }
  {
    SubspaceCache cache(generated_group("C_4 x| Z_N^2", {rot, sx}));
    EXPECT_EQ(*cache.group()->order(), 4 * N * N);
    EXPECT_EQ(hom(cache, 1, 1, 1, 1)->orbits().count(), (N * N + 8) / 4);
    EXPECT_EQ(hom(cache, 1, 1, 1, 0)->orbits().count(), 1u);
  }
}

TEST(EquivarianceProjection, IdempotentAndSelfAdjoint) {
  SubspaceCache cache(symmetric_group(5));
  Rng rng(1);
  for (const auto& e :
       {hom(cache, 2, 2, 3, 2), hom(cache, 3, 2, 2, 0), hom(cache, 2, 0, 2, 2), hom(cache, 2, 1, 3, 2)}) {
    const std::size_t D = e->ambient_dim();
    auto u = random_vec(rng, D), v = random_vec(rng, D);
    auto pu = u, pv = v;
    e->project(pu.data());
    e->project(pv.data());
    auto ppu = pu;
    e->project(ppu.data());
    EXPECT_LT(max_abs_diff(ppu, pu), 1e-12);
    EXPECT_NEAR(dot(pu, v), dot(u, pv), 1e-12 * norm(u) * norm(v));
    // Orthogonal projection: u − Πu ⟂ Πv.
    std::vector<double> r(D);
    for (std::size_t i = 0; i < D; ++i) r[i] = u[i] - pu[i];
    EXPECT_LT(std::abs(dot(r, pv)), 1e-12 * norm(u) * norm(v));
    // A proper projection (strictly shrinks a random vector).
    EXPECT_LT(norm(pu), 0.9 * norm(u));
    EXPECT_GT(norm(pu), 0.0);
  }
}

// Π_E W = (1/|G|) Σ_g ρ̄(g) W, with ρ̄(g) applied entry-wise by act().
void check_haar_average(std::size_t n, std::size_t cin, std::size_t kin, std::size_t cout, std::size_t kout,
                        std::uint64_t seed) {
  const auto group = symmetric_group(n);
  SubspaceCache cache(group);
  const auto e = hom(cache, cin, kin, cout, kout);
  Rng rng(seed);
  const auto w = random_vec(rng, e->ambient_dim());
  std::vector<double> avg(w.size(), 0.0), tmp(w.size());
  const auto els = group->elements();
  for (const auto& g : els) {
    e->act(g.on_tuples(kout), g.on_tuples(kin), w.data(), tmp.data());
    for (std::size_t i = 0; i < w.size(); ++i) avg[i] += tmp[i];
  }
  for (auto& x : avg) x /= static_cast<double>(els.size());
  auto pw = w;
  e->project(pw.data());
  EXPECT_LT(max_abs_diff(avg, pw), 1e-12) << "n=" << n << " " << kin << "->" << kout;
  // Π_E W is a fixed point of every ρ̄(g).
  for (const auto& g : els) {
    e->act(g.on_tuples(kout), g.on_tuples(kin), pw.data(), tmp.data());
    ASSERT_LT(max_abs_diff(tmp, pw), 1e-15);
  }
  // And W itself is not (the check can fail).
  e->act(els[1].on_tuples(kout), els[1].on_tuples(kin), w.data(), tmp.data());
  EXPECT_GT(max_abs_diff(tmp, w), 1e-3);
}

TEST(EquivarianceProjection, EqualsHaarAverageS4) {
  check_haar_average(4, 2, 2, 3, 2, 10);
  check_haar_average(4, 2, 2, 3, 0, 11);
  check_haar_average(4, 3, 0, 2, 2, 12);
  check_haar_average(4, 2, 1, 2, 2, 13);
}

TEST(EquivarianceProjection, EqualsHaarAverageS5) {
  check_haar_average(5, 2, 2, 3, 2, 20);
  check_haar_average(5, 2, 2, 3, 0, 21);
}

TEST(EquivarianceProjection, EqualsHaarAverageFloat) {
  const auto group = symmetric_group(4);
  SubspaceCache cache(group);
  const auto e = hom(cache, 2, 2, 2, 2);
  Rng rng(4);
  std::vector<float> w(e->ambient_dim()), tmp(w.size());
  for (auto& x : w) x = static_cast<float>(rng.normal());
  std::vector<double> avg(w.size(), 0.0);
  for (const auto& g : group->elements()) {
    e->act(g.on_tuples(2), g.on_tuples(2), w.data(), tmp.data());
    for (std::size_t i = 0; i < w.size(); ++i) avg[i] += tmp[i];
  }
  auto pw = w;
  e->project(pw.data());
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(pw[i], avg[i] / 24.0, 1e-6);
  EXPECT_LT(e->distance(pw.data()), 1e-5);
}

TEST(EquivarianceProjection, ActMatchesDefinition) {
  // out[g·s_o, g·s_i] = w[s_o, s_i] in every channel pair, layout ((co·So + so)·Ci + ci)·Si + si.
  const auto group = symmetric_group(3);
  SubspaceCache cache(group);
  const auto e = hom(cache, 2, 2, 2, 1);  // So = 3, Si = 9, Ci = Co = 2
  const Permutation g({2, 0, 1});
  const auto go = g.on_tuples(1), gi = g.on_tuples(2);
  std::vector<double> w(e->ambient_dim()), out(w.size());
  std::iota(w.begin(), w.end(), 0.0);
  e->act(go, gi, w.data(), out.data());
  for (std::size_t co = 0; co < 2; ++co)
    for (std::size_t so = 0; so < 3; ++so)
      for (std::size_t ci = 0; ci < 2; ++ci)
        for (std::size_t si = 0; si < 9; ++si)
          EXPECT_EQ(out[((co * 3 + go(so)) * 2 + ci) * 9 + gi(si)], w[((co * 3 + so) * 2 + ci) * 9 + si]);
}

TEST(EquivarianceCoords, NormsRoundTripAndOrthonormality) {
  SubspaceCache cache(symmetric_group(4));
  Rng rng(8);
  for (const auto& e : {hom(cache, 2, 2, 3, 2), hom(cache, 3, 2, 2, 0), hom(cache, 1, 0, 2, 2)}) {
    const std::size_t D = e->ambient_dim(), K = e->dim();
    const auto w = random_vec(rng, D);
    auto pw = w;
    e->project(pw.data());
    std::vector<double> c(K), cp(K);
    e->to_coords(w.data(), c.data());
    e->to_coords(pw.data(), cp.data());
    // Coordinates see only the E-part.
    EXPECT_LT(max_abs_diff(c, cp), 1e-12);
    EXPECT_NEAR(norm(c), norm(pw), 1e-12 * norm(pw));
    std::vector<double> back(D, 123.0);
    e->from_coords(c.data(), back.data());
    EXPECT_LT(max_abs_diff(back, pw), 1e-12);
    // Orthonormal basis: to_coords(from_coords(e_k)) = e_k, and ‖from_coords(e_k)‖ = 1.
    std::vector<double> ek(K, 0.0), bk(D), ck(K);
    for (std::size_t k = 0; k < K; ++k) {
      std::fill(ek.begin(), ek.end(), 0.0);
      ek[k] = 1.0;
      e->from_coords(ek.data(), bk.data());
      EXPECT_NEAR(norm(bk), 1.0, 1e-12);
      e->to_coords(bk.data(), ck.data());
      ASSERT_LT(max_abs_diff(ck, ek), 1e-12) << "k = " << k;
    }
  }
}

TEST(EquivarianceCoords, DistanceMatchesHandComputation) {
  SubspaceCache cache(symmetric_group(4));
  Rng rng(9);
  for (const auto& e : {hom(cache, 2, 2, 3, 2), hom(cache, 3, 2, 2, 0)}) {
    auto w = random_vec(rng, e->ambient_dim());
    auto pw = w;
    e->project(pw.data());
    double d2 = 0;
    for (std::size_t i = 0; i < w.size(); ++i) d2 += (w[i] - pw[i]) * (w[i] - pw[i]);
    EXPECT_NEAR(e->distance(w.data()), std::sqrt(d2), 1e-12 * std::sqrt(d2));
    EXPECT_GT(e->distance(w.data()), 1.0);
    EXPECT_LT(e->distance(pw.data()), 1e-13);
    // Pythagoras: ‖W‖² = ‖Π W‖² + dist².
    EXPECT_NEAR(dot(w, w), dot(pw, pw) + d2, 1e-10 * dot(w, w));
    // Small distances keep their digits: W = Π W + 1e-9·(unit vector ⟂ E).
    std::vector<double> r(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) r[i] = w[i] - pw[i];
    const double rn = norm(r);
    auto near = pw;
    for (std::size_t i = 0; i < w.size(); ++i) near[i] += 1e-9 * r[i] / rn;
    EXPECT_NEAR(e->distance(near.data()), 1e-9, 1e-15);
  }
}

TEST(EquivarianceCoords, DistanceByHandOnTinyLayer) {
  // S_2 on points → trivial, one channel each: orbit {(0,0),(0,1)} only, so E = constant rows.
  SubspaceCache cache(symmetric_group(2));
  const auto e = hom(cache, 1, 1, 1, 0);
  ASSERT_EQ(e->dim(), 1u);
  const std::vector<double> w = {1.0, 4.0};
  EXPECT_NEAR(e->distance(w.data()), std::sqrt(2 * 1.5 * 1.5), 1e-15);
  double c = 0;
  e->to_coords(w.data(), &c);
  EXPECT_NEAR(c, 5.0 / std::sqrt(2.0), 1e-15);
  auto pw = w;
  e->project(pw.data());
  EXPECT_DOUBLE_EQ(pw[0], 2.5);
  EXPECT_DOUBLE_EQ(pw[1], 2.5);
}

}  // namespace
}  // namespace eqaug

namespace eqaug {

// Layers of the image models' size take the multi-threaded path: the same Π_E and
// distance as a plain computation.
TEST(SubspaceLarge, ParallelProjectionAndDistanceMatchThePlainComputation) {
  const auto g = pixel_group({8, true, true, false});
  SubspaceCache cache(g);
  const auto sub = cache.hom(make_space(*g, 33, 1), make_space(*g, 32, 1));
  ASSERT_GE(sub->ambient_dim(), std::size_t{1} << 22);
  std::vector<double> w(sub->ambient_dim());
  Rng rng(4);
  for (auto& x : w) x = rng.normal();
  // Plain: orbit means per channel pair.
  const auto& orbit = sub->orbits().orbit_of();
  const std::size_t K = sub->orbits().count(), S = 64, Ci = 33, Co = 32;
  std::vector<double> mean(Co * Ci * K, 0.0);
  for (std::size_t co = 0; co < Co; ++co)
    for (std::size_t so = 0; so < S; ++so)
      for (std::size_t ci = 0; ci < Ci; ++ci)
        for (std::size_t si = 0; si < S; ++si)
          mean[(co * Ci + ci) * K + orbit[so * S + si]] += w[((co * S + so) * Ci + ci) * S + si] / 64.0;
  double d2 = 0;
  std::vector<double> p(w);
  sub->project(p.data());
  double worst = 0;
  for (std::size_t co = 0; co < Co; ++co)
    for (std::size_t so = 0; so < S; ++so)
      for (std::size_t ci = 0; ci < Ci; ++ci)
        for (std::size_t si = 0; si < S; ++si) {
          const std::size_t i = ((co * S + so) * Ci + ci) * S + si;
          const double m = mean[(co * Ci + ci) * K + orbit[so * S + si]];
          d2 += (w[i] - m) * (w[i] - m);
          worst = std::max(worst, std::abs(p[i] - m));
        }
  EXPECT_LT(worst, 1e-12);
  EXPECT_NEAR(sub->distance(w.data()), std::sqrt(d2), 1e-9 * std::sqrt(d2));
  EXPECT_LT(sub->distance(p.data()), 1e-9);
}

}  // namespace eqaug
