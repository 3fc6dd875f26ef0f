// eqaug — equivariance versus augmentation, the command line.
#include <signal.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "eqaug/analysis/checks.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/group/registry.hpp"
#include "eqaug/experiment/hessian.hpp"
#include "eqaug/experiment/study.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/config/config.hpp"
#include "eqaug/formats/npy.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/report/report.hpp"

namespace {

// Set by SIGINT/SIGTERM to the signal number; the sweep stops at the next chunk. The
// handler then steps aside, so a second Ctrl-C ends the process at once.
std::atomic<int> g_stop{0};
extern "C" void on_stop_signal(int sig) {
  g_stop.store(sig);
  ::signal(sig, SIG_DFL);
}

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// Exit statuses (documented in --help and the README).
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

struct RunArgs {
  std::string config;
  std::optional<std::size_t> runs, epochs, aug_passes, batch, threads, chunk;
  std::optional<std::uint64_t> seed;
  std::optional<double> lr, penalty;
  std::optional<std::string> aug_per, precision, equi_update, equi_eval, data_npy, data_dir, init_weights;
  std::string scale = "full";
  std::vector<std::string> sets;     // --set key.path=value, any config key
  std::optional<std::string> modes;  // comma-separated, one token (never swallows the config path)
  std::optional<std::string> start;
  std::optional<bool> aug_exact;  // --aug-exact, --aug-exact=false
  std::string out;
  bool force = false, resume = false, save_weights = false, no_report = false;
  std::string device = "cpu";
  bool tf32 = false;
  std::optional<std::string> shard;
};

/// --shard k/n: 0 <= k < n.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::size_t k = 0, n = 0;
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < text.size() &&
            text.find_first_not_of("0123456789/") == std::string::npos &&
            text.find('/', slash + 1) == std::string::npos;
  if (ok) {
    k = std::stoull(text.substr(0, slash));
    n = std::stoull(text.substr(slash + 1));
    ok = n >= 1 && k < n && n <= 100000;
  }
  if (!ok) throw eqaug::Error("--shard: expected k/n with 0 <= k < n (e.g. 0/4 ... 3/4), got '" + text + "'");
  return {k, n};
}

/// The table at `key`, created if absent; a non-table there is the config's error.
nlohmann::json& table(nlohmann::json& parent, const std::string& key, const std::string& where) {
  auto& t = parent[key];
  if (t.is_null()) t = nlohmann::json::object();
  if (!t.is_object()) throw eqaug::Error(where + ": expected a table, so the command-line override cannot apply");
  return t;
}

std::string absolute_dir(const std::string& option, const std::string& path) {
  if (path.empty()) throw eqaug::Error(option + ": empty path");
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

/// --set a.b.c=VALUE: VALUE is read as a TOML value (a number, true/false, "text",
/// [lists], { tables }), or taken as a plain string when it is none of those.
void set_key(nlohmann::json& j, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw eqaug::Error("--set: expected KEY=VALUE such as train.lr=2e-5 or model.layers[0].channels=16, found '" + kv +
                       "'");
  const std::string path = kv.substr(0, eq), text = kv.substr(eq + 1);
  nlohmann::json value;
  try {
    value = eqaug::io::toml_value(text);
  } catch (const eqaug::Error&) {
    value = text;  // a bare word: a string
  }
  nlohmann::json* node = &j;
  std::size_t at = 0;
  while (at < path.size()) {
    std::size_t end = path.find_first_of(".[", at);
    if (end == std::string::npos) end = path.size();
    const std::string key = path.substr(at, end - at);
    if (key.empty() && !(at < path.size() && path[at] == '[')) throw eqaug::Error("--set: '" + path + "': empty key");
    if (!key.empty()) {
      if (!node->is_object()) throw eqaug::Error("--set: '" + path + "': '" + key + "' is not inside a table");
      node = &(*node)[key];
    }
    at = end;
    while (at < path.size() && path[at] == '[') {
      const std::size_t close = path.find(']', at);
      if (close == std::string::npos) throw eqaug::Error("--set: '" + path + "': missing ]");
      const std::string index = path.substr(at + 1, close - at - 1);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos)
        throw eqaug::Error("--set: '" + path + "': expected a list index, found '" + index + "'");
      const std::size_t i = std::stoul(index);
      if (!node->is_array() || i >= node->size())
        throw eqaug::Error("--set: '" + path + "': no element " + index + " (the list has " +
                           std::to_string(node->is_array() ? node->size() : 0) + ")");
      node = &(*node)[i];
      at = close + 1;
    }
    if (at < path.size() && path[at] == '.') ++at;
  }
  *node = value;
}

