#include "eqaug/core/error.hpp"
#include "eqaug/formats/atomic_file.hpp"
#include "eqaug/formats/csv.hpp"
#include "eqaug/report/report.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <set>
#include <string_view>

namespace eqaug::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kRequiredColumns[] = {"step", "loss", "accuracy", "dist_init", "dist_E"};

std::string in_quotes(const fs::path& p) { return "'" + p.string() + "'"; }

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto pos = line.find(sep);
    fields.push_back(trim(line.substr(0, pos)));
    if (pos == std::string_view::npos) return fields;
    line.remove_prefix(pos + 1);
  }
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto pos = text.find('\n');
    lines.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) break;
    text.remove_prefix(pos + 1);
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  return lines;
}

// from_chars rather than strtod: locale-independent, and it must consume the whole field.
bool parse_double(std::string_view s, double& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

const json& field(const json& parent, const char* key, const std::string& where, const fs::path& file) {
  if (!parent.is_object() || !parent.contains(key)) throw Error(in_quotes(file) + ": missing field " + where + key);
  return parent.at(key);
}

int integer_field(const json& parent, const char* key, const std::string& where, const fs::path& file, int min_value) {
  const json& v = field(parent, key, where, file);
  if (!v.is_number_integer() || v.get<long long>() < min_value || v.get<long long>() > 1'000'000'000)
    throw Error(in_quotes(file) + ": field " + where + key + " is " + v.dump() +
                ", expected an integer >= " + std::to_string(min_value));
  return v.get<int>();
}

// Mode names become directory and file names (here and in figure-data), so keep them plain.
bool plain_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string run_file_name(int run) {
  char name[32];
  std::snprintf(name, sizeof name, "run-%03d.csv", run);
  return name;
}

}  // namespace

RunCurve read_run_csv(const fs::path& file, int expected_rows) {
  if (!fs::exists(file)) throw Error(in_quotes(file) + ": run file not found (listed as finished in manifest.json)");
  const std::string text = io::read_file(file);
  const auto lines = split_lines(text);
  if (lines.empty()) throw Error(in_quotes(file) + ": empty file, expected a header line");

  const auto header = split(lines.front(), ',');
  // Columns by steps.csv's names; a file of the earlier layout (dist_init.<layer>, no mode
  // or run column, loss_aug only where the strategy augments) reads the same.
  std::map<std::string, std::size_t> index;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (header[c].empty()) throw Error(in_quotes(file) + ": header column " + std::to_string(c + 1) + " is empty");
    const std::string name = io::current_column_name(std::string(header[c]));
    if (!index.emplace(name, c).second)
      throw Error(in_quotes(file) + ": header names column '" + std::string(header[c]) + "' twice");
  }
  for (const char* required : kRequiredColumns)
    if (!index.count(required))
      throw Error(in_quotes(file) + ": missing column '" + required + "' (expected columns step,loss,accuracy," +
                  "dist_init,dist_E, ...)");

  const std::size_t rows = lines.size() - 1;
  if (expected_rows >= 0 && rows != static_cast<std::size_t>(expected_rows))
    throw Error(in_quotes(file) + ": has " + std::to_string(rows) + " data rows, expected " +
                std::to_string(expected_rows) + " (steps 0..epochs)");

  const auto column_of = [&](const char* name) { return index.count(name) ? index.at(name) : header.size(); };
  const std::size_t mode_column = column_of("mode"), loss_aug_column = column_of("loss_aug");
  std::vector<std::vector<double>> values(header.size(), std::vector<double>(rows));
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t line_no = r + 2;
    const auto fields = split(lines[r + 1], ',');
    if (fields.size() != header.size())
      throw Error(in_quotes(file) + ": line " + std::to_string(line_no) + " has " + std::to_string(fields.size()) +
                  " fields, expected " + std::to_string(header.size()) + " as in the header");
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (c == mode_column) continue;
      if (c == loss_aug_column && fields[c].empty()) {  // a strategy that does not augment
        values[c][r] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      if (!parse_double(fields[c], values[c][r]))
        throw Error(in_quotes(file) + ": line " + std::to_string(line_no) + ", column '" + std::string(header[c]) +
                    "': '" + std::string(fields[c]) + "' is not a number");
    }
  }

  RunCurve curve;
  for (const auto& [name, c] : index)
    if (c != mode_column) curve.columns.emplace(name, values[c]);
  curve.step = curve.columns.at("step");
  curve.loss = curve.columns.at("loss");
  curve.accuracy = curve.columns.at("accuracy");
  curve.dist_init = curve.columns.at("dist_init");
  curve.dist_E = curve.columns.at("dist_E");
  // Rows are steps in order; anything else means a damaged or hand-edited file, and the
  // figure and the "final row" statistics would silently read the wrong step.
  for (std::size_t r = 0; r < rows; ++r)
    if (curve.step[r] != static_cast<double>(r))
      throw Error(in_quotes(file) + ": line " + std::to_string(r + 2) + " has step " + format_number(curve.step[r]) +
                  ", expected " + std::to_string(r));
  return curve;
}

