// The image presets as configurations: scales, studies, the new groups/data/losses and
// their errors; a tiny study on disk; the CLI's data sheet, dims and study run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "../support/helpers.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/study.hpp"
#include "eqaug/formats/atomic_file.hpp"

namespace fs = std::filesystem;
using eqaug::Error;
using nlohmann::json;
namespace io = eqaug::io;

namespace {

json preset(const std::string& name, const std::string& scale = "full") {
  const auto f = io::find_config(name);
  return io::apply_scale(io::load_toml(f), scale, f.string());
}

using eqaug::testing::message_of;

/// A Trans study shrunk to milliseconds: 4x4 images, 2 channels, 12 samples.
json tiny_groups() {
  json j = preset("groups", "small");
  j["group"]["side"] = 4;
  j["data"]["samples"] = 12;
  j["train"]["runs"] = 2;
  j["train"]["epochs"] = 2;
  j["train"]["chunk"] = 5;
  j["train"]["batch"] = 4;
  j["train"]["aug"]["passes"] = 2;
  for (auto& l : j["model"]["layers"])
    if (l["type"] == "linear" && l["channels"] != 10) l["channels"] = 2;
  return j;
}

using Run = eqaug::testing::CliResult;
Run cli(const std::string& args) { return eqaug::testing::run_cli(args); }

fs::path temp_dir(const std::string& tag) {
  const auto d = fs::temp_directory_path() / ("eqaug-imgcfg-" + std::to_string(::getpid()) + "-" + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(ImageConfigs, PresetsResolveToThePaperSettings) {
  const auto t = io::resolve(preset("trans"), "trans.toml");
  EXPECT_EQ(t.json["scale"], "full");
  EXPECT_DOUBLE_EQ(t.train.lr, 1e-5);
  EXPECT_EQ(t.train.strategies[1].per, eqaug::AugPer::Batch);
  EXPECT_EQ(t.train.strategies[1].batch, 25u);
  const auto g = io::build_group(t);
  EXPECT_EQ(g->degree(), 196u);
  EXPECT_EQ(*g->order(), 196u);
  const auto spec = io::build_model(t, g);
  EXPECT_EQ(spec->loss_kind(), eqaug::LossKind::CrossEntropy);
  ASSERT_EQ(spec->weight_layers().size(), 4u);
  EXPECT_EQ(spec->weight_layer(1).count, 32u * 32 * 196 * 196);
  EXPECT_EQ(spec->weight_layer(2).subspace->dim(), 32u * 32);
  EXPECT_EQ(io::accuracy_kind(*spec), "classification accuracy");

  const auto r = io::resolve(preset("rot"), "rot.toml");
  const auto rg = io::build_group(r);
  EXPECT_EQ(*rg->order(), 4u);
  const auto rspec = io::build_model(r, rg);
  EXPECT_EQ(rspec->output().channels, 2u);
  EXPECT_EQ(rspec->output().sites, 196u);
  EXPECT_EQ(rspec->weight_layer(3).subspace->dim(), 2u * 16 * 196 * 196 / 4);
  EXPECT_EQ(io::accuracy_kind(*rspec), "per-pixel mask accuracy");

  const auto members = io::study_members(preset("groups"), "groups.toml");
  ASSERT_EQ(members.size(), 4u);
  const char* kinds[] = {"translation2d", "rotation", "translation_x", "translation_rotation"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(members[i].json["group"]["kind"], kinds[i]);
    const auto cfg = io::resolve(members[i].json, "groups.toml");
    EXPECT_EQ(cfg.name, "groups-" + members[i].name);
    EXPECT_DOUBLE_EQ(cfg.train.lr, 5e-5);
  }
}

TEST(ImageConfigs, StudyMembersStartFromOtherPresetsAtTheStudysScale) {
  // paper-ablation: members from `rot` and from the `groups` study's shared tables.
  json j = preset("paper-ablation", "small");
  j["train"]["runs"] = 3;  // as --runs 3 would
  const auto members = io::study_members(j, "paper-ablation.toml");
  ASSERT_GE(members.size(), 10u);
  bool seen_rot = false, seen_groups = false;
  for (const auto& m : members) {
    const auto cfg = io::resolve(m.json, "paper-ablation.toml");
    EXPECT_EQ(cfg.name, "paper-ablation-" + m.name);
    EXPECT_EQ(cfg.runs, 3u) << m.name;
    EXPECT_TRUE(cfg.train.metrics.empty()) << m.name;  // the study's own [train] over the preset's
    EXPECT_EQ(cfg.json["scale"], "small");
    EXPECT_EQ(cfg.json["group"]["side"], 8) << m.name;  // the preset's small form
    if (m.name == "rot-faithful") {
      seen_rot = true;
      EXPECT_EQ(cfg.json["data"]["kind"], "shapes");
      EXPECT_FALSE(cfg.json.contains("reference"));
    }
    if (m.name == "g-onedtrans-sampler") {
      seen_groups = true;
      EXPECT_EQ(cfg.json["group"]["kind"], "translation_x");
      EXPECT_EQ(cfg.json["reference"]["sampler"], true);
      EXPECT_DOUBLE_EQ(cfg.train.lr, 5e-5);  // the groups preset's
    }
  }
  EXPECT_TRUE(seen_rot);
  EXPECT_TRUE(seen_groups);
  // noise-law: L per member, Aug only, the reference's draws in half of them.
  const auto law = io::study_members(preset("noise-law", "small"), "noise-law.toml");
  ASSERT_EQ(law.size(), 32u);
  for (const auto& m : law) {
    const auto cfg = io::resolve(m.json, "noise-law.toml");
    ASSERT_EQ(cfg.train.strategies.size(), 1u) << m.name;
    const std::size_t L = std::stoul(m.name.substr(m.name.find("-l") + 2));
    EXPECT_EQ(cfg.train.strategies[0].passes, L) << m.name;
    EXPECT_EQ(cfg.reference.sampler, m.name.ends_with("-sampler")) << m.name;
  }
  json bad = j;
  bad["study"]["members"][0]["preset"] = "no-such-preset";
  EXPECT_NE(message_of([&] { io::study_members(bad, "p.toml"); }).find("no-such-preset"), std::string::npos);
}

TEST(ImageConfigs, ScaleSmallReplacesSizesAndIsRecorded) {
  const auto cfg = io::resolve(preset("trans", "small"), "trans.toml");
  EXPECT_EQ(cfg.json["scale"], "small");
  EXPECT_EQ(cfg.json["group"]["side"], 8);
  EXPECT_EQ(cfg.json["data"]["samples"], 1000);
  EXPECT_EQ(cfg.runs, 10u);
  EXPECT_EQ(cfg.json["data"]["classes"], 10);  // untouched keys stay
  const auto spec = io::build_model(cfg, io::build_group(cfg));
  EXPECT_EQ(spec->weight_layer(0).out.channels, 8u);
  EXPECT_NE(message_of([] { preset("trans", "tiny"); }).find("scale 'tiny' is not defined (available: full, small)"),
            std::string::npos);
  // merge_tables: tables merge, lists are replaced.
  const json m =
      io::merge_tables(json{{"a", {{"x", 1}, {"y", 2}}}, {"l", {1, 2, 3}}}, json{{"a", {{"y", 5}}}, {"l", {9}}});
  EXPECT_EQ(m, (json{{"a", {{"x", 1}, {"y", 5}}}, {"l", {9}}}));
}

TEST(ImageConfigs, ErrorsNameTheFieldAndWhatIsExpected) {
  auto with = [](const std::string& name, const std::function<void(json&)>& edit) {
    json j = preset(name);
    edit(j);
    return message_of([&] {
      const auto cfg = io::resolve(j, "my.toml");
      const auto g = io::build_group(cfg);
      io::build_model(cfg, g);
      io::build_data(cfg, *g);
    });
  };
  EXPECT_NE(with("trans", [](json& j) { j["group"]["kind"] = "translation3d"; })
                .find("my.toml: group.kind: unknown group 'translation3d'"),
            std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["group"].erase("side"); }).find("group.side: missing"), std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["data"]["kind"] = "sbm"; }).find("SBM graphs need a group of graph nodes"),
            std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["data"]["split"] = "val"; }).find("data.split"), std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["model"]["loss"] = "mse"; }).find("unknown loss 'mse'"), std::string::npos);
  EXPECT_NE(with("trans",
                 [](json& j) {
                   j["model"]["layers"].push_back({{"type", "sigmoid"}});
                 })
                .find("cross_entropy applies the softmax to the logits itself"),
            std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["data"]["dir"] = "/nonexistent-mnist"; }).find("my.toml: data:"),
            std::string::npos);
  EXPECT_NE(with("trans", [](json& j) { j["data"]["samples"] = 20000; }).find("20000"), std::string::npos);
  EXPECT_NE(with("rot", [](json& j) { j["data"]["r_max"] = 0.1; }).find("data.r_max"), std::string::npos);
  EXPECT_NE(with("rot", [](json& j) { j["train"]["equi"]["eval"] = "fast"; }).find("train.equi.eval"),
            std::string::npos);
  // A study must go through the study runner; its members' errors name the member.
  EXPECT_NE(message_of([] { io::resolve(preset("groups"), "groups.toml"); }).find("study"), std::string::npos);
  json bad = preset("groups");
  bad["study"]["members"][1]["name"] = "trans";
  EXPECT_NE(message_of([&] { io::study_members(bad, "g.toml"); }).find("appears twice"), std::string::npos);
  bad = preset("groups");
  bad["study"]["members"][2]["group"]["kind"] = "mirror";
  EXPECT_NE(message_of([&] {
              for (const auto& m : io::study_members(bad, "g.toml"))
                io::resolve(m.json, "g.toml (study member " + m.name + ")");
            }).find("g.toml (study member onedtrans): group.kind: unknown group 'mirror'"),
            std::string::npos);
}

