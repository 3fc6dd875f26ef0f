#include "cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/core/error.hpp"
#include "eqaug/experiment/sweep.hpp"
#include "eqaug/formats/atomic_file.hpp"

namespace eqaug::cli {

// Set by SIGINT/SIGTERM to the signal number; the sweep stops at the next chunk. The
// handler then steps aside, so a second Ctrl-C ends the process at once.
std::atomic<int> g_stop{0};

namespace {
extern "C" void on_stop_signal(int sig) {
  if (g_stop.load() == 0) {
    g_stop.store(sig);
    return;
  }
  // The second signal: stop at once, without the lock files, and say so (write(2) and
  // unlink(2) are async-signal-safe).
  static const char msg[] =
      "\neqaug: stopped at once (second signal): the run in progress is lost, finished runs are kept; continue "
      "with --resume\n";
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  eqaug::experiment::release_locks_for_exit();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

Streams standard_streams() {
  Streams s;
  s.out = &std::cout;
  s.err = &std::cerr;
  s.stop = &g_stop;
  return s;
}

void build_app(CLI::App& app, std::vector<std::unique_ptr<Command>>& commands) {
  app.set_version_flag("--version", std::string("eqaug ") + EQAUG_VERSION);
  app.require_subcommand(1);
  commands.push_back(make_run_command());
  commands.push_back(make_dims_command());
  commands.push_back(make_data_command());
  commands.push_back(make_hessian_command());
  commands.push_back(make_minimum_command());
  commands.push_back(make_check_command());
  commands.push_back(make_config_reference_command());
  commands.push_back(make_report_command());
  for (auto& c : commands) c->add_to(app);
  app.footer(
      "Exit status: 0 done; 1 runtime failure (a file could not be written, gnuplot failed, out of memory, an "
      "internal error); 2 bad usage or input (unknown option, bad value, invalid config or data file); 130 or 143 "
      "interrupted by Ctrl-C (SIGINT) or SIGTERM: finished runs are kept, continue with --resume.");
}

int run_command(const std::vector<std::string>& args, const Streams& streams) {
  CLI::App app{"eqaug", "eqaug"};
  std::vector<std::unique_ptr<Command>> commands;
  build_app(app, commands);
  std::vector<std::string> words{"eqaug"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  const int argc = static_cast<int>(argv.size());
  Command* chosen = nullptr;
  try {
    app.parse(argc, argv.data());
    for (auto& c : commands)
      if (c->chosen()) chosen = c.get();
    if (!chosen) throw eqaug::Error("expected a command (run, report, dims, data, check, hessian, minimum)");
    chosen->validate();
  } catch (const CLI::ParseError& e) {
    std::string sub;
    for (const auto* s : app.get_subcommands()) sub = s->get_name() + ": ";
    throw eqaug::Error(sub + e.what());
  }
  chosen->set_streams(streams);
  return chosen->run(argc, argv.data());
}

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

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

namespace {

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
    const std::size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
    if (text.size() > sign && text.find_first_not_of("0123456789_", sign) == std::string::npos)
      throw eqaug::Error("--set: '" + kv + "': " + text +
                         " is beyond the integers a config holds (-2^63 to 2^63 - 1 = 9223372036854775807)");
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
      // A table the file does not have is created (--set train.aug.passes=5 without [train.aug]).
      if (node->is_null()) *node = nlohmann::json::object();
      if (!node->is_object())
        throw eqaug::Error("--set: '" + path + "': '" + key + "' follows a value that is not a table (" + node->dump() +
                           ")");
      node = &(*node)[key];
    }
    at = end;
    while (at < path.size() && path[at] == '[') {
      const std::size_t close = path.find(']', at);
      if (close == std::string::npos) throw eqaug::Error("--set: '" + path + "': missing ]");
      const std::string index = path.substr(at + 1, close - at - 1);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos)
        throw eqaug::Error("--set: '" + path + "': expected a list index, found '" + index + "'");
      const std::size_t i = index.size() > 9 ? std::size_t(-1) : std::stoul(index);
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

/// Resolves the configuration after the command line's overrides; an error then comes from
/// an override: it names the --set, not the file.
void check_overridden(const nlohmann::json& j, const RunArgs& a, const std::string& source) {
  try {
    resolve_all(j, source);
  } catch (const eqaug::Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(source, 0) != 0) throw;
    std::size_t at = source.size();
    if (msg.compare(at, 15, " (study member ") == 0) at = msg.find(')', at) + 1;  // a study's member
    if (msg.compare(at, 2, ": ") != 0) throw;
    const std::string rest = msg.substr(at + 2), field = rest.substr(0, rest.find(':'));
    for (const auto& kv : a.sets) {
      const std::string key = kv.substr(0, kv.find('='));
      if (key == field || key.rfind(field + ".", 0) == 0 || key.rfind(field + "[", 0) == 0 ||
          field.rfind(key + ".", 0) == 0 || field.rfind(key + "[", 0) == 0)
        throw eqaug::Error("--set " + kv + ": " + rest);
    }
    throw;
  }
}

nlohmann::json apply_overrides(nlohmann::json j, const RunArgs& a, const std::string& source) {
  if (!j.is_object()) throw eqaug::Error(source + ": expected a table at the top level");
  // --set first, so that the options of their own (--lr, ...) have the last word.
  for (const auto& kv : a.sets) {
    const std::string key = kv.substr(0, kv.find('='));
    for (const char* whole : {"scales", "study", "scale"})
      if (key == whole || key.rfind(std::string(whole) + ".", 0) == 0 || key.rfind(std::string(whole) + "[", 0) == 0)
        throw eqaug::Error("--set " + kv + ": " + whole +
                           (std::string(whole) == "scale" ? " is chosen with --scale NAME"
                                                          : " cannot be changed from the command line; edit the "
                                                            "file's [" +
                                                                std::string(whole) +
                                                                "] table (or choose a "
                                                                "scale with --scale)"));
    set_key(j, kv);
  }
  // A value --set gives is checked as given, even where an option below replaces it (as a
  // file's values are checked as written). Only such an error is raised here; any other waits
  // for the check after the options, which a --set may need (modes with augpen, --penalty).
  std::string set_error;
  nlohmann::json after_sets;
  if (!a.sets.empty()) {
    try {
      check_overridden(j, a, source);
    } catch (const eqaug::Error& e) {
      set_error = e.what();
      after_sets = j;
    }
  }
  auto& t = table(j, "train", source + ": train");
  if (a.runs) t["runs"] = *a.runs;
  if (a.epochs) t["epochs"] = *a.epochs;
  if (a.lr) t["lr"] = *a.lr;
  if (a.penalty) t["penalty"] = *a.penalty;
  if (a.weight_decay) t["weight_decay"] = *a.weight_decay;
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
  if (set_error.rfind("--set ", 0) == 0) {  // the error names a --set: did an option replace its key?
    const std::string key = set_error.substr(6, set_error.find('=') - 6);
    if (key.find('[') == std::string::npos) {
      std::string pointer = "/" + key;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      const nlohmann::json::json_pointer p(pointer);
      const bool before = after_sets.contains(p), now = j.contains(p);
      if (before && now && after_sets.at(p) != j.at(p)) throw eqaug::Error(set_error);
    }
  }
  return j;
}

}  // namespace

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

/// A results folder's JSON file (manifest.json, study.json), or an error naming it.
nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(eqaug::io::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw eqaug::Error(path + ": not valid JSON (" + e.what() + ")");
  }
}

/// The configuration as every command sees it: the file, its scale, then the overrides.
/// The file is validated as written first: a bad value in it is an error even where the
/// command line would replace it.
nlohmann::json load_config(const RunArgs& a, std::string& source) {
  if (!a.inline_config && std::filesystem::is_directory(a.config) &&
      std::filesystem::exists(std::filesystem::path(a.config) / "manifest.json")) {
    // A results folder: the configuration its sweep ran (already resolved), then the overrides.
    source = (std::filesystem::path(a.config) / "manifest.json").string();
    const nlohmann::json m = read_json(source);
    if (!m.is_object() || !m.contains("config") || !m["config"].is_object())
      throw eqaug::Error(source + ": no field config (not a manifest written by eqaug run)");
    return apply_overrides(m["config"], a, source);
  }
  if (!a.inline_config && std::filesystem::is_directory(a.config) &&
      std::filesystem::exists(std::filesystem::path(a.config) / "study.json")) {
    // A study's folder: the study's configuration as it started (study.json, "config").
    source = (std::filesystem::path(a.config) / "study.json").string();
    const nlohmann::json s = read_json(source);
    if (!s.is_object() || !s.contains("config") || !s["config"].is_object())
      throw eqaug::Error(
          source +
          ": this study's folder does not record its configuration (written by an earlier eqaug); resume "
          "it with the command that started it" +
          (s.is_object() && s.contains("command") && s["command"].is_string()
               ? ": " + s["command"].get<std::string>() + " --resume"
               : std::string()));
    return apply_overrides(s["config"], a, source);
  }
  if (!a.inline_config && std::filesystem::is_directory(a.config))
    throw eqaug::Error("config: '" + a.config +
                       "' is a directory, but neither a configuration file nor a results folder (it has no "
                       "manifest.json or study.json); expected a preset name such as perm or a .toml file");
  nlohmann::json written;
  if (a.inline_config) {
    source = a.config;
    written = *a.inline_config;
  } else {
    const auto file = eqaug::io::find_config(a.config);
    source = file.string();
    written = eqaug::io::load_toml(file);
  }
  // The file as written is checked at full scale too: values a scale replaces must be valid.
  if (a.scale != "full") resolve_all(eqaug::io::apply_scale(written, "full", source), source);
  auto j = eqaug::io::apply_scale(written, a.scale, source);
  resolve_all(j, source);
  j = apply_overrides(std::move(j), a, source);
  check_overridden(j, a, source);
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

/// A finite real number > 0, with a message a person can read (CLI11's PositiveNumber
/// prints the whole range of double).
namespace {
/// A finite real number, the whole text, that passes `ok`.
CLI::Validator real_validator(bool (*ok)(double), const std::string& expected, const std::string& name) {
  return CLI::Validator(
      [ok, expected](std::string& value) -> std::string {
        try {
          std::size_t used = 0;
          const double x = std::stod(value, &used);
          if (used == value.size() && std::isfinite(x) && ok(x)) return {};
        } catch (const std::exception&) {
        }
        return "expected " + expected + ", found '" + value + "'";
      },
      name);
}
}  // namespace

const CLI::Validator positive_real = real_validator([](double x) { return x > 0; }, "a positive number", "POSITIVE");
const CLI::Validator non_negative_real =
    real_validator([](double x) { return x >= 0; }, "a non-negative number", "NON-NEGATIVE");

/// Digits only: unsigned options must not take "-1" (it would wrap around).
const CLI::Validator whole_number(
    [](std::string& value) -> std::string {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        return "expected a non-negative whole number, found '" + value + "'";
      // Refused, not clamped: the largest TOML integer, 2^63 - 1, so that whatever the
      // command line takes a config file (and --set) can hold too.
      const std::string max = "9223372036854775807";
      const std::string digits = value.substr(std::min(value.find_first_not_of('0'), value.size() - 1));
      if (digits.size() > max.size() || (digits.size() == max.size() && digits > max))
        return "'" + value + "' is too large (at most " + max + " = 2^63 - 1, the largest integer a config file holds)";
      return {};
    },
    "UINT");

std::string joined(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

}  // namespace eqaug::cli
