#include "eqaug/config/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "eqaug/core/error.hpp"
#include "eqaug/core/fields.hpp"
#include "eqaug/data/images.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/nn/layers.hpp"
#include "eqaug/train/metrics.hpp"

namespace eqaug::io {

using nlohmann::json;

std::vector<std::filesystem::path> preset_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("EQAUG_CONFIG_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("configs");
#ifdef EQAUG_SOURCE_CONFIG_DIR
  dirs.emplace_back(EQAUG_SOURCE_CONFIG_DIR);
#endif
  return dirs;
}

std::filesystem::path find_config(const std::string& name) {
  namespace fs = std::filesystem;
  if (name.empty()) throw Error("no configuration given: name a preset (e.g. perm) or a .toml file");
  const bool looks_like_path = name.find('/') != std::string::npos || name.ends_with(".toml");
  if (looks_like_path) {
    if (!fs::is_regular_file(name)) throw Error("configuration file '" + name + "' does not exist");
    return name;
  }
  std::string tried;
  for (const auto& d : preset_dirs()) {
    const auto p = d / (name + ".toml");
    if (fs::is_regular_file(p)) return p;
    tried += "\n  " + p.string();
  }
  throw Error("unknown preset '" + name + "'; looked for:" + tried);
}

namespace {

/// `where`: the key's dotted path, for the one value eqaug cannot take.
json to_json(const toml::node& node, const std::string& where) {
  if (auto t = node.as_table()) {
    json j = json::object();
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      j[key] = to_json(v, where.empty() ? key : where + "." + key);
    }
    return j;
  }
  if (auto a = node.as_array()) {
    json j = json::array();
    for (std::size_t i = 0; i < a->size(); ++i) j.push_back(to_json(*a->get(i), where + "[" + std::to_string(i) + "]"));
    return j;
  }
  if (auto v = node.as_string()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_boolean()) return v->get();
  throw Error(
      (where.empty() ? std::string("(value)") : where) +
      ": a TOML date or time, which no eqaug setting takes (expected a number, string, boolean, list or table)");
}

}  // namespace