nlohmann::json apply_overrides(nlohmann::json j, const RunArgs& a, const std::string& source) {
  if (!j.is_object()) throw eqaug::Error(source + ": expected a table at the top level");
  // --set first, so that the options of their own (--lr, ...) have the last word.
  for (const auto& kv : a.sets) set_key(j, kv);
  auto& t = table(j, "train", source + ": train");
  if (a.runs) t["runs"] = *a.runs;
  if (a.epochs) t["epochs"] = *a.epochs;
  if (a.lr) t["lr"] = *a.lr;
  if (a.penalty) t["penalty"] = *a.penalty;
  if (a.batch) t["batch"] = *a.batch;
  if (a.seed) t["seed"] = *a.seed;
  if (a.chunk) t["chunk"] = *a.chunk;
  if (a.precision) t["precision"] = *a.precision;
  if (a.modes) {
    nlohmann::json list = nlohmann::json::array();
    std::string rest = *a.modes;
    for (std::size_t at; !rest.empty(); rest = at == std::string::npos ? "" : rest.substr(at + 1)) {
      at = rest.find(',');
      const std::string m = rest.substr(0, at);
      if (m != "nom" && m != "aug" && m != "equi" && m != "augpen")
        throw eqaug::Error("--modes: '" + m +
                           "' is not a mode (expected a comma-separated list of nom, aug, equi, augpen)");
      list.push_back(m);
    }
    if (list.empty()) throw eqaug::Error("--modes: empty list (expected e.g. nom,aug,equi)");
    t["modes"] = list;
  }
  if (a.aug_passes) table(t, "aug", source + ": train.aug")["passes"] = *a.aug_passes;
  if (a.aug_per) table(t, "aug", source + ": train.aug")["per"] = *a.aug_per;
  if (a.aug_exact) table(t, "aug", source + ": train.aug")["exact"] = *a.aug_exact;
  if (a.equi_update) table(t, "equi", source + ": train.equi")["update"] = *a.equi_update;
  if (a.equi_eval) table(t, "equi", source + ": train.equi")["eval"] = *a.equi_eval;
  if (a.init_weights) t["init_weights"] = absolute_dir("--init-weights", *a.init_weights);
  if (a.start) t["start"] = *a.start;
  if (a.data_npy) table(j, "data", source + ": data")["npy"] = absolute_dir("--data-npy", *a.data_npy);
  if (a.data_dir) {
    auto& d = table(j, "data", source + ": data");
    if (d.value("kind", std::string()) != "images")
      throw eqaug::Error("--data-dir: only image presets (data.kind = \"images\") read MNIST-format files");
    d["dir"] = absolute_dir("--data-dir", *a.data_dir);
  }
  return j;
}

/// One resolved configuration per member of a study, or the configuration itself.
std::vector<std::pair<std::string, eqaug::io::ExperimentConfig>> resolve_all(const nlohmann::json& j,
                                                                             const std::string& source) {
  std::vector<std::pair<std::string, eqaug::io::ExperimentConfig>> out;
  const auto members = eqaug::io::study_members(j, source);
  if (members.empty()) out.emplace_back("", eqaug::io::resolve(j, source));
  for (const auto& m : members)
    out.emplace_back(m.name, eqaug::io::resolve(m.json, source + " (study member " + m.name + ")"));
  return out;
}

/// The configuration as every command sees it: the file, its scale, then the overrides.
/// The file is validated as written first: a bad value in it is an error even where the
/// command line would replace it.
nlohmann::json load_config(const RunArgs& a, std::string& source) {
  if (std::filesystem::is_directory(a.config) &&
      std::filesystem::exists(std::filesystem::path(a.config) / "manifest.json")) {
    // A results folder: the configuration its sweep ran (already resolved), then the overrides.
    source = (std::filesystem::path(a.config) / "manifest.json").string();
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(eqaug::io::read_file(source));
    } catch (const nlohmann::json::exception& e) {
      throw eqaug::Error(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!m.is_object() || !m.contains("config") || !m["config"].is_object())
      throw eqaug::Error(source + ": no field config (not a manifest written by eqaug run)");
    return apply_overrides(m["config"], a, source);
  }
  const auto file = eqaug::io::find_config(a.config);
  source = file.string();
  auto j = eqaug::io::apply_scale(eqaug::io::load_toml(file), a.scale, source);
  resolve_all(j, source);
  j = apply_overrides(std::move(j), a, source);
  if (a.aug_passes || a.aug_per) {
    const auto& t = j["train"];
    const bool exact = t.contains("aug") && t["aug"].is_object() && t["aug"].value("exact", false);
    if (exact)
      throw eqaug::Error(std::string(a.aug_passes ? "--aug-passes" : "--aug-per") +
                         ": not used with exact augmentation (one pass per group element); drop it, or "
                         "pass --aug-exact=false");
  }
  return j;
}

