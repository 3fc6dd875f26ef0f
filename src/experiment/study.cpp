#include "eqaug/experiment/study.hpp"

#include <filesystem>
#include <iostream>

#include "eqaug/core/error.hpp"
#include "eqaug/experiment/results.hpp"
#include "eqaug/formats/atomic_file.hpp"

namespace eqaug::experiment {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<SweepSummary> run_study(const json& j, const std::string& source, const SweepOptions& opts) {
  if (opts.force && opts.resume) throw Error("--force and --resume exclude each other");
  if (opts.out.empty()) throw Error("--out: no results directory given");
  const auto members = io::study_members(j, source);
  if (members.empty()) throw Error(source + ": not a study (no [study] table)");

  // Resolve every member first: a typo in the last one must not cost the first's hours.
  std::vector<io::ExperimentConfig> cfgs;
  json listed = json::array();
  for (const auto& m : members) {
    cfgs.push_back(io::resolve(m.json, source + " (study member " + m.name + ")"));
    check_memory(cfgs.back());  // every member before the first runs
    const auto group = io::build_group(cfgs.back());
    const auto spec = io::build_model(cfgs.back(), group);
    // Every member's data too, before the first run: a bad file of the last member must not
    // leave the first member's results and a study.json behind.
    io::build_data(cfgs.back(), *group);
    listed.push_back({{"name", m.name},
                      {"dir", m.name},
                      {"group", group->name()},
                      {"dim_E", spec->dim_E()},
                      {"dim_L", spec->num_params()}});
  }

  const fs::path study_file = opts.out / "study.json";
  if (fs::exists(opts.out) && !fs::is_directory(opts.out))
    throw Error("--out: '" + opts.out.string() + "' exists and is not a directory");
  if (fs::exists(opts.out) && !fs::is_empty(opts.out)) {
    if (!fs::exists(study_file))
      throw Error("results directory '" + opts.out.string() +
                  "' exists and holds no study.json, so it is not a study's folder; choose another --out");
    if (!opts.force && !opts.resume)
      throw Error("results directory '" + opts.out.string() +
                  "' already exists; pass --force to replace it or --resume to continue it");
  } else if (opts.resume) {
    throw Error("--resume: " + study_file.string() + " does not exist (nothing to resume; drop --resume)");
  }
  io::create_output_dir(opts.out, "--out");
  json study = {{"program", program_info()},
                {"kind", "study"},
                {"name", j.value("name", std::string())},
                {"scale", j.value("scale", std::string("full"))},
                {"command", opts.command_line},
                {"config", j},  // `eqaug run --resume --out OUT` continues with it
                {"complete", false},
                {"started", io::utc_now_iso()},
                {"members", listed}};
  io::write_file_atomic(study_file, study.dump(2) + "\n");

  std::vector<SweepSummary> out;
  for (std::size_t i = 0; i < members.size(); ++i) {
    SweepOptions o = opts;
    o.out = opts.out / members[i].name;
    // A member that a resumed study had not reached yet starts fresh.
    o.resume = opts.resume && fs::exists(o.out / "manifest.json");
    if (opts.progress)
      *opts.progress << "study " << study["name"].get<std::string>() << ": member " << i + 1 << "/" << members.size()
                     << " (" << members[i].name << ", " << listed[i]["group"].get<std::string>() << ")\n";
    try {
      out.push_back(run_sweep(cfgs[i], o));
      for (auto& line : out.back().diverged) line = members[i].name + ": " + line;
    } catch (Interrupted& e) {
      // Count the whole study: members before this one are finished, later ones not begun.
      std::size_t before = 0, total = 0;
      for (std::size_t m = 0; m < cfgs.size(); ++m) {
        total += cfgs[m].runs;
        if (m < i) before += cfgs[m].runs;
      }
      e.runs_done += before;
      e.runs_total = total;
      throw;
    }
  }
  // Runs that diverged stay to do: the study is complete only without them.
  bool complete = true;
  for (const auto& s : out) complete = complete && s.diverged.empty();
  study["complete"] = complete;
  study["finished"] = complete ? json(io::utc_now_iso()) : json(nullptr);
  io::write_file_atomic(study_file, study.dump(2) + "\n");
  return out;
}

}  // namespace eqaug::experiment
