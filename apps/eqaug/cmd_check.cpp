#include "cli.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include "eqaug/analysis/checks.hpp"
#include "eqaug/core/error.hpp"
#include "eqaug/experiment/sweep.hpp"

namespace eqaug::cli {
namespace {

/// `eqaug check`: the paper's identities as residuals on a reduced copy of a model.
class CheckCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* checkcmd = sub_ = app.add_subcommand(
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
  }

  int run(int, char**) override {
    std::string source;
    bool ok = true;
    for (const auto& [member, cfg] : resolve_all(load_config(ck, source), source)) {
      const auto r = eqaug::analysis::check_theory(cfg.json, source, cfg.train.seed, ck.threads.value_or(0));
      out() << cfg.name << ": " << r.reduction << "\n" << r.table() << "\n";
      ok = ok && r.all_passed();
    }
    out() << (ok ? "every identity holds within its tolerance\n" : "SOME IDENTITIES FAILED\n");
    return ok ? 0 : kExitRuntime;
  }

 private:
  RunArgs ck;
};

}  // namespace

std::unique_ptr<Command> make_check_command() { return std::make_unique<CheckCommand>(); }

}  // namespace eqaug::cli