const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// `eqaug data --save-data`: the data set as .npy files in the layout --data-npy reads.
void export_data(const eqaug::io::ExperimentConfig& cfg, const std::filesystem::path& dir, bool force) {
  namespace fs = std::filesystem;
  const auto group = eqaug::io::build_group(cfg);
  const auto data = eqaug::io::build_data(cfg, *group);
  if (fs::exists(dir) && !fs::is_empty(dir) && !force)
    throw eqaug::Error("--save-data: '" + dir.string() + "' exists and is not empty; pass --force to write into it");
  fs::create_directories(dir);
  const auto kind = cfg.json.at("data").at("kind").get<std::string>();
  const std::size_t D = data.input.dim(), Y = data.target.dim(), S = data.input.sites;
  const std::size_t side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(S))));
  if (kind == "sbm") {
    for (std::size_t i = 0; i < data.size; ++i) {
      eqaug::io::write_npy<double>(dir / ("graphmat" + std::to_string(i) + ".npy"), data.x.data() + i * D,
                                   {side, side});
      eqaug::io::write_npy<double>(dir / ("graphlabel" + std::to_string(i) + ".npy"), data.y.data() + i * Y, {});
    }
  } else if (kind == "shapes") {
    for (std::size_t i = 0; i < data.size; ++i) {
      eqaug::io::write_npy<double>(dir / ("shpsimg" + std::to_string(i) + ".npy"), data.x.data() + i * D, {side, side});
      eqaug::io::write_npy<double>(dir / ("shpstrig" + std::to_string(i) + ".npy"), data.y.data() + i * Y,
                                   {side, side});
      eqaug::io::write_npy<double>(dir / ("shpspent" + std::to_string(i) + ".npy"), data.y.data() + i * Y + S,
                                   {side, side});
    }
  } else {
    std::vector<double> labels(data.size);
    for (std::size_t i = 0; i < data.size; ++i)
      labels[i] = static_cast<double>(std::max_element(data.y.begin() + static_cast<std::ptrdiff_t>(i * Y),
                                                       data.y.begin() + static_cast<std::ptrdiff_t>((i + 1) * Y)) -
                                      (data.y.begin() + static_cast<std::ptrdiff_t>(i * Y)));
    eqaug::io::write_npy<double>(dir / "images.npy", data.x.data(), {data.size, side, side});
    eqaug::io::write_npy<double>(dir / "labels.npy", labels.data(), {data.size});
  }
  std::cout << "wrote " << data.size << " samples of " << data.name << " to " << dir.string() << "\n";
}

/// `eqaug data`: a contact sheet of the first samples with their labels or masks.
int write_data_sheet(const eqaug::io::ExperimentConfig& cfg, const std::filesystem::path& dir, std::size_t count,
                     bool force) {
  const auto group = eqaug::io::build_group(cfg);
  const auto data = eqaug::io::build_data(cfg, *group);
  const auto& in = data.input;
  const std::size_t side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(in.sites))));
  if (in.order != 1 || in.channels != 1 || side * side != in.sites)
    throw eqaug::Error(cfg.name +
                       ": contact sheets show images (one channel on an N x N grid); the inputs of this "
                       "preset are " +
                       std::to_string(in.channels) + " channel(s) on " + std::to_string(in.sites) + " sites of order " +
                       std::to_string(in.order) + " (e.g. graphs: see --save-data of Perm)");
  const auto png = dir / (cfg.name + "-data.png");
  if (std::filesystem::exists(png) && !force)
    throw eqaug::Error(png.string() + " already exists; pass --force to replace it");
  eqaug::report::ContactSheet sheet;
  sheet.side = side;
  count = std::min(count, data.size);
  const bool fashion = data.name.rfind("fashion-mnist", 0) == 0;
  const auto& tg = data.target;
  if (tg.order == 1)
    for (std::size_t c = 0; c < tg.channels; ++c)
      sheet.mask_names.push_back(c == 0 ? "triangle mask" : c == 1 ? "pentagon mask" : "mask " + std::to_string(c));
  for (std::size_t i = 0; i < count; ++i) {
    sheet.images.emplace_back(data.x.begin() + static_cast<std::ptrdiff_t>(i * in.dim()),
                              data.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * in.dim()));
    const double* y = data.y.data() + i * tg.dim();
    if (tg.order == 1) {
      std::vector<std::vector<double>> masks;
      std::string what;
      for (std::size_t c = 0; c < tg.channels; ++c) {
        masks.emplace_back(y + c * tg.sites, y + (c + 1) * tg.sites);
        double on = 0;
        for (std::size_t s = 0; s < tg.sites; ++s) on += y[c * tg.sites + s];
        if (on > 0 && on < static_cast<double>(tg.sites) && tg.channels == 2) what = c == 0 ? "triangle" : "pentagon";
      }
      sheet.masks.push_back(std::move(masks));
      sheet.labels.push_back(what.empty() ? "#" + std::to_string(i) : what);
    } else {
      std::size_t label = 0;
      for (std::size_t c = 1; c < tg.channels; ++c)
        if (y[c] > y[label]) label = c;
      std::string text = tg.channels == 1 ? (y[0] > 0.5 ? "1" : "0") : std::to_string(label);
      if (fashion && label < 10 && tg.channels == 10) text += std::string(" (") + kFashionClasses[label] + ")";
      sheet.labels.push_back(text);
    }
  }
  sheet.title = cfg.name + ": first " + std::to_string(count) + " of " + std::to_string(data.size) + " samples, " +
                data.name + ", " + std::to_string(side) + "x" + std::to_string(side) + " pixels in [0,1] (before the " +
                eqaug::io::csv_number(cfg.json.at("data").value("input_shift", 0.0)) + " shift)";
  std::filesystem::create_directories(dir);
  const auto written = eqaug::report::write_contact_sheet(sheet, png);
  std::cout << "wrote " << written.string() << " (" << data.name << ")\n";
  for (const auto& note : data.notes) std::cout << "note: " << note << "\n";
  return 0;
}

