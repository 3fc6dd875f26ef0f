// Lemma 3 on the image presets (configs/trans.toml, rot.toml, groups.toml), loaded the
// way `eqaug run <preset> --scale small` loads them and shrunk further for speed: at a
// point of E the network is invariant (Trans, Groups) or equivariant (Rot, both mask
// channels) under ρ_X(g), x'[c, π(s)] = x[c, s] with π = g.on_tuples(order), the engine's
// convention; off E it is not. And for any A: Φ_A(ρ_X(g)x) = ρ_Y(g) Φ_{ρ̄(g)^{-1}A}(x).
#include <gtest/gtest.h>

#include "../support/image_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/core/rng.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/nn/model.hpp"

namespace eqaug {
namespace {

using nlohmann::json;
using testing::permute_sites;

/// A preset at its small scale, with a smaller image and narrower hidden layers.
json small_preset(const std::string& preset) {
  const auto path = io::find_config(preset);
  return io::apply_scale(io::load_toml(path), "small", path.string());
}

/// Side `side`; every linear layer but the last gets `hidden` channels (the last keeps
/// the classes or the two masks).
json shrink(json j, std::size_t side, std::size_t hidden) {
  j["group"]["side"] = side;
  auto& layers = j["model"]["layers"];
  std::size_t last = 0;
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i]["type"] == "linear") last = i;
  for (std::size_t i = 0; i < last; ++i)
    if (layers[i]["type"] == "linear") layers[i]["channels"] = hidden;
  j["data"]["samples"] = 10;
  return j;
}

struct Built {
  io::ExperimentConfig cfg;
  GroupPtr group;
  std::unique_ptr<ModelSpec> spec;
};

Built build(const json& j, const std::string& source) {
  Built b;
  b.cfg = io::resolve(j, source);
  b.group = io::build_group(b.cfg);
  b.spec = io::build_model(b.cfg, b.group);
  return b;
}

std::vector<double> random_images(Rng& rng, std::size_t n) {
  std::vector<double> x(n);
  for (auto& v : x) v = rng.uniform() - 0.5;  // pixels in [0,1] shifted by −0.5
  return x;
}

/// max over entries of |got − want| / (largest |want| of the same sample).
double max_rel_diff(const std::vector<double>& got, const std::vector<double>& want, std::size_t batch) {
  EXPECT_EQ(got.size(), want.size());
  const std::size_t per = want.size() / batch;
  double worst = 0;
  for (std::size_t b = 0; b < batch; ++b) {
    double scale = 0;
    for (std::size_t i = 0; i < per; ++i) scale = std::max(scale, std::abs(want[b * per + i]));
    for (std::size_t i = 0; i < per; ++i)
      worst = std::max(worst, std::abs(got[b * per + i] - want[b * per + i]) / std::max(scale, 1e-300));
  }
  return worst;
}

/// The group elements to try: several Haar draws and every generator (so that a
/// non-identity element is always among them).
std::vector<Permutation> test_elements(const FiniteGroup& g, Rng& rng) {
  std::vector<Permutation> out = g.generators();
  for (int k = 0; k < 5; ++k) out.push_back(g.sample(rng));
  return out;
}

/// ρ_Y(g) applied to the network output (identity on the trivial site).
std::vector<double> move_output(const ModelSpec& spec, const Permutation& g, const std::vector<double>& y,
                                std::size_t batch) {
  const Space& out = spec.output();
  return permute_sites(g.on_tuples(out.order), y, batch, out.channels);
}

