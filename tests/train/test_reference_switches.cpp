// The reference's choices as switches ([reference]; docs/reference.md): the samplers'
// frequencies over 10⁵ draws against their laws (within 4 standard errors), the configuration
// (what applies where, what is refused, what the manifest records) and Nom's distance
// measured on Aug.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "../support/helpers.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/group/group.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/nn/model.hpp"
#include "eqaug/report/report.hpp"

namespace eqaug {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kDraws = 100000;

/// How often each element (by its index in elements()) comes out of `draws` draws.
std::vector<double> frequencies(const FiniteGroup& g, Sampler sampler, std::uint64_t seed) {
  const auto els = g.elements();
  std::map<std::vector<std::uint32_t>, std::size_t> index;
  for (std::size_t i = 0; i < els.size(); ++i) index.emplace(els[i].image(), i);
  std::vector<double> f(els.size(), 0.0);
  Rng rng(seed);
  for (std::size_t d = 0; d < kDraws; ++d) {
    const auto it = index.find(g.sample_with(rng, sampler).image());
    EXPECT_NE(it, index.end());
    if (it != index.end()) f[it->second] += 1.0 / kDraws;
  }
  return f;
}

/// Every frequency within 4 standard errors of its probability.
void expect_law(const std::vector<double>& f, const std::vector<double>& p, const std::string& what) {
  ASSERT_EQ(f.size(), p.size());
  for (std::size_t i = 0; i < f.size(); ++i) {
    const double se = std::sqrt(p[i] * (1 - p[i]) / kDraws);
    EXPECT_LE(std::abs(f[i] - p[i]), 4 * se + 1e-12) << what << " element " << i << ": " << f[i] << " vs " << p[i];
  }
}

TEST(ReferenceSampler, RotationsDrawTheIdentityTwiceAsOften) {
  // C_4 on 6×6 pixels; elements() in the order of quarter turns 0, 1, 2, 3.
  const auto c4 = pixel_group({6, false, false, true, false});
  expect_law(frequencies(*c4, Sampler::Reference, 1), {0.4, 0.2, 0.2, 0.2}, "reference");
  expect_law(frequencies(*c4, Sampler::Haar, 2), {0.25, 0.25, 0.25, 0.25}, "haar");
  // The Rot reference: identity 2/5, the 180° rotation 3/5, the quarter turns never.
  expect_law(frequencies(*c4, Sampler::RotReversal, 3), {0.4, 0.0, 0.6, 0.0}, "rot reversal");
  // The 180° rotation is the reversal of the flattened image.
  const auto half = c4->elements()[2].image();
  for (std::size_t p = 0; p < half.size(); ++p) EXPECT_EQ(half[p], half.size() - 1 - p);
}

TEST(ReferenceSampler, ShiftsDrawEachAxisAsRandintZeroToN) {
  // Z_5² (elements in the order dy, dx): each axis 2/6 for 0 and 1/6 for the others, independently.
  const std::size_t n = 5;
  const auto z = pixel_group({n, true, true, false, false});
  std::vector<double> p(n * n);
  for (std::size_t dy = 0; dy < n; ++dy)
    for (std::size_t dx = 0; dx < n; ++dx) p[dy * n + dx] = (dy ? 1.0 : 2.0) / 6 * (dx ? 1.0 : 2.0) / 6;
  expect_law(frequencies(*z, Sampler::Reference, 4), p, "Z_5^2");
  // C_4 ⋉ Z_3²: the rotation as randint(0, 4), each shift as randint(0, 3).
  const auto tr = pixel_group({3, true, true, true, false});
  std::vector<double> q;
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t dy = 0; dy < 3; ++dy)
      for (std::size_t dx = 0; dx < 3; ++dx) q.push_back((r ? 0.2 : 0.4) * (dy ? 0.25 : 0.5) * (dx ? 0.25 : 0.5));
  expect_law(frequencies(*tr, Sampler::Reference, 5), q, "C_4 x| Z_3^2");
}

TEST(ReferenceSampler, PermutationsStayUniformAndOtherGroupsHaveNoRule) {
  // S_n: the reference permutes uniformly, so its draws are the Haar draws, bit for bit.
  const auto s5 = symmetric_group(5);
  Rng a(6), b(6);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s5->sample_with(a, Sampler::Reference).image(), s5->sample(b).image());
  Rng rng(7);
  EXPECT_THROW(s5->sample_with(rng, Sampler::RotReversal), Error);
  // Mirrors, translations under rot_aug, generated groups: no reference rule.
  EXPECT_THROW(pixel_group({4, false, false, true, true})->sample_with(rng, Sampler::Reference), Error);
  EXPECT_THROW(pixel_group({4, true, true, false, false})->sample_with(rng, Sampler::RotReversal), Error);
  const auto gen = generated_group("swap", {Permutation(std::vector<std::uint32_t>{1, 0, 2})});
  EXPECT_THROW(gen->sample_with(rng, Sampler::Reference), Error);
  EXPECT_EQ(gen->sample_with(rng, Sampler::Haar).image().size(), 3u);
}

