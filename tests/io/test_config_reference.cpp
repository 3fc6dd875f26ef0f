// docs/config.md is the reference table printed, and the table is held to the parser:
// every key resolve() reads is documented with the same type and default, and every
// documented key is read for some configuration.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "eqaug/config/config.hpp"
#include "eqaug/formats/atomic_file.hpp"

namespace io = eqaug::io;
using nlohmann::json;

namespace {

/// Every preset at every scale, each study member, and variants that reach the optional keys.
std::vector<json> configurations() {
  std::vector<json> out;
  for (const char* name : {"perm", "trans", "rot", "groups", "example-images"})
    for (const char* scale : {"full", "small"}) {
      const auto file = io::find_config(name);
      json j = io::load_toml(file);
      if (std::string(scale) == "small" && !(j.contains("scales") && j["scales"].contains("small"))) continue;
      j = io::apply_scale(j, scale, file.string());
      const auto members = io::study_members(j, file.string());
      if (members.empty()) out.push_back(j);
      for (const auto& m : members) out.push_back(m.json);
    }
  json perm = out.front();
  perm["data"]["clusters"] = {4, 6};  // sbm's optional list
  perm["train"]["aug"]["exact"] = true;
  out.push_back(perm);
  for (const json& j : std::vector<json>(out))  // Rot with every reference switch
    if (j["group"]["kind"] == "rotation" && !j.contains("study")) {
      json r = j;
      r["reference"] = {{"sampler", true}, {"rot_aug", true}, {"nom_distance_on_aug", true}, {"equi_last_layer", true}};
      out.push_back(r);
      break;
    }
  for (const json& j : std::vector<json>(out))  // a cross-entropy model with the double softmax
    if (j["model"]["loss"] == "cross_entropy" && !j.contains("study")) {
      json r = j;
      r["reference"] = {{"double_softmax", true}};
      out.push_back(r);
      break;
    }
  for (const json& j : std::vector<json>(out))  // the image model with an affine batch norm
    if (j["group"]["kind"] != "symmetric" && !j.contains("study")) {
      json bn = j;
      auto& layers = bn["model"]["layers"];
      layers.insert(layers.begin() + 1, json{{"type", "batchnorm"}, {"affine", true}});
      out.push_back(bn);
      break;
    }
  // A generated group on pixels (an image preset) and on nodes (Perm).
  const std::vector<json> plain = out;
  for (json j : plain) {
    const bool nodes = j["group"]["kind"] == "symmetric";
    const std::size_t degree = nodes ? j["group"]["n"].get<std::size_t>()
                                     : j["group"]["side"].get<std::size_t>() * j["group"]["side"].get<std::size_t>();
    json swap = json::array();
    for (std::size_t i = 0; i < degree; ++i) swap.push_back(i < 2 ? 1 - i : i);
    json g = {{"kind", "generated"}, {"generators", json::array({swap})}};
    if (nodes)
      g["acts_on"] = "nodes";
    else
      g["side"] = j["group"]["side"];
    j["group"] = g;
    out.push_back(j);
  }
  return out;
}

}  // namespace

TEST(ConfigReference, DocsFileIsTheGeneratedReference) {
  const std::string docs = io::read_file(std::string(EQAUG_SOURCE_CONFIG_DIR) + "/../docs/config.md");
  EXPECT_EQ(docs, io::config_reference_markdown())
      << "docs/config.md is out of date: regenerate it with `build/eqaug config-reference > docs/config.md`";
}

TEST(ConfigReference, EveryKeyTheParserReadsIsDocumentedWithItsTypeAndDefault) {
  std::map<std::string, io::KeyDoc> table;
  for (const auto& k : io::config_reference()) EXPECT_TRUE(table.emplace(k.path, k).second) << "twice: " << k.path;
  std::set<std::string> read;
  for (const auto& j : configurations()) {
    std::vector<io::KeyUse> log;
    io::resolve(j, "reference-test", &log);
    for (const auto& u : log) {
      read.insert(u.path);
      const auto it = table.find(u.path);
      ASSERT_NE(it, table.end()) << "the parser reads `" << u.path << "`, which docs/config.md does not list";
      EXPECT_EQ(it->second.type, u.type) << u.path;
      if (u.default_value.empty())
        EXPECT_EQ(it->second.default_value.rfind("required", 0), 0u) << u.path << " is required by the parser";
      else if (u.default_value == "(optional)")
        EXPECT_NE(it->second.default_value.rfind("required", 0), 0u) << u.path << " is optional for the parser";
      else
        EXPECT_NE(it->second.default_value.find("`" + u.default_value + "`"), std::string::npos)
            << u.path << ": the parser's default is " << u.default_value << ", the reference says "
            << it->second.default_value;
    }
  }
  // The other way round: nothing documented that the parser never reads (study and
  // scale tables are read before the parser, by apply_scale and study_members).
  for (const auto& k : io::config_reference())
    if (k.path.rfind("scales", 0) != 0 && k.path.rfind("study", 0) != 0 && k.type != "table") {
      EXPECT_TRUE(read.count(k.path)) << "docs/config.md lists `" << k.path << "`, which no configuration reads";
    }
}
