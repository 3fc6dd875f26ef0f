#pragma once
// `eqaug check`: the paper's identities as numerical residuals at random points, on a
// reduced copy of a configuration's model (few channels, a small group of the same
// family, random data), in float64. Each row states what is compared and the tolerance;
// the identities hold for any data, so random data serve.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eqaug::analysis {

struct CheckRow {
  std::string name;       // "Lemma 3", ...
  std::string statement;  // what is compared
  double residual = 0, tolerance = 0;
  bool passed() const { return residual <= tolerance; }
};

struct CheckReport {
  std::string reduction;  // what was reduced, and to what
  std::vector<CheckRow> rows;
  bool all_passed() const;
  std::string table() const;
};

/// `config` is a resolved configuration's JSON (ExperimentConfig::json).
/// `threads`: the workers (0: every core).
CheckReport check_theory(const nlohmann::json& config, const std::string& source, std::uint64_t seed = 0,
                         std::size_t threads = 0);

}  // namespace eqaug::analysis