json small_rot() {
  auto j = io::apply_scale(io::load_toml(io::find_config("rot")), "small", "rot");
  j["data"]["samples"] = 30;
  j["train"]["runs"] = 1;
  j["train"]["epochs"] = 2;
  j["train"]["aug"] = {{"passes", 2}, {"per", "batch"}};
  j["train"].erase("metrics");
  return j;
}

TEST(ReferenceConfig, SwitchesApplyToTheAugmentedStrategiesAndAreRecordedWhereOn) {
  auto j = small_rot();
  const auto plain = io::resolve(j, "rot");
  EXPECT_FALSE(plain.json.contains("reference"));  // nothing recorded, as before the switches
  for (const auto& st : plain.train.strategies) EXPECT_EQ(st.sampler, Sampler::Haar);
  j["reference"] = {{"sampler", true}};
  const auto cfg = io::resolve(j, "rot");
  EXPECT_EQ(cfg.reference.on(), std::vector<std::string>{"sampler"});
  EXPECT_EQ(cfg.json["reference"], (json{{"sampler", true},
                                         {"rot_aug", false},
                                         {"nom_distance_on_aug", false},
                                         {"double_softmax", false},
                                         {"equi_last_layer", false}}));
  for (const auto& st : cfg.train.strategies)
    EXPECT_EQ(st.sampler, st.augments() ? Sampler::Reference : Sampler::Haar) << st.name();
  j["reference"]["rot_aug"] = true;  // rot_aug decides Rot's draws
  for (const auto& st : io::resolve(j, "rot").train.strategies) {
    if (st.augments()) {
      EXPECT_EQ(st.sampler, Sampler::RotReversal);
    }
  }
  EXPECT_NO_THROW(io::build_group(io::resolve(j, "rot")));
  // All off: nothing recorded.
  j["reference"] = {{"sampler", false}};
  EXPECT_FALSE(io::resolve(j, "rot").json.contains("reference"));
}

TEST(ReferenceConfig, ImpossibleCombinationsNameTheField) {
  auto j = small_rot();
  j["reference"] = {{"sampler", true}};
  j["train"]["aug"] = {{"exact", true}};
  auto m = testing::message_of([&] { io::resolve(j, "rot"); });
  EXPECT_NE(m.find("reference.sampler"), std::string::npos) << m;
  EXPECT_NE(m.find("exact"), std::string::npos) << m;

  j = small_rot();
  j["reference"] = {{"nom_distance_on_aug", true}};
  j["train"]["modes"] = {"nom", "equi"};
  m = testing::message_of([&] { io::resolve(j, "rot"); });
  EXPECT_NE(m.find("reference.nom_distance_on_aug"), std::string::npos) << m;

  j = small_rot();
  j["reference"] = {{"rot_aug", true}};
  j["group"]["kind"] = "translation2d";
  m = testing::message_of([&] { io::build_group(io::resolve(j, "rot")); });
  EXPECT_NE(m.find("reference.rot_aug"), std::string::npos) << m;

  j = small_rot();
  j["reference"] = {{"samplr", true}};
  m = testing::message_of([&] { io::resolve(j, "rot"); });
  EXPECT_NE(m.find("samplr"), std::string::npos) << m;
}

/// The per-step CSV of a run, cells by header name.
std::map<std::string, std::vector<double>> run_columns(const fs::path& file) {
  return report::read_run_csv(file, -1).columns;
}