json load_toml(const std::filesystem::path& path) {
  try {
    const auto table = toml::parse_file(path.string());
    try {
      return to_json(table, "");
    } catch (const Error& e) {
      throw Error(path.string() + ": " + e.what());
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path.string() << ":" << e.source().begin.line << ":" << e.source().begin.column
       << ": invalid TOML: " << e.description();
    throw Error(os.str());
  }
}

json toml_value(const std::string& text) {
  try {
    const auto table = toml::parse("value = " + text);
    if (!table.contains("value") || table.size() != 1) throw Error("not one TOML value: " + text);
    return to_json(*table.get("value"), "");
  } catch (const toml::parse_error& e) {
    throw Error("not a TOML value: " + text + " (" + std::string(e.description()) + ")");
  }
}

const GroupKind& resolve_group_table(Fields& g, json& out) {
  const auto kind = g.str("kind");
  out = json{{"kind", kind}};
  const GroupKind* gk = nullptr;
  try {
    gk = &group_kind(kind);
  } catch (const Error& e) {
    g.fail("group.kind", e.what());
  }
  gk->parse(g, out);
  g.done();
  return *gk;
}

namespace {

/// [group]: the kind's own fields (group/registry.hpp). Returns whether the base points are pixels.
bool resolve_group(Fields& top, ExperimentConfig& cfg, std::vector<KeyUse>* log) {
  const std::string& source = cfg.source;
  Fields g(top.table("group"), source, "group", log);
  json& out = cfg.json["group"];
  resolve_group_table(g, out);
  return base_points(out) == BasePoints::Pixels;
}

/// [data], checked against the group's base points.
void resolve_data(Fields& top, ExperimentConfig& cfg, bool pixels, std::vector<KeyUse>* log) {
  const std::string& source = cfg.source;
  Fields d(top.table("data"), source, "data", log);
  const auto kind = d.str("kind");
  json& out = cfg.json["data"];
  if (kind == "sbm") {
    if (pixels)
      d.fail("data.kind",
             "SBM graphs need a group of graph nodes (group.kind = \"symmetric\", or \"generated\" "
             "with acts_on = \"nodes\"): they live on node pairs");
    out["samples"] = d.count_or("samples", 1000, 1);
    if (d.has("clusters")) {
      const auto& c = d.list("clusters", "[5, 5]");
      if (!c.is_array() || c.empty()) d.fail("data.clusters", "expected a list of cluster sizes");
      for (const auto& x : c)
        if (!x.is_number_integer() || x.get<std::int64_t>() < 1)
          d.fail("data.clusters", "cluster sizes must be positive integers, found " + x.dump());
    } else {
      out["clusters"] = SbmOptions{}.clusters;
    }
    const std::pair<const char*, double> probabilities[] = {{"p", SbmOptions{}.p}, {"q", SbmOptions{}.q}};
    for (const auto& [key, def] : probabilities) {
      const double p = d.num(key, def);
      if (p < 0 || p > 1) d.fail(d.at(key), "a probability must lie in [0, 1]");
      out[key] = p;
    }
  } else if (kind == "images") {
    if (!pixels)
      d.fail("data.kind",
             "images need a group of pixels (any group.kind but symmetric; generated with acts_on = \"pixels\")");
    out["samples"] = d.count_or("samples", 10000, 1);
    out["classes"] = d.count_or("classes", 10, 2);
    out["dir"] = d.str("dir", "");
    const auto split = d.str("split", "test");
    if (split != "test" && split != "train")
      d.fail("data.split", "expected \"test\" or \"train\", found '" + split + "'");
    out["split"] = split;
  } else if (kind == "shapes") {
    if (!pixels)
      d.fail("data.kind",
             "shapes need a group of pixels (any group.kind but symmetric; generated with acts_on = \"pixels\")");
    out["samples"] = d.count_or("samples", 3000, 1);
    const double r_min = d.num("r_min", ShapesOptions{}.r_min), r_max = d.num("r_max", ShapesOptions{}.r_max);
    if (!(r_min > 0) || r_max < r_min) d.fail("data.r_max", "expected 0 < r_min <= r_max");
    const double shift = d.num("shift", ShapesOptions{}.shift);
    if (shift < 0) d.fail("data.shift", "must be non-negative");
    out["r_min"] = r_min;
    out["r_max"] = r_max;
    out["shift"] = shift;
  } else {
    d.fail("data.kind", "unknown data set '" + kind + "' (available: sbm, images, shapes)");
  }
  out["input_shift"] = d.num("input_shift", 0.0);
  out["npy"] = d.str("npy", "");
  // A key of another kind of data says so, rather than suggesting a near spelling.
  static const std::map<std::string, std::vector<std::string>> own = {
      {"sbm", {"samples", "clusters", "p", "q"}},
      {"images", {"samples", "classes", "dir", "split"}},
      {"shapes", {"samples", "r_min", "r_max", "shift"}}};
  const auto& mine = own.at(kind);
  for (const auto& [key, value] : d.object().items()) {
    if (std::find(mine.begin(), mine.end(), key) != mine.end()) continue;
    for (const auto& [other, keys] : own)
      if (std::find(keys.begin(), keys.end(), key) != keys.end())
        d.fail("data." + key, "a key of data.kind = \"" + other + "\" data, not of \"" + kind + "\"");
  }
  d.done();
}

/// [model]: the input space, the loss and each layer's own fields (nn/layers.hpp).
void resolve_model(Fields& top, ExperimentConfig& cfg, std::vector<KeyUse>* log) {
  const std::string& source = cfg.source;
  Fields m(top.table("model"), source, "model", log);
  Fields in(m.table("input"), source, "model.input", log);
  in.count("channels", 1);
  if (in.count("order") > 4) in.fail("model.input.order", "tuples of more than 4 points are not supported");
  in.done();
  const auto loss = m.str("loss");
  if (loss != "bce" && loss != "cross_entropy")
    m.fail("model.loss", "unknown loss '" + loss + "' (available: bce, cross_entropy)");
  const auto& layers = m.list("layers");
  if (!layers.is_array() || layers.empty()) m.fail("model.layers", "expected a non-empty list of layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    Fields l(layers[i], source, "model.layers[" + std::to_string(i) + "]", log);
    const auto type = l.str("type");
    json& out = cfg.json["model"]["layers"][i];
    const LayerType* lt = nullptr;
    try {
      lt = &layer_type(type);
    } catch (const Error& e) {
      l.fail(l.at("type"), e.what());
    }
    lt->parse(l, out);
    l.done();
  }
  m.done();
}

/// The strategies of train.modes, with [train.aug], [train.equi] and the penalty.
void resolve_strategies(Fields& t, ExperimentConfig& cfg, std::size_t batch, std::vector<KeyUse>* log) {
  Strategy aug, equi;
  aug.mode = Mode::Aug;
  const double penalty = t.num("penalty", 0.0);
  if (penalty < 0) t.fail("train.penalty", "must be non-negative");
  aug.batch = batch;
  equi.mode = Mode::Equi;
  if (t.has("aug")) {
    Fields a(t.table("aug", "(optional)"), t.source(), "train.aug", log);
    aug.passes = a.count_or("passes", 25, 1);
    const auto per = a.str("per", "sample");
    try {
      aug.per = parse_aug_per(per);
    } catch (const Error& e) {
      a.fail("train.aug.per", e.what());
    }
    aug.exact = a.flag("exact", false);
    a.done();
  }
  if (t.has("equi")) {
    Fields e(t.table("equi", "(optional)"), t.source(), "train.equi", log);
    const auto update = e.str("update", "orbit"), eval = e.str("eval", "auto");
    try {
      equi.equi_update = parse_equi_update(update);
    } catch (const Error& err) {
      e.fail("train.equi.update", err.what());
    }
    try {
      equi.equi_eval = parse_equi_eval(eval);
    } catch (const Error& err) {
      e.fail("train.equi.eval", err.what());
    }
    e.done();
  }
  std::vector<std::string> modes = {"nom", "aug", "equi"};
  if (t.has("modes")) {
    const auto& mj = t.list("modes", "[\"nom\", \"aug\", \"equi\"]");
    if (!mj.is_array() || mj.empty())
      t.fail("train.modes", "expected a non-empty list such as [\"nom\", \"aug\", \"equi\"]");
    modes.clear();
    for (const auto& x : mj) {
      if (!x.is_string()) t.fail("train.modes", "expected strings, found " + x.dump());
      modes.push_back(x.get<std::string>());
    }
  }
  std::set<Mode> seen;
  for (const auto& s : modes) {
    Mode m;
    try {
      m = parse_mode(s);
    } catch (const Error& e) {
      t.fail("train.modes", e.what());
    }
    if (!seen.insert(m).second) t.fail("train.modes", "mode '" + s + "' listed twice");
    Strategy st = m == Mode::Aug || m == Mode::AugPen ? aug : m == Mode::Equi ? equi : Strategy{};
    st.mode = m;
    if (m == Mode::AugPen) {
      if (!(penalty > 0))
        t.fail("train.penalty", "mode augpen needs a positive penalty gamma (e.g. penalty = 1.0 or --penalty 1)");
      st.penalty = penalty;
    }
    st.batch = batch;
    cfg.train.strategies.push_back(st);
  }
  if (penalty > 0 && !seen.count(Mode::AugPen))
    cfg.warnings.push_back("train.penalty = " + number_text(penalty) +
                           " is not used: train.modes has no augpen (e.g. --modes nom,aug,augpen,equi)");
}

/// [train] (optional: a file without it trains with every default).
void resolve_train(Fields& top, ExperimentConfig& cfg, std::vector<KeyUse>* log) {
  const std::string& source = cfg.source;
  // A file without [train] trains with every default (30 runs x 50 steps, ...).
  static const json no_table = json::object();
  Fields t(top.has("train") ? top.table("train", "(optional)") : no_table, source, "train", log);
  cfg.runs = t.count_or("runs", 30, 1);
  cfg.train.epochs = t.count_or("epochs", 50);
  cfg.train.lr = t.num("lr", 1e-4);
  if (!(cfg.train.lr > 0)) t.fail("train.lr", "must be positive");
  cfg.train.weight_decay = t.num("weight_decay", 0.0);
  if (!(cfg.train.weight_decay >= 0) || !std::isfinite(cfg.train.weight_decay))
    t.fail("train.weight_decay", "expected a non-negative number (lambda of lambda/2 |A|^2; 0: none)");
  cfg.train.seed = t.count_or("seed", 0);
  if (cfg.train.seed > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    t.fail("train.seed",
           "expected an integer from 0 to 9223372036854775807 (2^63 - 1), found " + std::to_string(cfg.train.seed));
  cfg.chunk = t.count_or("chunk", 500, 1);
  const std::size_t batch = t.count_or("batch", 200, 1);
  const auto prec = t.str("precision", "f32");
  if (prec == "f32")
    cfg.precision = Precision::F32;
  else if (prec == "f64")
    cfg.precision = Precision::F64;
  else
    t.fail("train.precision", "expected f32 or f64, found '" + prec + "'");
  cfg.init_weights = t.str("init_weights", "");
  const auto start = t.str("start", "projected");
  if (start != "projected" && start != "raw")
    t.fail("train.start", "expected \"projected\" or \"raw\", found '" + start + "'");
  cfg.train.raw_start = start == "raw";
  if (t.has("metrics")) {
    const auto& mj = t.list("metrics", "[]");
    if (!mj.is_array()) t.fail("train.metrics", "expected a list of metric names such as [\"equiv_error\"]");
    for (const auto& x : mj) {
      if (!x.is_string()) t.fail("train.metrics", "expected strings, found " + x.dump());
      try {
        metric(x.get<std::string>());
      } catch (const Error& e) {
        t.fail("train.metrics", e.what());
      }
      if (std::find(cfg.train.metrics.begin(), cfg.train.metrics.end(), x.get<std::string>()) !=
          cfg.train.metrics.end())
        t.fail("train.metrics", "metric '" + x.get<std::string>() + "' listed twice");
      cfg.train.metrics.push_back(x.get<std::string>());
    }
  }
  cfg.train.metric_samples = t.count_or("metric_samples", 8, 1);
  resolve_strategies(t, cfg, batch, log);
  t.done();
}

/// [reference] (optional): the reference's choices as switches, applied to the strategies.
void resolve_reference(Fields& top, ExperimentConfig& cfg, std::vector<KeyUse>* log) {
  if (!top.has("reference")) return;
  Fields r(top.table("reference", "(optional)"), cfg.source, "reference", log);
  ReferenceSwitches& sw = cfg.reference;
  sw.sampler = r.flag("sampler", false);
  sw.rot_aug = r.flag("rot_aug", false);
  sw.nom_distance_on_aug = r.flag("nom_distance_on_aug", false);
  sw.double_softmax = r.flag("double_softmax", false);
  sw.equi_last_layer = r.flag("equi_last_layer", false);
  sw.nom_aug_norm = r.flag("nom_aug_norm", false);
  r.done();
  if (sw.double_softmax && cfg.json.at("model").at("loss") != "cross_entropy")
    r.fail("reference.double_softmax",
           "applies to the cross_entropy loss (a softmax before it), not to " + cfg.json.at("model").at("loss").dump());
  bool nom = false, aug = false;
  for (auto& st : cfg.train.strategies) {
    nom = nom || st.mode == Mode::Nom;
    aug = aug || st.mode == Mode::Aug;
    if (st.mode == Mode::Equi && sw.equi_last_layer) {
      // The reference's step is on the dense weights (recorded as train.equi.update = "dense").
      st.equi_update = EquiUpdate::Dense;
      st.project_last_weights = true;
    }
    if (!st.augments()) continue;
    // rot_aug is the reference's rule for Rot; sampler its rule for every other group.
    st.sampler = sw.rot_aug ? Sampler::RotReversal : sw.sampler ? Sampler::Reference : Sampler::Haar;
    if (st.sampler != Sampler::Haar && st.exact)
      r.fail(sw.rot_aug ? "reference.rot_aug" : "reference.sampler",
             "applies to sampled augmentation, but train.aug.exact averages over every element");
  }
  if (sw.nom_distance_on_aug && !(nom && aug))
    r.fail("reference.nom_distance_on_aug", "needs both nom and aug in train.modes (it measures Nom on Aug)");
  if (sw.nom_aug_norm) {
    bool unconstrained = false;
    for (const auto& st : cfg.train.strategies) unconstrained = unconstrained || st.mode != Mode::Equi;
    if (!unconstrained)
      r.fail("reference.nom_aug_norm", "changes the Nom and Aug models, but train.modes has only equi");
    bool layernorm = false;
    for (const auto& l : cfg.json.at("model").at("layers")) layernorm = layernorm || l.at("type") == "layernorm";
    if (!layernorm)
      r.fail("reference.nom_aug_norm",
             "replaces the model's layernorm layers with batch norms for Nom and Aug, but model.layers has no "
             "layernorm");
  }
}

/// Every default written back, so that the manifest holds the complete configuration.
void write_back_train(ExperimentConfig& cfg) {
  json& t = cfg.json["train"];
  t["runs"] = cfg.runs;
  t["epochs"] = cfg.train.epochs;
  t["lr"] = cfg.train.lr;
  // Recorded where it is on, so that configurations without it resolve as before.
  t.erase("weight_decay");
  if (cfg.train.weight_decay > 0) t["weight_decay"] = cfg.train.weight_decay;
  t["seed"] = cfg.train.seed;
  t["chunk"] = cfg.chunk;
  t["precision"] = cfg.precision == Precision::F32 ? "f32" : "f64";
  t["init_weights"] = cfg.init_weights;
  t["start"] = cfg.train.raw_start ? "raw" : "projected";
  // Recorded where a metric runs, so that configurations without one resolve as before.
  t.erase("metric_samples");
  t.erase("metrics");
  if (!cfg.train.metrics.empty()) {
    t["metrics"] = cfg.train.metrics;
    t["metric_samples"] = cfg.train.metric_samples;
  }
  t["modes"] = json::array();
  t.erase("penalty");  // recorded below only where augpen runs
  for (const auto& st : cfg.train.strategies) {
    t["modes"].push_back(st.name());
    t["batch"] = st.batch;
    // Exact augmentation makes one pass per group element: passes and per are not used,
    // and the manifest records only what ran.
    if (st.mode == Mode::AugPen) t["penalty"] = st.penalty;
    if (st.augments())
      t["aug"] =
          st.exact ? json{{"exact", true}} : json{{"passes", st.passes}, {"per", to_string(st.per)}, {"exact", false}};
    if (st.mode == Mode::Equi) t["equi"] = {{"update", to_string(st.equi_update)}, {"eval", to_string(st.equi_eval)}};
  }
}

}  // namespace

std::vector<std::string> ReferenceSwitches::on() const {
  std::vector<std::string> names;
  if (sampler) names.push_back("sampler");
  if (rot_aug) names.push_back("rot_aug");
  if (nom_distance_on_aug) names.push_back("nom_distance_on_aug");
  if (double_softmax) names.push_back("double_softmax");
  if (equi_last_layer) names.push_back("equi_last_layer");
  if (nom_aug_norm) names.push_back("nom_aug_norm");
  return names;
}

ExperimentConfig resolve(const json& j, const std::string& source, std::vector<KeyUse>* log) {
  ExperimentConfig cfg;
  cfg.source = source;
  cfg.json = j;
  Fields top(j, source, "", log);
  if (j.is_object() && j.contains("study"))
    top.fail(
        "study",
        "this configuration is a study of several members; run it with `eqaug run` (members are resolved one by one)");
  if (j.is_object() && j.contains("scales")) top.fail("scales", "internal: scales must be applied before resolving");
  cfg.name = top.str("name");
  // The name becomes the default results folder: keep it a plain file name.
  if (cfg.name.empty() ||
      cfg.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos ||
      cfg.name[0] == '.')
    top.fail("name",
             "expected letters, digits, '.', '_' or '-' (it names the results folder), found '" + cfg.name + "'");
  cfg.json["scale"] = top.str("scale", "full");
  const bool pixels = resolve_group(top, cfg, log);
  resolve_data(top, cfg, pixels, log);
  resolve_model(top, cfg, log);
  // Classes are the last layer's channels: say so before anything is allocated for them.
  const json& data = cfg.json.at("data");
  const json& last = cfg.json.at("model").at("layers").back();
  if (data.value("kind", std::string()) == "images" && last.value("type", std::string()) == "linear" &&
      last.contains("channels") && last["channels"] != data.at("classes"))
    top.fail("data.classes", "is " + data.at("classes").dump() + ", but the last layer (model.layers[" +
                                 std::to_string(cfg.json["model"]["layers"].size() - 1) + "]) has " +
                                 last["channels"].dump() + " channels, one per class; set both alike");
  resolve_train(top, cfg, log);
  resolve_reference(top, cfg, log);
  top.done();
  write_back_train(cfg);
  // Recorded where a switch is on, so that configurations without one resolve as before.
  cfg.json.erase("reference");
  if (!cfg.reference.on().empty())
    cfg.json["reference"] = {{"sampler", cfg.reference.sampler},
                             {"rot_aug", cfg.reference.rot_aug},
                             {"nom_distance_on_aug", cfg.reference.nom_distance_on_aug},
                             {"double_softmax", cfg.reference.double_softmax},
                             {"equi_last_layer", cfg.reference.equi_last_layer}};
  // Recorded where it is on, so that the manifests of the other switches stay as they were.
  if (cfg.reference.nom_aug_norm) cfg.json["reference"]["nom_aug_norm"] = true;
  return cfg;
}

GroupPtr build_group(const ExperimentConfig& cfg) {
  const json& g = cfg.json.at("group");
  GroupPtr group;
  try {
    group = group_kind(g.at("kind").get<std::string>()).build(g);
  } catch (const Error& e) {
    throw Error(cfg.source + ": group: " + e.what());
  }
  // A switched sampler must have a rule for this group: one draw tells.
  for (const auto& st : cfg.train.strategies)
    if (st.sampler != Sampler::Haar) try {
        Rng probe(0);
        group->sample_with(probe, st.sampler);
      } catch (const Error& e) {
        throw Error(cfg.source + ": " + (cfg.reference.rot_aug ? "reference.rot_aug" : "reference.sampler") + ": " +
                    e.what());
      }
  return group;
}

void require_one_model(const ExperimentConfig& cfg, const std::string& command) {
  if (cfg.reference.nom_aug_norm)
    throw Error(cfg.source + ": reference.nom_aug_norm: `eqaug " + command +
                "` studies one model, but this switch gives Nom and Aug another model than Equi; it applies to "
                "`eqaug run` only");
}

std::unique_ptr<ModelSpec> build_nom_aug_model(const ExperimentConfig& cfg, const GroupPtr& group) {
  if (!cfg.reference.nom_aug_norm) return nullptr;
  ExperimentConfig nom_aug = cfg;
  nom_aug.reference.nom_aug_norm = false;
  for (auto& l : nom_aug.json.at("model").at("layers"))
    if (l.at("type") == "layernorm") l = {{"type", "batchnorm"}, {"eps", l.value("eps", 1e-5)}, {"affine", true}};
  return build_model(nom_aug, group);
}

std::unique_ptr<ModelSpec> build_model(const ExperimentConfig& cfg, const GroupPtr& group) {
  const json& m = cfg.json.at("model");
  std::unique_ptr<ModelSpec> spec;
  try {
    spec = std::make_unique<ModelSpec>(group, make_space(*group, m.at("input").at("channels").get<std::size_t>(),
                                                         m.at("input").at("order").get<std::size_t>()));
  } catch (const Error& e) {
    throw Error(cfg.source + ": model.input: " + e.what());
  }
  // Layers with batch statistics share them over a minibatch of train.batch samples.
  spec->set_minibatch(cfg.json.at("train").value("batch", std::size_t{200}));
  const auto& layers = m.at("layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& l = layers[i];
    const auto type = l.at("type").get<std::string>();
    try {
      layer_type(type).build(*spec, l);
    } catch (const Error& e) {
      throw Error(cfg.source + ": model.layers[" + std::to_string(i) + "]: " + e.what());
    }
  }
  // [reference] double_softmax: the reference's head ends in a softmax that the loss repeats.
  if (cfg.reference.double_softmax) spec->add(LayerKind::Softmax);
  if (m.at("loss") == "bce") {
    spec->loss(LossKind::BCE);
    if (layers.back().at("type") != "sigmoid")
      throw Error(cfg.source + ": model.layers: the bce loss needs a final sigmoid layer");
  } else {
    spec->loss(LossKind::CrossEntropy);
    if (layers.back().at("type") != "linear")
      throw Error(cfg.source +
                  ": model.layers: cross_entropy applies the softmax to the logits itself, so the "
                  "last layer must be linear (no sigmoid or softmax layer)");
  }
  return spec;
}

Dataset build_data(const ExperimentConfig& cfg, const FiniteGroup& group) {
  const json& d = cfg.json.at("data");
  const auto kind = d.at("kind").get<std::string>();
  const auto samples = d.at("samples").get<std::size_t>();
  const auto npy = d.at("npy").get<std::string>();
  Rng rng = Rng::stream(cfg.train.seed, "data");
  try {
    if (kind == "images") {
      const std::size_t side = cfg.json.at("group").at("side").get<std::size_t>();
      const auto classes = d.at("classes").get<std::size_t>();
      ImageSet set;
      std::string name;
      if (!npy.empty()) {
        set = load_images_npy(npy);
        name = "images.npy (" + npy + ")";
      } else {
        const auto dir = d.at("dir").get<std::string>();
        const auto split = d.at("split").get<std::string>();
        set = load_mnist_dir(dir.empty() ? kFashionMnistDir : dir, split, samples);
        name = (dir.empty() ? std::string("fashion-mnist (Debian's dataset-fashion-mnist, ") : "idx (" + dir + ", ") +
               split + " split)";
      }
      if (set.count < samples)
        throw Error(name + " holds " + std::to_string(set.count) +
                    " images, fewer than data.samples = " + std::to_string(samples));
      if (set.count > samples) {
        set.pixels.resize(samples * set.height * set.width);
        set.labels.resize(samples);
        set.count = samples;
      }
      return classification_dataset(set, side, classes, group, name);
    }
    if (kind == "shapes") {
      if (!npy.empty()) return load_shapes_npy(npy, samples, group);
      ShapesOptions o;
      o.samples = samples;
      o.side = cfg.json.at("group").at("side").get<std::size_t>();
      o.r_min = d.at("r_min").get<double>();
      o.r_max = d.at("r_max").get<double>();
      o.shift = d.at("shift").get<double>();
      return make_shapes(o, group, rng);
    }
    if (!npy.empty()) return load_graph_npy(npy, samples, group);
    SbmOptions o;
    o.samples = samples;
    o.clusters = d.at("clusters").get<std::vector<std::size_t>>();
    o.p = d.at("p").get<double>();
    o.q = d.at("q").get<double>();
    return make_sbm(o, group, rng);
  } catch (const Error& e) {
    throw Error(cfg.source + ": data: " + e.what());
  }
}

json merge_tables(json base, const json& over) {
  if (!base.is_object() || !over.is_object()) return over;
  for (const auto& [k, v] : over.items()) base[k] = base.contains(k) ? merge_tables(base[k], v) : v;
  return base;
}

json apply_scale(json j, const std::string& scale, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a table at the top level");
  json scales = j.contains("scales") ? j["scales"] : json::object();
  if (!scales.is_object()) throw Error(source + ": scales: expected tables [scales.<name>]");
  j.erase("scales");
  if (scale != "full") {
    if (!scales.contains(scale)) {
      std::string names = "full";
      for (const auto& [k, v] : scales.items()) names += ", " + k;
      throw Error(source + ": scale '" + scale + "' is not defined (available: " + names + ")");
    }
    if (!scales[scale].is_object()) throw Error(source + ": scales." + scale + ": expected a table");
    for (const char* key : {"scales", "scale", "study"})
      if (scales[scale].contains(key))
        throw Error(source + ": scales." + scale + "." + key + ": a scale changes the experiment's tables; it cannot " +
                    (std::string(key) == "study" ? "change the study's members" : "hold scales or choose one"));
    j = merge_tables(std::move(j), scales[scale]);
  }
  j["scale"] = scale;
  return j;
}

std::vector<StudyMember> study_members(const json& j, const std::string& source) {
  std::vector<StudyMember> out;
  if (!j.is_object() || !j.contains("study")) return out;
  const json& st = j["study"];
  if (!st.is_object() || !st.contains("members") || !st["members"].is_array() || st["members"].empty())
    throw Error(source + ": study: expected members = [ { name = \"...\", ... }, ... ]");
  for (const auto& [k, v] : st.items())
    if (k != "members") throw Error(source + ": study." + k + ": unknown key");
  json base = j;
  base.erase("study");
  if (base.contains("name") && !base["name"].is_string())
    throw Error(source + ": name: expected a string, found " + base["name"].dump());
  const std::string name = base.value("name", std::string());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < st["members"].size(); ++i) {
    const json& m = st["members"][i];
    const std::string where = source + ": study.members[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string())
      throw Error(where + ": expected a table with a name");
    const auto member = m["name"].get<std::string>();
    if (member.empty() || member.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
      throw Error(where + ".name: expected lower-case letters, digits, '_' or '-' (it names a folder), found '" +
                  member + "'");
    if (!seen.insert(member).second) throw Error(where + ".name: '" + member + "' appears twice");
    json over = m;
    over.erase("name");
    json member_base = base;
    if (over.contains("preset")) {
      // The member starts from another preset (at the study's scale); the study's own tables
      // (and the command line's overrides) then go over it, the member's last.
      if (!over["preset"].is_string())
        throw Error(where + ".preset: expected a preset name or .toml path, found " + over["preset"].dump());
      const auto file = find_config(over["preset"].get<std::string>());
      json p = apply_scale(load_toml(file), base.value("scale", std::string("full")),
                           where + ".preset (" + file.string() + ")");
      p.erase("study");  // a study preset lends its shared tables, not its members
      member_base = merge_tables(std::move(p), base);
      over.erase("preset");
    }
    json cj = merge_tables(member_base, over);
    cj["name"] = name + "-" + member;
    out.push_back({member, std::move(cj)});
  }
  return out;
}

std::string accuracy_kind(const ModelSpec& spec) {
  if (spec.loss_kind() == LossKind::CrossEntropy)
    return spec.output().sites == 1 ? "classification accuracy" : "per-site classification accuracy";
  return spec.output().sites == 1 ? "binary accuracy" : "per-pixel mask accuracy";
}

}  // namespace eqaug::io