/// The Lemma 3 checks for one resolved configuration.
void check_lemma3(const Built& b, std::uint64_t seed, bool invariant_task) {
  const ModelSpec& spec = *b.spec;
  const FiniteGroup& g = *b.group;
  ASSERT_EQ(spec.input().channels, 1u);
  ASSERT_EQ(spec.input().order, 1u);
  if (invariant_task) {
    ASSERT_EQ(spec.output().order, 0u) << "Trans-shaped models end at the trivial site";
    ASSERT_EQ(spec.output().channels, 10u);
  } else {
    ASSERT_EQ(spec.output().order, 1u) << "Rot-shaped models end on the pixels";
    ASSERT_EQ(spec.output().channels, 2u) << "two masks";
  }
  Rng rng(seed);
  const std::size_t B = 4;
  const std::size_t S = spec.input().sites;
  ASSERT_EQ(S, g.degree());
  Network<double> net(spec);

  const std::vector<double> a = spec.draw_init(rng);  // off E
  std::vector<double> pa = a;
  spec.project(pa.data());
  double off = 0;
  for (double d : spec.distance_to_E(a.data())) off += d * d;
  ASSERT_GT(std::sqrt(off), 1e-3) << "the drawn point should not lie in E";
  double on = 0;
  for (double d : spec.distance_to_E(pa.data())) on += d * d;
  ASSERT_LT(std::sqrt(on), 1e-12);

  // The structured Equi evaluation of the same point of E (orbit coordinates).
  Network<double> equi(spec, Parametrisation::Equivariant);
  const std::vector<double> coords = spec.to_coords(pa.data());
  ASSERT_EQ(coords.size(), spec.dim_E());

  double off_E_change = 0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto x = random_images(rng, B * S);
    const auto y = net.predict(pa.data(), x.data(), B);
    const auto y_off = net.predict(a.data(), x.data(), B);
    ASSERT_EQ(y.size(), B * spec.output().dim());
    for (double v : y) ASSERT_TRUE(std::isfinite(v));
    EXPECT_LT(max_rel_diff(equi.predict(coords.data(), x.data(), B), y, B), 1e-10)
        << "structured evaluation in E differs from the dense one";

    for (const auto& e : test_elements(g, rng)) {
      const auto gx = permute_sites(e.on_tuples(1), x, B, 1);
      // At A ∈ E: Φ_A(ρ_X(g)x) = ρ_Y(g) Φ_A(x).
      const auto lhs = net.predict(pa.data(), gx.data(), B);
      const auto want = move_output(spec, e, y, B);
      EXPECT_LT(max_rel_diff(lhs, want, B), 1e-10) << (invariant_task ? "not invariant" : "not equivariant");
      EXPECT_LT(max_rel_diff(equi.predict(coords.data(), gx.data(), B), want, B), 1e-10)
          << "structured evaluation not " << (invariant_task ? "invariant" : "equivariant");
      // For any A: Φ_A(ρ_X(g)x) = ρ_Y(g) Φ_{ρ̄(g)^{-1}A}(x).
      const auto lhs_off = net.predict(a.data(), gx.data(), B);
      const auto ainv = spec.act(e.inverse(), a);
      const auto rhs_off = move_output(spec, e, net.predict(ainv.data(), x.data(), B), B);
      EXPECT_LT(max_rel_diff(lhs_off, rhs_off, B), 1e-10) << "Lemma 3 off E";
      // Off E the network is not invariant/equivariant.
      const auto want_off = move_output(spec, e, y_off, B);
      for (std::size_t i = 0; i < lhs_off.size(); ++i)
        off_E_change = std::max(off_E_change, std::abs(lhs_off[i] - want_off[i]));
    }
  }
  EXPECT_GT(off_E_change, 1e-6) << "an off-E network should not be " << (invariant_task ? "invariant" : "equivariant");
}

// ---------------------------------------------------------------------------------------