TEST(ReferenceConfig, NomDistanceOnAugCopiesAugsDistanceTravelled) {
  const fs::path out = fs::temp_directory_path() / ("eqaug-reference-" + std::to_string(::getpid()));
  fs::remove_all(out);
  auto j = small_rot();
  j["reference"] = {{"nom_distance_on_aug", true}};
  experiment::SweepOptions o;
  o.out = out;
  o.threads = 1;
  experiment::run_sweep(io::resolve(j, "rot"), o);
  const auto nom = run_columns(out / "nom" / "run-000.csv"), aug = run_columns(out / "aug" / "run-000.csv");
  ASSERT_EQ(nom.at("step").size(), 3u);  // steps 0, 1, 2
  bool moved = false;
  for (std::size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(nom.at("dist_init")[t], aug.at("dist_init")[t]) << "step " << t;  // dist_init: Aug's
    if (t > 0) {
      EXPECT_NE(nom.at("loss")[t], aug.at("loss")[t]) << "step " << t;  // the loss stays Nom's own
    }
    moved = moved || nom.at("dist_init")[t] > 0;
  }
  EXPECT_TRUE(moved);
  const json m = json::parse(io::read_file(out / "manifest.json"));
  EXPECT_TRUE(m["config"]["reference"]["nom_distance_on_aug"].get<bool>());
  fs::remove_all(out);
}

TEST(ReferenceConfig, DoubleSoftmaxFeedsProbabilitiesToTheCrossEntropy) {
  auto j = io::apply_scale(io::load_toml(io::find_config("trans")), "small", "trans");
  j["data"]["samples"] = 20;
  const auto plain_cfg = io::resolve(j, "trans");
  j["reference"] = {{"double_softmax", true}};
  const auto cfg = io::resolve(j, "trans");
  EXPECT_EQ(cfg.json["reference"]["double_softmax"], true);
  const auto group = io::build_group(cfg);
  const auto plain = io::build_model(plain_cfg, group);
  const auto spec = io::build_model(cfg, group);
  ASSERT_EQ(spec->layers().size(), plain->layers().size() + 1);
  EXPECT_EQ(spec->layers().back().kind, LayerKind::Softmax);
  EXPECT_EQ(spec->num_params(), plain->num_params());  // the same weights, one more map
  // The model's output is the softmax of the plain model's logits, at the same weights.
  Rng rng(3);
  const auto w = plain->draw_init(rng);
  std::vector<float> wf(w.begin(), w.end());
  const Network<float> net_plain(*plain), net(*spec);
  std::vector<float> x(2 * plain->input().dim());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
  const auto z = net_plain.predict(wf.data(), x.data(), 2);
  const auto p = net.predict(wf.data(), x.data(), 2);
  ASSERT_EQ(z.size(), p.size());
  const std::size_t C = plain->output().channels;
  for (std::size_t i = 0; i < 2; ++i) {
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(z[i * C + c]));
    for (std::size_t c = 0; c < C; ++c)
      EXPECT_NEAR(p[i * C + c], std::exp(static_cast<double>(z[i * C + c])) / sum, 1e-6) << i << "," << c;
  }
  // Not with a loss that has no softmax to repeat.
  auto r = small_rot();
  r["reference"] = {{"double_softmax", true}};
  const auto m = testing::message_of([&] { io::resolve(r, "rot"); });
  EXPECT_NE(m.find("reference.double_softmax"), std::string::npos) << m;
}

TEST(ReferenceConfig, EquiLastLayerTakesTheRawGradientOfTheLastGroupLayer) {
  // From A⁰ ∈ E the reference's Equi step moves the last group layer (Rot's A3) by its raw
  // gradient, exactly as Nom's first step does, and every other layer by the projected one.
  const fs::path out = fs::temp_directory_path() / ("eqaug-equi-last-" + std::to_string(::getpid()));
  fs::remove_all(out);
  auto j = small_rot();
  j["train"]["modes"] = {"nom", "equi"};
  j["train"]["precision"] = "f64";
  j["reference"] = {{"equi_last_layer", true}};
  const auto cfg = io::resolve(j, "rot");
  for (const auto& st : cfg.train.strategies)
    if (st.mode == Mode::Equi) {
      EXPECT_TRUE(st.project_last_weights);
      EXPECT_EQ(st.equi_update, EquiUpdate::Dense);
    }
  EXPECT_EQ(cfg.json["train"]["equi"]["update"], "dense");
  experiment::SweepOptions o;
  o.out = out;
  o.threads = 1;
  experiment::run_sweep(cfg, o);
  const auto nom = run_columns(out / "nom" / "run-000.csv");
  const auto equi = run_columns(out / "equi" / "run-000.csv");
  ASSERT_EQ(equi.at("dist_E_A3").size(), 3u);
  const double last = equi.at("dist_E_A3")[1];
  EXPECT_GT(last, 0);
  EXPECT_NEAR(last, nom.at("dist_E_A3")[1], 1e-9 * last);
  for (const char* layer : {"dist_E_A0", "dist_E_A1", "dist_E_A2"})
    for (double d : equi.at(layer)) EXPECT_LT(d, 1e-9 * last) << layer;
  // The next step projects A3's weights back before it moves: still off E by one step's worth.
  EXPECT_GT(equi.at("dist_E_A3")[2], 0);
  EXPECT_LT(equi.at("dist_E_A3")[2], 10 * last);
  fs::remove_all(out);
}

