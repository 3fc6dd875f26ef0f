#pragma once
// A study: one sweep per member configuration (e.g. the Groups experiment: the Trans
// sweep under four groups), each in OUT/<member>/, described by OUT/study.json, which
// `eqaug report` reads to draw the members side by side. --force and --resume apply to
// every member.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eqaug/experiment/sweep.hpp"

namespace eqaug::experiment {

/// `json` is the configuration with [study] (scale and command-line overrides applied).
/// Every member is resolved and checked before anything is written.
std::vector<SweepSummary> run_study(const nlohmann::json& json, const std::string& source, const SweepOptions& opts);

}  // namespace eqaug::experiment