TEST(Lemma3Presets, PresetsLoadAtSmallScale) {
  const json t = small_preset("trans"), r = small_preset("rot"), gr = small_preset("groups");
  EXPECT_EQ(t["group"]["kind"], "translation2d");
  EXPECT_EQ(r["group"]["kind"], "rotation");
  EXPECT_EQ(t["group"]["side"], 8);
  EXPECT_EQ(r["group"]["side"], 8);
  EXPECT_EQ(t["scale"], "small");
  EXPECT_FALSE(t.contains("scales"));
  // Unshrunk small presets resolve and build too.
  for (const auto& [name, j] : std::vector<std::pair<std::string, json>>{{"trans", t}, {"rot", r}}) {
    const Built b = build(j, name);
    EXPECT_EQ(b.group->degree(), 64u) << name;
    EXPECT_EQ(b.spec->weight_layers().size(), 4u) << name;
  }
  const auto members = io::study_members(gr, "groups");
  ASSERT_EQ(members.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> want = {{"trans", "translation2d"},
                                                                 {"rot", "rotation"},
                                                                 {"onedtrans", "translation_x"},
                                                                 {"transrot", "translation_rotation"}};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(members[i].name, want[i].first);
    EXPECT_EQ(members[i].json["group"]["kind"], want[i].second);
    EXPECT_EQ(members[i].json["group"]["side"], 8);
  }
}

TEST(Lemma3Presets, TransIsInvariantOnE) {
  for (std::size_t side : {6u, 5u}) {
    SCOPED_TRACE("side " + std::to_string(side));
    const Built b = build(shrink(small_preset("trans"), side, 4), "trans");
    EXPECT_EQ(*b.group->order(), side * side);
    check_lemma3(b, 100 + side, true);
  }
}

TEST(Lemma3Presets, RotIsEquivariantOnEBothMasks) {
  for (std::size_t side : {6u, 5u}) {
    SCOPED_TRACE("side " + std::to_string(side));
    const Built b = build(shrink(small_preset("rot"), side, 3), "rot");
    EXPECT_EQ(*b.group->order(), 4u);
    ASSERT_EQ(b.spec->loss_kind(), LossKind::BCE);
    check_lemma3(b, 200 + side, false);
  }
}

TEST(Lemma3Presets, GroupsMembersAreInvariantOnE) {
  const auto members = io::study_members(small_preset("groups"), "groups");
  ASSERT_EQ(members.size(), 4u);
  for (const auto& m : members) {
    for (std::size_t side : {6u, 5u}) {
      SCOPED_TRACE(m.name + " side " + std::to_string(side));
      const Built b = build(shrink(m.json, side, 4), "groups-" + m.name);
      ASSERT_EQ(b.spec->loss_kind(), LossKind::CrossEntropy);
      const std::uint64_t N = side;
      const std::uint64_t want = m.name == "trans"       ? N * N
                                 : m.name == "rot"       ? 4
                                 : m.name == "onedtrans" ? N
                                                         : 4 * N * N;
      EXPECT_EQ(*b.group->order(), want);
      check_lemma3(b, 300 + side + 7 * (&m - members.data()), true);
    }
  }
}

// A Rot-shaped network is equivariant, not invariant: on E its mask outputs move with
// the input (so comparing them unmoved would fail for a quarter turn).
TEST(Lemma3Presets, RotOutputsMoveWithTheInput) {
  const Built b = build(shrink(small_preset("rot"), 6, 3), "rot");
  Rng rng(5);
  std::vector<double> pa = b.spec->draw_init(rng);
  b.spec->project(pa.data());
  Network<double> net(*b.spec);
  const auto x = random_images(rng, 2 * 36);
  const auto y = net.predict(pa.data(), x.data(), 2);
  std::vector<std::uint32_t> rho_img(36);
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t c = 0; c < 6; ++c)
      rho_img[r * 6 + c] = static_cast<std::uint32_t>(c * 6 + (5 - r));  // (r,c) ↦ (c, N−1−r)
  const Permutation rho(rho_img);
  const auto gy = net.predict(pa.data(), permute_sites(rho, x, 2, 1).data(), 2);
  double unmoved = 0, moved = 0;
  const auto want = permute_sites(rho, y, 2, 2);
  for (std::size_t i = 0; i < y.size(); ++i) {
    unmoved = std::max(unmoved, std::abs(gy[i] - y[i]));
    moved = std::max(moved, std::abs(gy[i] - want[i]));
  }
  EXPECT_LT(moved, 1e-12);
  EXPECT_GT(unmoved, 1e-6);
}

}  // namespace
}  // namespace eqaug