TEST(ReferenceConfig, NomAugNormTrainsNomAndAugWithAnAffineBatchNorm) {
  // Small Rot with the switch: Nom and Aug train the model whose layer norm is an affine
  // batch norm, Equi the plain one. Checked against two plain sweeps: Equi's CSV equals the
  // sweep without the switch byte for byte; Nom's and Aug's losses and per-layer distances
  // equal those of a sweep whose configuration has the affine batch norm written out.
  const fs::path root = fs::temp_directory_path() / ("eqaug-nom-aug-norm-" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto j = small_rot();
  j["train"]["precision"] = "f64";
  auto run = [&](json c, const std::string& name) {
    experiment::SweepOptions o;
    o.out = root / name;
    o.threads = 1;
    experiment::run_sweep(io::resolve(c, "rot"), o);
    return o.out;
  };
  const auto plain = run(j, "plain");
  json bn = j;
  for (auto& l : bn["model"]["layers"])
    if (l["type"] == "layernorm") l = {{"type", "batchnorm"}, {"eps", 1e-5}, {"affine", true}};
  const auto written = run(bn, "written");
  json sw = j;
  sw["reference"] = {{"nom_aug_norm", true}};
  const auto cfg = io::resolve(sw, "rot");
  EXPECT_EQ(cfg.reference.on(), std::vector<std::string>{"nom_aug_norm"});
  const auto group = io::build_group(cfg);
  const auto model = io::build_model(cfg, group), nom_aug = io::build_nom_aug_model(cfg, group);
  ASSERT_TRUE(nom_aug);
  EXPECT_EQ(nom_aug->num_params(), model->num_params() + 2 * 2);  // a scale and a shift for each of 2 channels
  EXPECT_EQ(io::build_nom_aug_model(io::resolve(j, "rot"), group), nullptr);
  const auto switched = run(sw, "switched");

  EXPECT_EQ(io::read_file(switched / "equi" / "run-000.csv"), io::read_file(plain / "equi" / "run-000.csv"));
  for (const char* mode : {"nom", "aug"}) {
    const auto a = run_columns(switched / mode / "run-000.csv");
    const auto b = run_columns(written / mode / "run-000.csv");
    const auto p = run_columns(plain / mode / "run-000.csv");
    EXPECT_EQ(a.count("dist_E_affine0"), 0u) << mode;  // the columns of the shared layers only
    EXPECT_EQ(b.count("dist_E_affine0"), 1u) << mode;
    for (const char* col : {"loss", "dist_E", "dist_E_A0", "dist_E_A3", "dist_init_A1"})
      for (std::size_t t = 0; t < a.at(col).size(); ++t)
        EXPECT_NEAR(a.at(col)[t], b.at(col)[t], 1e-12 * (1 + std::abs(b.at(col)[t]))) << mode << " " << col << " " << t;
    EXPECT_NE(a.at("loss")[0], p.at("loss")[0]) << mode;  // another function than the layer-norm model
  }
  const json m = json::parse(io::read_file(switched / "manifest.json"));
  EXPECT_TRUE(m["config"]["reference"]["nom_aug_norm"].get<bool>());
  EXPECT_EQ(m["model"]["nom_aug_model"]["params"], nom_aug->num_params());

  // Refused where it cannot apply.
  json only_equi = sw;
  only_equi["train"]["modes"] = {"equi"};
  auto msg = testing::message_of([&] { io::resolve(only_equi, "rot"); });
  EXPECT_NE(msg.find("reference.nom_aug_norm"), std::string::npos) << msg;
  json no_ln = bn;
  no_ln["reference"] = {{"nom_aug_norm", true}};
  msg = testing::message_of([&] { io::resolve(no_ln, "rot"); });
  EXPECT_NE(msg.find("no layernorm"), std::string::npos) << msg;
  msg = testing::message_of([&] { io::require_one_model(cfg, "hessian"); });
  EXPECT_NE(msg.find("eqaug hessian"), std::string::npos) << msg;
  experiment::SweepOptions o;
  o.out = root / "weights";
  o.save_weights = true;
  msg = testing::message_of([&] { experiment::run_sweep(cfg, o); });
  EXPECT_NE(msg.find("--save-weights"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(root / "weights"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace eqaug