Sweep read_sweep(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(in_quotes(dir) + ": results directory not found");
  const fs::path manifest_path = dir / "manifest.json";
  if (!fs::exists(manifest_path))
    throw Error(in_quotes(manifest_path) + ": not found; expected the manifest.json written by `eqaug run`");

  Sweep sweep;
  sweep.dir = dir;
  try {
    sweep.manifest = json::parse(io::read_file(manifest_path));
  } catch (const json::exception& e) {
    throw Error(in_quotes(manifest_path) + ": invalid JSON: " + e.what());
  }
  const json& m = sweep.manifest;
  if (!m.is_object()) throw Error(in_quotes(manifest_path) + ": expected a JSON object at the top level");

  const json& config = field(m, "config", "", manifest_path);
  if (!config.is_object()) throw Error(in_quotes(manifest_path) + ": field config: expected an object");
  if (config.contains("name")) {
    if (!config["name"].is_string()) throw Error(in_quotes(manifest_path) + ": field config.name: expected a string");
    sweep.name = config["name"].get<std::string>();
  }
  if (config.contains("reference")) {
    const json& r = config["reference"];
    if (!r.is_object()) throw Error(in_quotes(manifest_path) + ": field config.reference: expected an object");
    for (const auto& [key, on] : r.items()) {
      if (!on.is_boolean())
        throw Error(in_quotes(manifest_path) + ": field config.reference." + key + ": expected true or false");
      if (on.get<bool>()) sweep.reference.push_back(key);
    }
  }
  const json& train = field(config, "train", "config.", manifest_path);
  if (!train.is_object()) throw Error(in_quotes(manifest_path) + ": field config.train: expected an object");
  sweep.epochs = integer_field(train, "epochs", "config.train.", manifest_path, 0);
  sweep.planned_runs = integer_field(train, "runs", "config.train.", manifest_path, 1);

  const json& modes = field(train, "modes", "config.train.", manifest_path);
  if (!modes.is_array() || modes.empty())
    throw Error(in_quotes(manifest_path) + ": field config.train.modes: expected a non-empty array of mode names");
  for (const json& mode : modes) {
    if (!mode.is_string() || !plain_name(mode.get<std::string>()))
      throw Error(in_quotes(manifest_path) + ": field config.train.modes: " + mode.dump() +
                  " is not a mode name (expected e.g. \"nom\", \"aug\", \"equi\")");
    if (std::find(sweep.modes.begin(), sweep.modes.end(), mode.get<std::string>()) != sweep.modes.end())
      throw Error(in_quotes(manifest_path) + ": field config.train.modes lists " + mode.dump() + " twice");
    sweep.modes.push_back(mode.get<std::string>());
  }

  const json& runs = field(m, "runs", "", manifest_path);
  if (!runs.is_array()) throw Error(in_quotes(manifest_path) + ": field runs: expected an array of finished runs");
  std::set<int> finished;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string where = "runs[" + std::to_string(i) + "].";
    const int run = integer_field(runs[i], "run", where, manifest_path, 0);
    if (run >= sweep.planned_runs)
      throw Error(in_quotes(manifest_path) + ": field " + where + "run is " + std::to_string(run) +
                  ", expected less than config.train.runs = " + std::to_string(sweep.planned_runs));
    if (!finished.insert(run).second)
      throw Error(in_quotes(manifest_path) + ": field runs lists run " + std::to_string(run) + " twice");
    if (runs[i].contains("warnings")) {
      const json& w = runs[i]["warnings"];
      if (!w.is_array()) throw Error(in_quotes(manifest_path) + ": field " + where + "warnings: expected a list");
      for (const auto& line : w)
        if (line.is_string()) sweep.warnings.push_back("run " + std::to_string(run) + ": " + line.get<std::string>());
    }
  }
  sweep.runs.assign(finished.begin(), finished.end());

  // Optional strings, for the figure's title and the table: manifests of older versions
  // may lack them.
  const auto optional_string = [&](const json& parent, const char* key, const std::string& where) {
    if (!parent.is_object() || !parent.contains(key) || parent.at(key).is_null()) return std::string();
    if (!parent.at(key).is_string())
      throw Error(in_quotes(manifest_path) + ": field " + where + key + ": expected a string, found " +
                  parent.at(key).dump());
    return parent.at(key).get<std::string>();
  };
  sweep.precision = optional_string(train, "precision", "config.train.");
  sweep.raw_start = optional_string(train, "start", "config.train.") == "raw";
  if (m.contains("model")) sweep.group = optional_string(m["model"], "group", "model.");
  if (m.contains("data")) sweep.accuracy = optional_string(m["data"], "accuracy", "data.");
  if (m.contains("metrics")) {
    const json& cols = m["metrics"].is_object() && m["metrics"].contains("columns") ? m["metrics"]["columns"] : json();
    if (!cols.is_array())
      throw Error(in_quotes(manifest_path) + ": field metrics.columns: expected a list of column names");
    for (const auto& c : cols) {
      if (!c.is_string())
        throw Error(in_quotes(manifest_path) + ": field metrics.columns: expected strings, found " + c.dump());
      sweep.metrics.push_back(c.get<std::string>());
    }
  }

  if (m.contains("complete")) {
    if (!m["complete"].is_boolean()) throw Error(in_quotes(manifest_path) + ": field complete: expected true or false");
    sweep.complete = m["complete"].get<bool>();
  }
  if (m.contains("diverged")) {
    if (!m["diverged"].is_array())
      throw Error(in_quotes(manifest_path) + ": field diverged: expected a list of the runs that diverged");
    for (const auto& d : m["diverged"]) {
      if (!d.is_object() || !d.contains("run") || !d["run"].is_number_unsigned() || !d.contains("message") ||
          !d["message"].is_string())
        throw Error(in_quotes(manifest_path) + ": field diverged: expected entries with run and message, found " +
                    d.dump());
      // A run finished since (a later session) no longer counts.
      const int run = d["run"].get<int>();
      if (std::find(sweep.runs.begin(), sweep.runs.end(), run) == sweep.runs.end())
        sweep.diverged.push_back("run " + std::to_string(run) + ": " + d["message"].get<std::string>());
    }
  }

  for (const auto& mode : sweep.modes) {
    auto& curves = sweep.curves[mode];
    for (int run : sweep.runs) curves.push_back(read_run_csv(dir / mode / run_file_name(run), sweep.epochs + 1));
  }
  return sweep;
}

}  // namespace eqaug::report
