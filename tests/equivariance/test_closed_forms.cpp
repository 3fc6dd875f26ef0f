// The closed forms of dim E (SPEC §2, paper App. E) against the orbit computation.
#include <gtest/gtest.h>

#include "eqaug/equivariance/closed_forms.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/group.hpp"

namespace eqaug {
namespace {

TEST(ClosedForms, BellNumbers) {
  const std::size_t want[] = {1, 1, 2, 5, 15, 52, 203, 877};
  for (std::size_t m = 0; m < 8; ++m) EXPECT_EQ(bell_number(m), want[m]) << m;
}

TEST(ClosedForms, MatchTheOrbitCountsOfEveryGroupFamily) {
  using K = GroupFamily::Kind;
  for (std::size_t n = 4; n <= 6; ++n) {
    const auto g = symmetric_group(n);
    for (std::size_t out = 0; out <= 2; ++out)
      for (std::size_t in = 0; in <= 2; ++in) {
        const auto want = closed_form_orbits({K::Symmetric, n}, out, in);
        ASSERT_TRUE(want.has_value());
        EXPECT_EQ(OrbitPartition(*g, out, in).count(), *want) << "S_" << n << " " << out << "->" << in;
      }
  }
  // S_3 on pairs → pairs: n < k + l, no closed form.
  EXPECT_FALSE(closed_form_orbits({K::Symmetric, 3}, 2, 2).has_value());
  const std::pair<K, PixelGroupSpec> families[] = {
      {K::Translation2D, {0, true, true, false}},
      {K::TranslationX, {0, true, false, false}},
      {K::Rotation, {0, false, false, true}},
      {K::TranslationRotation, {0, true, true, true}},
  };
  for (std::size_t N = 3; N <= 7; ++N)
    for (auto [kind, spec] : families) {
      spec.side = N;
      const auto g = pixel_group(spec);
      for (std::size_t out = 0; out <= 1; ++out)
        for (std::size_t in = 0; in <= 1; ++in) {
          const auto want = closed_form_orbits({kind, N}, out, in);
          ASSERT_TRUE(want.has_value());
          EXPECT_EQ(OrbitPartition(*g, out, in).count(), *want) << g->name() << " " << out << "->" << in;
        }
      EXPECT_FALSE(closed_form_orbits({kind, N}, 2, 1).has_value());
    }
  EXPECT_FALSE(group_family("mirror", 3).has_value());
  EXPECT_EQ(group_family("translation_x", 5)->kind, K::TranslationX);
}

}  // namespace
}  // namespace eqaug
