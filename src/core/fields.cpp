#include "eqaug/core/fields.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "eqaug/core/error.hpp"

namespace eqaug {

using nlohmann::json;

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", x);
  return buf;
}

Fields::Fields(const json& obj, std::string source, std::string path, std::vector<KeyUse>* log)
    : obj_(obj), source_(std::move(source)), path_(std::move(path)), log_(log) {
  if (!obj_.is_object()) fail(path_, "expected a table");
}

void Fields::fail(const std::string& field, const std::string& what) const {
  throw Error(source_ + ": " + (field.empty() ? std::string("(top level)") : field) + ": " + what);
}

bool Fields::has(const std::string& key) {
  used_.insert(key);
  return obj_.contains(key);
}

const json& Fields::raw(const std::string& key) {
  if (!has(key)) {
    // A misspelling of this key is reported as what it is, not as the key missing.
    for (const auto& [k, v] : obj_.items())
      if (!used_.count(k) && edit_distance(k, key) <= 2) fail(at(k), "unknown key; did you mean `" + key + "`?");
    fail(at(key), "missing");
  }
  return obj_.at(key);
}

std::string Fields::str(const std::string& key, const std::string& def) {
  note(key, "string", def.empty() ? "\"\"" : def);
  if (!has(key)) return def;
  return read_str(key);
}

std::string Fields::str(const std::string& key) {
  note(key, "string", "");
  return read_str(key);
}

std::string Fields::read_str(const std::string& key) {
  const auto& v = raw(key);
  if (!v.is_string()) fail(at(key), "expected a string, found " + v.dump());
  return v.get<std::string>();
}

double Fields::num(const std::string& key, double def) {
  note(key, "number", number_text(def));
  if (!has(key)) return def;
  return read_num(key);
}

double Fields::num(const std::string& key) {
  note(key, "number", "");
  return read_num(key);
}

double Fields::read_num(const std::string& key) {
  const auto& v = raw(key);
  if (!v.is_number()) fail(at(key), "expected a number, found " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x)) fail(at(key), "expected a finite number");
  return x;
}

std::uint64_t Fields::count_or(const std::string& key, std::uint64_t def, std::uint64_t min) {
  note(key, "integer", std::to_string(def));
  if (!has(key)) return def;
  return read_count(key, min);
}

std::uint64_t Fields::count(const std::string& key, std::uint64_t min) {
  note(key, "integer", "");
  return read_count(key, min);
}

std::uint64_t Fields::read_count(const std::string& key, std::uint64_t min) {
  const auto& v = raw(key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    fail(at(key), "expected a non-negative integer, found " + v.dump());
  const auto x = v.get<std::uint64_t>();
  if (x < min) fail(at(key), "must be at least " + std::to_string(min) + ", found " + std::to_string(x));
  return x;
}

bool Fields::flag(const std::string& key, bool def) {
  note(key, "boolean", def ? "true" : "false");
  if (!has(key)) return def;
  const auto& v = raw(key);
  if (!v.is_boolean()) fail(at(key), "expected true or false, found " + v.dump());
  return v.get<bool>();
}

const json& Fields::list(const std::string& key, const std::string& def) {
  note(key, "list", def);
  return raw(key);
}

const json& Fields::table(const std::string& key, const std::string& def) {
  note(key, "table", def);
  return raw(key);
}

void Fields::done() const {
  for (const auto& [k, v] : obj_.items()) {
    if (used_.count(k)) continue;
    std::string best;
    std::size_t best_d = 3;  // suggest only near misses
    for (const auto& u : used_) {
      const std::size_t d = edit_distance(k, u);
      if (d < best_d) {
        best_d = d;
        best = u;
      }
    }
    fail(at(k), best.empty() ? "unknown key" : "unknown key; did you mean `" + best + "`?");
  }
}

void Fields::note(const std::string& key, const char* type, std::string def) {
  if (!log_) return;
  // model.layers[3].std → model.layers[].std: the reference documents a key once.
  const std::string path = at(key);
  std::string generic;
  for (std::size_t i = 0; i < path.size(); ++i) {
    generic += path[i];
    if (path[i] != '[') continue;
    std::size_t j = i + 1;
    while (j < path.size() && path[j] >= '0' && path[j] <= '9') ++j;
    if (j > i + 1 && j < path.size() && path[j] == ']') i = j - 1;  // drop the digits, keep ']'
  }
  log_->push_back({generic, type, std::move(def)});
}

}  // namespace eqaug
