// A group written as generators in a configuration (group.kind = "generated") is the same
// group as the built-in kind it spells out: the same dims, the same E, and the same
// trajectories (Nom and Equi to the bit; exact Aug, a sum over the elements in another
// order, to rounding).
#include <gtest/gtest.h>

#include <cmath>

#include "eqaug/core/error.hpp"
#include "eqaug/core/thread_pool.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/train/engine.hpp"
#include "eqaug/train/trainer.hpp"

namespace eqaug {
namespace {

using nlohmann::json;

/// The Rot preset's architecture and shapes data, tiny, in float64.
json tiny_shapes(const json& group) {
  json j = io::apply_scale(io::load_toml(io::find_config("rot")), "small", "rot");
  j["group"] = group;
  j["data"]["samples"] = 12;
  j["train"]["runs"] = 1;
  j["train"]["epochs"] = 3;
  j["train"]["lr"] = 0.05;
  j["train"]["precision"] = "f64";
  j["train"]["aug"] = {{"exact", true}};
  j["train"]["modes"] = {"nom", "aug", "equi"};
  auto& layers = j["model"]["layers"];
  for (auto& l : layers)
    if (l["type"] == "linear" && &l != &layers.back()) l["channels"] = 2;
  return j;
}

std::vector<StrategyRun> train(const json& j) {
  const auto cfg = io::resolve(j, "generated-test");
  const auto group = io::build_group(cfg);
  const auto spec = io::build_model(cfg, group);
  const auto data = io::build_data(cfg, *group);
  ThreadPool pool(2);
  GradientEngine<double> engine(*spec, data, cfg.json["data"]["input_shift"].get<double>(), cfg.chunk, pool);
  return Trainer<double>(engine, cfg.train).run(0, initial_point(*spec, cfg.train.seed, 0));
}

TEST(GeneratedGroups, SameDimsAndTrajectoriesAsTheBuiltInKind) {
  for (const char* kind : {"dihedral", "flip"}) {
    SCOPED_TRACE(kind);
    const json builtin = {{"kind", kind}, {"side", 5}};
    json gens = json::array();
    for (const auto& p : group_kind(kind).build(builtin)->generators()) gens.push_back(p.image());
    const json generated = {{"kind", "generated"}, {"acts_on", "pixels"}, {"side", 5}, {"generators", gens}};

    const auto a = train(tiny_shapes(builtin)), b = train(tiny_shapes(generated));
    ASSERT_EQ(a.size(), 3u);
    ASSERT_EQ(b.size(), 3u);
    for (std::size_t m = 0; m < 3; ++m) {
      SCOPED_TRACE(a[m].strategy.name());
      ASSERT_EQ(a[m].records.size(), b[m].records.size());
      const bool exact = a[m].strategy.mode != Mode::Aug;
      for (std::size_t s = 0; s < a[m].records.size(); ++s) {
        const auto &x = a[m].records[s], &y = b[m].records[s];
        if (exact) {
          EXPECT_EQ(x.loss, y.loss) << s;
          EXPECT_EQ(x.dist_init, y.dist_init) << s;
          EXPECT_EQ(x.dist_E, y.dist_E) << s;
        } else {
          EXPECT_NEAR(x.loss, y.loss, 1e-12 * std::abs(x.loss)) << s;
          EXPECT_NEAR(x.dist_init, y.dist_init, 1e-10 * x.dist_init + 1e-15) << s;
        }
      }
      EXPECT_GT(a[m].records.back().dist_init, 1e-4) << "the trajectory moved";
    }
    // The same dims, layer by layer.
    const auto ca = io::resolve(tiny_shapes(builtin), "a"), cb = io::resolve(tiny_shapes(generated), "b");
    const auto ga = io::build_group(ca), gb = io::build_group(cb);
    const auto sa = io::build_model(ca, ga), sb = io::build_model(cb, gb);
    EXPECT_EQ(ga->order(), gb->order());
    for (std::size_t j = 0; j < sa->weight_layers().size(); ++j)
      EXPECT_EQ(sa->weight_layer(j).subspace->dim(), sb->weight_layer(j).subspace->dim()) << "A" << j;
  }
}

TEST(GeneratedGroups, TheTorusGroupsKeepTheFourierPathOfEqui) {
  // p4m contains both circular shifts: its pixel layers are convolutions, evaluated by FFT,
  // whether written as the built-in kind or as generators; D_4 alone has no Fourier path.
  for (const char* kind : {"dihedral_translation", "dihedral"}) {
    const json builtin = {{"kind", kind}, {"side", 5}};
    json gens = json::array();
    for (const auto& p : group_kind(kind).build(builtin)->generators()) gens.push_back(p.image());
    for (const json& g : {builtin, json{{"kind", "generated"}, {"side", 5}, {"generators", gens}}}) {
      const auto cfg = io::resolve(tiny_shapes(g), "fft-test");
      const auto spec = io::build_model(cfg, io::build_group(cfg));
      const auto kinds = Network<double>(*spec, Parametrisation::Equivariant).layer_kinds();
      EXPECT_EQ(kinds.front(), std::string(kind) == "dihedral" ? "dense" : "fft") << g.dump();
    }
  }
}

TEST(GeneratedGroups, ConfigErrorsNameTheField) {
  const json base = tiny_shapes({{"kind", "flip"}, {"side", 5}});
  auto error_of = [&](const json& group) {
    json j = base;
    j["group"] = group;
    try {
      io::resolve(j, "cfg.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::vector<int> ident(25);
  for (int i = 0; i < 25; ++i) ident[i] = i;
  auto twice = ident;
  twice[3] = 4;
  EXPECT_NE(error_of({{"kind", "generated"}, {"side", 5}, {"generators", {{1, 0, 2}}}})
                .find("cfg.toml: group.generators[0]: has 3 entries, expected 25"),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "generated"}, {"side", 5}, {"generators", {twice}}}).find("is not a permutation"),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "generated"}, {"side", 5}, {"generators", json::array()}})
                .find("group.generators: expected a non-empty list"),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "generated"}, {"acts_on", "edges"}, {"generators", {ident}}})
                .find("group.acts_on: expected \"pixels\" or \"nodes\""),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "generated"}, {"acts_on", "nodes"}, {"generators", {ident}}})
                .find("shapes need a group of pixels"),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "mirror"}, {"side", 5}}).find("cfg.toml: group.kind: unknown group 'mirror' (available: "),
            std::string::npos);
  EXPECT_NE(error_of({{"kind", "flip"}, {"side", 5}, {"generators", {ident}}}).find("group.generators: unknown key"),
            std::string::npos);
}

}  // namespace
}  // namespace eqaug
