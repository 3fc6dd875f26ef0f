#include "cli.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <string>
#include <vector>

#include "eqaug/core/error.hpp"
#include "eqaug/group/registry.hpp"

namespace eqaug::cli {
namespace {

/// printf's formatting, written to `os` (the command's stream, not the process's stdout).
[[gnu::format(printf, 2, 3)]] void print_to(std::ostream& os, const char* format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::vector<char> text(static_cast<std::size_t>(std::max(n, 0)) + 1);
  std::vsnprintf(text.data(), text.size(), format, again);
  va_end(again);
  os << text.data();
}

/// `eqaug dims`: dim L and dim E layer by layer, each orbit count checked against its
/// group kind's closed form.
class DimsCommand final : public Command {
 public:
  void add_to(CLI::App& app) override {
    auto* dims = sub_ = app.add_subcommand("dims", "Dimensions of L and of the equivariant subspace E, layer by layer");
    dims->add_option("config", d.config, "Preset name (perm, trans, rot, groups) or path to a config .toml")
        ->required();
    dims->add_option("--scale", d.scale, "Preset scale: full or small (default: full)");
    dims->add_option("--set", d.sets, "As for run: KEY=VALUE for any config key (default: none)")
        ->allow_extra_args(false);
  }

  int run(int, char**) override {
    d.inline_config = io_.config;
    std::string source;
    bool mismatch = false;
    for (const auto& [member, cfg] : resolve_all(load_config(d, source), source)) {
      const auto group = eqaug::io::build_group(cfg);
      const auto spec = eqaug::io::build_model(cfg, group);
      const auto& g = cfg.json.at("group");
      const auto& kind = eqaug::group_kind(g.at("kind").get<std::string>());
      int w = 6;  // the layer names' column: as wide as the longest (A0, affine0)
      for (auto i : spec->weight_layers()) w = std::max(w, static_cast<int>(spec->layers()[i].name.size()));
      print_to(out(), "%s: group %s\n%-*s %-22s %12s %8s %10s %12s  %s\n", cfg.name.c_str(), group->name().c_str(), w,
               "layer", "shape (Co,Ci,So,Si)", "dim L", "orbits", "dim E", "dim E/dim L",
               "orbits by the closed form of the group kind");
      for (std::size_t j = 0; j < spec->weight_layers().size(); ++j) {
        const auto& l = spec->weight_layer(j);
        const std::string shape = "(" + std::to_string(l.w_out.channels) + "," + std::to_string(l.w_in.channels) + "," +
                                  std::to_string(l.w_out.sites) + "," + std::to_string(l.w_in.sites) + ")";
        const std::size_t orbits = l.subspace->orbits().count();
        const auto expected = kind.closed_form(g, l.w_out.order, l.w_in.order);
        std::string check = "-";
        if (expected) {
          const std::size_t want = expected.value();
          check = want == orbits ? "checked (" + std::to_string(want) + ")"
                                 : "MISMATCH: closed form " + std::to_string(want);
          mismatch = mismatch || want != orbits;
        }
        print_to(out(), "%-*s %-22s %12zu %8zu %10zu %12.4g  %s\n", w, l.name.c_str(), shape.c_str(), l.count, orbits,
                 l.subspace->dim(), static_cast<double>(l.subspace->dim()) / static_cast<double>(l.count),
                 check.c_str());
      }
      print_to(out(), "%-*s %-22s %12zu %8s %10zu %12.4g\n", w, "total", "", spec->num_params(), "", spec->dim_E(),
               static_cast<double>(spec->dim_E()) / static_cast<double>(spec->num_params()));
      if (!member.empty()) print_to(out(), "\n");
    }
    if (mismatch) err() << "eqaug: error: an orbit count disagrees with its closed form (a bug in eqaug)\n";
    return mismatch ? kExitRuntime : 0;
  }

 private:
  RunArgs d;
};

}  // namespace

std::unique_ptr<Command> make_dims_command() { return std::make_unique<DimsCommand>(); }

}  // namespace eqaug::cli
