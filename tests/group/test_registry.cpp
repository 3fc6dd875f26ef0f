// The group kinds of a configuration: closed forms of dim E (paper App. E, and Burnside's
// lemma for the mirror groups) against the orbit computation, the reflection groups'
// structure, and generated groups against the built-in kinds they reproduce.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "eqaug/core/error.hpp"
#include "eqaug/equivariance/subspace.hpp"
#include "eqaug/group/registry.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

TEST(GroupRegistry, BellNumbers) {
  const std::size_t want[] = {1, 1, 2, 5, 15, 52, 203, 877};
  for (std::size_t m = 0; m < 8; ++m) EXPECT_EQ(bell_number(m), want[m]) << m;
}

TEST(GroupRegistry, ClosedFormsMatchTheOrbitCountsOfEveryKind) {
  const auto& sym = group_kind("symmetric");
  for (std::size_t n = 4; n <= 6; ++n) {
    const json g = {{"kind", "symmetric"}, {"n", n}};
    const auto group = sym.build(g);
    for (std::size_t out = 0; out <= 2; ++out)
      for (std::size_t in = 0; in <= 2; ++in) {
        const auto want = sym.closed_form(g, out, in);
        ASSERT_TRUE(want.has_value());
        EXPECT_EQ(OrbitPartition(*group, out, in).count(), *want) << "S_" << n << " " << out << "->" << in;
      }
  }
  // S_3 on pairs → pairs: n < k + l, no closed form.
  EXPECT_FALSE(sym.closed_form(json{{"kind", "symmetric"}, {"n", 3}}, 2, 2).has_value());
  std::size_t pixel_kinds = 0;
  for (const auto& kind : group_kinds()) {
    if (kind.name == "symmetric" || kind.name == "generated") continue;
    ++pixel_kinds;
    for (std::size_t N = 1; N <= 7; ++N) {
      const json g = {{"kind", kind.name}, {"side", N}};
      EXPECT_EQ(kind.base(g), BasePoints::Pixels);
      const auto group = kind.build(g);
      for (std::size_t out = 0; out <= 1; ++out)
        for (std::size_t in = 0; in <= 1; ++in) {
          const auto want = kind.closed_form(g, out, in);
          ASSERT_TRUE(want.has_value()) << kind.name;
          EXPECT_EQ(OrbitPartition(*group, out, in).count(), *want)
              << kind.name << " N = " << N << " " << out << "->" << in;
        }
      EXPECT_FALSE(kind.closed_form(g, 2, 1).has_value());
    }
  }
  EXPECT_EQ(pixel_kinds, 7u);
  EXPECT_THROW(group_kind("mirror"), Error);
}

// The closed forms by hand for side 14 (the paper's image side) and 8 (the small presets).
TEST(GroupRegistry, ReflectionGroupDimensionsByHand) {
  auto pairs = [](const char* kind, std::size_t N) {
    return *group_kind(kind).closed_form(json{{"kind", kind}, {"side", N}}, 1, 1);
  };
  EXPECT_EQ(pairs("flip", 14), 14u * 14 * 14 * 14 / 2);          // no pixel is fixed
  EXPECT_EQ(pairs("dihedral", 14), (38416u + 2 * 196) / 8);      // diagonal mirrors fix 14 pixels
  EXPECT_EQ(pairs("dihedral_translation", 14), (196u + 84 + 8) / 8);  // 36 offset orbits
  EXPECT_EQ(pairs("dihedral_translation", 8), 15u);
  EXPECT_EQ(pairs("flip", 3), (81u + 9) / 2);
}

TEST(GroupRegistry, ReflectionGroupsHaveTheirOrderAndMirrorPixels) {
  for (const auto& [kind, order] :
       std::vector<std::pair<std::string, std::uint64_t>>{{"flip", 2}, {"dihedral", 8}, {"dihedral_translation", 200}}) {
    const auto g = group_kind(kind).build(json{{"kind", kind}, {"side", 5}});
    EXPECT_EQ(g->order(), order) << kind;
    const auto els = g->elements();
    std::set<std::vector<std::uint32_t>> distinct;
    for (const auto& e : els) distinct.insert(e.image());
    EXPECT_EQ(distinct.size(), order) << kind << ": elements are distinct for N = 5";
    // The mirror (row, col) ↦ (row, 4 − col) is an element of each.
    std::vector<std::uint32_t> mirror(25);
    for (std::uint32_t r = 0; r < 5; ++r)
      for (std::uint32_t c = 0; c < 5; ++c) mirror[r * 5 + c] = r * 5 + (4 - c);
    EXPECT_TRUE(distinct.count(mirror)) << kind;
    // Haar sampling draws each element about equally often.
    Rng rng(7);
    std::map<std::vector<std::uint32_t>, int> hits;
    const int draws = 400 * static_cast<int>(order);
    for (int i = 0; i < draws; ++i) ++hits[g->sample(rng).image()];
    EXPECT_EQ(hits.size(), order);
    for (const auto& [p, n] : hits) EXPECT_NEAR(n, 400, 4 * 20) << kind;  // 4 standard errors
  }
}

json generated_from(const FiniteGroup& g, std::size_t side) {
  json gens = json::array();
  for (const auto& p : g.generators()) gens.push_back(p.image());
  return {{"kind", "generated"}, {"acts_on", "pixels"}, {"side", side}, {"generators", gens}};
}

TEST(GroupRegistry, GeneratedGroupsReproduceTheBuiltInKinds) {
  for (const char* kind : {"flip", "dihedral", "dihedral_translation", "translation_rotation"}) {
    const json spec = {{"kind", kind}, {"side", 6}};
    const auto builtin = group_kind(kind).build(spec);
    const json gen = generated_from(*builtin, 6);
    const auto generated = group_kind("generated").build(gen);
    EXPECT_EQ(generated->order(), builtin->order()) << kind;
    for (std::size_t out = 0; out <= 1; ++out)
      for (std::size_t in = 0; in <= 1; ++in) {
        const OrbitPartition a(*builtin, out, in), b(*generated, out, in);
        EXPECT_EQ(a.count(), b.count()) << kind;
        EXPECT_EQ(a.orbit_of(), b.orbit_of()) << kind << ": the same orbits, numbered alike";
      }
  }
}

TEST(GroupRegistry, GeneratedGroupsOnNodes) {
  // S_4 from a transposition and a 4-cycle, on graph nodes.
  const json g = {{"kind", "generated"}, {"acts_on", "nodes"}, {"generators", {{1, 0, 2, 3}, {1, 2, 3, 0}}}};
  const auto& kind = group_kind("generated");
  EXPECT_EQ(kind.base(g), BasePoints::Nodes);
  const auto group = kind.build(g);
  EXPECT_EQ(group->order(), 24u);
  EXPECT_EQ(group->degree(), 4u);
  EXPECT_EQ(OrbitPartition(*group, 2, 2).count(), 15u);  // Bell(4), as S_4's closed form
  EXPECT_FALSE(kind.closed_form(g, 2, 2).has_value());
}

}  // namespace
}  // namespace eqaug
