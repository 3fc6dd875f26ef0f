// Permutations and finite groups: the algebra every other module builds on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/core/rng.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug {
namespace {

Permutation random_perm(Rng& rng, std::uint32_t n) { return Permutation(rng.permutation(n)); }

TEST(GroupPermutation, ConstructorRejectsNonBijections) {
  EXPECT_THROW(Permutation({0, 0, 1}), Error);
  EXPECT_THROW(Permutation({0, 3, 1}), Error);
  EXPECT_NO_THROW(Permutation({2, 0, 1}));
}

TEST(GroupPermutation, ComposeMatchesDefinition) {
  const Permutation a({1, 2, 0, 3});    // 0→1, 1→2, 2→0
  const Permutation b({3, 1, 2, 0});    // swaps 0 and 3
  const Permutation ab = a.compose(b);  // a(b(i))
  EXPECT_EQ(ab.image(), (std::vector<std::uint32_t>{3, 2, 0, 1}));
  const Permutation ba = b.compose(a);  // b(a(i))
  EXPECT_EQ(ba.image(), (std::vector<std::uint32_t>{1, 2, 3, 0}));
  EXPECT_NE(ab, ba);
}

TEST(GroupPermutation, GroupLaws) {
  Rng rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(trial % 9);
    const Permutation a = random_perm(rng, n), b = random_perm(rng, n), c = random_perm(rng, n);
    const Permutation e = Permutation::identity(n);
    EXPECT_EQ(a.compose(e), a);
    EXPECT_EQ(e.compose(a), a);
    EXPECT_EQ(a.compose(a.inverse()), e);
    EXPECT_EQ(a.inverse().compose(a), e);
    EXPECT_EQ(a.compose(b).compose(c), a.compose(b.compose(c)));
    EXPECT_EQ(a.compose(b).inverse(), b.inverse().compose(a.inverse()));
    EXPECT_EQ(a.inverse().inverse(), a);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(a.inverse()(a(i)), i);
  }
  EXPECT_EQ(Permutation::identity(5).image(), (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

TEST(GroupPermutation, OnPairsMatchesHandComputedImages) {
  const Permutation g({1, 2, 0});  // 0→1, 1→2, 2→0
  const Permutation p = g.on_tuples(2);
  ASSERT_EQ(p.size(), 9u);
  // (i, j) at index 3i + j goes to (g i, g j).
  const std::vector<std::uint32_t> expected = {/*(0,0)→(1,1)*/ 4, /*(0,1)→(1,2)*/ 5, /*(0,2)→(1,0)*/ 3,
                                               /*(1,0)→(2,1)*/ 7, /*(1,1)→(2,2)*/ 8, /*(1,2)→(2,0)*/ 6,
                                               /*(2,0)→(0,1)*/ 1, /*(2,1)→(0,2)*/ 2, /*(2,2)→(0,0)*/ 0};
  EXPECT_EQ(p.image(), expected);

  const Permutation t({1, 0, 2});  // a transposition: (0,2) → (1,2) = 5, (2,0) → (2,1) = 7
  const Permutation pt = t.on_tuples(2);
  EXPECT_EQ(pt(0 * 3 + 2), 5u);
  EXPECT_EQ(pt(2 * 3 + 0), 7u);
  EXPECT_EQ(pt(0 * 3 + 1), 3u);  // (0,1) → (1,0)
  EXPECT_EQ(pt(2 * 3 + 2), 8u);  // fixed
}

TEST(GroupPermutation, OnTuplesOrdersZeroOneThree) {
  const Permutation g({2, 0, 3, 1});
  const Permutation p0 = g.on_tuples(0);
  EXPECT_EQ(p0.image(), (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(g.on_tuples(1), g);
  const Permutation p3 = g.on_tuples(3);
  ASSERT_EQ(p3.size(), 64u);
  for (std::uint32_t i = 0; i < 4; ++i)
    for (std::uint32_t j = 0; j < 4; ++j)
      for (std::uint32_t k = 0; k < 4; ++k) EXPECT_EQ(p3(i * 16 + j * 4 + k), g(i) * 16 + g(j) * 4 + g(k));
  EXPECT_EQ(tuple_count(4, 0), 1u);
  EXPECT_EQ(tuple_count(4, 3), 64u);
}

TEST(GroupPermutation, OnTuplesIsAHomomorphism) {
  Rng rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    const Permutation a = random_perm(rng, 5), b = random_perm(rng, 5);
    for (std::size_t k : {0, 1, 2, 3}) {
      EXPECT_EQ(a.compose(b).on_tuples(k), a.on_tuples(k).compose(b.on_tuples(k)));
      EXPECT_EQ(a.inverse().on_tuples(k), a.on_tuples(k).inverse());
    }
  }
}

std::uint64_t factorial(std::uint64_t n) { return n <= 1 ? 1 : n * factorial(n - 1); }

TEST(GroupSymmetric, OrderAndElements) {
  for (std::size_t n : {1, 2, 3, 4, 5}) {
    const auto g = symmetric_group(n);
    EXPECT_EQ(g->degree(), n);
    ASSERT_TRUE(g->order().has_value());
    EXPECT_EQ(*g->order(), factorial(n));
    const auto els = g->elements();
    EXPECT_EQ(els.size(), factorial(n));
    std::set<std::vector<std::uint32_t>> distinct;
    for (const auto& e : els) {
      EXPECT_EQ(e.size(), n);
      distinct.insert(e.image());
    }
    EXPECT_EQ(distinct.size(), factorial(n)) << "n = " << n;
  }
  EXPECT_EQ(*symmetric_group(20)->order(), 2432902008176640000ULL);
  EXPECT_FALSE(symmetric_group(21)->order().has_value());  // 21! overflows 64 bits
  EXPECT_THROW(symmetric_group(0), Error);
}

TEST(GroupSymmetric, GeneratorsGenerateTheWholeGroup) {
  for (std::size_t n : {2, 3, 4, 5}) {
    const auto s = symmetric_group(n);
    const auto g = generated_group("gen", s->generators());
    EXPECT_EQ(*g->order(), factorial(n)) << "n = " << n;
    // Same set of elements.
    std::set<std::vector<std::uint32_t>> a, b;
    for (const auto& e : s->elements()) a.insert(e.image());
    for (const auto& e : g->elements()) b.insert(e.image());
    EXPECT_EQ(a, b);
  }
}

TEST(GroupSymmetric, SampleIsUniform) {
  const auto g = symmetric_group(3);
  Rng rng = Rng::stream(2024, "test-uniform");
  std::map<std::vector<std::uint32_t>, int> counts;
  const int draws = 60000;
  for (int i = 0; i < draws; ++i) counts[g->sample(rng).image()]++;
  ASSERT_EQ(counts.size(), 6u);
  const double expected = draws / 6.0;
  const double sigma = std::sqrt(draws * (1.0 / 6.0) * (5.0 / 6.0));
  double chi2 = 0.0;
  for (const auto& [perm, c] : counts) {
    EXPECT_LT(std::abs(c - expected), 5.0 * sigma) << "count " << c;
    chi2 += (c - expected) * (c - expected) / expected;
  }
  // 5 degrees of freedom: P(chi2 > 30) ≈ 1.5e-5.
  EXPECT_LT(chi2, 30.0);
}

TEST(GroupSymmetric, SampleIsUniformForS4Positions) {
  // Each point is sent to each position with probability 1/4.
  const auto g = symmetric_group(4);
  Rng rng(77);
  std::vector<int> counts(16, 0);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) {
    const auto p = g->sample(rng);
    for (std::size_t k = 0; k < 4; ++k) counts[k * 4 + p(k)]++;
  }
  const double sigma = std::sqrt(draws * 0.25 * 0.75);
  for (int c : counts) EXPECT_LT(std::abs(c - draws / 4.0), 5 * sigma);
}

TEST(GroupGenerated, CyclicShiftOfSixPoints) {
  const Permutation shift({1, 2, 3, 4, 5, 0});
  const auto z6 = generated_group("Z_6", {shift});
  EXPECT_EQ(z6->name(), "Z_6");
  EXPECT_EQ(z6->degree(), 6u);
  EXPECT_EQ(*z6->order(), 6u);
  const auto els = z6->elements();
  ASSERT_EQ(els.size(), 6u);
  std::set<std::vector<std::uint32_t>> distinct;
  for (const auto& e : els) {
    distinct.insert(e.image());
    // Every element is a shift: g(i) = i + g(0) mod 6.
    for (std::uint32_t i = 0; i < 6; ++i) EXPECT_EQ(e(i), (i + e(0)) % 6);
  }
  EXPECT_EQ(distinct.size(), 6u);
  // Uniform sampling over the six shifts.
  Rng rng(3);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 30000; ++i) counts[z6->sample(rng)(0)]++;
  const double sigma = std::sqrt(30000 * (1.0 / 6) * (5.0 / 6));
  for (int c : counts) EXPECT_LT(std::abs(c - 5000.0), 5 * sigma);
}

TEST(GroupGenerated, DihedralGroupOfSquare) {
  const Permutation rot({1, 2, 3, 0}), flip({0, 3, 2, 1});
  EXPECT_EQ(*generated_group("D_4", {rot, flip})->order(), 8u);
  EXPECT_EQ(*generated_group("C_2", {flip})->order(), 2u);
}

TEST(GroupGenerated, RejectsBadGenerators) {
  EXPECT_THROW(generated_group("empty", {}), Error);
  EXPECT_THROW(generated_group("mixed", {Permutation::identity(3), Permutation::identity(4)}), Error);
}

TEST(GroupLimits, ElementsBeyondTheLimitThrow) {
  EXPECT_THROW(symmetric_group(5)->elements(119), Error);
  EXPECT_EQ(symmetric_group(5)->elements(120).size(), 120u);
  EXPECT_THROW(symmetric_group(25)->elements(), Error);  // order does not fit in 64 bits
  EXPECT_THROW(symmetric_group(12)->elements(), Error);  // 12! > 1e6 default limit
  const auto s5 = symmetric_group(5);
  EXPECT_THROW(generated_group("S5", s5->generators(), 100), Error);  // closure exceeds limit
  const auto g = generated_group("S5", s5->generators(), 120);
  EXPECT_EQ(*g->order(), 120u);
  EXPECT_THROW(g->elements(119), Error);
  EXPECT_EQ(g->elements(120).size(), 120u);
}

}  // namespace
}  // namespace eqaug