TEST(ImageConfigs, StudyWritesOneSweepPerMemberAndResumes) {
  const auto dir = temp_dir("study");
  eqaug::experiment::SweepOptions o;
  o.out = dir / "groups";
  o.threads = 2;
  const auto s = eqaug::experiment::run_study(tiny_groups(), "groups.toml", o);
  ASSERT_EQ(s.size(), 4u);
  const json study = json::parse(io::read_file(o.out / "study.json"));
  EXPECT_EQ(study["kind"], "study");
  EXPECT_TRUE(study["complete"].get<bool>());
  ASSERT_EQ(study["members"].size(), 4u);
  EXPECT_EQ(study["members"][3]["name"], "transrot");
  EXPECT_EQ(study["members"][1]["group"], "C_4 on 4x4 pixels");
  for (const char* m : {"trans", "rot", "onedtrans", "transrot"}) {
    EXPECT_TRUE(fs::exists(o.out / m / "manifest.json")) << m;
    EXPECT_TRUE(fs::exists(o.out / m / "aug" / "run-001.csv")) << m;
  }
  // Refused without --force/--resume; resume finds every run done.
  EXPECT_NE(message_of([&] { eqaug::experiment::run_study(tiny_groups(), "groups.toml", o); }).find("already exists"),
            std::string::npos);
  const std::string before = io::read_file(o.out / "rot" / "nom" / "run-000.csv");
  o.resume = true;
  const auto r = eqaug::experiment::run_study(tiny_groups(), "groups.toml", o);
  for (const auto& x : r) EXPECT_EQ(x.runs_done, 0u);
  EXPECT_EQ(io::read_file(o.out / "rot" / "nom" / "run-000.csv"), before);
  fs::remove_all(dir);
}

TEST(ImageConfigs, CliDataSheetDimsAndSmallStudy) {
  const auto dir = temp_dir("cli");
  auto r = cli("data rot --scale small --count 6 --out " + (dir / "sheets").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "sheets" / "rot-data.png")) << r.output;
  r = cli("data rot --scale small --count 6 --out " + (dir / "sheets").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  // Graphs (issue 16, item 17): Perm's adjacency matrices as n x n images.
  r = cli("data perm --count 8 --out " + (dir / "sheets").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "sheets" / "perm-data.png")) << r.output;
  r = cli("data rot --out " + (dir / "x").string() + " --data-npy " + (dir / "missing").string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = cli("dims groups");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("groups-transrot: group C_4 x| (Z_14 x Z_14)"), std::string::npos) << r.output;
  r = cli("run trans --scale huge --out " + (dir / "t").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("scale 'huge' is not defined"), std::string::npos) << r.output;
  r = cli("run perm --data-dir /tmp --out " + (dir / "p").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--data-dir: only image presets"), std::string::npos) << r.output;
  fs::remove_all(dir);
}
