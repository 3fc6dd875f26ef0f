#pragma once
// Reading one table of a configuration (JSON, from TOML): every error names the source
// file and the dotted field, keys nobody asked for are rejected ("did you mean"), and each
// key read is logged with its type and default so that tests can hold the configuration
// reference (docs/config.md) to the parser. Used by the configuration parser and by the
// parts that own a table's fields (the group kinds of group/registry.hpp).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eqaug {

/// A key the parser read: its path (list indices as []), type and default ("" when the
/// key is required; "(optional)" for an optional table read as a whole).
struct KeyUse {
  std::string path, type, default_value;
};

/// Levenshtein distance, for "did you mean" on misspelt keys.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// A number as the reference writes defaults (%.12g).
std::string number_text(double x);

class Fields {
 public:
  /// Throws eqaug::Error when `obj` is not a table. `obj` must outlive the reader.
  Fields(const nlohmann::json& obj, std::string source, std::string path, std::vector<KeyUse>* log);

  [[noreturn]] void fail(const std::string& field, const std::string& what) const;
  /// The dotted path of one of this table's keys.
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& source() const { return source_; }
  std::vector<KeyUse>* log() const { return log_; }
  /// The table as written (every key, read or not).
  const nlohmann::json& object() const { return obj_; }

  bool has(const std::string& key);
  /// The value, or an error naming the key as missing (or a near miss as misspelt).
  const nlohmann::json& raw(const std::string& key);

  std::string str(const std::string& key, const std::string& def);
  std::string str(const std::string& key);
  double num(const std::string& key, double def);
  double num(const std::string& key);
  std::uint64_t count_or(const std::string& key, std::uint64_t def, std::uint64_t min = 0);
  std::uint64_t count(const std::string& key, std::uint64_t min = 0);
  bool flag(const std::string& key, bool def);
  /// A list or table read as a whole (its items are checked by the caller). `def`
  /// describes the default of an optional one (as the reference writes it).
  const nlohmann::json& list(const std::string& key, const std::string& def = "");
  const nlohmann::json& table(const std::string& key, const std::string& def = "");

  /// Rejects every key of the table that was not read.
  void done() const;

 private:
  std::string read_str(const std::string& key);
  double read_num(const std::string& key);
  std::uint64_t read_count(const std::string& key, std::uint64_t min);
  void note(const std::string& key, const char* type, std::string def);

  const nlohmann::json& obj_;
  std::string source_, path_;
  std::set<std::string> used_;
  std::vector<KeyUse>* log_;
};

}  // namespace eqaug