/// A finite real number > 0, with a message a person can read (CLI11's PositiveNumber
/// prints the whole range of double).
const CLI::Validator positive_real(
    [](std::string& value) -> std::string {
      try {
        std::size_t used = 0;
        const double x = std::stod(value, &used);
        if (used == value.size() && std::isfinite(x) && x > 0) return {};
      } catch (const std::exception&) {
      }
      return "expected a positive number, found '" + value + "'";
    },
    "POSITIVE");

/// Digits only: unsigned options must not take "-1" (it would wrap around).
const CLI::Validator whole_number(
    [](std::string& value) -> std::string {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        return "expected a non-negative whole number, found '" + value + "'";
      // Refused, not clamped: 2^64 - 1 is the largest seed.
      const std::string max = "18446744073709551615";
      const std::string digits = value.substr(std::min(value.find_first_not_of('0'), value.size() - 1));
      if (digits.size() > max.size() || (digits.size() == max.size() && digits > max))
        return "'" + value + "' does not fit in 64 bits (at most " + max + ")";
      return {};
    },
    "UINT");

std::string joined(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "eqaug: equivariant layers versus data augmentation (Nordenfors, Ohlsson, Flinth).\n"
      "Trains Nom, Aug and Equi models from one equivariant start and records how far each\n"
      "drifts from the equivariant subspace E.",
      "eqaug"};
  app.set_version_flag("--version", std::string("eqaug ") + EQAUG_VERSION);
  app.require_subcommand(1);

  RunArgs a;
  auto* run = app.add_subcommand(
      "run", "Run a sweep of an experiment (a preset in configs/: perm, trans, rot, groups; or a .toml file)");
  run->add_option("config", a.config, "Preset name (perm, trans, rot, groups) or path to a config .toml")->required();
  run->add_option("--runs", a.runs, "Independent runs (default: the config's train.runs; perm: 30)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  run->add_option("--epochs", a.epochs, "Gradient steps per run, one per full pass (default: train.epochs; perm: 50)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
  run->add_option("--aug-passes", a.aug_passes, "Augmentation passes L per step (default: train.aug.passes; perm: 25)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  run->add_option("--aug-per", a.aug_per,
                  "One group element per 'sample' or per minibatch ('batch') (default: train.aug.per; perm: sample)")
      ->check(CLI::IsMember({"sample", "batch"}));
  bool aug_exact_flag = false;
  auto* aug_exact_opt = run->add_flag("--aug-exact", aug_exact_flag,
                                      "Aug descends the exact Haar average over all group elements (small groups "
                                      "only); --aug-exact=false turns a config's exact = true off (default: "
                                      "train.aug.exact; false)");
  run->add_option("--lr", a.lr, "Learning rate eta (default: train.lr; perm: 1e-4)")->check(positive_real);
  run->add_option(
         "--batch", a.batch,
         "Minibatch size: samples sharing one group element with --aug-per batch (default: train.batch; perm: 200)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}));
  run->add_option("--seed", a.seed,
                  "Master seed of the data, init and augmentation streams (default: train.seed; perm: 0)")
      ->check(whole_number);
  run->add_option("--modes", a.modes,
                  "Strategies to train, a comma-separated list of nom, aug, equi, augpen, e.g. --modes nom,equi "
                  "(default: train.modes; nom,aug,equi)");
  run->add_option("--penalty", a.penalty,
                  "gamma of the augpen strategy: Aug plus gamma/2 |A - P_E A|^2, with Aug's draws; use with "
                  "--modes ...,augpen (default: train.penalty; 0)")
      ->check(positive_real);
  run->add_option("--precision", a.precision, "f32 (as the paper) or f64 (default: train.precision; perm: f32)")
      ->check(CLI::IsMember({"f32", "f64"}));
  run->add_option("--equi-update", a.equi_update,
                  "Equi update in the orthonormal 'orbit' coordinates (float64 master copy) or on the 'dense' "
                  "weights as the reference (default: train.equi.update; orbit)")
      ->check(CLI::IsMember({"orbit", "dense"}));
  run->add_option("--chunk", a.chunk, "Samples per matrix product (default: train.chunk; 500)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  run->add_option("--threads", a.threads, "Worker threads (default: all cores); results do not depend on it")
      ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));
  run->add_option("--device", a.device,
                  "Where to compute: 'cpu', or 'cuda' / 'cuda:N' for a GPU (a build with CUDA; Equi then evaluates "
                  "dense layers) (default: cpu)");
  run->add_flag("--tf32", a.tf32,
                "On a GPU, let cuBLAS round float32 products to TF32 on tensor cores: faster, but too coarse for "
                "distances of 1e-6 to E; recorded in the manifest (default: off)");
  run->add_option("--shard", a.shard,
                  "k/n: run only the runs r with r mod n = k, into the same --out as the other shards (one process "
                  "per GPU, or a Slurm job array: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT); the last "
                  "shard to finish marks the sweep complete (default: all runs)");
  run->add_option("--set", a.sets,
                  "Set any config key, KEY=VALUE with a dotted path and a TOML value, e.g. --set train.lr=2e-5 "
                  "--set model.layers[0].channels=16 --set data.p=0.4; repeatable, applied after the file and "
                  "before the other options (default: none)")
      ->allow_extra_args(false);
  run->add_option(
      "--scale", a.scale,
      "Preset scale: 'full' (the paper's settings) or a [scales.<name>] table such as 'small' (default: full)");
  run->add_option(
      "--data-npy", a.data_npy,
      "Read the data from DIR: Perm: graphmat{i}.npy, graphlabel{i}.npy; Trans/Groups: images.npy (n,N,N) in "
      "[0,1] and labels.npy (n,); Rot: shpsimg{i}.npy, shpstrig{i}.npy, shpspent{i}.npy (the authors' layouts) "
      "(default: data.npy; none: the preset's own data)");
  run->add_option("--data-dir", a.data_dir,
                  "Image presets: DIR with the MNIST-format IDX files (t10k-images-idx3-ubyte[.gz], ...) instead of "
                  "Debian's Fashion-MNIST (default: data.dir, \"\" = /usr/share/datasets/fashion-mnist)");
  run->add_option(
         "--equi-eval", a.equi_eval,
         "Equi layers through E's structure ('structured': FFT convolutions, orbit pooling), on dense weights "
         "('dense', the oracle) or 'auto' = structured where a Fourier path exists (default: train.equi.eval; auto)")
      ->check(CLI::IsMember({"auto", "structured", "dense"}));
  run->add_option("--init-weights", a.init_weights,
                  "Start every strategy from DIR/A<j>.npy, projected onto E first (default: train.init_weights; "
                  "none: each run draws its own start)");
  run->add_option("--start", a.start,
                  "'projected': start every run at A0 projected onto E (the paper); 'raw': at the drawn or "
                  "--init-weights point as it is, off E (Equi starts at its projection) (default: train.start; "
                  "projected)")
      ->check(CLI::IsMember({"projected", "raw"}));
  run->add_flag("--save-weights", a.save_weights, "Write OUT/<mode>/run-<k>/{init,final}/A<j>.npy (default: off)");
  auto* out_opt = run->add_option("--out", a.out, "Results directory (default: results/<config name>)");
  run->add_flag("--force", a.force, "Replace an existing results directory (default: off)");
  run->add_flag("--resume", a.resume,
                "Continue an interrupted sweep in --out, same configuration required (default: off)");
  run->add_flag("--no-report", a.no_report,
                "Do not print the summary table and draw the figure at the end (default: off: report)");

  RunArgs d;
  auto* dims = app.add_subcommand("dims", "Dimensions of L and of the equivariant subspace E, layer by layer");
  dims->add_option("config", d.config, "Preset name (perm, trans, rot, groups) or path to a config .toml")->required();
  dims->add_option("--scale", d.scale, "Preset scale: full or small (default: full)");
  dims->add_option("--set", d.sets, "As for run: KEY=VALUE for any config key (default: none)")
      ->allow_extra_args(false);

  RunArgs ds;
  std::string data_out;
  std::size_t data_count = 32;
  bool data_force = false;
  auto* datacmd =
      app.add_subcommand("data", "Contact sheet (PNG) of the first samples of a preset's data, with labels or masks");
  datacmd->add_option("config", ds.config, "Preset name (trans, rot, groups) or path to a config .toml")->required();
  datacmd->add_option("--out", data_out,
                      "Folder for the contact sheet <name>-data.png (default: none; needs --out or --save-data)");
  std::string save_data;
  datacmd->add_option("--save-data", save_data,
                      "Export the data set to DIR as .npy in the authors' layout: graphs graphmat{i}.npy + "
                      "graphlabel{i}.npy, shapes shpsimg{i}.npy + shpstrig{i}.npy + shpspent{i}.npy, images "
                      "images.npy + labels.npy (default: none); --data-npy reads it back");
  datacmd->add_option("--count", data_count, "Samples shown (default: 32)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  datacmd->add_option("--scale", ds.scale, "Preset scale: full or small (default: full)");
  datacmd->add_option("--set", ds.sets, "As for run: KEY=VALUE for any config key (default: none)")
      ->allow_extra_args(false);
  datacmd->add_option("--data-npy", ds.data_npy, "As for run (default: data.npy; none)");
  datacmd->add_option("--data-dir", ds.data_dir, "As for run (default: data.dir; Debian's Fashion-MNIST)");
  datacmd->add_option("--seed", ds.seed, "Seed of generated data (default: train.seed)")->check(whole_number);
  datacmd->add_flag("--force", data_force, "Replace an existing sheet (default: off)");

  RunArgs ck;
  RunArgs hs;
  eqaug::experiment::HessianOptions hopt;
  std::string hessian_steps, hessian_out;
  bool hessian_no_plot = false;
  auto* hesscmd = app.add_subcommand(
      "hessian",
      "Along augmented trajectories (float64): the smallest eigenvalues of Hess R^eq on E and of Hess R^aug on "
      "E-perp by Lanczos on exact Hessian-vector products, with residuals and standard errors, and whether E is "
      "linearly stable; writes OUT/hessian.csv and a figure");
  hesscmd
      ->add_option("config", hs.config,
                   "Preset name, path to a config .toml, or a results folder of 'eqaug run' (its configuration)")
      ->required();
  hesscmd->add_option("--steps", hessian_steps,
                      "Comma-separated steps of the trajectory, e.g. 0,10,50 (default: 0 and the last step)");
  hesscmd->add_option("--modes", hs.modes, "Trajectories: aug and/or augpen, comma-separated (default: aug)");
  hesscmd->add_option("--k", hopt.k, "Eigenvalues per operator (default: 5)")->check(CLI::Range(1, 100));
  hesscmd
      ->add_option("--hessian-samples", hopt.samples,
                   "M: random passes (a group element per sample) per Monte-Carlo Hess R^aug (default: 25)")
      ->check(CLI::Range(1, 100000));
  hesscmd
      ->add_option("--repeats", hopt.repeats,
                   "Independent Monte-Carlo estimates of Hess R^aug, for the standard errors (default: 3)")
      ->check(CLI::Range(1, 1000));
  hesscmd->add_flag("--hessian-exact", hopt.exact,
                    "Hess R^aug as the exact average over every group element (small groups) (default: off)");
  hesscmd->add_option("--run", hopt.run, "Whose initial point A0 (run index of the sweep) (default: 0)");
  hesscmd->add_option("--tol", hopt.tol, "Lanczos relative tolerance (default: 1e-8)")->check(positive_real);
  hesscmd
      ->add_option("--ncv", hopt.ncv,
                   "Lanczos basis size, at least 2k + 10 (default: 300, fewer where 2 ncv parameter vectors would "
                   "take over a quarter of the free memory; 40 with --spectra)")
      ->check(CLI::Range(2, 10000));
  hesscmd
      ->add_option("--block", hopt.block,
                   "Vectors per Hessian product on E-perp (block Lanczos): more than 1 resolves eigenvalues that "
                   "come in multiplets, as the exact Hess R^aug's do at A in E (default: k with --hessian-exact, "
                   "else 1)")
      ->check(CLI::Range(1, 64));
  hesscmd
      ->add_option("--products", hopt.products,
                   "Hessian-vector products: mixed (float32 ones, at half the cost, build the Lanczos basis until "
                   "the k pairs meet --tol or float32's accuracy; float64 ones then start from those vectors and "
                   "certify every value and residual; needs --tol 1e-7 or more) or f64 (all float64) (default: "
                   "mixed where --tol is 1e-7 or more, else f64; f64 with --spectra)")
      ->check(CLI::IsMember({"mixed", "f64"}));
  hesscmd->add_flag("--spectra", hopt.spectra,
                    "Spectra's implicitly restarted Lanczos instead of the thick-restart solver, as a cross-check "
                    "(default: off)");
  hesscmd->add_option("--scale", hs.scale, "Preset scale: full or small (default: full)");
  hesscmd->add_option("--set", hs.sets, "As for run: KEY=VALUE for any config key (default: none)")
      ->allow_extra_args(false);
  hesscmd->add_option("--epochs", hs.epochs, "As for run (default: train.epochs)");
  hesscmd->add_option("--lr", hs.lr, "As for run (default: train.lr)")->check(positive_real);
  hesscmd->add_option("--aug-passes", hs.aug_passes, "As for run: the trajectory's L (default: train.aug.passes)");
  hesscmd->add_flag("--aug-exact{true}", hs.aug_exact,
                    "As for run: the trajectory by exact augmentation (default: off)");
  hesscmd->add_option("--penalty", hs.penalty, "As for run: gamma of augpen (default: train.penalty)");
  hesscmd->add_option("--seed", hs.seed, "As for run (default: train.seed)")->check(whole_number);
  hesscmd->add_option("--data-dir", hs.data_dir, "As for run");
  hesscmd->add_option("--data-npy", hs.data_npy, "As for run");
  hesscmd->add_option("--out", hessian_out, "Output folder (default: results/hessian-<config name>)");
  hesscmd->add_flag("--force", hopt.force, "Replace an existing OUT/hessian.csv (default: off)");
  hesscmd->add_option("--threads", hopt.threads, "Worker threads (default: all cores); results do not depend on it")
      ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));
  hesscmd->add_flag("--no-plot", hessian_no_plot, "Only the table and the CSV (default: off: draw the figure)");

  auto* checkcmd = app.add_subcommand(
      "check",
      "The paper's identities (Lemma 3, Lemma 4, Propositions 1 and 2, Corollary 1) as numerical residuals on a "
      "reduced copy of a preset's model in float64; exit 0 only when every residual is within tolerance");
  checkcmd->add_option("config", ck.config, "Preset name or path to a config .toml")->required();
  checkcmd->add_option("--scale", ck.scale, "Preset scale: full or small (default: full)");
  checkcmd->add_option("--set", ck.sets, "As for run: KEY=VALUE for any config key (default: none)")
      ->allow_extra_args(false);
  checkcmd->add_option("--seed", ck.seed, "Seed of the random points and data (default: train.seed)")
      ->check(whole_number);
  checkcmd->add_option("--threads", ck.threads, "Worker threads (default: all cores); results do not depend on it")
      ->check(CLI::Range(std::size_t{1}, eqaug::experiment::kMaxThreads));

  auto* refcmd = app.add_subcommand("config-reference",
                                    "Print the reference of every config key (type, default, allowed values, meaning) "
                                    "as Markdown: docs/config.md");

  std::string report_dir;
  bool no_plot = false;
  auto* rep = app.add_subcommand("report",
                                 "Summary table and figures (PNG, SVG and PDF via gnuplot) of a results directory: "
                                 "Figure 1 panels of a sweep, Figure 6 of a study");
  rep->add_option("results", report_dir, "Results directory written by 'eqaug run'")->required();
  rep->add_flag("--no-plot", no_plot, "Only print the table and write summary.csv (default: off: draw the figures)");

  app.footer(
      "Exit status: 0 done; 1 runtime failure (a file could not be written, gnuplot failed, out of memory, an "
      "internal error); 2 bad usage or input (unknown option, bad value, invalid config or data file); 130 or 143 "
      "interrupted by Ctrl-C (SIGINT) or SIGTERM: finished runs are kept, continue with --resume.");

  if (argc == 1) {
    std::cout << app.help();
    return 0;
  }
  // A first word that is no option and no subcommand is a mistyped command: name it.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string cmd = argv[1];
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == cmd;
    if (!known) {
      std::cerr << "eqaug: error: unknown command '" << cmd
                << "' (expected one of: run, report, dims, data, check, hessian, config-reference; see eqaug --help)\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
    if (aug_exact_opt->count() > 0) a.aug_exact = aug_exact_flag;
    if (out_opt->count() > 0 && a.out.empty())
      throw CLI::ValidationError("--out", "empty path (expected a results directory)");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "eqaug: error: " << e.what() << " (see eqaug "
              << (*run       ? "run "
                  : *rep     ? "report "
                  : *dims    ? "dims "
                  : *datacmd ? "data "
                  : *hesscmd ? "hessian "
                             : "")
              << "--help)\n";
    return kExitUsage;
  }

  try {
    if (*run) {
      std::string source;
      const auto json = load_config(a, source);
      eqaug::experiment::SweepOptions opts;
      opts.force = a.force;
      opts.resume = a.resume;
      opts.threads = a.threads.value_or(0);
      opts.device = eqaug::parse_device(a.device);
      opts.device.tf32 = a.tf32;
      if (a.tf32 && !opts.device.cuda()) throw eqaug::Error("--tf32 applies to a GPU only (--device cuda)");
      if (a.shard) std::tie(opts.shard, opts.shards) = parse_shard(*a.shard);
      opts.save_weights = a.save_weights;
      opts.command_line = joined(argc, argv);
      opts.progress = &std::cerr;
      opts.stop = &g_stop;
      catch_stop_signals();
      if (!eqaug::io::study_members(json, source).empty()) {
        opts.out = a.out.empty() ? std::filesystem::path("results") / json.value("name", std::string("study"))
                                 : std::filesystem::path(a.out);
        const auto summaries = eqaug::experiment::run_study(json, source, opts);
        std::size_t done = 0;
        for (const auto& s : summaries) done += s.runs_done;
        std::cerr << "study finished: " << done << " run(s) in " << summaries.size() << " member(s)\n";
      } else {
        const auto cfg = eqaug::io::resolve(json, source);
        opts.out = a.out.empty() ? std::filesystem::path("results") / cfg.name : std::filesystem::path(a.out);
        const auto summary = eqaug::experiment::run_sweep(cfg, opts);
        std::cerr << "sweep finished: " << summary.runs_done << " run(s) in " << summary.wall_s << " s";
        if (summary.runs_skipped) std::cerr << " (" << summary.runs_skipped << " already done)";
        std::cerr << "\n";
      }
      if (!a.no_report) return eqaug::report::run_report(opts.out, std::cout, true);
      return 0;
    }
    if (*rep) return eqaug::report::run_report(report_dir, std::cout, !no_plot);
    if (*hesscmd) {
      hs.precision = "f64";
      if (!hs.modes) hs.modes = "aug";
      std::string source;
      const auto cfg = eqaug::io::resolve(load_config(hs, source), source);
      for (std::string rest = hessian_steps; !rest.empty();) {
        const auto comma = rest.find(',');
        const std::string item = rest.substr(0, comma);
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
          throw eqaug::Error("--steps: expected comma-separated step numbers such as 0,10,50, got '" + hessian_steps +
                             "'");
        hopt.steps.push_back(std::stoul(item));
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      }
      hopt.out = hessian_out.empty() ? std::filesystem::path("results") / ("hessian-" + cfg.name)
                                     : std::filesystem::path(hessian_out);
      hopt.command_line = joined(argc, argv);
      hopt.progress = &std::cerr;
      eqaug::experiment::run_hessian(cfg, hopt);
      eqaug::report::run_report(hopt.out, std::cout, !hessian_no_plot);
      return 0;
    }
    if (*checkcmd) {
      std::string source;
      bool ok = true;
      for (const auto& [member, cfg] : resolve_all(load_config(ck, source), source)) {
        const auto r = eqaug::analysis::check_theory(cfg.json, source, cfg.train.seed, ck.threads.value_or(0));
        std::cout << cfg.name << ": " << r.reduction << "\n" << r.table() << "\n";
        ok = ok && r.all_passed();
      }
      std::cout << (ok ? "every identity holds within its tolerance\n" : "SOME IDENTITIES FAILED\n");
      return ok ? 0 : kExitRuntime;
    }
    if (*refcmd) {
      std::cout << eqaug::io::config_reference_markdown();
      return 0;
    }
    if (*datacmd) {
      if (data_out.empty() && save_data.empty())
        throw eqaug::Error("data: nothing to do; pass --out DIR (a contact sheet) and/or --save-data DIR (.npy files)");
      std::string source;
      const auto all = resolve_all(load_config(ds, source), source);
      if (!save_data.empty()) export_data(all.front().second, save_data, data_force);
      if (!data_out.empty()) return write_data_sheet(all.front().second, data_out, data_count, data_force);
      return 0;
    }
    if (*dims) {
      std::string source;
      bool mismatch = false;
      for (const auto& [member, cfg] : resolve_all(load_config(d, source), source)) {
        const auto group = eqaug::io::build_group(cfg);
        const auto spec = eqaug::io::build_model(cfg, group);
        const auto& g = cfg.json.at("group");
        const auto& kind = eqaug::group_kind(g.at("kind").get<std::string>());
        std::printf("%s: group %s\n%-6s %-22s %12s %8s %10s %12s  %s\n", cfg.name.c_str(), group->name().c_str(),
                    "layer", "shape (Co,Ci,So,Si)", "dim L", "orbits", "dim E", "dim E/dim L",
                    "orbits by closed form (SPEC §2)");
        for (std::size_t j = 0; j < spec->linear_layers().size(); ++j) {
          const auto& l = spec->linear_layer(j);
          const std::string shape = "(" + std::to_string(l.out.channels) + "," + std::to_string(l.in.channels) + "," +
                                    std::to_string(l.out.sites) + "," + std::to_string(l.in.sites) + ")";
          const std::size_t orbits = l.subspace->orbits().count();
          const auto expected = kind.closed_form(g, l.out.order, l.in.order);
          std::string check = "-";
          if (expected) {
            const std::size_t want = expected.value();
            check = want == orbits ? "checked (" + std::to_string(want) + ")"
                                   : "MISMATCH: closed form " + std::to_string(want);
            mismatch = mismatch || want != orbits;
          }
          std::printf("%-6s %-22s %12zu %8zu %10zu %12.4g  %s\n", l.name.c_str(), shape.c_str(), l.count, orbits,
                      l.subspace->dim(), static_cast<double>(l.subspace->dim()) / static_cast<double>(l.count),
                      check.c_str());
        }
        std::printf("%-6s %-22s %12zu %8s %10zu %12.4g\n", "total", "", spec->num_params(), "", spec->dim_E(),
                    static_cast<double>(spec->dim_E()) / static_cast<double>(spec->num_params()));
        if (!member.empty()) std::printf("\n");
      }
      if (mismatch) std::cerr << "eqaug: error: an orbit count disagrees with its closed form (a bug in eqaug)\n";
      return mismatch ? kExitRuntime : 0;
    }
  } catch (const eqaug::experiment::Interrupted& e) {
    std::cerr << "\neqaug: interrupted after " << e.runs_done << " of " << e.runs_total
              << " runs; continue with --resume\n";
    return 128 + e.signal;
  } catch (const eqaug::RuntimeFailure& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const eqaug::Error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "eqaug: error: " << e.what() << "\n";
    return kExitRuntime;
  } catch (const std::bad_alloc&) {
    std::cerr << "eqaug: error: out of memory: the model or data set is too large for this machine\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << "eqaug: error: internal error: " << e.what() << "\n";
    return kExitRuntime;
  }
  return 0;
}
